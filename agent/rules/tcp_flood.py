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
and slow floods under ``min_sources`` a second (the model is left to judge both). Memory is bounded
(:class:`agent.rules.floods.FloodCounter`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.config import TcpFloodConfig
from agent.features import ETHERNET_CONTEXT
from agent.rules import Finding, column_indices
from agent.rules.floods import FloodRule, Report

#: the row columns the rule reads (the alert context gives it addresses, ports and protocol)
COLUMNS = ("tcp.len", "tcp.flags")
#: TCP flags of answers, left out: RST, and SYN with ACK
_RST, _SYN_ACK = 0x04, 0x12
_TS, _SRC, _SPORT, _DST, _DPORT, _PROTO = (ETHERNET_CONTEXT.index(f) for f in
                                          ("ts", "src_ip", "src_port", "dest_ip", "dest_port", "proto"))


class TcpFloodRule(FloodRule):
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
        super().__init__(columns, class_name, min_sources, window_s, max_targets)

    @classmethod
    def from_config(cls, config: TcpFloodConfig, columns: Sequence[str]) -> TcpFloodRule:
        """Build from ``rules.tcp_flood``."""
        return cls(columns, config.class_name, config.min_sources, config.window_s, config.max_targets)

    @staticmethod
    def needs(columns: Sequence[str]) -> bool:
        """Whether ``columns`` has what the rule reads."""
        return all(c in columns for c in COLUMNS)

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings of ``rows``: one per interval in which a target's bare pairs reach ``min_sources``."""
        out: list[Finding] = []
        length, flags, arrive = self._len, self._flags, self._counter.arrive
        for row, ctx in zip(rows, contexts, strict=True):
            if ctx[_PROTO] != "TCP" or ctx[_DST] is None:
                continue
            f = row[flags]
            if f & _RST or f & _SYN_ACK == _SYN_ACK:
                continue
            report = arrive((ctx[_DST], ctx[_DPORT]), float(ctx[_TS]), (ctx[_SRC], ctx[_SPORT]), ctx[_DPORT],
                            row[length] > 0)
            if report is not None:
                out.append(self._finding(report))
        return out

    def _finding(self, r: Report) -> Finding:
        dst, port = r.target
        return self.finding(r, dst, port, "TCP", (
            f"{r.bare} source ports {r.origin} sent TCP segments to {dst} port {port} within "
            f"{r.ts - r.interval_start:.2f} s and none of them sent it data (a TCP flood, as hping3 --flood "
            f"sends; {r.run_s:.0f} s so far)"))
