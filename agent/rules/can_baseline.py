"""The CAN baseline detector: what departs from the bus learned in :mod:`agent.baseline.can`.

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
from dataclasses import dataclass
from typing import Any

from agent.baseline import Baseline
from agent.baseline.can import MAX_IDS, PERIODS_PER_WINDOW, WINDOWS_S, data_columns
from agent.errors import ConfigError
from agent.features import CAN_CONTEXT
from agent.rules.base import Detector, DetectorConfig, Finding
from agent.schema import doc

log = logging.getLogger(__name__)

_TS, _CHANNEL = CAN_CONTEXT.index("ts"), CAN_CONTEXT.index("channel")


@dataclass
class CanBaselineConfig(DetectorConfig):
    """What the CAN baseline detector reports as a departure from the learned bus (see docs/baseline.md)."""

    min_frames: int = doc("an id learned from fewer frames is sparse: only its flood check applies", 20)
    rate_factor: float = doc(
        "a periodic id sending more than this multiple of its learned most frames per window is injected "
        "(SPOOFING)", 1.5,
    )
    rate_slack: int = doc("frames per window a periodic id may exceed its learned most by in any case", 2)
    flood_factor: float = doc(
        "a known id sending more than this multiple of its learned most frames per window: injection if "
        "it is not periodic, a flood (DoS) if no learned id has a higher priority",
        6.0,
    )
    unknown_min_ids: int = doc(
        "distinct ids never learned, seen within one second, that make fuzzing (DoS); a lone new id is "
        "counted in health, not alerted", 3,
    )
    flood_hz: float = doc(
        "frames per second of one id never learned (or learned sparse) that make a flood (DoS)", 200.0
    )
    payload_min_bits: int = doc(
        "bits a byte that never changed in learning must differ from its learned value by to break the "
        "payload layout", 6,
    )
    payload_min_frames: int = doc(
        "frames in a row of one id breaking its payload layout (or its learned lengths) that make a "
        "masquerade (SPOOFING)", 3,
    )
    silence_periods: float = doc(
        "report a periodic id silent for this many learned periods while the rest of the bus goes on "
        "(suspension); 0 = off", 0.0,
    )
    dos_class: str = doc("class of flood and fuzzing findings (the model's, so incidents merge)", "DoS")
    spoofing_class: str = doc("class of injection and masquerade findings (the model's)", "SPOOFING")
    suspension_class: str = doc("class of suspension findings", "SPOOFING")


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


class CanDetector(Detector[CanBaselineConfig]):
    """Findings where the bus departs from its baseline (see the module docstring)."""

    name = "can_baseline"
    summary = "departures from the learned CAN bus: unknown ids, injected or masqueraded frames, floods"
    Config = CanBaselineConfig
    family = "can"

    def __init__(self, columns: Sequence[str], config: CanBaselineConfig | None = None,
                 baseline: Baseline | None = None, **settings: Any) -> None:
        super().__init__(columns, config, **settings)
        cfg = self.config
        if baseline is None:
            raise ConfigError("the CAN baseline detector needs a learned baseline (baseline.path)")
        if cfg.rate_factor <= 1 or cfg.flood_factor <= 1:
            raise ConfigError("baseline.can.rate_factor and flood_factor must be above 1")
        if cfg.payload_min_bits < 1 or cfg.payload_min_bits > 8:
            raise ConfigError(f"baseline.can.payload_min_bits must be 1..8, got {cfg.payload_min_bits}")
        if cfg.payload_min_frames < 1 or cfg.unknown_min_ids < 1 or cfg.min_frames < 1:
            raise ConfigError("baseline.can.payload_min_frames, unknown_min_ids and min_frames must be at least 1")
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

    @classmethod
    def needs(cls, columns: Sequence[str]) -> bool:
        """Whether ``columns`` are CAN rows (ID and DATA_0..DATA_7)."""
        return "ID" in columns and "DATA_7" in columns

    def stats(self) -> dict[str, int]:
        """Frames checked and findings per kind."""
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
        min_bits = self.config.payload_min_bits
        min_frames = self.config.payload_min_frames
        silences = self.config.silence_periods > 0
        from_bytes = int.from_bytes
        self.counters["frames"] += len(rows)
        for row, ctx in zip(rows, contexts, strict=False):
            st = ids.get(row[idc])
            ts = ctx[_TS]
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
        return Finding(key=ctx[_CHANNEL], cls=cls, first_ts=first, last_ts=ts,
                       context={"ts": ts, "channel": ctx[_CHANNEL], "arbitration_id": aid, "rate_hz": rate},
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
            cls, what = self.config.dos_class, "floods the bus"
        else:
            cls, what = self.config.spoofing_class, "arrives faster than learned (injected frames)"
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
            self.config.spoofing_class, first, float(ts), ctx, st.aid, len(st.recent) / st.span,
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
        cfg = self.config
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
        limit = self.config.silence_periods
        for st in self.ids.values():
            if not st.periodic or not st.last_ts:
                continue
            silent = now - st.last_ts
            if silent > limit * st.period:
                if not st.silent_reported:
                    st.silent_reported = True
                    self.counters["silence_findings"] += 1
                    out.append(self._finding(
                        self.config.suspension_class, float(st.last_ts), now, ctx, st.aid, 0.0,
                        f"id 0x{st.aid:03X} has been silent for {silent:.2f} s, {silent / st.period:.0f} of its "
                        "learned periods, while the bus goes on (suspended ECU or frames removed)"))
            else:
                st.silent_reported = False


DETECTOR = CanDetector
