"""The agent's runtime: capture and scoring threads, counters, metrics, supervision.

:class:`Pipeline` wires source -> features -> windows -> scorer -> alert policy -> sinks, with a bounded
queue between capture and scoring; :func:`serve` runs it under signals and systemd notifications.
"""

from agent.runtime.capture import Batcher, CaptureThread, Pacer
from agent.runtime.counters import Counters, prometheus_text, rss_bytes
from agent.runtime.daemon import WatchdogPinger, serve
from agent.runtime.pipeline import Pipeline, Scoring, build_scoring, open_source

__all__ = [
    "Batcher",
    "CaptureThread",
    "Counters",
    "Pacer",
    "Pipeline",
    "Scoring",
    "WatchdogPinger",
    "build_scoring",
    "open_source",
    "prometheus_text",
    "rss_bytes",
    "serve",
]
