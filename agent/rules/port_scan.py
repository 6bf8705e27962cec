"""Port scans: one source probed many ports of one host, whatever flags its probes carry, answered or not.

What scans look like: nmap's SYN scan (``-sS``) sends a SYN to each port; its connect scan (``-sT``)
completes the handshakes and resets them at once; its stealth scans send a FIN (``-sF``), no flag
at all (``-sN``) or FIN, PSH and URG (``-sX``); masscan and zmap send SYNs at any rate. A closed
port answers with a reset, an open one with a SYN-ACK (SYN scans) or silence (stealth scans), and a
host behind a firewall that drops probes answers nothing at all. Whatever the scan and whatever the
answers, the scanner's own segments are the evidence: segments without ACK, which in ordinary TCP
only a connection's first SYN is, to one port after another, none of which ever carries a byte.

So the evidence is: within one ``window_s`` interval, one source sent segments without ACK and
without RST to at least ``min_ports`` ports of one address, and no data crossed any of those ports
between the two (a port that carries data in either direction no longer counts, nor does it count
again in that interval). A client opening connections to a dozen services of a server sends data on
each; FTP's data connections carry the files; a monitoring probe checks a few ports. Zeek's scan
policy and Snort's sfPortscan count the same way (Zeek: 15 failed ports in five minutes); the
default here, 32 ports in 60 s, sits above what a monitoring server checks on one host and far
below a scan (nmap's default is 1,000 ports; its polite timing, ``-T2``, still sends 150 a minute).

Why a rule and not only the model: see :mod:`agent.rules`. The Edge-IIoTset columns show neither
ports nor which probes were answered: the lab's model learned scans that closed ports answer, and
reads a FIN, NULL or Xmas scan that nothing answers (a firewalled host) as a flood or an upload.
The rule reports the model's class for scans (``Port_Scanning`` by default) under the Ethernet
stream's key, so a scan both see is one incident.

What it cannot see: scans slower than ``min_ports`` per ``window_s`` (nmap ``-T0``/``-T1``), scans
of a few ports (``nmap -p 502,102``), sweeps of one port over many hosts, ACK and Maimon scans
(their probes carry ACK, as every segment inside a connection does: the model and the TCP flood
rule are left to judge them), and UDP scans (the model's). Memory is bounded: at most
``max_pairs`` (source, address) pairs are tracked (the least recently seen dropped beyond and
counted), each with at most ``min_ports`` probed ports and :data:`MAX_SETTLED` ports that carried
data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.features import ETHERNET_CONTEXT
from agent.rules.base import Detector, DetectorConfig, Finding, IntervalTable, ReportRun
from agent.schema import doc
from agent.windows import GLOBAL_KEY

#: the row columns the rule reads (the alert context gives it addresses, ports and protocol)
COLUMNS = ("tcp.len", "tcp.flags")
_FIN, _SYN, _RST, _PSH, _ACK, _URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
#: ports that carried data remembered per pair and interval (beyond, a port's data no longer settles it)
MAX_SETTLED = 256
_TS, _SRC, _SPORT, _DST, _DPORT, _PROTO = (ETHERNET_CONTEXT.index(f) for f in
                                          ("ts", "src_ip", "src_port", "dest_ip", "dest_port", "proto"))


def probe_kind(flags: int) -> str:
    """What a segment without ACK and RST is, as nmap names its scans."""
    if flags & _SYN:
        return "SYN"
    if flags == 0:
        return "NULL"
    if flags & (_FIN | _PSH | _URG) == _FIN | _PSH | _URG:
        return "Xmas"
    if flags & _FIN:
        return "FIN"
    return f"flags 0x{flags:02x}"


@dataclass
class _Pair:
    """One (source, address) pair in the current interval."""

    start: float
    probed: dict[int, str] = field(default_factory=dict)
    """Ports probed and not settled -> the kind of their first probe."""
    settled: set[int] = field(default_factory=set)
    """Ports that carried data in the interval (at most :data:`MAX_SETTLED`)."""
    reported: bool = False
    run: ReportRun = field(default_factory=ReportRun)

    def restart(self, ts: float) -> None:
        """A new interval from ``ts``."""
        self.start, self.reported = ts, False
        self.probed.clear()
        self.settled.clear()


@dataclass
class PortScanConfig(DetectorConfig):
    """The port scan rule: one source probed many ports of one host with segments that never carried
    data, answered or not."""

    min_ports: int = doc(
        "ports of one address that one source sent segments without ACK and RST (SYN, FIN, NULL, Xmas probes) "
        "within window_s, none of which carried data, before it alerts (nmap scans 1,000 by default)", 32
    )
    window_s: float = doc("the interval those ports must fall in", 60.0)
    class_name: str = doc("class its alerts carry; the model's class for port scans, so incidents merge",
                          "Port_Scanning")
    max_pairs: int = doc("(source, address) pairs tracked at once; least recently seen dropped beyond", 4096)


class PortScanRule(Detector[PortScanConfig]):
    """Finds port scans in Edge-IIoTset rows (see the module docstring)."""

    name = "port_scan"
    summary = "TCP port scans of any probe flags, answered or not"
    Config = PortScanConfig
    reads = COLUMNS

    def __init__(self, columns: Sequence[str], config: PortScanConfig | None = None, **settings: Any) -> None:
        super().__init__(columns, config, **settings)
        c = self.config
        self.check_settings({"min_ports": (c.min_ports, 2), "max_pairs": (c.max_pairs, 1)},
                       {"window_s": c.window_s})
        self._len, self._flags = self.indices()
        self.class_name = c.class_name
        self.min_ports = int(c.min_ports)
        self.window_s = float(c.window_s)
        self._pairs: IntervalTable[_Pair] = IntervalTable(c.window_s, c.max_pairs, _Pair)
        self._findings = 0

    def stats(self) -> dict[str, int]:
        """Findings raised, pairs tracked and evicted."""
        return {"port_scan_findings": self._findings, "port_scan_pairs_evicted": self._pairs.evicted,
                "port_scan_pairs_tracked": len(self._pairs)}

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings of ``rows``: one per interval in which a pair's probed ports reach ``min_ports``."""
        out: list[Finding] = []
        length, flags, pairs = self._len, self._flags, self._pairs
        for row, ctx in zip(rows, contexts, strict=True):
            if ctx[_PROTO] != "TCP" or ctx[_DST] is None:
                continue
            src, dst = ctx[_SRC], ctx[_DST]
            if row[length] > 0:  # data: the port it crossed is no scan's, from either side
                self._settle(pairs.peek((src, dst)), ctx[_DPORT])
                self._settle(pairs.peek((dst, src)), ctx[_SPORT])
                continue
            f = row[flags]
            if f & (_ACK | _RST):
                continue
            finding = self._probe(src, dst, ctx[_DPORT], float(ctx[_TS]), f)
            if finding is not None:
                out.append(finding)
        return out

    @staticmethod
    def _settle(p: _Pair | None, port: Any) -> None:
        if p is not None and not p.reported:
            p.probed.pop(port, None)
            if len(p.settled) < MAX_SETTLED:
                p.settled.add(port)

    def _probe(self, src: Any, dst: Any, port: Any, ts: float, flags: int) -> Finding | None:
        p = self._pairs.at((src, dst), ts)
        if p.reported or port in p.settled or port in p.probed:
            return None
        p.probed[port] = probe_kind(flags)
        if len(p.probed) < self.min_ports:
            return None
        return self._finding(p, src, dst, ts)

    def _finding(self, p: _Pair, src: Any, dst: Any, ts: float) -> Finding:
        kinds = Counter(p.probed.values())
        ports = sorted(p.probed)
        p.reported = True
        p.probed.clear()
        p.settled.clear()
        quiet = 2 * self.window_s  # reports of a scan that goes on fall in consecutive intervals
        since = p.run.report(p.start, ts, quiet)
        self._findings += 1
        probes = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
        shown = ", ".join(str(x) for x in ports[:8]) + (", ..." if len(ports) > 8 else "")
        return Finding(
            key=GLOBAL_KEY,
            cls=self.class_name,
            first_ts=since,
            last_ts=ts,
            context={"src_ip": src, "dest_ip": dst, "proto": "TCP"},
            quiet_s=quiet,
            evidence=(f"{src} probed {len(ports)} TCP ports of {dst} within {ts - p.start:.2f} s ({shown}; "
                      f"probes: {probes}) and no data crossed any of them (a port scan, as nmap or masscan "
                      f"sends; {ts - p.run.run_start:.0f} s so far)"),
        )


DETECTOR = PortScanRule
