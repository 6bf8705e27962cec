"""Many candump ``-L`` lines at once: the replay reader's fast path.

Why: reading a line at a time costs ~2 µs a frame in Python (split, ``int``, ``bytes.fromhex``, a
tuple), a third of the whole budget at 150k frames/s. Here a chunk of lines is split into tokens by
one ``str.split``, ids and payloads are converted by one ``map`` and one ``bytes.fromhex`` over the
chunk, and the frames come out as one :class:`~agent.canbatch.CanBatch`.

Only a chunk whose every line is a plain classic data frame takes this path, with exactly the
conditions of :meth:`CanLogSource._candump_lines`'s inline path (three fields, a 3- or 8-digit id,
``(seconds)``, at most 16 hex digits of data, no error flag); anything else (a blank line, CAN FD,
a remote or error frame, a direction column, a malformed line) makes :func:`parse_plain_chunk`
answer ``None`` and the caller reads that chunk line by line, so what is read, and every error
message, stays the line reader's.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from agent.canbatch import EXTENDED, CanBatch

CAN_EFF_MASK = 0x1FFFFFFF
#: marks the end of a line among the tokens (not whitespace, so ``str.split`` keeps it)
_EOL = "\x00"


def parse_plain_chunk(text: str, n: int) -> CanBatch | None:
    """The frames of ``n`` lines (``text``, each ending in ``\\n``), or ``None`` if any is not plain."""
    parts = text.replace("\n", " \x00 ").split()
    if len(parts) != 4 * n or parts[3::4].count(_EOL) != n:
        return None  # some line has other than three fields
    ts_tok, channel, frames = parts[0::4], parts[1::4], parts[2::4]
    halves = "#".join(frames).split("#")
    if len(halves) != 2 * n:
        return None
    id_s, data_s = halves[0::2], halves[1::2]
    id_len = np.fromiter(map(len, id_s), dtype=np.int64, count=n)
    data_len = np.fromiter(map(len, data_s), dtype=np.int64, count=n)
    frame_len = np.fromiter(map(len, frames), dtype=np.int64, count=n)
    ext = id_len == 8
    if (
        not (ext | (id_len == 3)).all()
        or (data_len > 16).any()
        or (data_len & 1).any()
        or not (frame_len == id_len + data_len + 1).all()  # one '#' in every frame token
    ):
        return None
    try:
        ts = _fixed_seconds(ts_tok, n)
        if ts is None:
            inner = [t[1:-1] for t in ts_tok]
            if "".join(ts_tok) != "(" + ")(".join(inner) + ")":
                return None  # some timestamp is not '(...)'
            ts = np.fromiter(map(float, inner), dtype=np.float64, count=n)
        ids = _hex_ids(id_s, n) if not ext.any() else None
        if ids is None:
            ids = np.fromiter(map(int, id_s, repeat(16)), dtype=np.int64, count=n)
        blob = bytes.fromhex("".join(data_s))
    except (ValueError, OverflowError):
        return None
    if (ids[ext] > CAN_EFF_MASK).any():
        return None  # an error frame
    length = data_len >> 1
    if (length == 8).all():
        data = np.frombuffer(blob, dtype=np.uint8).reshape(n, 8)
    else:
        data = np.zeros((n, 8), dtype=np.uint8)
        total = int(length.sum())
        if total:
            starts = np.cumsum(length) - length
            rows = np.repeat(np.arange(n), length)
            cols = np.arange(total) - np.repeat(starts, length)
            data[rows, cols] = np.frombuffer(blob, dtype=np.uint8)
    return CanBatch(ts, ids, data, length, length.copy(), ext.astype(np.uint8) * EXTENDED, channel)


def _digits(text: str, n: int) -> np.ndarray | None:
    """``n`` equally long ASCII tokens, joined, as an ``(n, width)`` byte array (``None``: lengths differ)."""
    raw = np.frombuffer(text.encode("latin-1"), dtype=np.uint8)
    if len(raw) % n:
        return None
    return raw.reshape(n, len(raw) // n)


def _fixed_seconds(tokens: list[str], n: int) -> np.ndarray | None:
    """``(seconds.fraction)`` tokens all written alike (candump's ``%lu.%06lu``) as float64, or ``None``.

    Exactly ``float`` of each: the decimal is read as the integer ``N`` of its digits (below 2**53),
    and ``N / 10**f`` is the correctly rounded value, as ``float`` gives.
    """
    width = len(tokens[0])
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=n)
    if width < 3 or (lengths != width).any():
        return None
    raw = _digits("".join(tokens), n)
    first = tokens[0]
    dot = first.find(".")
    if raw is None or dot < 1 or width - 3 > 18:  # digits fit int64
        return None
    digits = raw[:, 1:-1].astype(np.int64) - 48
    digits[:, dot - 1] = 0
    if (raw[:, 0] != 40).any() or (raw[:, -1] != 41).any() or (raw[:, dot] != 46).any():
        return None
    digits = np.delete(digits, dot - 1, axis=1)
    if ((digits < 0) | (digits > 9)).any():
        return None
    places = 10 ** np.arange(digits.shape[1] - 1, -1, -1, dtype=np.int64)
    value = digits @ places
    if int(value.max()) >= 1 << 53:
        return None
    return value / 10.0 ** (width - 2 - dot)


#: value of each hex digit's byte, -1 for any other byte
_HEX = np.full(256, -1, dtype=np.int64)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
    _HEX[bytes([_c]).upper()[0]] = _i


def _hex_ids(ids: list[str], n: int) -> np.ndarray | None:
    """Three-digit hex ids as int64, or ``None`` when one is not three hex digits."""
    raw = _digits("".join(ids), n)
    if raw is None or raw.shape[1] != 3:
        return None
    values = _HEX[raw]
    if (values < 0).any():
        return None
    return values[:, 0] * 256 + values[:, 1] * 16 + values[:, 2]
