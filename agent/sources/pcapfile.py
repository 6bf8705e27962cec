"""Capture files (pcap, pcapng, optionally gzip-compressed) as a stream of :class:`Frame`.

Why a hand-written reader: the feature path must run at a multiple of tshark's speed on a gateway
core, and generic dissection libraries spend most of their time building objects per packet. This
reader does big buffered reads and ``struct.unpack_from`` on the buffer, and allocates one
``Frame`` (plus its bytes) per record, nothing else.

Formats: classic pcap in both byte orders with microsecond or nanosecond timestamps; pcapng with
section header, interface description (each interface with its own link type, ``if_tsresol`` and
``if_tsoffset``), enhanced, simple and obsolete packet blocks, any other block skipped; either one
gzip-compressed (detected by its magic, not by the file name). A corrupt or truncated file raises
:class:`~agent.errors.CaptureError` naming the file and the frame number, after every good frame
before it has been yielded, so that callers can write out what was readable.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Iterator
from typing import IO, Any

from agent.errors import CaptureError
from agent.records import Frame

#: bytes asked of the file per read; large reads make the per-record cost dominate
CHUNK = 1 << 20
#: largest record accepted (Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD); beyond means corruption
MAX_RECORD = 262144
#: largest pcapng block accepted before calling the file corrupt
MAX_BLOCK = 16 << 20

_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_GZIP_MAGIC = b"\x1f\x8b"


class PcapFileSource:
    """Frames of one pcap/pcapng file, in file order.

    :param path: the capture file (``.gz`` or not; the content decides).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        self._frames = 0
        self._bytes = 0
        self._fh: IO[bytes] | None = None

    @classmethod
    def from_config(cls, source_config: Any) -> PcapFileSource:
        """Build from a :class:`agent.config.SourceConfig` (its ``path`` is the capture file)."""
        path = getattr(source_config, "path", None)
        if not path:
            raise CaptureError("source.path is not set: the pcap backend needs a capture file (--input or source.path)")
        return cls(path)

    def stats(self) -> dict[str, int]:
        """Frames and captured bytes yielded so far."""
        return {"frames": self._frames, "bytes": self._bytes}

    def close(self) -> None:
        """Close the file if a read is in progress."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _open(self) -> IO[bytes]:
        try:
            raw = open(self.path, "rb")  # noqa: SIM115 - closed in close()/__iter__
        except OSError as exc:
            raise CaptureError(f"{self.path}: cannot open capture file: {exc.strerror or exc}") from exc
        head = raw.read(2)
        raw.seek(0)
        if head == _GZIP_MAGIC:
            return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
        return raw

    def __iter__(self) -> Iterator[Frame]:
        fh = self._open()
        self._fh = fh
        try:
            try:
                magic = fh.read(4)
            except (OSError, EOFError) as exc:
                raise CaptureError(f"{self.path}: cannot read capture file: {exc}") from exc
            if magic in _PCAP_MAGIC:
                yield from self._pcap(fh, magic)
            elif magic == _PCAPNG_SHB:
                yield from self._pcapng(fh, magic)
            else:
                raise CaptureError(
                    f"{self.path}: not a pcap or pcapng file (magic {magic.hex() or 'empty'}); "
                    "convert it with editcap or pass the right file"
                )
        finally:
            fh.close()
            self._fh = None

    # -- helpers -------------------------------------------------------------------------------
    def _read(self, fh: IO[bytes], n: int) -> bytes:
        try:
            return fh.read(n)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise CaptureError(
                f"{self.path}: frame {self._frames + 1}: the file cannot be read further ({exc})"
            ) from exc

    def _corrupt(self, why: str) -> CaptureError:
        return CaptureError(f"{self.path}: frame {self._frames + 1}: {why}; the capture is corrupt or cut short")

    # -- classic pcap --------------------------------------------------------------------------
    def _pcap(self, fh: IO[bytes], magic: bytes) -> Iterator[Frame]:
        order, unit = _PCAP_MAGIC[magic]
        rest = self._read(fh, 20)
        if len(rest) < 20:
            raise self._corrupt("the pcap file header is truncated")
        _vmaj, _vmin, _zone, _sig, _snap, network = struct.unpack(order + "HHiIII", rest)
        linktype = network & 0x0FFFFFFF
        rec = struct.Struct(order + "IIII")
        unpack_rec = rec.unpack_from
        buf = b""
        pos = 0
        end = 0
        read = self._read
        frames = 0
        nbytes = 0
        try:
            while True:
                if end - pos < 16:
                    more = read(fh, CHUNK)
                    buf = buf[pos:] + more
                    pos = 0
                    end = len(buf)
                    if end == 0:
                        return
                    if end < 16:
                        raise self._corrupt(f"the record header is truncated ({end} of 16 bytes)")
                sec, frac, caplen, wirelen = unpack_rec(buf, pos)
                if caplen > MAX_RECORD:
                    raise self._corrupt(f"record length {caplen} exceeds {MAX_RECORD}")
                start = pos + 16
                stop = start + caplen
                if stop > end:
                    more = read(fh, max(CHUNK, caplen + 16))
                    buf = buf[pos:] + more
                    pos = 0
                    end = len(buf)
                    start = 16
                    stop = start + caplen
                    if stop > end:
                        raise self._corrupt(f"the record is truncated ({end - 16} of {caplen} bytes)")
                data = buf[start:stop]
                pos = stop
                frames += 1
                nbytes += caplen
                self._frames = frames
                self._bytes = nbytes
                yield Frame(sec + frac * unit, data, linktype, wirelen)
        finally:
            self._frames = frames
            self._bytes = nbytes

    # -- pcapng --------------------------------------------------------------------------------
    def _pcapng(self, fh: IO[bytes], magic: bytes) -> Iterator[Frame]:
        buf = magic + self._read(fh, CHUNK)
        pos = 0
        end = len(buf)
        order = "<"
        u32 = struct.Struct("<I")
        hdr = struct.Struct("<II")
        epb = struct.Struct("<IIIII")
        opb = struct.Struct("<HHIIII")
        # per interface: (linktype, units per second, offset seconds)
        ifaces: list[tuple[int, float, int]] = []
        read = self._read
        frames = self._frames
        while True:
            if end - pos < 12:
                buf = buf[pos:] + read(fh, CHUNK)
                pos = 0
                end = len(buf)
                if end == 0:
                    return
                if end < 12:
                    raise self._corrupt(f"a pcapng block header is truncated ({end} bytes)")
            btype, blen = hdr.unpack_from(buf, pos)
            if btype == 0x0A0D0D0A:
                bom = buf[pos + 8:pos + 12]
                if bom == b"\x4d\x3c\x2b\x1a":
                    order = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    order = ">"
                else:
                    raise self._corrupt(f"bad pcapng byte-order magic {bom.hex()}")
                u32 = struct.Struct(order + "I")
                hdr = struct.Struct(order + "II")
                epb = struct.Struct(order + "IIIII")
                opb = struct.Struct(order + "HHIIII")
                btype, blen = hdr.unpack_from(buf, pos)
                ifaces = []
            if blen < 12 or blen % 4 or blen > MAX_BLOCK:
                raise self._corrupt(f"bad pcapng block length {blen}")
            if pos + blen > end:
                buf = buf[pos:] + read(fh, max(CHUNK, blen))
                pos = 0
                end = len(buf)
                if blen > end:
                    raise self._corrupt(f"a pcapng block is truncated ({end} of {blen} bytes)")
            body = pos + 8
            stop = pos + blen
            if btype == 6 or btype == 2:  # enhanced packet block, obsolete packet block
                if blen < 32:
                    kind = "enhanced packet" if btype == 6 else "packet"
                    raise self._corrupt(f"{kind} block too short ({blen} bytes)")
                if btype == 6:
                    ifid, hi, lo, caplen, wirelen = epb.unpack_from(buf, body)
                else:  # interface id, drops count, then the enhanced block's fields
                    ifid, _drops, hi, lo, caplen, wirelen = opb.unpack_from(buf, body)
                if ifid >= len(ifaces):
                    raise self._corrupt(f"packet on undeclared interface {ifid}")
                if body + 20 + caplen > stop - 4:
                    raise self._corrupt(f"captured length {caplen} overruns its block")
                linktype, units, offset = ifaces[ifid]
                data = buf[body + 20:body + 20 + caplen]
                frames += 1
                self._frames = frames
                self._bytes += caplen
                yield Frame(((hi << 32) | lo) / units + offset, data, linktype, wirelen)
            elif btype == 3:  # simple packet block: interface 0, no timestamp
                if not ifaces:
                    raise self._corrupt("simple packet block before any interface description")
                (wirelen,) = u32.unpack_from(buf, body)
                caplen = min(wirelen, blen - 16)
                data = buf[body + 4:body + 4 + caplen]
                frames += 1
                self._frames = frames
                self._bytes += caplen
                yield Frame(0.0, data, ifaces[0][0], wirelen)
            elif btype == 1:  # interface description block
                linktype = struct.unpack_from(order + "H", buf, body)[0]
                units, offset = self._idb_options(buf, body + 8, stop - 4, order)
                ifaces.append((linktype, units, offset))
            pos = stop

    def _idb_options(self, buf: bytes, pos: int, stop: int, order: str) -> tuple[float, int]:
        """``if_tsresol`` (units per second) and ``if_tsoffset`` (seconds) of an interface."""
        units = 1e6
        offset = 0
        opt = struct.Struct(order + "HH")
        while pos + 4 <= stop:
            code, length = opt.unpack_from(buf, pos)
            if code == 0:
                break
            val = pos + 4
            if code == 9 and length >= 1:
                res = buf[val]
                units = float(2 ** (res & 0x7F)) if res & 0x80 else float(10 ** res)
            elif code == 14 and length >= 8:
                offset = struct.unpack_from(order + "q", buf, val)[0]
            pos = val + ((length + 3) & ~3)
        return units, offset
