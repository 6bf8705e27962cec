"""DNS over UDP (53, and the same format on 5353 mDNS and 5355 LLMNR) and over TCP (53): the first
question of a frame, and retransmissions tracked per conversation and transaction id."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from agent.features.edge_iiotset.fields import (
    C_DNS_NAME,
    C_DNS_NAMELEN,
    C_DNS_QU,
    C_DNS_RETX,
    C_DNS_RETXIN,
    C_DNS_RETXREQ,
    C_DNS_TYPE,
)
from agent.features.edge_iiotset.ports import TcpApp, UdpApp, register_tcp, register_udp
from agent.features.edge_iiotset.state import DNS, DissectorState, TcpStream, u16

#: DNS-format UDP ports: 53 DNS, 5353 mDNS, 5355 LLMNR
DNS_UDP_PORTS = frozenset({53, 5353, 5355})
DNS_TCP_PORT = 53
#: a transaction's [request frame, request ts, answered]: when it was asked
_ASKED = itemgetter(1)
#: DNS retransmission window (tshark's dns.retransmission_timer default), seconds
DNS_RETRANSMISSION_TIMER = 5.0


def message(
    ex: DissectorState, r: list[Any], d: bytes, start: int, end: int, conv: Any, port: int, ts: float,
    track: bool = True,
) -> None:
    """One DNS message, ``d[start:end]``, of conversation ``conv`` on ``port`` (5353: mDNS, whose questions
    carry the unicast-response bit); ``track`` off for messages quoted by ICMP errors (tshark skips them).
    The dissector of the DNS ports in :data:`agent.features.edge_iiotset.ports.UDP_APPS`.

    Several messages can share a frame (DNS over TCP): each one's question fields are kept
    only where no earlier message set them (``occurrence=f``), but every query is tracked.
    """
    if end - start < 12:
        ex.counters["malformed"] += 1
        return
    ident, flags, qd, _an, _ns, _ar = DNS.unpack_from(d, start)
    if qd and r[C_DNS_NAME] == 0:
        pos = start + 12
        labels = []
        total = 0
        while True:
            if pos >= end:
                ex.counters["malformed"] += 1
                return
            ln = d[pos]
            if ln == 0:
                pos += 1
                break
            if ln >= 0xC0:  # compression pointer inside a question (rare, but legal)
                if pos + 1 >= end:
                    ex.counters["malformed"] += 1
                    return
                target = start + (((ln & 0x3F) << 8) | d[pos + 1])
                name_rest = _name_at(d, target, end, start)
                if name_rest is None:
                    ex.counters["malformed"] += 1
                    return
                labels.append(name_rest)
                pos += 2
                break
            if pos + 1 + ln > end:
                ex.counters["malformed"] += 1
                return
            labels.append(_label(d[pos + 1:pos + 1 + ln]))
            total += ln
            pos += 1 + ln
        name = ".".join(labels) if labels else "<Root>"
        r[C_DNS_NAME] = name
        r[C_DNS_NAMELEN] = len(name)
        if pos + 2 <= end:
            r[C_DNS_TYPE] = u16(d, pos)[0]
        if port == 5353 and pos + 4 <= end:
            r[C_DNS_QU] = u16(d, pos + 2)[0] >> 15
    if not track:
        return
    # retransmission tracking, per conversation and transaction id
    key = (conv, ident)
    tab = ex.dns_transactions
    ent = tab.get(key)
    if not flags & 0x8000:  # query
        if ent is not None and not ent[2] and ts - ent[1] < DNS_RETRANSMISSION_TIMER:
            r[C_DNS_RETX] = 1
            r[C_DNS_RETXREQ] = 1
            if r[C_DNS_RETXIN] == 0:
                r[C_DNS_RETXIN] = ent[0]
        else:
            tab[key] = [ex.frame_no, ts, False]
            tab.move_to_end(key)
            if len(tab) > tab.max_keys:
                tab.trim()
            tab.expire(ts, ex.idle, _ASKED)
    elif ent is not None:
        if ent[2] and ent[2] != ex.frame_no:
            r[C_DNS_RETX] = 1
        else:
            ent[2] = ex.frame_no


def _name_at(d: bytes, pos: int, end: int, base: int) -> str | None:
    labels: list[str] = []
    hops = 0
    while pos < end:
        ln = d[pos]
        if ln == 0:
            return ".".join(labels) if labels else "<Root>"
        if ln >= 0xC0:
            hops += 1
            if hops > 16 or pos + 1 >= end:
                return None
            pos = base + (((ln & 0x3F) << 8) | d[pos + 1])
            continue
        if pos + 1 + ln > end:
            return None
        labels.append(_label(d[pos + 1:pos + 1 + ln]))
        pos += 1 + ln
    return None


def tcp_stream(ex: DissectorState, r: list[Any], data: bytes, st: TcpStream, di: int, fin: int, key: tuple[Any, ...],
               ts: float) -> bytes:
    """DNS over TCP: every complete length-prefixed message in ``data``; the incomplete rest is returned."""
    pos = 0
    n = len(data)
    while n - pos >= 2:
        ln = u16(data, pos)[0]
        if n - pos - 2 < ln:
            break
        message(ex, r, data, pos + 2, pos + 2 + ln, key, DNS_TCP_PORT, ts)
        pos += 2 + ln
    return data[pos:]


def _label(raw: bytes) -> str:
    """One DNS label as tshark shows it (printable ASCII kept, others as \\xNN)."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in raw)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


register_udp(UdpApp("dns", 0, message), DNS_UDP_PORTS)
# DNS over TCP inside an ICMP error shows no DNS fields in tshark: no ``quoted``
register_tcp(TcpApp("dns", 3, tcp_stream), (DNS_TCP_PORT,))
