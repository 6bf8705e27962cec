"""Fuzzing the Edge-IIoTset dissectors: no input, random or mutated, may raise.

Malformed traffic is normal on a network under attack; the extractor must emit a row for every
frame whatever its bytes, and keep going.
"""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.features.edge_iiotset import COLUMNS, EdgeIIoTsetExtractor
from agent.records import Frame

LINKTYPES = [1, 0, 101, 108, 113, 228, 229, 276, 147]


def _eth_ipv4_tcp(dport: int, payload: bytes) -> bytes:
    ip_len = 20 + 20 + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, 1, 0, 64, 6, 0, b"\x0a\0\0\x02", b"\x0a\0\0\x01")
    tcp = struct.pack("!HHIIBBHHH", 40000, dport, 1000, 2000, 0x50, 0x18, 1000, 0, 0)
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp + payload


def _eth_ipv4_udp(dport: int, payload: bytes) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 1, 0, 64, 17, 0, b"\x0a\0\0\x02", b"\x0a\0\0\x01")
    udp = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0)
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp + payload


SEEDS = [
    _eth_ipv4_tcp(1883, b"\x10\x10\x00\x04MQTT\x04\xc2\x00\x3c\x00\x04abcd"),
    _eth_ipv4_tcp(1883, b"\x30\x0a\x00\x03a/b" + b"hello"),
    _eth_ipv4_tcp(502, b"\x00\x07\x00\x00\x00\x06\x01\x03\x00\x00\x00\x0a"),
    _eth_ipv4_tcp(80, b"GET /a?b=c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"),
    _eth_ipv4_udp(53, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03abc\x03com\x00\x00\x01\x00\x01"),
    _eth_ipv4_udp(5353, b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x0c\x80\x01"),
]


def _check(ex: EdgeIIoTsetExtractor, data: bytes, lt: int) -> None:
    row = ex.row(Frame(1_600_000_000.5, data, lt, len(data) + 10))
    assert len(row) == len(COLUMNS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), lt=st.sampled_from(LINKTYPES))
def test_random_bytes_never_raise(data: bytes, lt: int) -> None:
    _check(EdgeIIoTsetExtractor(), data, lt)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 400),
)
def test_mutated_packets_never_raise(seed: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    b = bytearray(seed)
    for pos, val in flips:
        if pos < len(b):
            b[pos] = val
    ex = EdgeIIoTsetExtractor()
    # the same stream twice: the second frame also exercises the stream and reassembly state
    _check(ex, bytes(b), 1)
    _check(ex, bytes(b[:cut]), 1)
    _check(ex, bytes(b), 1)


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=12))
def test_stream_of_random_segments_never_raises(chunks: list[bytes]) -> None:
    """Random payloads on MQTT, Modbus and HTTP ports, in sequence: reassembly must cope."""
    ex = EdgeIIoTsetExtractor()
    for port in (1883, 502, 80, 53):
        seq = 1000
        for c in chunks:
            fr = bytearray(_eth_ipv4_tcp(port, c))
            fr[38:42] = struct.pack("!I", seq)
            seq += len(c)
            _check(ex, bytes(fr), 1)
