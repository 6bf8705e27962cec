"""The link layer and IP: Ethernet (VLAN tags), Linux cooked, BSD loopback and raw IP captures, PPPoE
and MPLS, IPv4 and IPv6 (extension headers, fragments reassembled in one bounded table), IP-in-IP and
GRE tunnels; the transport protocol is handed to its module."""

from __future__ import annotations

import struct
from operator import itemgetter
from socket import inet_ntoa
from typing import Any

from agent.features.edge_iiotset.arp import arp
from agent.features.edge_iiotset.fields import C_IP_DST, C_IP_SRC
from agent.features.edge_iiotset.icmp import icmp as icmp_message
from agent.features.edge_iiotset.icmp import quoted as icmp_quoted
from agent.features.edge_iiotset.state import FRAGMENT_TIMEOUT_S, IPV4, DissectorState, u16
from agent.features.edge_iiotset.tcp import segment as tcp_segment
from agent.features.edge_iiotset.udp import datagram as udp_datagram

#: a fragmented packet's [first ts, fragments, total length]: when its first fragment came
_FIRST_SEEN = itemgetter(0)
#: IPv4 address -> its dotted text, for the addresses seen last. Why: formatting two addresses was a
#: tenth of an IPv4 frame's dissection, a gateway sees the same few hosts again and again, and the
#: host context then finds the same string objects (hashes computed once) in its tables
_IPV4_TEXT: dict[bytes, str] = {}
#: addresses kept in :data:`_IPV4_TEXT` before it starts over (a spoofed flood brings a new one a frame)
IPV4_TEXT_CACHE = 4096


def ipv4_text(addr: bytes) -> str:
    """Dotted text of a 4-byte IPv4 address (``inet_ntoa``), remembered for the next frames."""
    text = _IPV4_TEXT.get(addr)
    if text is None:
        if len(_IPV4_TEXT) >= IPV4_TEXT_CACHE:
            _IPV4_TEXT.clear()
        text = _IPV4_TEXT[addr] = inet_ntoa(addr)
    return text


def link(ex: DissectorState, r: list[Any], d: bytes, lt: int, ts: float) -> None:
    n = len(d)
    if lt == 1:  # Ethernet, with any number of 802.1Q / 802.1ad / QinQ tags
        if n < 14:
            ex.counters["malformed"] += 1
            return
        et = (d[12] << 8) | d[13]
        off = 14
        ex.ctx.hw_src = d[6:12]  # raw: formatted only where a finding names it
        while et == 0x8100 or et == 0x88A8 or et == 0x9100:
            if n < off + 4:
                ex.counters["malformed"] += 1
                return
            et = (d[off + 2] << 8) | d[off + 3]
            off += 4
    elif lt == 113:  # Linux cooked v1
        if n < 16:
            ex.counters["malformed"] += 1
            return
        et = (d[14] << 8) | d[15]
        off = 16
    elif lt == 276:  # Linux cooked v2
        if n < 20:
            ex.counters["malformed"] += 1
            return
        et = (d[0] << 8) | d[1]
        off = 20
    elif lt == 0 or lt == 108:  # BSD NULL (host order) / OpenBSD LOOP (network order)
        if n < 4:
            ex.counters["malformed"] += 1
            return
        fam = struct.unpack_from("!I" if (lt == 108 or d[0] == 0) else "<I", d, 0)[0]
        off = 4
        if fam == 2:
            et = 0x0800
        elif fam in (10, 24, 28, 30):
            et = 0x86DD
        else:
            ex.counters["non_ip"] += 1
            return
    elif lt == 101 or lt == 12 or lt == 14 or lt == 228 or lt == 229:  # raw IP
        if n < 1:
            ex.counters["malformed"] += 1
            return
        v = d[0] >> 4
        off = 0
        if lt == 228 or (lt != 229 and v == 4):
            et = 0x0800
        elif lt == 229 or v == 6:
            et = 0x86DD
        else:
            ex.counters["malformed"] += 1
            return
    else:
        ex.counters["non_ip"] += 1
        return
    if et == 0x0800:
        ipv4(ex, r, d, off, ts)
    elif et == 0x86DD:
        ipv6(ex, r, d, off, ts)
    elif et == 0x0806:
        arp(ex, r, d, off)
    elif et == 0x8864 or et == 0x8847 or et == 0x8848:
        _shim(ex, r, d, off, et, ts)
    else:
        ex.counters["non_ip"] += 1


def _shim(ex: DissectorState, r: list[Any], d: bytes, off: int, et: int, ts: float) -> None:
    """PPPoE sessions and MPLS label stacks: tshark dissects the IP packet they carry."""
    n = len(d)
    if et == 0x8864:  # PPPoE session: 6-byte header, then the PPP protocol number
        if n < off + 8:
            ex.counters["malformed"] += 1
            return
        ppp = u16(d, off + 6)[0]
        off += 8
        if ppp == 0x0021:
            ipv4(ex, r, d, off, ts)
        elif ppp == 0x0057:
            ipv6(ex, r, d, off, ts)
        else:
            ex.counters["non_ip"] += 1
        return
    while True:  # MPLS: labels up to the bottom-of-stack bit, then IP guessed by its version
        if n < off + 4:
            ex.counters["malformed"] += 1
            return
        bottom = d[off + 2] & 1
        off += 4
        if bottom:
            break
    v = d[off] >> 4 if n > off else 0
    if v == 4:
        ipv4(ex, r, d, off, ts)
    elif v == 6:
        ipv6(ex, r, d, off, ts)
    else:
        ex.counters["non_ip"] += 1


def ipv4(ex: DissectorState, r: list[Any], d: bytes, off: int, ts: float) -> None:
    n = len(d)
    if n < off + 20:
        ex.counters["malformed"] += 1
        return
    vihl, _tos, tot, ipid, frag, _ttl, proto, _csum, src, dst = IPV4.unpack_from(d, off)
    ihl = (vihl & 15) * 4
    if vihl >> 4 != 4 or ihl < 20:
        ex.counters["malformed"] += 1
        return
    text = _IPV4_TEXT.get  # ipv4_text, inlined for addresses seen before
    r[C_IP_SRC] = text(src) or ipv4_text(src)
    r[C_IP_DST] = text(dst) or ipv4_text(dst)
    if tot < ihl:
        ex.counters["malformed"] += 1
        return
    ctx = ex.ctx
    ctx.src_ip = r[C_IP_SRC]
    ctx.dest_ip = r[C_IP_DST]
    start = off + ihl
    end = off + tot
    if frag & 0x3FFF:  # a fragment: transport is dissected once all fragments are in
        payload = _defragment(ex, d, start, min(end, n), src, dst, ipid, proto, frag, ts)
        if payload is None:
            ctx.proto = "IPv4"
            return
        d = payload
        start = 0
        end = len(payload)
        n = end
    _transport(ex, r, d, start, end, n, proto, src, dst, ts)


def _defragment(
    ex: DissectorState, d: bytes, start: int, stop: int, src: bytes, dst: bytes, ipid: Any, proto: int, frag: int,
    ts: float,
) -> bytes | None:
    """Collect one fragment; the reassembled payload once every fragment is in, else None.

    ``frag`` is in IPv4's layout (MF bit 0x2000, offset in 8-byte units); IPv6 fragment
    headers are converted to it by the caller, so both versions share one bounded table.
    """
    key = (src, dst, ipid, proto)
    tab = ex.fragments
    ent = tab.get(key)
    if ent is None:
        ent = tab[key] = [ts, {}, -1]
        if len(tab) > tab.max_keys:
            tab.trim()
        tab.expire(ts, FRAGMENT_TIMEOUT_S, _FIRST_SEEN)
    offset = (frag & 0x1FFF) * 8
    ent[1][offset] = d[start:stop]
    if not frag & 0x2000:
        ent[2] = offset + (stop - start)
    total = ent[2]
    if total < 0:
        return None
    have = 0
    parts = ent[1]
    for o in sorted(parts):
        if o > have:
            return None
        have = max(have, o + len(parts[o]))
    if have < total:
        return None
    buf = bytearray(total)
    for o in sorted(parts):
        buf[o:o + len(parts[o])] = parts[o]
    del tab[key]
    return bytes(buf[:total])


def ipv6(ex: DissectorState, r: list[Any], d: bytes, off: int, ts: float) -> None:
    n = len(d)
    if n < off + 40:
        ex.counters["malformed"] += 1
        return
    plen = u16(d, off + 4)[0]
    nh = d[off + 6]
    src = d[off + 8:off + 24]
    dst = d[off + 24:off + 40]
    ctx = ex.ctx
    ctx.src_ip = src  # raw: formatted only when a caller asks for the context (rows_with_context)
    ctx.dest_ip = dst
    start = off + 40
    end = start + plen
    while nh in (0, 43, 60, 44, 51):
        if n < start + 8:
            ex.counters["malformed"] += 1
            return
        if nh == 44:  # fragment header: transport is dissected once all fragments are in
            fo = u16(d, start + 2)[0]
            nh = d[start]
            start += 8
            if fo & 0xFFF9:  # not an atomic fragment (offset 0, no more fragments)
                ident = d[start - 4:start]
                frag = ((fo >> 3) & 0x1FFF) | (0x2000 if fo & 1 else 0)
                payload = _defragment(ex, d, start, min(end, n), src, dst, ident, nh, frag, ts)
                if payload is None:
                    ctx.proto = "IPv6"
                    return
                d = payload
                start = 0
                end = n = len(payload)
                break
            continue
        hl = (d[start + 1] + 2) * 4 if nh == 51 else (d[start + 1] + 1) * 8
        nh = d[start]
        start += hl
    _transport(ex, r, d, start, end, n, nh, src, dst, ts)


def _transport(
    ex: DissectorState, r: list[Any], d: bytes, start: int, end: int, n: int, proto: int, src: bytes, dst: bytes,
    ts: float,
) -> None:
    if proto == 6:
        tcp_segment(ex, r, d, start, end, n, src, dst, ts)
    elif proto == 17:
        udp_datagram(ex, r, d, start, end, n, src, dst, ts)
    elif proto == 1:
        icmp_message(ex, r, d, start, end, n, ts)
    elif proto == 58:
        ex.ctx.proto = "IPv6-ICMP"
        if n > start:
            ex.ctx.icmp_type = d[start]
        # errors (unreachable, too big, time exceeded, parameter problem) quote the packet
        if n >= start + 48 and 1 <= d[start] <= 4:
            icmp_quoted(ex, r, d, start + 8, min(end, n), ts)
    elif proto == 4 or proto == 41 or proto == 47:
        _tunnel(ex, r, d, start, min(end, n), proto, ts)
    else:
        ex.ctx.proto = str(proto)


def _tunnel(ex: DissectorState, r: list[Any], d: bytes, start: int, end: int, proto: int, ts: float) -> None:
    """IP-in-IP, IPv6-in-IP and GRE: tshark dissects the inner packet as any other.

    The outer header's fields come first, so with ``occurrence=f`` they win: the inner
    addresses are kept only where the outer header had none (IPv4 inside IPv6).
    """
    inner = d[:end]
    if proto == 47:  # GRE: flags, protocol, then checksum/key/sequence when flagged
        if end < start + 4:
            ex.counters["malformed"] += 1
            return
        flags = d[start]
        et = u16(d, start + 2)[0]
        off = start + 4 + (4 if flags & 0x80 else 0) + (4 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
        if flags & 0x07 or d[start + 1] & 0x07:  # only GRE version 0 without routing carries IP
            return
        if et == 0x6558:  # transparent Ethernet bridging
            if end < off + 14:
                ex.counters["malformed"] += 1
                return
            et = u16(d, off + 12)[0]
            off += 14
    else:
        et = 0x0800 if proto == 4 else 0x86DD
        off = start
    saved = (r[C_IP_SRC], r[C_IP_DST])
    if et == 0x0800:
        ipv4(ex, r, inner, off, ts)
    elif et == 0x86DD:
        ipv6(ex, r, inner, off, ts)
    elif et == 0x0806:
        arp(ex, r, inner, off)
    if saved[0] != 0:
        r[C_IP_SRC], r[C_IP_DST] = saved
