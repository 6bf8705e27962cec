"""UDP floods: one host sent datagrams from very many source ports at once, and answering none.

What floods look like: hping3 ``--udp --flood`` sends each datagram from the next source port (with
``--rand-source`` from a random address too), to one port or to random ones; flooders written for
bandwidth pick random source and destination ports; a reflection attack (DNS, NTP, SSDP, memcached
amplification) has hundreds to thousands of servers answer queries the victim never sent, each
from its service port to whatever port the forged query named. Whatever the tool, the victim sees
hundreds to hundreds of thousands of (source address, source port) pairs a second, and answers
none of them over UDP (at most with ICMP port unreachable, which the rule ignores). Ordinary
traffic does not: a DNS, NTP or SNMP server answers each client's pair within milliseconds, and
senders of one-way UDP (syslog, traps, NetFlow, RTP) keep one port, or take a new one per message
a few times a second (``logger``).

So the evidence is: at least ``min_sources`` (source address, port) pairs sent UDP datagrams to one
address within one ``window_s`` interval, none of them answering something that address had sent
them, and that address sent none of them a datagram back in that interval (a pair it answers no
longer counts). An NMS sweeping 500 devices gets 500 answers within a second: it asked each. The
last ``max_targets * 256`` (asker, address, port) requests are remembered for this, the oldest
forgotten. Multicast and broadcast destinations are left out: discovery protocols (mDNS, SSDP,
NetBIOS) send to them from every host of a segment, and the unicast answers to such a query count
as asked.

Or: such pairs, however few, sent that address at least ``min_datagrams`` datagrams in the
interval. hping3 ``-k`` floods from one source port (to one port, or to the next port each time),
which is one pair however fast it sends. Ten thousand unsolicited datagrams a second to one
address is more than the one-way UDP a plant or vehicle gateway carries (syslog, traps, NetFlow, a
few camera streams: hundreds to a few thousand), and more than nmap's UDP scans send (ICMP rate
limits slow them to tens of ports a second). A UDP port scan is one pair too (nmap and masscan send
their probes from one source port); only one sent at flood rates (``masscan --rate`` of ten
thousand or more against one address) reaches ``min_datagrams``.

Why a rule and not only the model: see :mod:`agent.rules`. The lab's model has to tell a flood from
a scan by rows that do not show ports, and read a one-source flood to random ports as a scan and a
reflection attack as nothing. The rule reports the model's class for UDP floods (``DDoS_UDP`` by
default) under the Ethernet stream's key, so a flood both see is one incident.

What it cannot see: slow floods, under ``min_sources`` pairs and ``min_datagrams`` datagrams a
second. Memory is bounded (:class:`agent.rules._floods.FloodCounter`).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.features import ETHERNET_CONTEXT
from agent.lru import LruTable
from agent.rules._floods import FloodConfig, FloodRule, Report
from agent.rules.base import Finding
from agent.schema import doc

_TS, _SRC, _SPORT, _DST, _DPORT, _PROTO = (ETHERNET_CONTEXT.index(f) for f in
                                          ("ts", "src_ip", "src_port", "dest_ip", "dest_port", "proto"))

#: stands for any multicast or broadcast address in a remembered request (answers come from unicast ones)
ANY_GROUP = "*"


@functools.lru_cache(maxsize=4096)
def _group_address(addr: str) -> bool:
    """Whether ``addr`` is multicast or broadcast (limited, or the last address of a /24); cached,
    since a flood repeats its destinations."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    if ip.is_multicast:
        return True
    return ip.version == 4 and (addr == "255.255.255.255" or addr.endswith(".255"))


@dataclass
class UdpFloodConfig(FloodConfig):
    """The UDP flood rule: one host sent datagrams from very many source ports and answering none."""

    min_datagrams: int = doc(
        "datagrams one address neither asked for nor answers, from however few pairs, within window_s "
        "before it alerts: a flood from one source port (hping3 -k); 0 turns this count off, else at "
        "least min_sources", 10000
    )
    class_name: str = doc("class its alerts carry; the model's class for UDP floods, so incidents merge", "DDoS_UDP")


class UdpFloodRule(FloodRule[UdpFloodConfig]):
    """Finds UDP floods in Edge-IIoTset rows (see the module docstring)."""

    name = "udp_flood"
    summary = "UDP floods and reflection attacks"
    Config = UdpFloodConfig
    reads = ("udp.stream",)  # Ethernet rows: the rule reads only the alert context
    volume_key = "min_datagrams"

    def __init__(self, columns: Sequence[str], config: UdpFloodConfig | None = None, **settings: Any) -> None:
        super().__init__(columns, config, **settings)
        #: (asker, address or ANY_GROUP, port) of the requests seen lately, oldest first
        self._max_asked = 256 * int(self.config.max_targets)
        self._asked: LruTable[tuple[Any, Any, Any], None] = LruTable(self._max_asked)

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings of ``rows``: one per interval in which a host's unanswered pairs reach ``min_sources``
        or their datagrams ``min_datagrams``."""
        out: list[Finding] = []
        counter, asked, most = self._counter, self._asked, self._max_asked
        for ctx in contexts:
            if ctx[_PROTO] != "UDP":
                continue
            src, sport, dst, dport = ctx[_SRC], ctx[_SPORT], ctx[_DST], ctx[_DPORT]
            if dst is None or sport is None:
                continue
            group = _group_address(dst)
            request = (src, ANY_GROUP if group else dst, dport)
            if request in asked:
                asked.move_to_end(request)
            else:
                asked[request] = None
                if len(asked) > most:
                    asked.evict_oldest()
            if group:
                continue
            counter.settle(src, (dst, dport))  # src answers a pair that reached it
            if (dst, src, sport) in asked or (dst, ANY_GROUP, sport) in asked:
                continue  # the answer to something dst sent
            report = counter.arrive(dst, float(ctx[_TS]), (src, sport), dport, False)
            if report is not None:
                out.append(self._finding(report))
        return out

    def _finding(self, r: Report) -> Finding:
        dst = r.target
        ports = "source ports" if r.bare != 1 else "source port"
        return self.finding(r, dst, r.port, "UDP", (
            f"{r.bare} {ports} {r.origin} sent {r.volume} UDP datagrams to {dst} ({r.where(self._counter.cap)}) within "
            f"{r.ts - r.interval_start:.2f} s and it answered none of them (a UDP flood or a "
            f"reflection attack; {r.run_s:.0f} s so far)"))


DETECTOR = UdpFloodRule
