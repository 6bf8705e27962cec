"""The CAN baseline: each id's timing and payload layout on one vehicle's bus, and what departs from it.

Learned per id: frames, data lengths, the period (median gap) and how regular it is, the most frames
it sent in a sliding window of each of :data:`WINDOWS_S`, the bits that never changed, and per
payload byte the values it took (up to :data:`MAX_VALUES`; more is "varies"), its range, how often it
changed from frame to frame and what it looks like (constant, a counter, changing every frame like a
checksum, a signal). Per bus: the most frames in one second. The detector reads the timing, lengths
and constant bytes; the rest is for review and ``baseline diff``.

What the detector reports is in :mod:`agent.rules.can_baseline`.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.errors import ConfigError

log = logging.getLogger(__name__)

#: sliding windows (seconds) whose most frames per id are learned; an id is judged on the shortest
#: one that spans :data:`PERIODS_PER_WINDOW` of its periods
WINDOWS_S: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
PERIODS_PER_WINDOW = 16
#: distinct values a byte may take before it counts as "varies"
MAX_VALUES = 16
#: gap histogram: log-spaced bins from 10 us to 100 s
_BIN_PER_DECADE = 50
_BIN_LOW = -5.0
_BINS = 7 * _BIN_PER_DECADE
#: a periodic id has at least this share of its gaps within 0.7-1.3 times its median gap
REGULAR_SHARE = 0.8
#: most ids a learner or detector keeps state for (a fuzzer must not grow it)
MAX_IDS = 4096


def _bin(gap: float) -> int:
    if gap <= 0.0:
        return 0
    b = int((math.log10(gap) - _BIN_LOW) * _BIN_PER_DECADE)
    return 0 if b < 0 else (_BINS - 1 if b >= _BINS else b)


def _bin_value(b: int) -> float:
    return float(10 ** (_BIN_LOW + (b + 0.5) / _BIN_PER_DECADE))


def data_columns(columns: Sequence[str]) -> tuple[int, list[int], int | None]:
    """Where ID, DATA_0..DATA_7 and dlc (if any) are in a CAN kind's rows."""
    try:
        return (list(columns).index("ID"), [list(columns).index(f"DATA_{i}") for i in range(8)],
                list(columns).index("dlc") if "dlc" in columns else None)
    except ValueError:
        raise ConfigError("the CAN baseline reads ID and DATA_0..DATA_7, which these rows lack") from None


@dataclass
class _IdLearning:
    frames: int = 0
    dlcs: set[int] = field(default_factory=set)
    gaps: list[int] = field(default_factory=lambda: [0] * _BINS)
    last_ts: float | None = None
    recent: deque[float] = field(default_factory=deque)
    most: list[int] = field(default_factory=lambda: [0] * len(WINDOWS_S))
    values: list[set[int] | None] = field(default_factory=lambda: [set() for _ in range(8)])
    low: list[int] = field(default_factory=lambda: [255] * 8)
    high: list[int] = field(default_factory=lambda: [0] * 8)
    ones: int = 0
    """bits set in any frame (with ``zeros``: the bits that never changed)"""
    zeros: int = 0
    """bits clear in any frame"""
    last: list[int] | None = None
    """the previous frame's bytes (within a segment)"""
    changes: list[int] = field(default_factory=lambda: [0] * 8)
    """frames whose byte differs from the previous frame's"""
    steps: list[dict[int, int]] = field(default_factory=lambda: [{} for _ in range(8)])
    """per byte, how often each difference (mod 256) from the previous frame occurred"""
    first_ts: float = 0.0
    last_seen: float = 0.0


class CanLearner:
    """Learns a CAN baseline from rows and their contexts (``ts``, ``channel``, ``arbitration_id``)."""

    family = "can"

    def __init__(self, columns: Sequence[str]) -> None:
        self._id_col, self._data_cols, self._dlc_col = data_columns(columns)
        self.ids: dict[int, _IdLearning] = {}
        self.frames = 0
        self.ignored_ids = 0
        self.seconds = 0.0
        self.channels: set[str] = set()
        self._seg_first: float | None = None
        self._seg_last = 0.0
        self._bus: deque[float] = deque()
        self.bus_most = 0

    def segment(self) -> None:
        """Start a new input (a log of another drive): gaps and windows do not span the join."""
        if self._seg_first is not None:
            self.seconds += max(0.0, self._seg_last - self._seg_first)
        self._seg_first = None
        self._seg_last = 0.0
        self._bus.clear()
        for st in self.ids.values():
            st.last_ts = None
            st.last = None
            st.recent.clear()

    def feed(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> None:
        """Learn from one batch of rows."""
        idc, dcols, dlcc = self._id_col, self._data_cols, self._dlc_col
        widest = WINDOWS_S[-1]
        bus = self._bus
        for row, ctx in zip(rows, contexts, strict=False):
            ts = float(ctx[0])
            if self._seg_first is None:
                self._seg_first = ts
            self._seg_last = max(self._seg_last, ts)
            if len(self.channels) < 16:
                self.channels.add(str(ctx[1]))
            aid = int(row[idc])
            st = self.ids.get(aid)
            if st is None:
                if len(self.ids) >= MAX_IDS:
                    self.ignored_ids += 1
                    continue
                st = self.ids[aid] = _IdLearning(first_ts=ts)
            self.frames += 1
            st.frames += 1
            st.last_seen = ts
            st.dlcs.add(int(row[dlcc]) if dlcc is not None else 8)
            if st.last_ts is not None and ts >= st.last_ts:
                st.gaps[_bin(ts - st.last_ts)] += 1
            st.last_ts = ts
            recent = st.recent
            recent.append(ts)
            while ts - recent[0] > widest:
                recent.popleft()
            n = len(recent)
            for w, span in enumerate(WINDOWS_S):
                # frames within span seconds ending here (recent is short: at most 2 s of one id)
                k = n
                while k > 0 and ts - recent[n - k] > span:
                    k -= 1
                if k > st.most[w]:
                    st.most[w] = k
            data = [int(row[col]) for col in dcols]
            payload = int.from_bytes(bytes(data), "little")
            st.ones |= payload
            st.zeros |= ~payload & 0xFFFFFFFFFFFFFFFF
            last = st.last
            for i, b in enumerate(data):
                vals = st.values[i]
                if vals is not None:
                    vals.add(b)
                    if len(vals) > MAX_VALUES:
                        st.values[i] = None
                if b < st.low[i]:
                    st.low[i] = b
                if b > st.high[i]:
                    st.high[i] = b
                if last is not None and b != last[i]:
                    st.changes[i] += 1
                    step = (b - last[i]) & 0xFF
                    steps = st.steps[i]
                    if step in steps or len(steps) < 32:
                        steps[step] = steps.get(step, 0) + 1
            st.last = data
            bus.append(ts)
            while ts - bus[0] > 1.0:
                bus.popleft()
            if len(bus) > self.bus_most:
                self.bus_most = len(bus)

    def finish(self, min_frames: int = 20) -> tuple[dict[str, Any], list[str]]:
        """The baseline content and the reviewer's notes (ids learned too thinly, too short a period)."""
        self.segment()
        ids: dict[str, Any] = {}
        notes: list[str] = []
        slowest = 0.0
        for aid in sorted(self.ids):
            st = self.ids[aid]
            entry = _summarise(st)
            ids[f"0x{aid:03X}"] = entry
            if st.frames < min_frames:
                notes.append(f"id 0x{aid:03X}: seen {st.frames} times only; treated as sparse (flood check only)")
            elif entry["periodic"]:
                slowest = max(slowest, entry["period_s"])
        if self.ignored_ids:
            notes.append(f"{self.ignored_ids} frames of ids beyond the first {MAX_IDS} were not learned")
        if slowest and self.seconds < 10 * slowest:
            notes.append(f"learned {self.seconds:.1f} s, under 10 periods of the slowest periodic id "
                         f"({slowest:.3f} s): learn longer")
        content = {"bus": {"most_frames_per_s": self.bus_most, "channels": sorted(self.channels)}, "ids": ids}
        return content, notes

    def learned(self) -> dict[str, Any]:
        return {"records": self.frames, "seconds": round(self.seconds, 3), "ids": len(self.ids)}


def _summarise(st: _IdLearning) -> dict[str, Any]:
    gaps = st.gaps
    total = sum(gaps)
    entry: dict[str, Any] = {"frames": st.frames, "dlc": sorted(st.dlcs)}
    period = 0.0
    regular = 0.0
    if total:
        half, acc = total / 2, 0
        for b, c in enumerate(gaps):
            acc += c
            if acc >= half:
                period = _bin_value(b)
                break
        lo, hi = _bin(0.7 * period), _bin(1.3 * period)
        regular = sum(gaps[lo:hi + 1]) / total
    entry["period_s"] = round(period, 6)
    entry["regular_share"] = round(regular, 3)
    entry["periodic"] = bool(total >= 10 and regular >= REGULAR_SHARE and period <= WINDOWS_S[-1] / 2)
    entry["most_per_window"] = dict(zip((f"{w:g}" for w in WINDOWS_S), st.most, strict=True))
    entry["bytes"] = [None if v is None else sorted(v) for v in st.values]
    entry["constant_bits"] = f"0x{(~(st.ones & st.zeros)) & 0xFFFFFFFFFFFFFFFF:016X}"
    entry["ranges"] = [[lo, hi] if lo <= hi else None for lo, hi in zip(st.low, st.high, strict=True)]
    pairs = max(1, st.frames - 1)
    entry["change_share"] = [round(c / pairs, 3) for c in st.changes]
    entry["roles"] = [_role(st, i, pairs) for i in range(8)]
    return entry


def _role(st: _IdLearning, i: int, pairs: int) -> str:
    """What byte ``i`` of an id looks like: constant, counter (one step from frame to frame, modulo
    256, in 9 frames of 10), varies-each-frame (a checksum or a fast signal), or signal."""
    if st.values[i] is not None and len(st.values[i] or ()) <= 1:
        return "constant"
    steps = st.steps[i]
    if steps and pairs >= 10:
        step, n = max(steps.items(), key=lambda kv: kv[1])
        if step and n >= 0.9 * pairs:
            return f"counter (+{step if step < 128 else step - 256})"
    if st.changes[i] >= 0.9 * pairs and pairs >= 10:
        return "changes every frame (checksum-like or fast)"
    return "signal"


def summary(content: dict[str, Any]) -> list[str]:
    """Lines for ``baseline show``: the bus, then one line per id."""
    bus = content.get("bus", {})
    ids = content.get("ids", {})
    periodic = sum(1 for e in ids.values() if e.get("periodic"))
    lines = [f"bus: {len(ids)} ids ({periodic} periodic), at most {bus.get('most_frames_per_s', 0)} frames/s, "
             f"channels {', '.join(bus.get('channels', [])) or '-'}",
             f"{'id':>6}  {'frames':>7}  {'dlc':>5}  {'period ms':>9}  {'regular':>7}  bytes 0-7 (C constant=value, "
             "N counter, X changes every frame, S signal low-high)"]
    for name, e in ids.items():
        period = f"{e.get('period_s', 0) * 1000:.1f}" if e.get("periodic") else "-"
        lines.append(f"{name:>6}  {e.get('frames', 0):>7}  {','.join(map(str, e.get('dlc', []))):>5}  {period:>9}  "
                     f"{e.get('regular_share', 0):>7.2f}  {' '.join(_byte_cells(e))}")
    return lines


def _byte_cells(e: dict[str, Any]) -> list[str]:
    """One short cell per payload byte for ``baseline show``."""
    cells = []
    values, ranges = e.get("bytes") or [None] * 8, e.get("ranges") or [None] * 8
    for i, role in enumerate(e.get("roles") or ["signal"] * 8):
        if role == "constant" and values[i]:
            cells.append(f"C{values[i][0]:02X}")
        elif role.startswith("counter"):
            cells.append("N")
        elif role.startswith("changes"):
            cells.append("X")
        else:
            lo_hi = ranges[i]
            cells.append(f"S{lo_hi[0]:02X}-{lo_hi[1]:02X}" if lo_hi else "S")
    return cells


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Lines for ``baseline diff``: ids only in one, and ids whose period, lengths or constants changed."""
    ia, ib = a.get("ids", {}), b.get("ids", {})
    lines = [f"id {k} only in A" for k in sorted(set(ia) - set(ib))]
    lines += [f"id {k} only in B" for k in sorted(set(ib) - set(ia))]
    for k in sorted(set(ia) & set(ib)):
        ea, eb = ia[k], ib[k]
        pa, pb = ea.get("period_s", 0), eb.get("period_s", 0)
        if ea.get("periodic") != eb.get("periodic") or (pa and pb and abs(pa - pb) > 0.1 * max(pa, pb)):
            lines.append(f"id {k}: period {pa * 1000:.1f} ms -> {pb * 1000:.1f} ms "
                         f"(periodic {ea.get('periodic')} -> {eb.get('periodic')})")
        if ea.get("dlc") != eb.get("dlc"):
            lines.append(f"id {k}: lengths {ea.get('dlc')} -> {eb.get('dlc')}")
        ca = {i: v[0] for i, v in enumerate(ea.get("bytes") or []) if v is not None and len(v) == 1}
        cb = {i: v[0] for i, v in enumerate(eb.get("bytes") or []) if v is not None and len(v) == 1}
        if ca != cb:
            lines.append(f"id {k}: constant bytes {ca} -> {cb}")
    return lines
