"""ICMP floods: one address sent ICMP or ICMPv6 requests or announcements at flood rates.

What floods look like: ``ping -f`` sends an echo request as soon as the last one is answered, and at
least a hundred a second; hping3 ``--icmp --flood`` sends tens to hundreds of thousands a second,
with ``--rand-source`` from a random address each; botnets ping from their own addresses. On IPv6
the same floods go out as ICMPv6 echo requests, and THC-IPv6's ``flood_router6`` and
``flood_advertise6`` flood a segment with router and neighbour advertisements, which every host must
process. Ordinary traffic does not: a monitoring server pings each host once every few seconds,
neighbour discovery and MLD send a few messages per host a minute.

So the evidence is: at least ``min_messages`` ICMP or ICMPv6 messages that are neither errors nor
replies reached one address (multicast groups included: router advertisements go to all nodes)
within one ``window_s`` interval, or such messages from at least ``min_sources`` source addresses
(a spoofed flood). Errors (unreachable, time exceeded, parameter problem, too big) are left out: a
UDP flood's victim answers with port unreachables, which are its answers, not a flood of its own;
replies are left out because a flooded host that answers would otherwise turn its flooder into a
second target.

Why a rule and not only the model: see :mod:`agent.rules`. The Edge-IIoTset columns keep an IPv4
ICMP message's checksum and sequence number but nothing of ICMPv6: an ICMPv6 echo request is the
same empty row as a PROFINET frame, so an ICMPv6 flood is nothing to the model (and the ICMP type,
which tells a request from an error, is in no column; the extractor's alert context carries it). The
rule reports the model's class for ICMP floods (``DDoS_ICMP`` by default) under the Ethernet stream's
key, so a flood both see is one incident.

What it cannot see: floods of errors (BlackNurse's forged port unreachables) and of replies
(Smurf's reflected echo replies), and floods under ``min_messages`` a second. Memory is bounded
(:class:`agent.rules._floods.FloodCounter`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.features import ETHERNET_CONTEXT
from agent.rules._floods import FloodConfig, FloodRule, Report
from agent.rules.base import Finding
from agent.schema import doc

_TS, _SRC, _DST, _PROTO, _TYPE = (ETHERNET_CONTEXT.index(f) for f in ("ts", "src_ip", "dest_ip", "proto",
                                                                         "icmp_type"))
#: ICMP (IPv4) types that are errors or replies, left out
ICMP_ANSWERS = frozenset((0, 3, 4, 5, 11, 12, 14, 16, 18))
#: ICMPv6 echo reply (errors are the types below 128)
ICMPV6_ECHO_REPLY = 129
#: names of the types a flood is made of, as the evidence says them
TYPE_NAMES = {
    ("ICMP", 8): "echo request", ("ICMP", 9): "router advertisement", ("ICMP", 10): "router solicitation",
    ("ICMP", 13): "timestamp request", ("ICMP", 15): "information request", ("ICMP", 17): "address mask request",
    ("IPv6-ICMP", 128): "echo request", ("IPv6-ICMP", 130): "MLD query", ("IPv6-ICMP", 131): "MLD report",
    ("IPv6-ICMP", 133): "router solicitation", ("IPv6-ICMP", 134): "router advertisement",
    ("IPv6-ICMP", 135): "neighbour solicitation", ("IPv6-ICMP", 136): "neighbour advertisement",
    ("IPv6-ICMP", 137): "redirect", ("IPv6-ICMP", 143): "MLDv2 report",
}


def flood_message(proto: Any, icmp_type: int) -> bool:
    """Whether an ICMP (``proto`` ``ICMP``) or ICMPv6 (``IPv6-ICMP``) message of ``icmp_type`` is one a
    flood is counted in: neither an error nor a reply."""
    if proto == "ICMP":
        return icmp_type not in ICMP_ANSWERS
    return icmp_type >= 128 and icmp_type != ICMPV6_ECHO_REPLY


@dataclass
class IcmpFloodConfig(FloodConfig):
    """The ICMP flood rule: one address sent ICMP or ICMPv6 requests or announcements at flood rates."""

    min_messages: int = doc(
        "ICMP/ICMPv6 messages that are neither errors nor replies (echo requests, router advertisements, "
        "neighbour solicitations, ...) sent to one address within window_s before it alerts (ping -f sends at "
        "least 100 a second, hping3 --icmp --flood tens of thousands); 0 turns this count off, else at least "
        "min_sources", 500
    )
    class_name: str = doc("class its alerts carry; the model's class for ICMP floods, so incidents merge", "DDoS_ICMP")


class IcmpFloodRule(FloodRule[IcmpFloodConfig]):
    """Finds ICMP and ICMPv6 floods in Ethernet rows (see the module docstring)."""

    name = "icmp_flood"
    summary = "ICMP and ICMPv6 floods"
    Config = IcmpFloodConfig
    reads = ("icmp.checksum",)  # Ethernet rows: the rule reads only the alert context
    volume_key = "min_messages"

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings of ``rows``: one per interval in which an address's flood messages reach
        ``min_messages``, or their sources ``min_sources``."""
        out: list[Finding] = []
        arrive = self._counter.arrive
        for ctx in contexts:
            icmp_type = ctx[_TYPE]
            if icmp_type is None or ctx[_DST] is None or not flood_message(ctx[_PROTO], icmp_type):
                continue
            report = arrive(ctx[_DST], float(ctx[_TS]), (ctx[_SRC], None), icmp_type, False)
            if report is not None:
                out.append(self._finding(report))
        return out

    def _finding(self, r: Report) -> Finding:
        dst = r.target
        kinds = sorted(r.ports)
        proto, family = ("IPv6-ICMP", "ICMPv6") if ":" in str(dst) else ("ICMP", "ICMP")
        names = ", ".join(TYPE_NAMES.get((proto, k), f"type {k}") for k in kinds)
        finding = self.finding(r, dst, None, proto, (
            f"{r.volume} {family} messages ({names}) {r.origin} reached {dst} within "
            f"{r.ts - r.interval_start:.2f} s, neither errors nor replies (an {family} flood; {r.run_s:.0f} s so far)"))
        if len(kinds) != 1:
            return finding
        return dataclasses.replace(finding, context={**finding.context, "icmp_type": kinds[0]})


DETECTOR = IcmpFloodRule
