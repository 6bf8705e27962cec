"""ICMP: echo, timestamp and error fields, and the packet an error quotes (dissected by the IP, UDP
and TCP modules without conversation state)."""

from __future__ import annotations

from typing import Any

from agent.features.edge_iiotset.fields import C_ICMP_CSUM, C_ICMP_SEQLE, C_ICMP_TX, C_ICMP_UNUSED
from agent.features.edge_iiotset.state import U16LE, DissectorState, u16, u32
from agent.features.edge_iiotset.tcp import quoted as tcp_quoted
from agent.features.edge_iiotset.udp import quoted as udp_quoted


def icmp(ex: DissectorState, r: list[Any], d: bytes, start: int, end: int, n: int, ts: float) -> None:
    ex.ctx.proto = "ICMP"
    if n < start + 4:
        ex.counters["malformed"] += 1
        return
    typ = ex.ctx.icmp_type = d[start]
    code = d[start + 1]
    r[C_ICMP_CSUM] = u16(d, start + 2)[0]
    if typ == 0 or typ == 8 or 13 <= typ <= 18:  # echo, timestamp, information, address mask
        if n >= start + 8:
            r[C_ICMP_SEQLE] = U16LE.unpack_from(d, start + 6)[0]
        if (typ == 13 or typ == 14) and n >= start + 20:
            r[C_ICMP_TX] = u32(d, start + 16)[0]
    elif typ == 3 or typ == 11 or typ == 4 or typ == 5 or typ == 12:
        if typ == 3 and code == 4:  # fragmentation needed: 2 unused bytes, then the next-hop MTU
            if n >= start + 6:
                r[C_ICMP_UNUSED] = d[start + 4:start + 6].hex()
        elif typ == 3 or typ == 11:
            if n >= start + 8:
                r[C_ICMP_UNUSED] = d[start + 4:start + 8].hex()
        elif typ == 12 and n >= start + 8:  # parameter problem: pointer, then 3 unused bytes
            r[C_ICMP_UNUSED] = d[start + 5:start + 8].hex()
        quoted(ex, r, d, start + 8, min(end, n), ts)


def quoted(ex: DissectorState, r: list[Any], d: bytes, p: int, end: int, ts: float) -> None:
    """The IP header and transport header an ICMP error quotes, the way tshark shows them.

    tshark dissects the quoted packet with its usual dissectors, flagged as "in an error
    packet": its TCP/UDP/ICMP/application fields appear in the row (after the outer ones, so
    ``occurrence=f`` keeps the outer ICMP checksum), but it takes part in no conversation
    state: TCP numbers stay absolute and ``tcp.len`` is not shown, a UDP conversation gets its
    stream index (created if new) but its time delta is neither shown nor advanced, and DNS
    transactions are not tracked. Nothing is reassembled.
    """
    if end - p < 20:
        return
    v = d[p] >> 4
    if v == 4:
        ihl = (d[p] & 15) * 4
        if ihl < 20 or end < p + ihl:
            return
        tot = u16(d, p + 2)[0]
        if u16(d, p + 6)[0] & 0x3FFF:  # a fragment: tshark would wait for the rest, so no transport
            return
        proto = d[p + 9]
        src = d[p + 12:p + 16]
        dst = d[p + 16:p + 20]
        start = p + ihl
        if tot >= ihl:
            end = min(end, p + tot)
    elif v == 6:
        if end < p + 40:
            return
        proto = d[p + 6]
        src = d[p + 8:p + 24]
        dst = d[p + 24:p + 40]
        start = p + 40
        end = min(end, start + u16(d, p + 4)[0])
        while proto in (0, 43, 60, 51):
            if end < start + 8:
                return
            hl = (d[start + 1] + 2) * 4 if proto == 51 else (d[start + 1] + 1) * 8
            proto = d[start]
            start += hl
        if proto == 44:
            if end < start + 8 or u16(d, start + 2)[0] & 0xFFF8:
                return
            proto = d[start]
            start += 8
    else:
        return
    avail = end - start
    if proto == 17:
        udp_quoted(ex, r, d, start, end, src, dst, ts)
    elif proto == 6:
        tcp_quoted(ex, r, d, start, end, ts)
    elif proto == 1 and v == 4:
        if avail < 4:
            return
        typ = d[start]
        if (typ == 0 or typ == 8 or 13 <= typ <= 18) and avail >= 8:
            r[C_ICMP_SEQLE] = U16LE.unpack_from(d, start + 6)[0]
            if (typ == 13 or typ == 14) and avail >= 20:
                r[C_ICMP_TX] = u32(d, start + 16)[0]
