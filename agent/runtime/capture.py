"""The capture thread: reads the source apart from scoring and hands batches over a bounded queue.

Why a thread and batches: a live interface or CAN bus does not wait for the model. Reading in its
own thread keeps the socket drained while scoring runs, and handing over *batches* of records (not
single records) makes the per-record cost of the queue negligible. The queue is bounded: when
scoring falls behind, a live agent drops whole batches at the queue and counts every record, so
memory never grows with the backlog. Replaying a file is different: nothing is lost by waiting, so
``replay`` applies back-pressure (the reader blocks) unless it is paced to a rate, where drops are
what a gateway would really see.

A batch is handed over when it is full or older than ``max_wait_s``; the scoring side may also take
a partial batch that has waited too long (:meth:`Batcher.take_stale`), so a single record on a quiet
bus is scored promptly even though the source iterator blocks until the next one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from agent.runtime.counters import Counters

log = logging.getLogger(__name__)

#: put on the queue when the source is exhausted (end of a file) or failed
END = None


class Pacer:
    """Replays a file at a fixed rate (records/s) or at the capture's own pace (``realtime``).

    :param restamp: give each record the wall-clock time it is released at (used by the latency
        benchmark so an alert's ``last_seen`` is comparable with the time it arrives over MQTT).
    """

    def __init__(self, rate: float | None = None, realtime: bool = False, restamp: bool = False):
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.rate = rate
        self.realtime = realtime
        self.restamp = restamp
        self._start: float | None = None
        self._first_ts = 0.0
        self._n = 0

    def __call__(self, record: Any) -> Any:
        now = time.monotonic()
        if self._start is None:
            self._start = now
            self._first_ts = float(record.ts)
        if self.rate is not None:
            due = self._start + self._n / self.rate
        elif self.realtime:
            due = self._start + max(0.0, float(record.ts) - self._first_ts)
        else:
            due = now
        self._n += 1
        delay = due - now
        if delay > 0.0005:
            time.sleep(delay)
        if self.restamp:
            return record._replace(ts=time.time())
        return record


class Batcher:
    """Collects records into batches; thread-safe so scoring can take a stale partial batch."""

    def __init__(self, max_records: int, max_wait_s: float):
        self.max_records = max(1, int(max_records))
        self.max_wait_s = max(0.0, float(max_wait_s))
        self._lock = threading.Lock()
        self._pending: list[Any] = []
        self._since = 0.0

    def add(self, record: Any) -> list[Any] | None:
        """Add one record; return a batch when it is full or has waited ``max_wait_s``."""
        with self._lock:
            pending = self._pending
            if not pending:
                self._since = time.monotonic()
            pending.append(record)
            if len(pending) >= self.max_records or time.monotonic() - self._since >= self.max_wait_s:
                self._pending = []
                return pending
            return None

    def take(self) -> list[Any]:
        """Whatever is pending (possibly nothing)."""
        with self._lock:
            out, self._pending = self._pending, []
            return out

    def take_stale(self) -> list[Any] | None:
        """The pending partial batch if it has waited at least ``max_wait_s``."""
        with self._lock:
            if self._pending and time.monotonic() - self._since >= self.max_wait_s:
                out, self._pending = self._pending, []
                return out
            return None


class CaptureThread(threading.Thread):
    """Iterates ``source`` and puts batches on ``q``.

    :param mode: ``"drop"``: a full queue drops the batch and counts its records (live capture and
        paced replay); ``"block"``: wait for room (replay of a file as fast as scoring goes).
    """

    def __init__(
        self,
        source: Iterable[Any],
        q: queue.Queue[Sequence[Any] | None],
        batcher: Batcher,
        counters: Counters,
        mode: Literal["drop", "block"] = "drop",
        pacer: Pacer | None = None,
    ):
        super().__init__(name="capture", daemon=True)
        self.source = source
        self.q = q
        self.batcher = batcher
        self.counters = counters
        self.mode = mode
        self.pacer = pacer
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.finished = False

    def offer(self, batch: Sequence[Any]) -> None:
        """Hand a batch to scoring: drop-and-count or block, per ``mode``."""
        c = self.counters
        n = len(batch)
        if self.mode == "drop":
            try:
                self.q.put_nowait(batch)
            except queue.Full:
                c.dropped_queue += n
                return
            c.enqueued += n
            return
        while True:
            try:
                self.q.put(batch, timeout=0.2)
                c.enqueued += n
                return
            except queue.Full:
                if self.stop_event.is_set():
                    c.dropped_queue += n
                    return

    def run(self) -> None:
        c = self.counters
        add = self.batcher.add
        stop = self.stop_event
        pacer = self.pacer
        batches = getattr(self.source, "iter_batches", None) if pacer is None else None
        held: list[Any] = []  # the source's batches not yet handed over
        try:
            if batches is not None:
                self._offer_batches(batches(), held)
                return
            for record in self.source:
                if stop.is_set():
                    break
                if pacer is not None:
                    record = pacer(record)
                c.records_in += 1
                batch = add(record)
                if batch is not None:
                    self.offer(batch)
        except BaseException as exc:  # noqa: BLE001 - reported to the pipeline, which decides
            self.error = exc
            if not stop.is_set():
                log.error("capture stopped: %s", exc)
        finally:
            # The partial batch goes on after an error too: every record counted in is scored
            # (or, when the queue is full at a stop, counted as dropped), never silently lost.
            rest = self.batcher.take() or (type(held[0]).concat(held) if held else None)
            if rest:
                self.offer(rest)
            self.finished = True
            self._put_end()

    def _offer_batches(self, batches: Iterable[Any], held: list[Any]) -> None:
        """A source that reads whole batches (``iter_batches``: a CAN log), handed over in batches of
        the batcher's size cut at the same frames as record by record, so the result is the same.

        The batches must support ``len``, slicing and a ``concat`` class method (:class:`CanBatch`).
        """
        size = self.batcher.max_records
        stop = self.stop_event
        c = self.counters
        count = 0
        for batch in batches:
            if stop.is_set():
                break
            c.records_in += len(batch)
            held.append(batch)
            count += len(batch)
            if count < size:
                continue
            whole = type(batch).concat(held)
            held.clear()
            cut = count - count % size
            for lo in range(0, cut, size):
                self.offer(whole[lo : lo + size])
            count -= cut
            if count:
                held.append(whole[cut:])

    def _put_end(self) -> None:
        """The end marker must arrive even when the queue is full (scoring is draining it)."""
        while True:
            try:
                self.q.put(END, timeout=0.2)
                return
            except queue.Full:
                if self.stop_event.is_set():
                    return
