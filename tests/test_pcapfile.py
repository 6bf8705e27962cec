"""The pcap/pcapng reader: every format variant gives the same frames; corruption is reported late."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest

from agent.errors import CaptureError
from agent.sources import SOURCES
from agent.sources.pcapfile import PcapFileSource

FRAMES = [(1_600_000_000 + i * 0.25 + i * 1e-6, bytes([i]) * (20 + i), 1) for i in range(10)]


def write_pcap(path: Path, order: str = "<", nsec: bool = False, linktype: int = 1) -> None:
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    with open(path, "wb") as f:
        f.write(struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype))
        for ts, data, _ in FRAMES:
            frac = round((ts % 1) * (1e9 if nsec else 1e6))
            f.write(struct.pack(order + "IIII", int(ts), frac, len(data), len(data) + 4) + data)


def _block(order: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)


def write_pcapng(path: Path, order: str = "<") -> None:
    shb = _block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    # interface 0: Ethernet, microseconds; interface 1: raw IP, nanoseconds (if_tsresol = 9)
    idb0 = _block(order, 1, struct.pack(order + "HHI", 1, 0, 65535))
    opt = struct.pack(order + "HH", 9, 1) + b"\x09\0\0\0" + struct.pack(order + "HH", 0, 0)
    idb1 = _block(order, 1, struct.pack(order + "HHI", 101, 0, 65535) + opt)
    out = shb + idb0 + idb1 + _block(order, 4, b"\0\0\0\0")  # a name resolution block, skipped
    for i, (ts, data, _) in enumerate(FRAMES):
        iface = i % 2
        units = round(ts * (1e9 if iface else 1e6))
        out += _block(order, 6, struct.pack(order + "IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data),
                                            len(data)) + data)
    path.write_bytes(out)


def check(path: Path, linktypes: tuple[int, ...] = (1,)) -> None:
    got = list(PcapFileSource(path))
    assert [f.data for f in got] == [d for _, d, _ in FRAMES]
    for f, (ts, _, _) in zip(got, FRAMES, strict=True):
        assert abs(f.ts - ts) < 1e-6
    assert {f.linktype for f in got} == set(linktypes)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nsec", [False, True])
def test_pcap_variants(tmp_path: Path, order: str, nsec: bool) -> None:
    p = tmp_path / "a.pcap"
    write_pcap(p, order, nsec)
    check(p)
    src = PcapFileSource(p)
    n = sum(1 for _ in src)
    assert src.stats() == {"frames": n, "bytes": sum(len(d) for _, d, _ in FRAMES)}


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_interfaces_and_resolution(tmp_path: Path, order: str) -> None:
    p = tmp_path / "a.pcapng"
    write_pcapng(p, order)
    check(p, (1, 101))


def test_gzip_detected_by_magic(tmp_path: Path) -> None:
    p = tmp_path / "a.pcap"
    write_pcap(p)
    gz = tmp_path / "no-suffix"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    check(gz)
    ng = tmp_path / "b.pcapng"
    write_pcapng(ng)
    gz2 = tmp_path / "b.pcapng.gz"
    gz2.write_bytes(gzip.compress(ng.read_bytes()))
    check(gz2, (1, 101))


@pytest.mark.parametrize("writer", [write_pcap, write_pcapng])
def test_truncated_file_yields_good_frames_then_names_file_and_frame(tmp_path: Path, writer) -> None:
    p = tmp_path / "t.cap"
    writer(p)
    p.write_bytes(p.read_bytes()[:-7])
    got = []
    with pytest.raises(CaptureError) as err:
        for f in PcapFileSource(p):
            got.append(f)
    assert len(got) == 9
    assert str(p) in str(err.value) and "frame 10" in str(err.value)


def test_corrupt_record_length(tmp_path: Path) -> None:
    p = tmp_path / "c.pcap"
    write_pcap(p)
    raw = bytearray(p.read_bytes())
    off = 24 + 16 + len(FRAMES[0][1])  # header of the second record
    raw[off + 8:off + 12] = struct.pack("<I", 10_000_000)
    p.write_bytes(bytes(raw))
    with pytest.raises(CaptureError, match="frame 2"):
        list(PcapFileSource(p))


def test_not_a_capture_and_missing(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    p.write_text("hello world")
    with pytest.raises(CaptureError, match="not a pcap"):
        list(PcapFileSource(p))
    with pytest.raises(CaptureError, match="cannot open"):
        list(PcapFileSource(tmp_path / "missing.pcap"))


def test_registered_and_from_config(tmp_path: Path) -> None:
    from agent.config import SourceConfig

    p = tmp_path / "a.pcap"
    write_pcap(p)
    cls = SOURCES.load("pcap")
    assert cls is PcapFileSource
    assert len(list(cls.from_config(SourceConfig(backend="pcap", path=str(p))))) == len(FRAMES)
    with pytest.raises(CaptureError, match=r"source\.path"):
        cls.from_config(SourceConfig(backend="pcap"))


def test_real_captures_frame_counts(shared_captures: Path) -> None:
    counts = {"modbus_pcapshare.pcapng": 12790, "mixed_ndpi_android.pcap": 500,
              "mqtt_smalltests_merged.pcap": 675, "http_zeek_methods.pcap": 655}
    for name, n in counts.items():
        assert sum(1 for _ in PcapFileSource(shared_captures / "pcaps" / name)) == n
