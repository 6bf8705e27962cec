"""SMB2 messages over a simulated TCP connection."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable

from trainer.lab.ethernet.capture import Tcp


def smb2(cmd: int, body: bytes, mid: int, tree: int, sess: int, resp: bool) -> bytes:
    hdr = (b"\xfeSMB" + struct.pack("<HHIHHII", 64, 0, 0, cmd, 1, 1 if resp else 0, 0) + struct.pack(
        "<QIIQ", mid, 0xFEFF, tree, sess) + b"\0" * 16)
    msg = hdr + body
    return struct.pack("!I", len(msg)) + msg  # NetBIOS session header


def smb_session(c: Tcp, rng: random.Random, share: str, setup_len: int) -> tuple[int, int, int]:
    """SMB2 NEGOTIATE, SESSION_SETUP (``setup_len`` bytes of security blob) and TREE_CONNECT to ``share``;
    returns (the last message id used, tree id, session id)."""
    sess = rng.getrandbits(64)
    tree = rng.randrange(1, 16)
    c.exchange(smb2(0, b"\x24\x00" + rng.randbytes(34), 0, 0, 0, False),
               smb2(0, b"\x41\x00" + rng.randbytes(126), 0, 0, 0, True), 0.001)
    c.exchange(smb2(1, b"\x19\x00" + rng.randbytes(setup_len), 1, 0, 0, False),
               smb2(1, b"\x09\x00" + rng.randbytes(8), 1, 0, sess, True), 0.005)
    c.exchange(smb2(3, b"\x09\x00\x00\x00\x48\x00" + share.encode("utf-16-le"), 2, 0, sess, False),
               smb2(3, b"\x10\x00" + rng.randbytes(14), 2, tree, sess, True), 0.002)
    return 2, tree, sess


def smb_read(c: Tcp, rng: random.Random, ids: tuple[int, int, int], n: int,
             fill: Callable[[random.Random, int], bytes] = random.Random.randbytes, think: float = 0.0) -> None:
    """SMB2 READ of ``n`` bytes (``fill(rng, n)``) with message, tree and session ``ids``: the request,
    ``think`` seconds, then the response the client ACKs as it comes."""
    mid, tree, sess = ids
    c.send(True, smb2(8, b"\x31\x00" + rng.randbytes(46), mid, tree, sess, False), ack=False)
    c.t += think
    c.send(False, smb2(8, b"\x11\x00" + rng.randbytes(14) + fill(rng, n), mid, tree, sess, True))


def smb_write(c: Tcp, rng: random.Random, ids: tuple[int, int, int], n: int, think: float = 0.0) -> None:
    """SMB2 WRITE of ``n`` random bytes: the request the server ACKs as it comes, ``think`` seconds,
    then the response."""
    mid, tree, sess = ids
    c.send(True, smb2(9, b"\x31\x00" + rng.randbytes(46) + rng.randbytes(n), mid, tree, sess, False))
    c.t += think
    c.send(False, smb2(9, b"\x11\x00" + rng.randbytes(14), mid, tree, sess, True), ack=False)
