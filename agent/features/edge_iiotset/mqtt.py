"""MQTT over TCP (port 1883): the fixed header, CONNECT/CONNACK flags, PUBLISH topic and message, the
first SUBSCRIBE/UNSUBSCRIBE topic filter; the protocol level a CONNECT announces is kept per stream."""

from __future__ import annotations

import struct
from typing import Any

from agent.features.edge_iiotset.fields import (
    C_MQTT_CLEAN,
    C_MQTT_CONACK,
    C_MQTT_CONFLAGS,
    C_MQTT_HDR,
    C_MQTT_LEN,
    C_MQTT_MSG,
    C_MQTT_PROTOLEN,
    C_MQTT_PROTONAME,
    C_MQTT_TOPIC,
    C_MQTT_TOPICLEN,
    C_MQTT_TYPE,
    C_MQTT_VER,
)
from agent.features.edge_iiotset.ports import TcpApp, register_tcp
from agent.features.edge_iiotset.state import DissectorState, TcpStream, u16
from agent.features.edge_iiotset.text import tshark_text

MQTT_PORT = 1883


def stream(ex: DissectorState, r: list[Any], data: bytes, st: TcpStream, di: int, fin: int, key: tuple[Any, ...],
           ts: float, truncated: bool = False) -> bytes:
    """Every complete MQTT control packet in ``data`` (one direction of a stream, reassembled); returns the
    incomplete rest. ``truncated``: ``data`` is all there will be (cut by the snapshot length, or quoted by
    an ICMP error), so a packet cut short shows the fields within it."""
    pos = 0
    n = len(data)
    while pos < n:
        if n - pos < 2:
            return data[pos:]
        hdr = data[pos]
        # remaining length: up to four 7-bit groups
        rl = 0
        mult = 1
        i = pos + 1
        while True:
            if i >= n:
                return data[pos:]
            b = data[i]
            rl += (b & 0x7F) * mult
            i += 1
            if not b & 0x80:
                break
            mult <<= 7
            if mult > 0x200000:
                ex.counters["malformed"] += 1
                return b""
        if n - i < rl:
            if truncated:  # tshark shows the fields that lie within the captured bytes
                _pdu(ex, r, hdr, rl, data, i, n, st, True)
                return b""
            return data[pos:]
        _pdu(ex, r, hdr, rl, data, i, i + rl, st)
        pos = i + rl
    return b""


def _pdu(ex: DissectorState, r: list[Any], hdr: int, rl: int, d: bytes, s: int, e: int, st: TcpStream, cut: bool = False
) -> None:
    typ = hdr >> 4
    if r[C_MQTT_HDR] == 0 and r[C_MQTT_TYPE] == 0:
        r[C_MQTT_HDR] = hdr
        r[C_MQTT_TYPE] = typ
        r[C_MQTT_LEN] = rl
    try:
        if typ == 1:  # CONNECT
            if s + 2 > e:
                raise IndexError
            pl = u16(d, s)[0]
            first = r[C_MQTT_PROTOLEN] == 0
            if first:
                r[C_MQTT_PROTOLEN] = pl
            p = s + 2 + pl
            if p > e:
                raise IndexError
            if first:
                r[C_MQTT_PROTONAME] = tshark_text(d[s + 2:p])
            if p + 2 > e:
                raise IndexError
            ver = d[p]
            st.mqtt_ver = ver
            cf = d[p + 1]
            if not r[C_MQTT_VER]:
                r[C_MQTT_VER] = ver
                r[C_MQTT_CONFLAGS] = cf
                r[C_MQTT_CLEAN] = (cf >> 1) & 1
        elif typ == 2:  # CONNACK
            if s >= e:
                raise IndexError
            if not r[C_MQTT_CONACK] and st.mqtt_ver != 3:  # MQTT 3.1 has no acknowledge flags
                r[C_MQTT_CONACK] = d[s]
        elif typ == 3:  # PUBLISH
            p = _topic(r, d, s, e)
            if hdr & 0x06:
                p += 2
            if st.mqtt_ver == 5:
                plen, p = _varint(d, p, e)
                p += plen
            if p > e:
                raise IndexError
            if r[C_MQTT_MSG] == 0 and p < e and not cut:
                r[C_MQTT_MSG] = d[p:e].hex()
        elif typ == 8 or typ == 10:  # SUBSCRIBE / UNSUBSCRIBE: first topic filter
            p = s + 2
            if st.mqtt_ver == 5:
                plen, p = _varint(d, p, e)
                p += plen
            _topic(r, d, p, e)
    except (IndexError, struct.error):
        ex.counters["malformed"] += 1


def _topic(r: list[Any], d: bytes, p: int, e: int) -> int:
    """The length-prefixed topic at ``d[p:]`` (PUBLISH topic, first SUBSCRIBE filter) into the row.

    Only the frame's first topic is kept; ``mqtt.topic_len`` is set even when the topic itself is
    cut short (as tshark does). Returns the offset after the topic; :class:`IndexError` past ``e``.
    """
    if p + 2 > e:
        raise IndexError
    tl = u16(d, p)[0]
    first = not r[C_MQTT_TOPICLEN] and r[C_MQTT_TOPIC] == 0
    if first:
        r[C_MQTT_TOPICLEN] = tl
    if p + 2 + tl > e:
        raise IndexError
    if first:
        r[C_MQTT_TOPIC] = tshark_text(d[p + 2:p + 2 + tl])
    return p + 2 + tl


def _varint(d: bytes, p: int, e: int) -> tuple[int, int]:
    """MQTT 5 variable byte integer at ``p``: (value, position after it)."""
    val = 0
    mult = 1
    for _ in range(4):
        if p >= e:
            raise IndexError
        b = d[p]
        p += 1
        val += (b & 0x7F) * mult
        if not b & 0x80:
            return val, p
        mult <<= 7
    raise IndexError


def _cut(ex: DissectorState, r: list[Any], payload: bytes, st: TcpStream) -> None:
    stream(ex, r, payload, st, 0, 0, (), 0.0, True)


def _quoted(ex: DissectorState, r: list[Any], payload: bytes, tls: bool, ts: float) -> None:
    stream(ex, r, payload, TcpStream(0, ts), 0, 0, (), ts, True)


MQTT = TcpApp("mqtt", 0, stream, cut=_cut, quoted=_quoted)
register_tcp(MQTT, (MQTT_PORT,))
