"""DNS messages: names, queries and answers."""

from __future__ import annotations

import struct


def dns_name(name: str) -> bytes:
    return b"".join(bytes((len(p),)) + p.encode() for p in name.split(".") if p) + b"\0"


def dns_query(qid: int, name: str, qtype: int = 1) -> bytes:
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack("!HH", qtype, 1)


def dns_answer(qid: int, name: str, qtype: int, addrs: list[bytes], ttl: int, rcode: int = 0) -> bytes:
    ans = [b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, ttl, len(a)) + a for a in addrs]
    return (struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(ans), 0, 0) + dns_name(name)
            + struct.pack("!HH", qtype, 1) + b"".join(ans))
