"""TCP floods: one service hit by segments without data from very many source ports at once.

What floods look like: hping3's ``--flood`` with ``-S``, ``-A``, ``-F``, ``-R``, ``-P`` or ``-X``
sends segments that carry no data to one address and port, each from the next source port (and,
with ``--rand-source``, from a random address); botnets do the same from real stacks, and
connection floods open handshakes they never use. Whatever the flags, the victim's service sees
hundreds to hundreds of thousands of (source address, source port) pairs a second, none of which
sends it a byte of data. Ordinary traffic does not: a client opens a connection and sends a request
within milliseconds, a bulk transfer acknowledges from one pair, and a port scan spreads over many
ports instead of hitting one.

So the evidence is: at least ``min_sources`` (source address, port) pairs sent TCP segments to one
(destination address, port) within one ``window_s`` interval, and none of them carried data to it
in that interval (a pair that sends data no longer counts). Segments with RST set, and SYN-ACKs, are
left out: they are how hosts answer, and a port scan's answers do concentrate this way (the scanned
host's ports reply to the one source port masscan or nmap scans from), whereas a flood's are spread
over its varied sources.

Why a rule and not only the model: see :mod:`agent.rules`. The Edge-IIoTset columns do not show a
segment's ports, so a lone ACK of a flood and a lone ACK of a download are the same row; the lab's
model learned SYN floods with spoofed sources and misreads an ACK flood or a one-source SYN flood
as a scan. The rule reports the model's class for TCP floods (``DDoS_TCP`` by default) under the
Ethernet stream's key, so a flood both see is one incident.

What it cannot see: floods spread over many ports of a host (counted per port, each stays low),
and slow floods under ``min_sources`` a second (the model is left to judge both). Memory is bounded:
at most ``max_targets`` (address, port) targets are tracked, the least recently seen dropped beyond
and counted, and each holds at most ``2 * min_sources`` pairs for the current interval, cleared once
it has reported.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.config import TcpFloodConfig
from agent.features import ETHERNET_CONTEXT
from agent.rules import Finding, check_settings, column_indices
from agent.windows import GLOBAL_KEY

#: the row columns the rule reads (the alert context gives it addresses, ports and protocol)
COLUMNS = ("tcp.len", "tcp.flags")
#: TCP flags of answers, left out: RST, and SYN with ACK
_RST, _SYN_ACK = 0x04, 0x12
_TS, _SRC, _SPORT, _DST, _DPORT, _PROTO = (ETHERNET_CONTEXT.index(f) for f in
                                          ("ts", "src_ip", "src_port", "dest_ip", "dest_port", "proto"))
#: a run of reports closer than this many intervals is one flood (one incident)
QUIET_INTERVALS = 10


@dataclass
class _Target:
    """One (address, port) and the source pairs that reached it in the current interval."""

    start: float
    pairs: dict[tuple[Any, Any], bool] = field(default_factory=dict)
    """(source address, source port) -> whether it carried data."""
    bare: int = 0
    """Pairs without data so far in the interval."""
    reported: bool = False
    """The interval has reported (its pairs are cleared)."""
    last_report: float | None = None
    run_start: float = 0.0
    """Start of the first interval of the current run of reports."""


class TcpFloodRule:
    """Finds TCP floods in Edge-IIoTset rows (see the module docstring)."""

    name = "tcp_flood"

    def __init__(
        self,
        columns: Sequence[str],
        class_name: str = "DDoS_TCP",
        min_sources: int = 256,
        window_s: float = 1.0,
        max_targets: int = 256,
    ) -> None:
        self._len, self._flags = column_indices(self.name, COLUMNS, columns)
        check_settings(self.name, {"min_sources": (min_sources, 2), "max_targets": (max_targets, 1)},
                       {"window_s": window_s})
        self.class_name = class_name
        self.min_sources = int(min_sources)
        self.window_s = float(window_s)
        self.max_targets = int(max_targets)
        self._cap = 2 * self.min_sources
        self._targets: OrderedDict[tuple[Any, Any], _Target] = OrderedDict()
        self._counters = {"tcp_flood_findings": 0, "tcp_flood_targets_evicted": 0, "tcp_flood_pairs_capped": 0}

    @staticmethod
    def needs(columns: Sequence[str]) -> bool:
        """Whether ``columns`` has what the rule reads."""
        return all(c in columns for c in COLUMNS)

    @classmethod
    def from_config(cls, config: TcpFloodConfig, columns: Sequence[str]) -> TcpFloodRule:
        """Build from the ``rules.tcp_flood`` section."""
        return cls(columns, config.class_name, config.min_sources, config.window_s, config.max_targets)

    def stats(self) -> dict[str, int]:
        """Findings raised, targets tracked and evicted, pairs not tracked for lack of room."""
        return {**self._counters, "tcp_flood_targets_tracked": len(self._targets)}

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings of ``rows``: one per interval in which a target's bare pairs reach ``min_sources``."""
        out: list[Finding] = []
        length, flags = self._len, self._flags
        for row, ctx in zip(rows, contexts, strict=True):
            if ctx[_PROTO] != "TCP" or ctx[_DST] is None:
                continue
            f = row[flags]
            if f & _RST or f & _SYN_ACK == _SYN_ACK:
                continue
            found = self._segment(ctx, row[length] > 0)
            if found is not None:
                out.append(found)
        return out

    def _segment(self, ctx: tuple[Any, ...], data: bool) -> Finding | None:
        ts = float(ctx[_TS])
        key = (ctx[_DST], ctx[_DPORT])
        targets = self._targets
        t = targets.get(key)
        if t is None:
            t = targets[key] = _Target(ts)
            if len(targets) > self.max_targets:
                targets.popitem(last=False)
                self._counters["tcp_flood_targets_evicted"] += 1
        else:
            targets.move_to_end(key)
            if ts - t.start >= self.window_s or ts < t.start:  # a new interval (or the clock went back)
                t.start, t.bare, t.reported = ts, 0, False
                t.pairs.clear()
        if t.reported:
            return None
        pair = (ctx[_SRC], ctx[_SPORT])
        had = t.pairs.get(pair)
        if had is None:
            if len(t.pairs) >= self._cap:
                self._counters["tcp_flood_pairs_capped"] += 1
                return None
            t.pairs[pair] = data
            t.bare += not data
        elif data and not had:
            t.pairs[pair] = True
            t.bare -= 1
        if t.bare < self.min_sources:
            return None
        return self._report(t, key, ts)

    def _report(self, t: _Target, key: tuple[Any, Any], ts: float) -> Finding:
        sources = {pair[0] for pair, had in t.pairs.items() if not had}
        t.reported = True
        t.pairs.clear()
        quiet = QUIET_INTERVALS * self.window_s
        if t.last_report is None or ts - t.last_report > quiet or ts < t.last_report:
            t.run_start, since = t.start, t.start
        else:
            since = t.last_report
        t.last_report = ts
        self._counters["tcp_flood_findings"] += 1
        dst, port = key
        one = next(iter(sources)) if len(sources) == 1 else None
        origin = f"from {one}" if one is not None else f"from {len(sources)} addresses"
        return Finding(
            key=GLOBAL_KEY,
            cls=self.class_name,
            first_ts=since,
            last_ts=ts,
            context={"src_ip": one, "dest_ip": dst, "dest_port": port, "proto": "TCP"},
            quiet_s=quiet,
            evidence=(
                f"{t.bare} source ports {origin} sent TCP segments to {dst} port {port} within "
                f"{ts - t.start:.2f} s and none of them sent it data (a TCP flood, as hping3 --flood "
                f"sends; {ts - t.run_start:.0f} s so far)"
            ),
        )
