"""The CAN baseline: each id's timing and payload layout on one vehicle's bus, and what departs from it.

Learned per id: frames, data lengths, the period (median gap) and how regular it is, the most frames
it sent in a sliding window of each of :data:`WINDOWS_S`, the bits that never changed, and per
payload byte the values it took (up to :data:`MAX_VALUES`; more is "varies"), its range, how often it
changed from frame to frame and what it looks like (constant, a counter, changing every frame like a
checksum, a signal). Per bus: the most frames in one second. The detector reads the timing, lengths
and constant bytes; the rest is for review and ``baseline diff``.

Findings, each one alert-policy finding of the model's classes (so incidents merge with its windows):

* **unknown ids** in numbers (fuzzing) or one unknown id fast (a high-priority flood): DoS;
* **a known id above its learned rate**: injection (SPOOFING) beyond ``rate_factor`` for periodic
  ids (``flood_factor`` for the others); DoS beyond ``flood_factor`` for the bus's highest-priority
  id, which wins arbitration over every other;
* **a payload breaking the learned layout** while the timing is normal (masquerade, SPOOFING): a byte
  that never changed in learning now differs from its value by ``payload_min_bits`` bits or more, or
  a data length never learned, on ``payload_min_frames`` frames of the id in a row;
* **an id gone silent** (suspension) for ``silence_periods`` of its period while the bus goes on
  (off by default: a key turned off silences whole ECUs).

Why a byte's distance and not any new value: on real cars a short learning drive leaves many bytes
with one value that later legitimately change (gear, lamps, buttons, a signal going invalid), but by
few bits: on the development cars, at most 4 of 8. A forged value of a byte that never moved is
usually far from it. The threshold is a setting; docs/baseline.md gives the measurements.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.baseline import Baseline
from agent.errors import ConfigError
from agent.rules import Finding

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


def window_for(period: float) -> int:
    """Index into :data:`WINDOWS_S` of the window an id of this period is judged on."""
    for w, span in enumerate(WINDOWS_S):
        if span >= PERIODS_PER_WINDOW * period:
            return w
    return len(WINDOWS_S) - 1


class _IdState:
    """What the detector keeps per learned id: its limits and its recent frames."""

    __slots__ = (
        "aid",
        "bad_run",
        "bad_since",
        "const_bytes",
        "const_mask",
        "const_value",
        "dlcs",
        "flood",
        "last_ts",
        "limit",
        "most",
        "period",
        "periodic",
        "recent",
        "reported",
        "silent_reported",
        "span",
    )

    def __init__(self, aid: int, entry: dict[str, Any], cfg: Any) -> None:
        self.aid = aid
        frames = int(entry.get("frames", 0))
        period = float(entry.get("period_s", 0.0))
        most = [int(entry.get("most_per_window", {}).get(f"{w:g}", 0)) for w in WINDOWS_S]
        sparse = frames < cfg.min_frames
        self.periodic = bool(entry.get("periodic")) and not sparse
        w = window_for(period) if self.periodic else WINDOWS_S.index(1.0)
        self.span = WINDOWS_S[w]
        learned_most = max(1, most[w])
        self.most = learned_most
        if sparse:
            self.limit = self.flood = max(int(cfg.flood_hz * self.span), learned_most)
        else:
            self.flood = max(math.ceil(learned_most * cfg.flood_factor), learned_most + cfg.rate_slack)
            self.limit = (max(math.ceil(learned_most * cfg.rate_factor), learned_most + cfg.rate_slack)
                          if self.periodic else self.flood)
        self.period = period
        mask = value = 0
        const_bytes: list[tuple[int, int]] = []
        if not sparse:
            for i, vals in enumerate(entry.get("bytes") or []):
                if vals is not None and len(vals) == 1:
                    mask |= 0xFF << (8 * i)
                    value |= int(vals[0]) << (8 * i)
                    const_bytes.append((i, int(vals[0])))
        self.const_mask, self.const_value, self.const_bytes = mask, value, tuple(const_bytes)
        self.dlcs = frozenset(int(d) for d in entry.get("dlc") or ()) if not sparse else frozenset()
        self.recent: deque[float] = deque()
        self.bad_run = 0
        self.bad_since = 0.0
        self.last_ts = 0.0
        self.reported: dict[str, float] = {}
        self.silent_reported = False


class CanDetector:
    """Findings where the bus departs from its baseline (see the module docstring)."""

    name = "can_baseline"

    def __init__(self, baseline: Baseline, cfg: Any, columns: Sequence[str]) -> None:
        if cfg.rate_factor <= 1 or cfg.flood_factor <= 1:
            raise ConfigError("baseline.can.rate_factor and flood_factor must be above 1")
        if cfg.payload_min_bits < 1 or cfg.payload_min_bits > 8:
            raise ConfigError(f"baseline.can.payload_min_bits must be 1..8, got {cfg.payload_min_bits}")
        if cfg.payload_min_frames < 1 or cfg.unknown_min_ids < 1 or cfg.min_frames < 1:
            raise ConfigError("baseline.can.payload_min_frames, unknown_min_ids and min_frames must be at least 1")
        self.cfg = cfg
        self._id_col, self._data_cols, self._dlc_col = data_columns(columns)
        self._first_data = self._data_cols[0]
        #: bits changed since the id's previous payload (can-temporal): an unchanged payload needs no check
        self._hamming_col = list(columns).index("hamming_bits") if "hamming_bits" in columns else None
        contiguous = self._data_cols == list(range(self._first_data, self._first_data + 8))
        if not contiguous:
            raise ConfigError("the CAN baseline expects DATA_0..DATA_7 side by side in the rows")
        self.ids: dict[int, _IdState] = {}
        for name, entry in (baseline.content.get("ids") or {}).items():
            aid = int(name, 16)
            self.ids[aid] = _IdState(aid, entry, cfg)
        self._top_priority = min(self.ids, default=0)
        self._unknown: deque[tuple[float, int]] = deque()
        self._unknown_counts: dict[int, int] = {}
        self._unknown_reported: dict[str, float] = {}
        self._new_ids: set[int] = set()
        self._quiet = 2.0
        self.counters = {"frames": 0, "unknown_id_frames": 0, "new_ids": 0, "timing_findings": 0,
                         "payload_findings": 0, "unknown_findings": 0, "silence_findings": 0}

    def stats(self) -> dict[str, int]:
        return {f"can_baseline_{k}": v for k, v in self.counters.items()}

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings raised by ``rows`` (in capture order).

        Speed: this runs on every frame, so the common case (a learned id at its rate with its
        payload unchanged since its last frame) costs a dictionary lookup, a deque append and pop,
        and two comparisons; the payload is only decoded when it changed.
        """
        out: list[Finding] = []
        ids = self.ids
        idc, lo = self._id_col, self._first_data
        hi = lo + 8
        dlcc, hbc = self._dlc_col, self._hamming_col
        min_bits = self.cfg.payload_min_bits
        min_frames = self.cfg.payload_min_frames
        silences = self.cfg.silence_periods > 0
        from_bytes = int.from_bytes
        self.counters["frames"] += len(rows)
        for row, ctx in zip(rows, contexts, strict=False):
            st = ids.get(row[idc])
            ts = ctx[0]
            if st is None:
                self._unknown_frame(float(ts), int(row[idc]), ctx, out)
                continue
            recent = st.recent
            recent.append(ts)
            if ts - recent[0] > st.span:
                span = st.span
                while ts - recent[0] > span:
                    recent.popleft()
            if len(recent) > st.limit:
                self._rate(st, ts, ctx, out)
            if silences:
                st.last_ts = ts
            if not st.const_mask or (hbc is not None and not row[hbc] and not st.bad_run):
                continue  # nothing to check, or the payload of a good frame again
            bad = False
            diff = (from_bytes(bytes(row[lo:hi]), "little") ^ st.const_value) & st.const_mask
            if diff:
                for i, _v in st.const_bytes:
                    if ((diff >> (8 * i)) & 0xFF).bit_count() >= min_bits:
                        bad = True
                        break
            if dlcc is not None and st.dlcs and row[dlcc] not in st.dlcs:
                bad = True
            if bad:
                if not st.bad_run:
                    st.bad_since = ts
                st.bad_run += 1
                if st.bad_run >= min_frames:
                    self._payload(st, ts, ctx, row, out)
            elif st.bad_run:
                st.bad_run = 0
        if silences and rows:
            self._silences(float(contexts[-1][0]), contexts[-1], out)
        return out

    # ------------------------------------------------------------------------------------------
    def _report(self, reported: dict[str, float], kind: str, ts: float) -> tuple[bool, float | None]:
        """Whether ``kind`` may be reported at ``ts`` (once a second at most), and where the evidence it
        adds starts when it continues the last report's run (``None``: a new run)."""
        last = reported.get(kind)
        if last is not None and 0.0 <= ts - last < 1.0:
            return False, None
        reported[kind] = ts
        return True, (last if last is not None and 0.0 <= ts - last <= self._quiet + 1.0 else None)

    def _finding(self, cls: str, first: float, ts: float, ctx: tuple[Any, ...], aid: int, rate: float,
                 evidence: str) -> Finding:
        return Finding(key=ctx[1], cls=cls, first_ts=first, last_ts=ts,
                       context={"ts": ts, "channel": ctx[1], "arbitration_id": aid, "rate_hz": rate},
                       evidence=evidence, quiet_s=self._quiet)

    def _rate(self, st: _IdState, ts: float, ctx: tuple[Any, ...], out: list[Finding]) -> None:
        n = len(st.recent)
        # a flood is DoS only where it wins arbitration over the whole bus (no learned id has higher
        # priority); a real ECU's id sent faster is injection, however fast
        flood = n > st.flood and st.aid <= self._top_priority
        due, since = self._report(st.reported, "flood" if flood else "rate", ts)
        if not due:
            return
        # the evidence starts where the window first held more frames than learned
        first = float(st.recent[min(st.most, n - 1)]) if since is None else since
        rate = n / st.span
        if flood:
            cls, what = self.cfg.dos_class, "floods the bus"
        else:
            cls, what = self.cfg.spoofing_class, "arrives faster than learned (injected frames)"
        self.counters["timing_findings"] += 1
        out.append(self._finding(
            cls, first, float(ts), ctx, st.aid, rate,
            f"id 0x{st.aid:03X} {what}: {n} frames in {st.span:g} s, learned at most {st.most}"
            + (f" (period {st.period * 1000:.1f} ms)" if st.periodic else "")))

    def _payload(self, st: _IdState, ts: float, ctx: tuple[Any, ...], row: Sequence[Any],
                 out: list[Finding]) -> None:
        due, since = self._report(st.reported, "payload", ts)
        if not due:
            return
        first = float(st.bad_since) if since is None else since
        lo = self._first_data
        changed = [f"byte {i} {row[lo + i]:#04x} (learned {v:#04x})" for i, v in st.const_bytes
                   if row[lo + i] != v]
        if self._dlc_col is not None and st.dlcs and row[self._dlc_col] not in st.dlcs:
            changed.append(f"length {row[self._dlc_col]} (learned {', '.join(map(str, sorted(st.dlcs)))})")
        self.counters["payload_findings"] += 1
        out.append(self._finding(
            self.cfg.spoofing_class, first, float(ts), ctx, st.aid, len(st.recent) / st.span,
            f"id 0x{st.aid:03X} breaks its learned payload layout at its normal timing ({st.bad_run} frames "
            f"in a row): {'; '.join(changed[:3])}"))

    def _unknown_frame(self, ts: float, aid: int, ctx: tuple[Any, ...], out: list[Finding]) -> None:
        self.counters["unknown_id_frames"] += 1
        if aid not in self._new_ids and len(self._new_ids) < MAX_IDS:
            self._new_ids.add(aid)
            self.counters["new_ids"] += 1
            log.info("CAN id 0x%03X was never seen while learning", aid)
        window, counts = self._unknown, self._unknown_counts
        window.append((ts, aid))
        counts[aid] = counts.get(aid, 0) + 1
        while window and ts - window[0][0] > 1.0:
            _, old = window.popleft()
            c = counts[old] - 1
            if c:
                counts[old] = c
            else:
                del counts[old]
        distinct = len(counts)
        top = counts[aid]
        cfg = self.cfg
        if distinct < cfg.unknown_min_ids and top < cfg.flood_hz:
            return
        due, since = self._report(self._unknown_reported, "unknown", ts)
        if not due:
            return
        first = window[0][0] if since is None else since
        self.counters["unknown_findings"] += 1
        if top >= cfg.flood_hz:
            evidence = f"id 0x{aid:03X}, never seen while learning, floods the bus: {top} frames in 1 s"
        else:
            evidence = (f"{distinct} ids never seen while learning within 1 s ({len(window)} frames): "
                        "fuzzing or a foreign device")
        out.append(self._finding(cfg.dos_class, first, ts, ctx, aid, float(len(window)), evidence))

    def _silences(self, now: float, ctx: tuple[Any, ...], out: list[Finding]) -> None:
        limit = self.cfg.silence_periods
        for st in self.ids.values():
            if not st.periodic or not st.last_ts:
                continue
            silent = now - st.last_ts
            if silent > limit * st.period:
                if not st.silent_reported:
                    st.silent_reported = True
                    self.counters["silence_findings"] += 1
                    out.append(self._finding(
                        self.cfg.suspension_class, float(st.last_ts), now, ctx, st.aid, 0.0,
                        f"id 0x{st.aid:03X} has been silent for {silent:.2f} s, {silent / st.period:.0f} of its "
                        "learned periods, while the bus goes on (suspended ECU or frames removed)"))
            else:
                st.silent_reported = False


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
