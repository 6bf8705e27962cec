"""The agent's counters: what health messages, the Prometheus endpoint and ``replay`` report.

Why plain attributes and no lock: each counter has exactly one writer thread (capture or scoring),
and reading an int attribute is atomic under the GIL; a snapshot may be a few records stale, which
is fine for health reporting and costs nothing on the hot path.
"""

from __future__ import annotations

import os
import resource
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

try:
    _PAGE = os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):  # not POSIX: fall back to getrusage
    _PAGE = 4096


def rss_bytes() -> int:
    """Resident set size now (``/proc/self/statm``), or the peak from getrusage where /proc is absent."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class LatencyWindow:
    """The last ``n`` latencies, for p50/p99 that follow the current load rather than all history."""

    def __init__(self, n: int = 4096):
        self._values: deque[float] = deque(maxlen=n)

    def add(self, seconds: float) -> None:
        self._values.append(seconds)

    def percentiles_ms(self) -> tuple[float, float]:
        """(p50, p99) in milliseconds; zeros before the first sample."""
        if not self._values:
            return 0.0, 0.0
        arr = np.fromiter(self._values, dtype=np.float64, count=len(self._values))
        p50, p99 = np.percentile(arr, [50, 99])
        return float(p50) * 1e3, float(p99) * 1e3


class Counters:
    """Pipeline counters; ``snapshot()`` merges in the live stats of source, extractor, policy, sinks."""

    def __init__(self, memory_limit_mb: int | None = None):
        self.started = time.time()
        self.memory_limit_mb = memory_limit_mb
        self.records_in = 0
        self.records_scored = 0
        self.records_unscored = 0
        """Records the bundle's model does not score (``window.records``), rules saw them."""
        self.dropped_queue = 0
        self.batches = 0
        self.windows_scored = 0
        self.alerts_raised = 0
        self.reloads = 0
        self.reloads_refused = 0
        self.errors = 0
        self.enqueued = 0
        """Records put on the queue (written by the capture thread only)."""
        self.dequeued = 0
        """Records taken off the queue (written by the scoring thread only)."""
        self.queue_capacity = 0
        self.inference = LatencyWindow()
        self.providers: dict[str, Callable[[], Mapping[str, Any]]] = {}
        """Named ``stats()`` callables (source, features, policy, sinks) folded into snapshots."""

    def snapshot(self) -> dict[str, Any]:
        """All counters as a flat JSON-able dict (the health message and ``--stats-json``)."""
        p50, p99 = self.inference.percentiles_ms()
        rss_mb = rss_bytes() / 2**20
        sub: dict[str, dict[str, Any]] = {}
        for name, fn in list(self.providers.items()):
            try:
                sub[name] = dict(fn())
            except Exception as exc:  # noqa: BLE001 - a broken stats() must not break health reporting
                sub[name] = {"error": str(exc)}
        src = sub.get("source", {})
        feat = sub.get("features", {})
        sinks = sub.get("sinks", {})
        out: dict[str, Any] = {
            "uptime_s": round(time.time() - self.started, 3),
            "records_in": self.records_in,
            "records_scored": self.records_scored,
            "records_unscored": self.records_unscored,
            "malformed": _sum_matching(src, "malformed") + _sum_matching(feat, "malformed"),
            "dropped_kernel": _sum_matching(src, "drop"),
            "dropped_queue": self.dropped_queue,
            "queue_depth": max(0, self.enqueued - self.dequeued),
            "queue_capacity": self.queue_capacity,
            "windows_scored": self.windows_scored,
            "batches_scored": self.batches,
            "alerts_raised": self.alerts_raised,
            "alerts_published": _sum_matching(sinks, "published"),
            "alerts_queued": _sum_matching(sinks, "queued") + _sum_matching(sinks, "outbox_depth"),
            "alerts_dropped": _sum_matching(sinks, "dropped"),
            "inference_p50_ms": round(p50, 3),
            "inference_p99_ms": round(p99, 3),
            "rss_mb": round(rss_mb, 1),
            "memory_over_limit": bool(self.memory_limit_mb and rss_mb > self.memory_limit_mb),
            "reloads": self.reloads,
            "reloads_refused": self.reloads_refused,
            "errors": self.errors,
        }
        out.update(sub)
        return out


def _sum_matching(stats: Mapping[str, Any], word: str) -> int:
    """Sum of the integer stats whose key contains ``word`` (backends name their counters freely)."""
    total = 0
    for key, value in stats.items():
        if word in key and isinstance(value, (int, float)) and not isinstance(value, bool):
            total += int(value)
    return total


def prometheus_text(snapshot: Mapping[str, Any], prefix: str = "edge_ids") -> str:
    """Prometheus text exposition (format 0.0.4) of a snapshot's numeric values, nested ones flattened."""
    lines: list[str] = []

    def walk(node: Mapping[str, Any], path: str) -> None:
        for key, value in node.items():
            name = f"{path}_{_metric_name(str(key))}"
            if isinstance(value, Mapping):
                walk(value, name)
            elif isinstance(value, bool):
                lines.append(f"# TYPE {name} gauge\n{name} {int(value)}")
            elif isinstance(value, (int, float)):
                lines.append(f"# TYPE {name} gauge\n{name} {value}")

    walk(snapshot, prefix)
    return "\n".join(lines) + "\n"


def _metric_name(key: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in key)
