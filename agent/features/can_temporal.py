"""Per-frame CAN features over recent history: the timing the CICIoV2024 rows lack.

Why: a spoofing attack replays a legitimate id with a forged payload, usually faster than the real
ECU sends it, and a DoS floods the bus with a high-priority id. One frame alone shows neither;
its id's inter-arrival time against that id's usual period, the id's and the bus's rates, how much
the payload changed since the id's previous frame, and how concentrated the bus's id mix is do.

Columns (one row per CAN data frame, in this order):

``ID, DATA_0..DATA_7``
    as in the CICIoV2024 rows (decimal; zero-padded below 8 bytes; CAN FD: the first 8), so one
    model can use payload and timing together.
``dlc``
    data length in bytes.
``dt_id``
    seconds since the previous data frame of this id (0 for an id's first frame).
``dt_id_dev``, ``dt_id_ratio``
    ``dt_id`` minus, and divided by, the id's running period: an EWMA of its inter-arrival times
    (weight :data:`EWMA_ALPHA`, like TCP's RTT estimator) taken *before* this frame updates it
    (0 and 1 while the id has no period yet). A frame injected between two genuine ones gives a
    ratio near 0.5 or below.
``id_rate_hz``, ``bus_rate_hz``
    frames of this id, and of all ids, in the sliding window of ``can_window_s`` seconds ending at
    this frame, divided by the window length.
``hamming_bits``, ``changed_bytes``
    bits and bytes that differ from the id's previous payload (shorter payloads compared as if
    zero-padded; 0 for an id's first frame).
``id_entropy``
    Shannon entropy (bits) of the id distribution in the window: a flood of one id drives it down.
``new_id``
    1 when the id was not seen during the warm-up (``can_warmup_s`` from the first frame), on every
    frame of such an id; 0 during the warm-up itself.

Time: windows, periods and the warm-up run on :class:`~agent.features.clock.DataClock`'s timeline,
so logs joined end to end, or a clock set back, do not leave state in the future (rows and alerts
keep the frames' own timestamps).

Remote frames produce no row but count on the bus (rates, entropy), since they occupy it; error
frames produce no row and are only counted.

State is bounded: at most ``can_max_ids`` ids have their own timing/payload state and window
counter; frames of further ids share one pooled slot (key :data:`POOLED_ID`) and are counted in
``stats()["pooled_frames"]``, so a flood of random ids cannot grow memory. The window itself holds
at most :data:`MAX_WINDOW_FRAMES` frames (beyond, the oldest leave early; counted).

Speed: the features are computed a batch of frames at a time with numpy
(:meth:`CanTemporalExtractor.batch_with_context`), with the per-id state, the window and the
warm-up carried from one batch to the next, so rows do not depend on where batches are cut; the
per-frame entry points feed the same function. The window entropy is kept incrementally as
``H = log2 N - S / N`` with ``S = Σ c·log2 c`` over the ids' window counts: each arrival and
departure adjusts ``S`` by a difference of two table entries, added in event order (a cumulative
sum), and ``S`` is recomputed exactly every :data:`RESYNC_FRAMES` frames so float rounding cannot
drift. The running period is the one sequential recurrence: a loop over floats, no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.canbatch import ERROR, REMOTE, CanBatch, CanContexts
from agent.errors import FeatureError
from agent.features.can_frames import CanFrameExtractor
from agent.features.ciciov2024 import BASE_COLUMNS
from agent.features.clock import DataClock
from agent.records import CanFrame

if TYPE_CHECKING:
    from agent.config import FeaturesConfig

#: weight of a new inter-arrival time in an id's running period
EWMA_ALPHA = 0.125
#: the key under which ids beyond ``can_max_ids`` share state
POOLED_ID = -1
#: most frames the sliding window holds, whatever the timestamps say
MAX_WINDOW_FRAMES = 1 << 18
#: the entropy accumulator is recomputed exactly this often (frames)
RESYNC_FRAMES = 1 << 16

TEMPORAL_COLUMNS: tuple[str, ...] = (
    "dlc",
    "dt_id",
    "dt_id_dev",
    "dt_id_ratio",
    "id_rate_hz",
    "bus_rate_hz",
    "hamming_bits",
    "changed_bytes",
    "id_entropy",
    "new_id",
)
_ZERO8 = bytes(8)
#: bit 0 of every byte of a 64-byte (CAN FD) payload: "which bytes are non-zero" after folding
_BYTE_LSBS = int.from_bytes(b"\x01" * 64, "little")


def changed_bytes(xor: int) -> int:
    """Number of non-zero bytes in ``xor`` (fold each byte's bits into its lowest bit, count)."""
    y = xor | (xor >> 4)
    y |= y >> 2
    y |= y >> 1
    return (y & _BYTE_LSBS).bit_count()



#: set bits of every byte value
_POPCOUNT = np.array([bin(v).count("1") for v in range(256)], dtype=np.int64)
#: columns holding integers (ID, DATA_0..DATA_7, dlc, hamming_bits, changed_bytes, new_id)
_INT_COLUMNS = frozenset((*range(10), 15, 16, 18))
#: frames per call of the batch function from the per-frame entry points
_CHUNK = 4096


class CanTemporalExtractor(CanFrameExtractor):
    """Temporal features per data frame; holds bounded per-id and sliding-window state across calls."""

    columns: tuple[str, ...] = BASE_COLUMNS + TEMPORAL_COLUMNS
    kind_name = "can-temporal"

    def __init__(self, max_ids: int = 4096, window_s: float = 1.0, warmup_s: float = 10.0) -> None:
        if max_ids < 1:
            raise FeatureError(f"features.can_max_ids must be at least 1, got {max_ids}")
        if window_s <= 0:
            raise FeatureError(f"features.can_window_s must be positive, got {window_s}")
        if warmup_s < 0:
            raise FeatureError(f"features.can_warmup_s must not be negative, got {warmup_s}")
        self.max_ids = max_ids
        self.window_s = float(window_s)
        self.warmup_s = float(warmup_s)
        #: key (id, or POOLED_ID) -> its slot in the per-id state below
        self._ids: dict[int, int] = {}
        self._last_ts = np.zeros(64, dtype=np.float64)
        self._period: list[float] = []  # running period per slot (read by the sequential loop)
        self._payload = np.zeros((64, 64), dtype=np.uint8)  # last payload per slot, zero-padded
        self._payload_width = 8  # 64 once an FD payload longer than 8 bytes was kept
        self._sorted_keys = np.zeros(0, dtype=np.int64)  # the keys of _ids, sorted, and their slots
        self._sorted_slots = np.zeros(0, dtype=np.int64)
        #: ids seen during the warm-up (at most max_ids), also as a sorted array
        self._known: set[int] = set()
        self._known_arr = np.zeros(0, dtype=np.int64)
        self._warm_end: float | None = None
        #: the sliding window: timeline times and keys of its frames, oldest first
        self._win_ts = np.zeros(0, dtype=np.float64)
        self._win_key = np.zeros(0, dtype=np.int64)
        self._s = 0.0  # Σ c·log2 c over the window's counts
        self._clogc: list[float] = [0.0, 0.0]  # c·log2 c by c
        self._clogc_arr = np.array(self._clogc)
        self._log2: np.ndarray = np.zeros(1)  # log2 n by n (index 0 unused)
        self._since_resync = 0
        self._clock = DataClock()
        self._counters = {
            "rows": 0,
            "remote_frames": 0,
            "error_frames": 0,
            "pooled_frames": 0,
            "window_overflow": 0,
            "new_id_frames": 0,
        }

    @classmethod
    def from_config(cls, config: FeaturesConfig) -> CanTemporalExtractor:
        """Build from the ``features`` section (``can_max_ids``, ``can_window_s``, ``can_warmup_s``)."""
        return cls(max_ids=config.can_max_ids, window_s=config.can_window_s, warmup_s=config.can_warmup_s)

    def stats(self) -> dict[str, int]:
        """rows, remote/error frames (no row), pooled_frames, window_overflow, new_id_frames, tracked_ids."""
        out = dict(self._counters)
        out["tracked_ids"] = len(self._ids)
        out["window_frames"] = len(self._win_ts)
        out["clock_steps_back"] = self._clock.steps
        return out

    # ------------------------------------------------------------------------------------------
    # entry points
    def _iter(self, records: Iterable[CanFrame], context: bool) -> Iterator[Any]:
        """The per-frame entry points: the batch function over chunks of ``records`` (a source that
        reads by the batch, a CAN log, is read so)."""
        batches = getattr(records, "iter_batches", None)
        chunks: Iterable[Sequence[CanFrame]]
        if batches is not None:
            chunks = batches()
        else:
            it = iter(records)
            chunks = iter(lambda: list(islice(it, _CHUNK)), [])
        for chunk in chunks:
            matrix, ctxs = self.batch_with_context(chunk)
            rows = self.listed(matrix)
            if context:
                yield from zip(rows, ctxs, strict=True)
            else:
                yield from rows

    @staticmethod
    def listed(matrix: np.ndarray) -> list[list[Any]]:
        """Rows of :meth:`batch_with_context` as lists, integer columns as ``int`` (as rules read them)."""
        cols = [matrix[:, j].astype(np.int64).tolist() if j in _INT_COLUMNS else matrix[:, j].tolist()
                for j in range(matrix.shape[1])]
        return [list(r) for r in zip(*cols, strict=True)]

    def batch_with_context(self, records: Sequence[CanFrame]) -> tuple[np.ndarray, CanContexts]:
        """Rows of the data frames among ``records`` as an ``(N, 19)`` float64 array, and their contexts.

        The one implementation of the features: the replay passes whole :class:`CanBatch` es, a live
        bus lists of frames, the per-frame entry points chunks; the rows are the same however the
        frames are cut into calls.
        """
        b = records if isinstance(records, CanBatch) else CanBatch.from_frames(records)
        if not len(b):
            return np.zeros((0, len(self.columns))), CanContexts(np.zeros(0), [], np.zeros(0, dtype=np.int64))
        timeline = self._timeline(b.ts)
        ok = np.flatnonzero((b.flags & ERROR) == 0)
        self._counters["error_frames"] += len(b) - len(ok)
        if not len(ok):
            return np.zeros((0, len(self.columns))), CanContexts(np.zeros(0), [], np.zeros(0, dtype=np.int64))
        ts = timeline[ok]
        aid = b.ids[ok]
        remote = (b.flags[ok] & REMOTE) != 0
        if self._warm_end is None:
            self._warm_end = float(ts[0]) + self.warmup_s
        keys = self._keys(aid, remote)
        id_rate, bus_rate, entropy = self._window(ts, keys)
        data_at = np.flatnonzero(~remote)  # among ok
        n_remote = len(ok) - len(data_at)
        self._counters["remote_frames"] += n_remote
        rows_at = ok[data_at]  # among the batch
        m = len(rows_at)
        out = np.empty((m, len(self.columns)), dtype=np.float64)
        out[:, 0] = aid[data_at]
        out[:, 1:9] = b.data[rows_at, :8]
        out[:, 9] = b.dlc[rows_at]
        if m:
            dkeys = keys[data_at]
            out[:, 10:13], out[:, 15:17] = self._per_id(ts[data_at], dkeys, b.data[rows_at])
            self._counters["pooled_frames"] += int(np.count_nonzero(dkeys == POOLED_ID))
        out[:, 13] = id_rate[data_at]
        out[:, 14] = bus_rate[data_at]
        out[:, 17] = entropy[data_at]
        out[:, 18] = self._new_ids(ts[data_at], aid[data_at])
        self._counters["rows"] += m
        if m == len(b):
            return out, CanContexts(b.ts, b.channel, b.ids)
        ch = b.channel
        return out, CanContexts(b.ts[rows_at], [ch[i] for i in rows_at.tolist()], b.ids[rows_at])

    # ------------------------------------------------------------------------------------------
    # the steps of a batch
    def _timeline(self, stamps: np.ndarray) -> np.ndarray:
        """:class:`DataClock` over the batch: one array operation while the stamps do not step back."""
        clock = self._clock
        t = stamps + clock.offset
        if t[0] >= clock.last and (len(t) == 1 or bool((t[1:] >= t[:-1]).all())):
            clock.last = float(t[-1])
            return t
        return np.array([clock(x) for x in stamps.tolist()], dtype=np.float64)

    def _keys(self, aid: np.ndarray, remote: np.ndarray) -> np.ndarray:
        """Each frame's state key: its id, or :data:`POOLED_ID` once ``max_ids`` ids have state.

        Only data frames give an id state; a frame of an id without one takes a free place if any.
        """
        ids = self._ids
        if len(ids) + len(aid) < self.max_ids or len(ids) + len(np.unique(aid)) < self.max_ids:
            self._add_ids(aid[~remote])  # nothing can be pooled in this batch
            return aid
        keys = aid.copy()
        max_ids = self.max_ids
        for j, (a, r) in enumerate(zip(aid.tolist(), remote.tolist(), strict=True)):
            key = a if (a in ids or len(ids) < max_ids) else POOLED_ID
            keys[j] = key
            if not r and key not in ids:
                self._new_slot(key)
        return keys

    def _add_ids(self, data_ids: np.ndarray) -> None:
        """Give state slots to the ids (of data frames) not holding one (which slot is of no consequence)."""
        for key in sorted(set(data_ids.tolist()).difference(self._ids)):
            self._new_slot(key)

    def _new_slot(self, key: int) -> None:
        slot = self._ids[key] = len(self._period)
        self._period.append(0.0)
        if slot >= len(self._last_ts):
            self._last_ts = np.concatenate([self._last_ts, np.zeros(len(self._last_ts))])
            self._payload = np.concatenate([self._payload, np.zeros_like(self._payload)])
        self._last_ts[slot] = np.nan  # no frame yet
        at = int(np.searchsorted(self._sorted_keys, key))
        self._sorted_keys = np.insert(self._sorted_keys, at, key)
        self._sorted_slots = np.insert(self._sorted_slots, at, slot)

    def _window(self, ts: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per frame: its key's and the bus's rate in the window ending at it, and the window's entropy.

        Positions run over the carried window followed by the batch; ``start[i]`` is the first
        position still in frame ``i``'s window. Counts come from one sort of (key, position) pairs.
        """
        w0 = len(self._win_ts)
        all_ts = np.concatenate([self._win_ts, ts])
        all_key = np.concatenate([self._win_key, keys])
        total = len(all_ts)
        m = len(ts)
        pos = np.arange(w0, total)
        within = np.searchsorted(all_ts, ts - self.window_s, side="right")
        start = np.maximum(within, pos + 1 - MAX_WINDOW_FRAMES)
        prev_start = np.concatenate([[0], start[:-1]])
        self._counters["window_overflow"] += int(np.maximum(0, start - np.maximum(prev_start, within)).sum())
        span = total + 1
        base = (all_key + 1) * span  # keys are ids (< 2**29) and POOLED_ID (-1)
        order = np.sort(base + np.arange(total))
        upto = np.searchsorted(order, base[w0:] + pos, side="right")  # key's frames at or before i, +offset
        count = upto - np.searchsorted(order, base[w0:] + start, side="left")
        arrived = upto - np.searchsorted(order, base[w0:] + prev_start, side="left")
        # departures: position p leaves at the first frame whose window starts after it
        gone = np.arange(int(start[-1]))
        leave_at = np.searchsorted(start, gone, side="right")
        left = (np.searchsorted(order, base[gone] + pos[leave_at], side="right")
                - np.searchsorted(order, base[gone] + gone, side="left"))
        need = int(max(arrived.max(), left.max() if len(left) else 0))
        if need >= len(self._clogc):
            self._grow_table(need)
        table = self._clogc_arr
        deltas = np.empty(m + len(gone), dtype=np.float64)
        deltas[np.arange(m) + prev_start] = table[arrived] - table[arrived - 1]
        deltas[leave_at + 1 + gone] = -(table[left] - table[left - 1])
        # S after each frame: the events in order, summed one at a time as they happened
        last_event = np.arange(m) + start
        s_after = np.empty(m, dtype=np.float64)
        s = self._s
        since = self._since_resync
        lo = 0  # first frame (and its first event) of the current run between resyncs
        first_event = 0
        while lo < m:
            hi = min(m, lo + RESYNC_FRAMES - since)  # frames up to the next resync (exclusive)
            run = np.cumsum(np.concatenate([[s], deltas[first_event : int(last_event[hi - 1]) + 1]]))
            s_after[lo:hi] = run[last_event[lo:hi] - first_event + 1]
            s = float(run[-1])
            since += hi - lo
            if since >= RESYNC_FRAMES:
                i = hi - 1
                _, counts = np.unique(all_key[int(start[i]) : w0 + i + 1], return_counts=True)
                s = math.fsum(self._clogc[c] for c in counts.tolist())
                s_after[i] = s
                since = 0
            first_event = int(last_event[hi - 1]) + 1
            lo = hi
        self._s = s
        self._since_resync = since
        n = pos + 1 - start
        if int(n.max()) >= len(self._log2):
            self._log2 = np.array([0.0] + [math.log2(k) for k in range(1, 2 * int(n.max()) + 1)])
        entropy = self._log2[n] - s_after / n
        entropy[entropy < 1e-12] = 0.0
        keep = int(start[-1])
        self._win_ts = all_ts[keep:]
        self._win_key = all_key[keep:]
        inv_window = 1.0 / self.window_s
        return count * inv_window, n * inv_window, entropy

    def _grow_table(self, upto: int) -> None:
        table = self._clogc
        log2 = math.log2
        table.extend(c * log2(c) for c in range(len(table), max(upto + 1, 2 * len(table))))
        self._clogc_arr = np.array(table)

    def _per_id(self, ts: np.ndarray, keys: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``dt_id, dt_id_dev, dt_id_ratio`` and ``hamming_bits, changed_bytes`` of data frames."""
        m = len(ts)
        slot = self._sorted_slots[np.searchsorted(self._sorted_keys, keys)]
        order = np.argsort(slot, kind="stable")
        ss = slot[order]
        first = np.ones(m, dtype=bool)
        first[1:] = ss[1:] != ss[:-1]
        prev = np.empty(m, dtype=np.int64)  # the same id's previous frame in the batch, -1: before it
        prev[order[1:]] = order[:-1]
        prev[order[first]] = -1
        in_batch = prev >= 0
        prev_ts = np.where(in_batch, ts[np.maximum(prev, 0)], self._last_ts[slot])
        width = max(data.shape[1], self._payload_width)
        cur = data if data.shape[1] == width else np.pad(data, ((0, 0), (0, width - data.shape[1])))
        before = np.where(in_batch[:, None], cur[np.maximum(prev, 0)], self._payload[slot, :width])
        has_prev = ~np.isnan(prev_ts)
        dt = np.where(has_prev, ts - np.where(has_prev, prev_ts, 0.0), 0.0)
        xor = np.where(has_prev[:, None], cur ^ before, 0).astype(np.uint8)
        bits = np.stack([_POPCOUNT[xor].sum(axis=1), np.count_nonzero(xor, axis=1)], axis=1)
        timing = np.zeros((m, 3), dtype=np.float64)
        timing[:, 0] = dt
        timing[:, 2] = 1.0
        self._periods(np.flatnonzero(has_prev), slot, dt, timing)
        last = order[np.append(ss[1:] != ss[:-1], True)]  # each id's last frame in the batch
        self._last_ts[slot[last]] = ts[last]
        if width > self._payload_width:
            self._payload_width = 64
        self._payload[slot[last], :width] = cur[last]
        return timing, bits

    def _periods(self, at: np.ndarray, slot: np.ndarray, dt: np.ndarray, timing: np.ndarray) -> None:
        """The running period of each id, frame after frame: an EWMA, so sequential by nature."""
        period = self._period
        alpha = EWMA_ALPHA
        before: list[float] = []  # each frame's id's period before the frame updates it
        keep = before.append
        for s, d in zip(slot[at].tolist(), dt[at].tolist(), strict=True):
            p = period[s]
            keep(p)
            if p > 0.0:
                period[s] = p + alpha * (d - p)  # d >= 0: the clock never steps back
            elif d > 0.0:
                period[s] = d
        p = np.array(before, dtype=np.float64)
        d = dt[at]
        known = p > 0.0
        timing[at, 1] = np.where(known, d - p, 0.0)
        timing[at, 2] = np.where(known, d / np.where(known, p, 1.0), 1.0)

    def _new_ids(self, ts: np.ndarray, aid: np.ndarray) -> np.ndarray:
        """``new_id`` of data frames: during the warm-up their ids are learned (up to ``max_ids``)."""
        assert self._warm_end is not None
        warm = ts < self._warm_end
        out = np.zeros(len(ts), dtype=np.float64)
        if warm.any():
            known = self._known
            uniq, first = np.unique(aid[warm], return_index=True)
            added = False
            for a in uniq[np.argsort(first)].tolist():
                if len(known) >= self.max_ids:
                    break
                if a not in known:
                    known.add(a)
                    added = True
            if added:
                self._known_arr = np.array(sorted(known), dtype=np.int64)
        late = ~warm
        if late.any():
            known_arr = self._known_arr
            if len(known_arr):
                at = np.minimum(np.searchsorted(known_arr, aid), len(known_arr) - 1)
                new = late & (known_arr[at] != aid)
            else:
                new = late
            out[new] = 1.0
            self._counters["new_id_frames"] += int(np.count_nonzero(new))
        return out
