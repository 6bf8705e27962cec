"""TCP: header fields, the per-conversation state tshark keeps (relative sequence numbers, the
stream's flow id, retransmissions), and in-order reassembly of the payload for the application that
:mod:`agent.features.edge_iiotset.ports` gives the conversation's ports to."""

from __future__ import annotations

import struct
from operator import attrgetter
from typing import Any

from agent.features.edge_iiotset.fields import (
    C_TCP_ACK,
    C_TCP_ACKRAW,
    C_TCP_CSUM,
    C_TCP_DPORT,
    C_TCP_FACK,
    C_TCP_FIN,
    C_TCP_FLAGS,
    C_TCP_LEN,
    C_TCP_OPTS,
    C_TCP_PAYLOAD,
    C_TCP_RST,
    C_TCP_SEQ,
    C_TCP_SPORT,
    C_TCP_SYN,
    C_TCP_SYNACK,
)
from agent.features.edge_iiotset.ports import NO_APP, TCP_HEURISTICS, tcp_app
from agent.features.edge_iiotset.state import MAX_REASSEMBLY, TCP, DissectorState, TcpStream, u32


def segment(
    ex: DissectorState, r: list[Any], d: bytes, start: int, end: int, n: int, src: bytes, dst: bytes, ts: float
) -> None:
    """One TCP segment: header fields, stream state (relative numbers, the stream's flow id), and its payload
    reassembled in order and handed to the application registered on its ports (see :mod:`.ports`)."""
    ctx = ex.ctx
    ctx.proto = "TCP"
    if n < start + 20:
        ex.counters["malformed"] += 1
        if n >= start + 4:
            r[C_TCP_SPORT], r[C_TCP_DPORT] = struct.unpack_from("!HH", d, start)
        return
    sport, dport, seq, ack, offb, flagb, _win, csum, _urg = TCP.unpack_from(d, start)
    ctx.src_port = sport
    ctx.dest_port = dport
    flags = ((offb & 1) << 8) | flagb
    hl = (offb >> 4) * 4
    r[C_TCP_SPORT] = sport
    r[C_TCP_DPORT] = dport
    r[C_TCP_FLAGS] = flags
    r[C_TCP_CSUM] = csum
    r[C_TCP_ACKRAW] = ack
    r[C_TCP_ACK] = ack  # made relative below when the ACK flag is set, as tshark does
    r[C_TCP_FACK] = 1 if flagb & 0x10 else 0
    if hl < 20:
        ex.counters["malformed"] += 1
        return
    plen = end - start - hl
    if plen < 0:
        ex.counters["malformed"] += 1
        plen = 0
    r[C_TCP_LEN] = plen
    if hl > 20:
        r[C_TCP_OPTS] = d[start + 20:min(start + hl, n)].hex()
    syn = flagb & 0x02
    if syn:
        if flagb & 0x10:
            r[C_TCP_SYNACK] = 1
        else:
            r[C_TCP_SYN] = 1
    if flagb & 0x01:
        r[C_TCP_FIN] = 1
    if flagb & 0x04:
        r[C_TCP_RST] = 1
    # stream state, keyed by the two endpoints in order: (src, sport) <= (dst, dport) sends first
    # (compared without building the tuples); the key packs both addresses and ports into one bytes
    # object, a third of a tuple of them in memory (a spoofed SYN flood keeps a stream per frame)
    if src < dst or (src == dst and sport <= dport):
        key: bytes = src + dst + d[start:start + 4]
        di = 0
    else:
        key = dst + src + d[start + 2:start + 4] + d[start:start + 2]
        di = 1
    tab = ex.tcp_streams
    st = tab.get(key)
    if st is None:
        st = tab[key] = TcpStream(ex.flow_next, ts)
        ex.flow_next += 1
        if len(tab) > tab.max_keys:
            tab.trim()
        # idle streams are dropped only under pressure (tshark forgets nothing), and only the least
        # recently seen one is looked at here: the call is skipped while it is not idle
        if len(tab) * 2 >= tab.max_keys and ts - next(iter(tab.values())).last > ex.idle:
            tab.expire(ts, ex.idle, _LAST_SEEN)
    else:
        tab.move_to_end(key)
        if syn and not flagb & 0x10 and st.closed:
            mine = st.base1 if di else st.base0
            if mine is not None and seq != mine:
                # port reuse: a new connection on a closed 4-tuple starts a new stream
                st = tab[key] = TcpStream(st.flow_id, ts)
    st.last = ts
    ctx.flow_id = st.flow_id
    if di:
        mine, other, nxt = st.base1, st.base0, st.nxt1
    else:
        mine, other, nxt = st.base0, st.base1, st.nxt0
    if syn or mine is None:
        mine = seq if syn else (seq - 1) & 0xFFFFFFFF
        if di:
            st.base1 = mine
        else:
            st.base0 = mine
    if flagb & 0x10:
        if other is None:
            other = (ack - 1) & 0xFFFFFFFF
            if di:
                st.base0 = other
            else:
                st.base1 = other
        r[C_TCP_ACK] = (ack - other) & 0xFFFFFFFF
    r[C_TCP_SEQ] = (seq - mine) & 0xFFFFFFFF
    if flagb & 0x05:
        st.closed = True
    pstart = start + hl
    pstop = min(end, n)
    # highest sequence number seen per direction (SYN and FIN count one): tshark calls data
    # below it a retransmission and does not hand it to the application dissector again
    seg_end = (seq + plen + (1 if syn else 0) + (flagb & 0x01)) & 0xFFFFFFFF
    if plen <= 0:
        if flagb & 0x03 and (nxt < 0 or ((seg_end - nxt) & 0xFFFFFFFF) < 0x80000000):
            if di:  # bare ACKs do not move it, SYN and FIN do
                st.nxt1 = seg_end
            else:
                st.nxt0 = seg_end
        if flagb & 0x01:
            app = st.app
            if app is not None and app.fin is not None:
                app.fin(ex, r, st, di)
        return
    payload = d[pstart:pstop]
    if payload:
        r[C_TCP_PAYLOAD] = payload.hex()
    app = st.app
    if app is None:
        app = st.app = tcp_app(sport if sport < dport else dport, dport if sport < dport else sport) or NO_APP
    if app is NO_APP:
        for test, found in TCP_HEURISTICS:
            if test(payload):
                app = st.app = found
                break
        else:
            return
    ctx.app_proto = app.name
    if len(payload) < plen:  # cut by the snaplen: dissect what is there, reassemble nothing
        if isinstance(st.buf, list):
            st.buf[di] = None
        if di:
            st.nxt1 = -1
        else:
            st.nxt0 = -1
        if app.cut is not None:
            app.cut(ex, r, payload, st)
        return
    # in-order reassembly of PDUs spread over segments (tshark's default desegmentation)
    if nxt >= 0 and seq != nxt:
        if ((seq - nxt) & 0xFFFFFFFF) < 0x80000000:
            if isinstance(st.buf, list):
                st.buf[di] = None  # a gap: what was pending cannot complete
            waits = st.http_wait
            wait = waits[di]
            if wait is not None and wait.left >= 0 and isinstance(waits, list):
                waits[di] = None  # nor can a body of known length
        else:
            return  # retransmission of data already seen
    if di:
        st.nxt1 = seg_end
    else:
        st.nxt0 = seg_end
    buf = st.buf
    pend = buf[di]
    if pend is not None and isinstance(buf, list):  # (only a list holds a buffer)
        pend += payload
        data = bytes(pend)
        buf[di] = None
    else:
        data = payload
    ends = (src, sport, dst, dport) if di == 0 else (dst, dport, src, sport)  # what the applications read
    rest = app.stream(ex, r, data, st, di, flagb & 0x01, ends, ts)
    if rest:
        if len(rest) <= MAX_REASSEMBLY:
            if isinstance(st.buf, tuple):
                st.buf = [None, None]
            st.buf[di] = bytearray(rest)
        else:
            ex.counters["malformed"] += 1


_LAST_SEEN = attrgetter("last")


def quoted(ex: DissectorState, r: list[Any], d: bytes, start: int, end: int, ts: float) -> None:
    """The TCP header (and payload) an ICMP error quotes: see :func:`agent.features.edge_iiotset.icmp.quoted`."""
    avail = end - start
    if avail < 4:
        return
    sport, dport = struct.unpack_from("!HH", d, start)
    r[C_TCP_SPORT] = sport
    r[C_TCP_DPORT] = dport
    if avail < 8:
        return
    r[C_TCP_SEQ] = u32(d, start + 4)[0]
    if avail < 20:
        return
    _sp, _dp, _seq, ack, offb, flagb, _win, csum, _urg = TCP.unpack_from(d, start)
    hl = (offb >> 4) * 4
    r[C_TCP_FLAGS] = ((offb & 1) << 8) | flagb
    r[C_TCP_CSUM] = csum
    r[C_TCP_ACKRAW] = ack
    r[C_TCP_ACK] = ack  # shown whatever the flags, as it is in the quoted header
    if flagb & 0x10:
        r[C_TCP_FACK] = 1
    if flagb & 0x02:
        r[C_TCP_SYNACK if flagb & 0x10 else C_TCP_SYN] = 1
    if flagb & 0x01:
        r[C_TCP_FIN] = 1
    if flagb & 0x04:
        r[C_TCP_RST] = 1
    if hl < 20:
        return
    if hl > 20:
        r[C_TCP_OPTS] = d[start + 20:min(start + hl, end)].hex()
    payload = d[start + hl:end]
    if not payload:
        return
    r[C_TCP_PAYLOAD] = payload.hex()
    lo = sport if sport < dport else dport
    hi = dport if sport < dport else sport
    tls = lo == 443 or hi == 443
    app = tcp_app(lo, hi)
    if app is not None and app.quoted is not None:
        app.quoted(ex, r, payload, tls, ts)
        return
    for test, found in TCP_HEURISTICS:  # (DNS over TCP in an error packet: tshark shows no DNS fields)
        if test(payload) and found.quoted is not None:
            found.quoted(ex, r, payload, tls, ts)
            return
