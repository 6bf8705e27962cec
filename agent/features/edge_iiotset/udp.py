"""UDP: header fields, conversations (``udp.stream`` indices, time deltas, tshark's SNMP conversations)
and the payload handed to the application :mod:`agent.features.edge_iiotset.ports` gives its ports to."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from agent.features.edge_iiotset.fields import C_UDP_DELTA, C_UDP_PORT, C_UDP_STREAM
from agent.features.edge_iiotset.ports import UDP_APPS
from agent.features.edge_iiotset.state import UDP, DissectorState

_udp_app = UDP_APPS.get
#: a UDP conversation's [stream index, last ts, flow id]: when it was last seen
_LAST_SEEN = itemgetter(1)
#: UDP ports of tshark's SNMP dissector (agent, trap): it opens a conversation of its own, see _snmp_seen
SNMP_UDP_PORTS = frozenset({161, 162})


def datagram(ex: DissectorState, r: list[Any], d: bytes, start: int, end: int, n: int, src: bytes, dst: bytes, ts: float
) -> None:
    ctx = ex.ctx
    ctx.proto = "UDP"
    if n < start + 8:
        ex.counters["malformed"] += 1
        return
    sport, dport, ulen, _csum = UDP.unpack_from(d, start)
    r[C_UDP_PORT] = sport
    ctx.src_port = sport
    ctx.dest_port = dport
    if ulen < 8:  # a bad length: tshark stops before the conversation (no stream index)
        ex.counters["malformed"] += 1
        return
    if (src, sport) <= (dst, dport):
        key: tuple[Any, ...] = (src, sport, dst, dport)
    else:
        key = (dst, dport, src, sport)
    tab = ex.udp_streams
    wild = ex.snmp_wild
    if wild:
        for end_points in ((src, sport, dst), (dst, dport, src)):
            if end_points in wild:
                del wild[end_points]
                tab.pop(key, None)  # from here on tshark finds the SNMP conversation: a new stream
                break
    ent = tab.get(key)
    if ent is None:
        ent = tab[key] = [ex.udp_next, ts, ex.flow_next]
        ex.udp_next += 1
        ex.flow_next += 1
        evict_udp(ex, ts)
        r[C_UDP_STREAM] = ent[0]
        if ulen > 8:
            r[C_UDP_DELTA] = 0.0
    else:
        tab.move_to_end(key)
        r[C_UDP_STREAM] = ent[0]
        if ulen > 8:  # tshark times only datagrams with a payload (and from their creation)
            r[C_UDP_DELTA] = round(ts - ent[1], 6)
            ent[1] = ts
    ctx.flow_id = ent[2]
    pstart = start + 8
    pend = min(end, start + ulen if ulen >= 8 else end, n)
    lo = sport if sport < dport else dport
    hi = dport if sport < dport else sport
    a = _udp_app(lo)
    b = _udp_app(hi)
    if a is not None and (b is None or a.rank <= b.rank):
        ctx.app_proto = a.name
        a.datagram(ex, r, d, pstart, pend, key, lo, ts, True)
    elif b is not None:
        ctx.app_proto = b.name
        b.datagram(ex, r, d, pstart, pend, key, hi, ts, True)
    elif (lo in SNMP_UDP_PORTS or hi in SNMP_UDP_PORTS) and _is_snmp(d, pstart, pend):
        _snmp_seen(ex, src, sport, dst, dport)


def _snmp_seen(ex: DissectorState, src: bytes, sport: int, dst: bytes, dport: int) -> None:
    """tshark's SNMP dissector, on a message, opens a conversation from the client's address and
    port to the agent's address with any port (agents may answer from another port), unless it
    opened one for that SNMP port before. UDP finds it for the next datagram between them, in either
    direction, and gives it a stream index of its own: a poll's reply (or its next request) starts
    a new ``udp.stream``, which that address pair keeps from then on."""
    key = (src, sport, dst, dport) if dport in SNMP_UDP_PORTS else (dst, dport, src, sport)
    convs = ex.snmp_convs
    if key in convs:
        return
    convs[key] = None
    ex.snmp_wild[key[:3]] = key
    if len(convs) > convs.max_keys:
        old = convs.evict_oldest()[0]
        if ex.snmp_wild.get(old[:3]) == old:
            del ex.snmp_wild[old[:3]]


def evict_udp(ex: DissectorState, ts: float) -> None:
    tab = ex.udp_streams
    # idle entries are dropped only under pressure (half full): tshark itself forgets nothing
    pressure = len(tab) * 2 >= tab.max_keys
    if len(tab) > tab.max_keys:
        tab.trim()
    if pressure:
        tab.expire(ts, ex.idle, _LAST_SEEN)


def quoted(ex: DissectorState, r: list[Any], d: bytes, start: int, end: int, src: bytes, dst: bytes, ts: float
           ) -> None:
    """The UDP header (and payload) an ICMP error quotes: see :func:`agent.features.edge_iiotset.icmp.quoted`."""
    avail = end - start
    if avail < 8:
        return
    sport, dport, ulen, _csum = UDP.unpack_from(d, start)
    r[C_UDP_PORT] = sport
    if ulen < 8:
        return
    key: tuple[Any, ...] = (
        (src, sport, dst, dport) if (src, sport) <= (dst, dport) else (dst, dport, src, sport)
    )
    ent = ex.udp_streams.get(key)
    if ent is None:
        ent = ex.udp_streams[key] = [ex.udp_next, ts, ex.flow_next]
        ex.udp_next += 1
        ex.flow_next += 1
        evict_udp(ex, ts)
    r[C_UDP_STREAM] = ent[0]
    pstart = start + 8
    pend = min(end, start + ulen)
    if pend <= pstart:
        return
    lo = sport if sport < dport else dport
    hi = dport if sport < dport else sport
    a = _udp_app(lo)
    b = _udp_app(hi)
    if a is not None and (b is None or a.rank <= b.rank):
        a.datagram(ex, r, d, pstart, pend, key, lo, ts, False)
    elif b is not None:
        b.datagram(ex, r, d, pstart, pend, key, hi, ts, False)


def _is_snmp(d: bytes, start: int, end: int) -> bool:
    """tshark's SNMP test: a BER SEQUENCE whose length fits the datagram, then an INTEGER (the version)."""
    if end - start < 4 or d[start] != 0x30:
        return False
    first = d[start + 1]
    pos = start + 2
    if first < 0x80:
        length = first
    else:
        k = first & 0x7F
        if k == 0 or k > 4 or pos + k > end:
            return False
        length = int.from_bytes(d[pos:pos + k], "big")
        pos += k
    return length <= end - pos and pos < end and d[pos] == 0x02
