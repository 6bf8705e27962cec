"""Supervising a pipeline from the main thread: signals, systemd notifications, reload, shutdown.

Why the main thread only waits: Python runs signal handlers in the main thread, between bytecodes.
The handlers here only set events; the main thread polls them a few times a second, so SIGTERM is
acted on promptly even while scoring is busy, and nothing heavy runs inside a handler.

systemd (``Type=notify``): ``READY=1`` once the model is loaded and capture is open, ``WATCHDOG=1``
from the scoring loop (throttled to the interval systemd asks for, so a hung scoring loop stops the
pings and trips the watchdog), ``RELOADING=1`` then ``READY=1`` around a SIGHUP reload, and
``STOPPING=1`` when shutdown begins. Outside systemd these are no-ops.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from agent import sdnotify
from agent.config import AgentConfig
from agent.runtime.pipeline import Pipeline

log = logging.getLogger(__name__)

#: SIGTERM: flush alerts and close sinks within this many seconds, then exit 0
STOP_BUDGET_S = 5.0


class WatchdogPinger:
    """The scoring loop's per-iteration hook: pings systemd's watchdog at its requested interval."""

    def __init__(self, interval_s: float | None = None):
        self.interval_s = sdnotify.watchdog_interval() if interval_s is None else interval_s
        self._next = 0.0

    def __call__(self) -> None:
        if not self.interval_s:
            return
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.interval_s / 2
            sdnotify.watchdog()


def serve(
    pipeline: Pipeline,
    load_config: Callable[[], AgentConfig] | None = None,
    stop_budget_s: float = STOP_BUDGET_S,
    stop_event: threading.Event | None = None,
) -> int:
    """Start ``pipeline`` and supervise it until its input ends or SIGTERM/SIGINT arrives.

    :param load_config: re-reads the config for SIGHUP; ``None`` ignores SIGHUP (replay).
    :param stop_event: an extra way to ask for shutdown (tests, the demo).
    :returns: the process exit status: 0 after a clean stop or the end of the input, 1 when the
        capture or scoring failed.
    """
    stop = stop_event or threading.Event()
    reload_requested = threading.Event()
    received: list[str] = []

    def on_stop(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        reload_requested.set()

    previous: dict[int, Any] = {}
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, on_stop)
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, on_stop)
        if load_config is not None:
            previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hup)
    if pipeline.on_iteration is None:
        pipeline.on_iteration = WatchdogPinger()
    user_ready = pipeline.on_ready

    def ready() -> None:
        sdnotify.ready("scoring")
        if user_ready is not None:
            user_ready()

    pipeline.on_ready = ready
    try:
        pipeline.start()
        while True:
            if stop.is_set():
                log.info("stopping", extra={"signal": received[-1] if received else None})
                sdnotify.stopping()
                flushed = pipeline.stop(stop_budget_s)
                if not flushed:
                    log.warning("some sinks did not flush before the stop deadline; the outbox keeps the rest")
                return 0
            if reload_requested.is_set() and load_config is not None:
                reload_requested.clear()
                sdnotify.reloading()
                try:
                    cfg = load_config()
                except Exception as exc:  # noqa: BLE001 - a bad file must not stop the agent
                    pipeline.counters.reloads_refused += 1
                    log.error("reload refused, keeping the running config and model: %s", exc)
                else:
                    pipeline.reload(cfg)
                sdnotify.ready("scoring")
            if pipeline.wait(0.1):
                pipeline.finish()
                if pipeline.error is not None:
                    return 1
                if pipeline.capture is not None and pipeline.capture.error is not None:
                    return 1
                return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
