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

Or: SYNs without ACK, from whatever sources to whatever ports, reaching one address at
``min_syns`` a second. Mirai's SYN flood picks a random source and destination port for every
segment, as hping3 ``-p ++1`` walks the ports: no one port sees many pairs, and a port scan's
probes look the same segment by segment. Ten thousand connection attempts a second to one host is
more than a plant's servers take (nmap's connect scan of 1,000 ports sends about a thousand a
second); a scan sent at flood rates (``masscan --rate 10000`` and up against one host) reaches the
count too and is reported as the flood it then is.

What it cannot see: floods of other flags spread over many ports of a host (counted per port, each
stays low), SYN floods over many ports under ``min_syns`` a second, and slow floods under
``min_sources`` a second (the model is left to judge them). Memory is bounded
(:class:`agent.rules._floods.FloodCounter`; at most ``max_targets`` addresses for the SYN count,
each with at most ``2 * min_sources`` sources and ports remembered for the evidence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.features import ETHERNET_CONTEXT
from agent.rules._floods import QUIET_INTERVALS, FloodConfig, FloodRule, Report
from agent.rules.base import Finding, IntervalTable, ReportRun
from agent.schema import doc

#: the row columns the rule reads (the alert context gives it addresses, ports and protocol)
COLUMNS = ("tcp.len", "tcp.flags")
#: TCP flags of answers, left out: RST, and SYN with ACK
_RST, _SYN_ACK = 0x04, 0x12
_SYN = 0x02
_TS, _SRC, _SPORT, _DST, _DPORT, _PROTO = (ETHERNET_CONTEXT.index(f) for f in
                                          ("ts", "src_ip", "src_port", "dest_ip", "dest_port", "proto"))


@dataclass
class _Syns:
    """One address's SYNs in the current interval (for ``min_syns``)."""

    start: float
    count: int = 0
    sources: set[Any] = field(default_factory=set)
    """Source addresses (at most ``2 * min_sources`` kept)."""
    ports: set[Any] = field(default_factory=set)
    """Destination ports (at most ``2 * min_sources`` kept)."""
    reported: bool = False
    run: ReportRun = field(default_factory=ReportRun)

    def restart(self, ts: float) -> None:
        """A new interval from ``ts``."""
        self.start, self.count, self.reported = ts, 0, False
        self.sources.clear()
        self.ports.clear()


@dataclass
class TcpFloodConfig(FloodConfig):
    """The TCP flood rule: one service hit by data-less segments from very many source ports."""

    min_syns: int = doc(
        "SYNs without ACK that one address receives within window_s, over any ports and from any sources, "
        "before it alerts: a SYN flood to random ports (Mirai, hping3 -p ++1), which no one port counts; "
        "0 turns this count off, else at least min_sources", 10000
    )
    class_name: str = doc("class its alerts carry; the model's class for TCP floods, so incidents merge", "DDoS_TCP")


class TcpFloodRule(FloodRule[TcpFloodConfig]):
    """Finds TCP floods in Edge-IIoTset rows (see the module docstring)."""

    name = "tcp_flood"
    summary = "TCP floods of any flags, and SYN floods to random ports"
    Config = TcpFloodConfig
    reads = COLUMNS
    volume_key = "min_syns"
    counts_volume = False

    def __init__(self, columns: Sequence[str], config: TcpFloodConfig | None = None, **settings: Any) -> None:
        super().__init__(columns, config, **settings)
        self._len, self._flags = self.indices()
        self.min_syns = int(self.config.min_syns)
        self._syns: IntervalTable[_Syns] = IntervalTable(self.config.window_s, self.config.max_targets, _Syns)
        self._syn_findings = 0

    def stats(self) -> dict[str, int]:
        """The pair counter's counters, plus SYN-count findings and addresses tracked and evicted."""
        return {**super().stats(), "tcp_flood_syn_findings": self._syn_findings,
                "tcp_flood_syn_targets_evicted": self._syns.evicted, "tcp_flood_syn_targets_tracked": len(self._syns)}

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings of ``rows``: one per interval in which a target's bare pairs reach ``min_sources``, or an
        address's SYNs ``min_syns``."""
        out: list[Finding] = []
        length, flags, arrive, syns = self._len, self._flags, self._counter.arrive, self.min_syns
        for row, ctx in zip(rows, contexts, strict=True):
            if ctx[_PROTO] != "TCP" or ctx[_DST] is None:
                continue
            f = row[flags]
            if f & _RST or f & _SYN_ACK == _SYN_ACK:
                continue
            ts = float(ctx[_TS])
            report = arrive((ctx[_DST], ctx[_DPORT]), ts, (ctx[_SRC], ctx[_SPORT]), ctx[_DPORT], row[length] > 0)
            if report is not None:
                out.append(self._finding(report))
            if syns and f & _SYN:
                finding = self._syn(ctx[_DST], ts, ctx[_SRC], ctx[_DPORT])
                if finding is not None:
                    out.append(finding)
        return out

    def _syn(self, dst: Any, ts: float, src: Any, port: Any) -> Finding | None:
        """Count a SYN to ``dst``: a finding when its interval's SYNs reach ``min_syns``."""
        t = self._syns.at(dst, ts)
        if t.reported:
            return None
        t.count += 1
        keep = self._counter.cap
        if len(t.sources) < keep:
            t.sources.add(src)
        if len(t.ports) < keep:
            t.ports.add(port)
        if t.count < self.min_syns:
            return None
        t.reported = True
        quiet = QUIET_INTERVALS * self._counter.window_s
        since = t.run.report(t.start, ts, quiet)
        self._syn_findings += 1
        r = Report(dst, len(t.sources), t.count, frozenset(t.sources), frozenset(t.ports), t.start, since, ts,
                   ts - t.run.run_start, quiet)
        t.sources.clear()
        t.ports.clear()
        origin = r.origin + (" or more" if len(r.sources) >= keep else "")
        return self.finding(r, dst, r.port, "TCP", (
            f"{r.volume} SYNs {origin} reached {dst} ({r.where(keep)}) within {ts - r.interval_start:.2f} s "
            f"(a SYN flood, as Mirai or hping3 --flood send; {r.run_s:.0f} s so far)"))

    def _finding(self, r: Report) -> Finding:
        dst, port = r.target
        return self.finding(r, dst, port, "TCP", (
            f"{r.bare} source ports {r.origin} sent TCP segments to {dst} port {port} within "
            f"{r.ts - r.interval_start:.2f} s and none of them sent it data (a TCP flood, as hping3 --flood "
            f"sends; {r.run_s:.0f} s so far)"))


DETECTOR = TcpFloodRule
