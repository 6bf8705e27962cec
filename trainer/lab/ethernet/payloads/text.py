"""Filler text for message bodies."""

from __future__ import annotations

import random


def entropy_text(rng: random.Random, n: int) -> bytes:
    words = [b"status", b"value", b"ok", b"sensor", b"line", b"plant", b"alarm", b"none", b"true", b"false",
             b"temp", b"unit", b"id", b"ts"]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words) + rng.choice((b" ", b"=", b":", b",", b"\n")) + str(rng.randint(0, 999)).encode()
    return bytes(out[:n])
