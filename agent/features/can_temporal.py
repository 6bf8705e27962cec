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

Speed: every per-frame update is O(1). The window entropy is kept incrementally as
``H = log2 N - S / N`` with ``S = Σ c·log2 c`` over the ids' window counts; each arrival and
departure adjusts ``S`` by a difference of two table entries, and ``S`` is recomputed exactly every
:data:`RESYNC_FRAMES` frames so float rounding cannot drift.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

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


class CanTemporalExtractor(CanFrameExtractor):
    """Per-frame temporal features; holds bounded per-id and sliding-window state across calls."""

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
        #: id -> [last ts, running period, last payload as a little-endian int]
        self._ids: dict[int, list[Any]] = {}
        #: ids seen during the warm-up (at most max_ids)
        self._known: set[int] = set()
        self._warm_end: float | None = None
        self._win_ts: deque[float] = deque()
        self._win_id: deque[int] = deque()
        self._win_count: dict[int, int] = {}
        self._s = 0.0  # Σ c·log2 c over _win_count
        self._clogc: list[float] = [0.0, 0.0]  # c·log2 c by c
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

    def _grow_table(self, upto: int) -> list[float]:
        table = self._clogc
        log2 = math.log2
        table.extend(c * log2(c) for c in range(len(table), max(upto + 1, 2 * len(table))))
        return table

    def _resync(self) -> None:
        """Recompute Σ c·log2 c exactly (bounds float drift of the incremental updates)."""
        self._s = math.fsum(c * math.log2(c) for c in self._win_count.values())
        self._since_resync = 0

    def _iter(self, records: Iterable[CanFrame], context: bool) -> Iterator[Any]:
        # Everything the loop touches per frame is a local: attribute lookups cost as much as the math.
        ids = self._ids
        known = self._known
        max_ids = self.max_ids
        win_ts = self._win_ts
        win_id = self._win_id
        win_count = self._win_count
        window_s = self.window_s
        inv_window = 1.0 / window_s
        clogc = self._clogc
        table_len = len(clogc)
        counters = self._counters
        log2 = math.log2
        alpha = EWMA_ALPHA
        zero8 = _ZERO8
        from_bytes = int.from_bytes
        fold_mask = _BYTE_LSBS
        max_window = MAX_WINDOW_FRAMES
        warm_end = self._warm_end
        clock = self._clock
        s = self._s
        since_resync = self._since_resync
        try:
            for frame in records:
                stamp, arbitration_id, data, dlc, _ext, _fd, is_remote, is_error, _channel = frame
                ts = clock(stamp)  # state arithmetic on a timeline that never steps back
                if is_error:
                    counters["error_frames"] += 1
                    continue
                if warm_end is None:
                    warm_end = self._warm_end = ts + self.warmup_s
                key = arbitration_id if (arbitration_id in ids or len(ids) < max_ids) else POOLED_ID

                # --- sliding window: arrival of this frame, departure of frames older than window_s
                win_ts.append(ts)
                win_id.append(key)
                c = win_count.get(key, 0) + 1
                win_count[key] = c
                if c >= table_len:
                    clogc = self._grow_table(c)
                    table_len = len(clogc)
                s += clogc[c] - clogc[c - 1]
                horizon = ts - window_s
                while win_ts[0] <= horizon or len(win_ts) > max_window:
                    if win_ts[0] > horizon:
                        counters["window_overflow"] += 1
                    win_ts.popleft()
                    old = win_id.popleft()
                    oc = win_count[old]
                    s -= clogc[oc] - clogc[oc - 1]
                    if oc == 1:
                        del win_count[old]
                    else:
                        win_count[old] = oc - 1
                since_resync += 1
                if since_resync >= RESYNC_FRAMES:
                    self._resync()
                    s = self._s
                    since_resync = 0
                if is_remote:
                    counters["remote_frames"] += 1
                    continue

                # --- per-id timing and payload change
                payload = from_bytes(data, "little")
                state = ids.get(key)
                if state is None:
                    if key == POOLED_ID or len(ids) < max_ids:
                        ids[key] = [ts, 0.0, payload]
                    dt = dev = 0.0
                    ratio = 1.0
                    hamming = changed = 0
                else:
                    dt = ts - state[0]
                    period = state[1]
                    if period > 0.0:
                        dev = dt - period
                        ratio = dt / period
                        state[1] = period + alpha * dev  # dt >= 0: the clock never steps back
                    else:
                        dev = 0.0
                        ratio = 1.0
                        if dt > 0.0:
                            state[1] = dt
                    xor = state[2] ^ payload
                    if xor:
                        hamming = xor.bit_count()
                        y = xor | (xor >> 4)
                        y |= y >> 2
                        y |= y >> 1
                        changed = (y & fold_mask).bit_count()
                    else:
                        hamming = changed = 0
                    state[0] = ts
                    state[2] = payload
                if key == POOLED_ID:
                    counters["pooled_frames"] += 1

                # --- warm-up: learn ids; afterwards flag the ones never seen
                if ts < warm_end:
                    if len(known) < max_ids:
                        known.add(arbitration_id)
                    new_id = 0
                elif arbitration_id in known:
                    new_id = 0
                else:
                    new_id = 1
                    counters["new_id_frames"] += 1

                n = len(win_ts)
                entropy = log2(n) - s / n
                if entropy < 1e-12:
                    entropy = 0.0
                if len(data) != 8:
                    data = (data + zero8)[:8]
                row = [
                    arbitration_id, *data, dlc, dt, dev, ratio,
                    win_count[key] * inv_window, n * inv_window, hamming, changed, entropy, new_id,
                ]
                counters["rows"] += 1
                if context:
                    yield row, (stamp, _channel, arbitration_id)
                else:
                    yield row
        finally:
            self._s = s
            self._since_resync = since_resync
