"""Byte-level packet assembly and pcap writing for the traffic lab.

Why not build every packet as a scapy object: scapy spends ~100-300 µs composing one packet, and the
lab writes hundreds of thousands of them; CI must generate a small scale in seconds. The headers here
are a handful of ``struct.pack`` calls with RFC 1071 checksums (~5 µs a frame). The tests dissect the
result with scapy and tshark, so the two stay honest against each other.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable
from typing import BinaryIO

ETH_IP = 0x0800
ETH_ARP = 0x0806
PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80


def checksum(data: bytes) -> bytes:
    """RFC 1071 checksum, returned as the two bytes to store (byte order independent sum)."""
    if len(data) & 1:
        data += b"\0"
    s = sum(array("H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return struct.pack("=H", ~s & 0xFFFF)


def ether(dst: bytes, src: bytes, ethertype: int, payload: bytes, pad: bool = False) -> bytes:
    """Ethernet II frame; ``pad`` fills to the 60-byte minimum as a receiving NIC would show it."""
    frame = dst + src + struct.pack("!H", ethertype) + payload
    if pad and len(frame) < 60:
        frame += b"\0" * (60 - len(frame))
    return frame


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ttl: int, ident: int,
         df: bool = True, tos: int = 0) -> bytes:
    """IPv4 header (no options) with a valid header checksum, followed by ``payload``."""
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), ident & 0xFFFF,
                      0x4000 if df else 0, ttl, proto, 0, src, dst)
    return hdr[:10] + checksum(hdr) + hdr[12:] + payload


def tcp(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, window: int,
        options: bytes = b"", payload: bytes = b"", urg: int = 0) -> bytes:
    """TCP segment with options padded to 32-bit words and a valid pseudo-header checksum."""
    if len(options) % 4:
        options += b"\0" * (4 - len(options) % 4)
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      ((20 + len(options)) // 4) << 4, flags, window & 0xFFFF, 0, urg) + options
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, PROTO_TCP, len(hdr) + len(payload))
    return hdr[:16] + checksum(pseudo + hdr + payload) + hdr[18:] + payload


def udp(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    """UDP datagram with a valid checksum (0 is sent as 0xFFFF, as RFC 768 requires)."""
    n = 8 + len(payload)
    hdr = struct.pack("!HHHH", sport, dport, n, 0)
    c = checksum(struct.pack("!4s4sBBH", src, dst, 0, PROTO_UDP, n) + hdr + payload)
    if c == b"\0\0":
        c = b"\xff\xff"
    return hdr[:6] + c + payload


def icmp(icmp_type: int, code: int, rest: bytes, payload: bytes) -> bytes:
    """ICMP message: type, code, checksum, 4 bytes of ``rest`` (id/seq or unused), payload."""
    body = struct.pack("!BBH", icmp_type, code, 0) + rest + payload
    return body[:2] + checksum(body) + body[4:]


def arp(op: int, smac: bytes, sip: bytes, tmac: bytes, tip: bytes) -> bytes:
    """ARP payload for Ethernet/IPv4."""
    return struct.pack("!HHBBH6s4s6s4s", 1, ETH_IP, 6, 4, op, smac, sip, tmac, tip)


# --- TCP options -----------------------------------------------------------------------------------
def opt_mss(v: int) -> bytes:
    return struct.pack("!BBH", 2, 4, v)


def opt_ws(v: int) -> bytes:
    return struct.pack("!BBB", 3, 3, v)


def opt_ts(val: int, ecr: int) -> bytes:
    return struct.pack("!BBII", 8, 10, val & 0xFFFFFFFF, ecr & 0xFFFFFFFF)


OPT_NOP = b"\x01"
OPT_SACKOK = b"\x04\x02"


# --- pcap ------------------------------------------------------------------------------------------
def write_pcap(fh: BinaryIO, frames: Iterable[tuple[float, bytes]], snaplen: int = 262144) -> int:
    """Write classic pcap (microsecond, Ethernet). Returns the number of frames written."""
    fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
    n = 0
    rec = struct.Struct("<IIII")
    for ts, data in frames:
        us = round(ts * 1_000_000)
        fh.write(rec.pack(us // 1_000_000, us % 1_000_000, len(data), len(data)))
        fh.write(data)
        n += 1
    return n
