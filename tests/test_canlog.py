"""CanLogSource: frames equal python-can's own reading, malformed lines, CICIoV2024 CSV replay."""

from __future__ import annotations

import gzip
import io
import math
import tempfile
from pathlib import Path

import can
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config import SourceConfig
from agent.errors import CaptureError
from agent.records import CanFrame
from agent.sources import SOURCES
from agent.sources.canlog import CanLogSource, parse_candump_line

FORMATS = [".log", ".asc", ".blf", ".trc", ".csv"]
try:
    import asammdf  # noqa: F401

    FORMATS.append(".mf4")
except ImportError:
    pass


def crafted_messages() -> list[can.Message]:
    """Classic and FD, 11- and 29-bit, DLC 0..8, remote and error frames, on two channels."""
    msgs = []
    t = 1_700_000_000.0
    for i in range(40):
        t += 0.000731 * (1 + i % 5)
        kind = i % 10
        if kind == 0:
            m = can.Message(arbitration_id=0x100 + i, data=bytes(range(i % 9)), is_extended_id=False)
        elif kind == 1:
            m = can.Message(arbitration_id=0x1ABCDE00 + i, data=bytes([i] * 8), is_extended_id=True)
        elif kind == 2:
            m = can.Message(arbitration_id=0x321, is_remote_frame=True, dlc=i % 9, is_extended_id=False)
        elif kind == 3:
            m = can.Message(arbitration_id=0x18FF00AA, is_remote_frame=True, dlc=8, is_extended_id=True)
        elif kind == 4:
            m = can.Message(arbitration_id=0x456, data=bytes(range(12)), is_fd=True, bitrate_switch=True,
                            is_extended_id=False)
        elif kind == 5:
            m = can.Message(arbitration_id=0x1F00F00F, data=bytes(range(64)), is_fd=True, is_extended_id=True)
        elif kind == 6:
            m = can.Message(is_error_frame=True)
        elif kind == 7:
            m = can.Message(arbitration_id=0x7FF, data=b"", is_extended_id=False)
        elif kind == 8:
            m = can.Message(arbitration_id=0x000, data=b"\xff" * 8, is_extended_id=False)
        else:
            m = can.Message(arbitration_id=0x0C1 + i, data=bytes([255 - i, i, 0, 7]), is_extended_id=False)
        m.timestamp = t
        m.channel = i % 2
        msgs.append(m)
    return msgs


def write_log(path: Path, msgs: list[can.Message]) -> None:
    """Write with python-can's own writer for the suffix (``can.Logger``)."""
    with can.Logger(str(path)) as logger:
        for m in msgs:
            logger.on_message_received(m)


def assert_same_as_python_can(frames: list[CanFrame], msgs: list[can.Message], where: str) -> None:
    """Frame by frame: count, flags, and for non-error frames id, DLC and data, equal python-can's."""
    assert len(frames) == len(msgs), f"{where}: {len(frames)} frames, python-can read {len(msgs)}"
    for i, (f, m) in enumerate(zip(frames, msgs, strict=True)):
        at = f"{where} frame {i}"
        assert f.is_error == m.is_error_frame, at
        assert math.isclose(f.ts, m.timestamp, rel_tol=0, abs_tol=1e-6), at
        if f.is_error:
            continue  # candump: SocketCAN keeps the error class in the id; python-can reports 0
        assert f.arbitration_id == m.arbitration_id, at
        assert f.data == bytes(m.data), at
        assert f.dlc == m.dlc, at
        assert f.is_extended == m.is_extended_id, at
        assert f.is_remote == m.is_remote_frame, at
        assert f.is_fd == m.is_fd, at
        assert f.channel == (None if m.channel is None else str(m.channel)), at


@pytest.mark.parametrize("suffix", FORMATS)
def test_crafted_log_equals_python_can(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"crafted{suffix}"
    write_log(path, crafted_messages())
    reference = list(can.LogReader(str(path)))
    assert reference, "python-can wrote nothing readable"
    source = CanLogSource(path)
    frames = list(source)
    assert_same_as_python_can(frames, reference, path.name)
    stats = source.stats()
    assert stats["frames"] == len(reference)
    assert stats["malformed"] == 0
    assert stats["error_frames"] == sum(m.is_error_frame for m in reference)
    assert stats["remote_frames"] == sum(m.is_remote_frame for m in reference)


def test_crafted_candump_has_every_frame_kind(tmp_path: Path) -> None:
    path = tmp_path / "kinds.log"
    write_log(path, crafted_messages())
    frames = list(CanLogSource(path))
    assert any(f.is_fd and len(f.data) == 64 for f in frames)
    assert any(f.is_remote for f in frames)
    assert any(f.is_error for f in frames)
    assert any(f.is_extended and not f.is_fd and not f.is_remote for f in frames)
    assert any(not f.is_extended and f.dlc == 0 for f in frames)
    assert {f.channel for f in frames if not f.is_error} == {"can0", "can1"}  # CanutilsLogWriter's names


def test_candump_gz_equals_python_can(tmp_path: Path) -> None:
    path = tmp_path / "crafted.log"
    write_log(path, crafted_messages())
    gz = tmp_path / "crafted.log.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert_same_as_python_can(list(CanLogSource(gz)), list(can.LogReader(str(path))), gz.name)


def test_real_captures_equal_python_can(shared_captures: Path) -> None:
    files = sorted((shared_captures / "can").glob("*.*"))
    assert files, "no CAN captures found"
    for path in files:
        reference = list(can.LogReader(str(path)))
        frames = list(CanLogSource(path))
        assert_same_as_python_can(frames, reference, path.name)
        assert len({f.arbitration_id for f in frames}) > 1


def test_real_candump_fast_path_equals_reference_parser(shared_captures: Path) -> None:
    for path in sorted((shared_captures / "can").glob("*.log")):
        assert list(CanLogSource(path)) == list(CanLogSource(path, fast=False)), path.name


def test_error_frame_classes_follow_socketcan(tmp_path: Path) -> None:
    path = tmp_path / "errors.log"
    path.write_text(
        "(1.000000) can0 20000080#0000000000000000\n"  # bus error
        "(1.100000) can0 20000004#0004000000000000\n"  # controller problem: python-can says id 0x4
        "(1.200000) can0 20000040#0000000000000000\n"  # bus-off
    )
    frames = list(CanLogSource(path))
    assert [f.is_error for f in frames] == [True, True, True]
    assert [f.arbitration_id for f in frames] == [0x80, 0x4, 0x40]
    assert frames[1].data == bytes([0, 4, 0, 0, 0, 0, 0, 0])


# ------------------------------------------------------------------------------------------------
# malformed input
# ------------------------------------------------------------------------------------------------

GOOD = "(1700000000.000100) can0 123#0102\n"


def _candump_with_bad_line(tmp_path: Path, bad: str) -> Path:
    path = tmp_path / "bad.log"
    path.write_text(GOOD + GOOD.replace("123", "124") + bad + "\n" + GOOD.replace("123", "125"))
    return path


@pytest.mark.parametrize(
    "bad",
    [
        "(1700000000.000300) can0 12G#0102",  # bad hex in id
        "(1700000000.000300) can0 123#01GG",  # bad hex in data
        "(1700000000.000300) can0 1230102",  # no '#'
        "(1700000000.0003 can0 123#0102",  # broken timestamp
        "(1700000000.000300) can0",  # truncated
        "(1700000000.000300) can0 123#010203040506070809",  # 9 bytes in a classic frame
        "garbage",
    ],
)
def test_malformed_candump_line_names_file_and_line(tmp_path: Path, bad: str) -> None:
    path = _candump_with_bad_line(tmp_path, bad)
    source = CanLogSource(path)
    got: list[CanFrame] = []
    with pytest.raises(CaptureError, match=rf"{path}:3: malformed"):
        got.extend(source)
    assert [f.arbitration_id for f in got] == [0x123, 0x124]  # nothing before the bad line is lost


def test_malformed_candump_line_skipped_and_counted(tmp_path: Path) -> None:
    path = _candump_with_bad_line(tmp_path, "(1700000000.000300) can0 123#01GG")
    source = CanLogSource(path, on_malformed="skip")
    assert [f.arbitration_id for f in source] == [0x123, 0x124, 0x125]
    assert source.stats()["malformed"] == 1
    assert source.stats()["frames"] == 3


def test_malformed_asc_line(tmp_path: Path) -> None:
    path = tmp_path / "crafted.asc"
    write_log(path, crafted_messages()[:12])
    lines = path.read_text().splitlines(keepends=True)
    bad_at = next(i for i, line in enumerate(lines) if "d 8 FF FF" in line)
    lines[bad_at] = lines[bad_at].replace("FF FF", "FF ZZ", 1)  # a data byte python-can cannot parse
    path.write_text("".join(lines))
    with pytest.raises(ValueError):
        list(can.LogReader(str(path)))  # python-can itself stops here, without a line number
    got: list[CanFrame] = []
    with pytest.raises(CaptureError, match=rf"{path}:{bad_at + 1}: malformed"):
        got.extend(CanLogSource(path))
    before = tmp_path / "before.asc"
    before.write_text("".join(lines[:bad_at]))
    assert_same_as_python_can(got, list(can.LogReader(str(before))), "before the bad line")
    assert len(got) >= 5
    skipping = CanLogSource(path, on_malformed="skip")
    frames = list(skipping)
    assert skipping.stats()["malformed"] == 1
    # the frames after the bad line are read with the header's settings (hex base, timestamps):
    # the same as python-can's reading of the file without that line
    without = tmp_path / "without.asc"
    without.write_text("".join(line for i, line in enumerate(lines) if i != bad_at))
    assert_same_as_python_can(frames, list(can.LogReader(str(without))), "skip mode")


def test_malformed_ciciov2024_csv_line(tmp_path: Path) -> None:
    path = tmp_path / "decimal_x.csv"
    path.write_text(
        "ID,DATA_0,DATA_1,DATA_2,DATA_3,DATA_4,DATA_5,DATA_6,DATA_7,label,category,specific_class\n"
        "513,0,0,0,0,0,0,0,0,BENIGN,BENIGN,BENIGN\n"
        "513,0,0,0,0,0,0,0,256,BENIGN,BENIGN,BENIGN\n"
        "514,1,2,3,4,5,6,7,8,ATTACK,SPOOFING,RPM\n"
    )
    with pytest.raises(CaptureError, match=rf"{path}:3: malformed"):
        list(CanLogSource(path))
    skipping = CanLogSource(path, on_malformed="skip")
    assert [f.arbitration_id for f in skipping] == [513, 514]
    assert skipping.stats()["malformed"] == 1


# ------------------------------------------------------------------------------------------------
# CICIoV2024 decimal CSV
# ------------------------------------------------------------------------------------------------


def test_ciciov2024_csv_replayed_at_nominal_rate(tmp_path: Path) -> None:
    path = tmp_path / "decimal_spoofing-RPM.csv"
    rows = [
        (790, 5, 33, 104, 9, 33, 33, 0, 111, "BENIGN", "BENIGN", "BENIGN"),
        (0, 0, 0, 0, 0, 0, 0, 0, 0, "ATTACK", "DoS", "DoS"),
        (316, 5, 33, 0, 9, 33, 33, 0, 255, "ATTACK", "SPOOFING", "RPM"),
    ]
    header = "ID,DATA_0,DATA_1,DATA_2,DATA_3,DATA_4,DATA_5,DATA_6,DATA_7,label,category,specific_class"
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    source = CanLogSource.from_config(SourceConfig(backend="canlog", path=str(path), nominal_rate_hz=500.0))
    assert source.format == "ciciov2024"
    labeled = list(source.iter_labeled())
    assert [f.arbitration_id for f, _ in labeled] == [r[0] for r in rows]
    assert [list(f.data) for f, _ in labeled] == [list(r[1:9]) for r in rows]
    assert [f.ts for f, _ in labeled] == pytest.approx([0.0, 0.002, 0.004])
    assert [labels for _, labels in labeled] == [tuple(r[9:]) for r in rows]
    assert all(f.dlc == 8 and not f.is_extended for f, _ in labeled)


def test_unknown_csv_header_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(CaptureError, match="unknown CSV header"):
        CanLogSource(path)


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"\0")
    with pytest.raises(CaptureError, match="unknown CAN log format"):
        CanLogSource(tmp_path / "x.bin")
    with pytest.raises(CaptureError, match="no such CAN log file"):
        CanLogSource(tmp_path / "missing.log")
    with pytest.raises(CaptureError, match=r"source\.path"):
        CanLogSource.from_config(SourceConfig(backend="canlog"))


def test_registered_as_canlog_backend() -> None:
    assert SOURCES.load("canlog") is CanLogSource


def test_mf4_needs_asammdf(tmp_path: Path) -> None:
    pytest.importorskip("asammdf")
    path = tmp_path / "crafted.mf4"
    write_log(path, crafted_messages())
    assert_same_as_python_can(list(CanLogSource(path)), list(can.LogReader(str(path))), path.name)


def test_close_ends_iteration(tmp_path: Path) -> None:
    path = tmp_path / "many.log"
    path.write_text("".join(f"({i / 1000:.6f}) can0 123#{i & 0xFF:02X}\n" for i in range(20000)))
    source = CanLogSource(path)
    n = 0
    for _ in source:
        n += 1
        if n == 10:
            source.close()
    assert n < 20000


# ------------------------------------------------------------------------------------------------
# property tests for the candump line parser
# ------------------------------------------------------------------------------------------------

FD_LENGTHS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]


@st.composite
def candump_frames(draw: st.DrawFn) -> can.Message:
    extended = draw(st.booleans())
    arbitration_id = draw(st.integers(0, 0x1FFFFFFF if extended else 0x7FF))
    kind = draw(st.sampled_from(["data", "fd", "remote"]))
    ts = draw(st.integers(0, 2_000_000_000_000_000)) / 1e6
    if kind == "remote":
        return can.Message(timestamp=ts, arbitration_id=arbitration_id, is_extended_id=extended,
                           is_remote_frame=True, dlc=draw(st.integers(0, 8)))
    if kind == "fd":
        n = draw(st.sampled_from(FD_LENGTHS))
        return can.Message(timestamp=ts, arbitration_id=arbitration_id, is_extended_id=extended, is_fd=True,
                           bitrate_switch=draw(st.booleans()), data=draw(st.binary(min_size=n, max_size=n)))
    return can.Message(timestamp=ts, arbitration_id=arbitration_id, is_extended_id=extended,
                       data=draw(st.binary(max_size=8)))


def candump_line(m: can.Message, channel: str, direction: str) -> str:
    """A line as candump -L writes it (remote frames with their DLC digit, as candump does)."""
    id_text = f"{m.arbitration_id:08X}" if m.is_extended_id else f"{m.arbitration_id:03X}"
    if m.is_remote_frame:
        body = f"R{m.dlc}" if m.dlc else "R"
    elif m.is_fd:
        body = f"#{int(m.bitrate_switch)}{bytes(m.data).hex().upper()}"
    else:
        body = bytes(m.data).hex().upper()
    return f"({m.timestamp:.6f}) {channel} {id_text}#{body}{direction}\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(candump_frames(), min_size=1, max_size=30),
    st.sampled_from(["can0", "vcan1", "0", "any"]),
    st.sampled_from(["", " R", " T"]),
)
def test_candump_parser_equals_python_can(msgs: list[can.Message], channel: str, direction: str) -> None:
    text = "".join(candump_line(m, channel, direction) for m in msgs)
    reference = list(can.CanutilsLogReader(io.StringIO(text)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.log"
        path.write_text(text)
        fast = list(CanLogSource(path))
        slow = list(CanLogSource(path, fast=False))
    assert fast == slow
    assert_same_as_python_can(fast, reference, "hypothesis")
    assert all(f.channel == channel for f in fast)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789ABCDEFabcdefRr#() .-x\t", max_size=60))
def test_candump_parser_rejects_cleanly(line: str) -> None:
    """Any text: a frame, None (blank) or ValueError; the fast path and the reference agree."""
    try:
        ref: CanFrame | str | None = parse_candump_line(line)
    except ValueError:
        ref = "malformed"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.log"
        path.write_text(line.replace("\n", " ") + "\n")
        source = CanLogSource(path, on_malformed="skip")
        frames = list(source)
    if ref == "malformed":
        assert frames == [] and source.stats()["malformed"] == 1
    elif ref is None:
        assert frames == [] and source.stats()["malformed"] == 0
    else:
        assert frames == [ref]


# ------------------------------------------------------------------------------------------------
# HCRL vehicle datasets (Car-Hacking CSV, text recordings, Car Hacking Challenge)
# ------------------------------------------------------------------------------------------------


def _classic_frames() -> list[can.Message]:
    """Classic 11-bit data frames of every DLC, as the HCRL recordings hold, plus one ID 0 DoS frame."""
    msgs = []
    for i in range(30):
        m = can.Message(timestamp=1478198376.389427 + i * 0.000513, arbitration_id=(0x316, 0x43F, 0x2A0, 0x0)[i % 4],
                        data=bytes((i * 7 + j) % 256 for j in range(i % 9)), is_extended_id=False)
        msgs.append(m)
    return msgs


@pytest.mark.parametrize("layout", ["hcrl-csv", "hcrl-text", "hcrl-challenge"])
def test_hcrl_layouts_read_as_the_same_frames(tmp_path: Path, layout: str) -> None:
    from support.hcrl_logs import SUFFIX, write_hcrl

    msgs = _classic_frames()
    injected = [m.arbitration_id == 0 for m in msgs]
    path = write_hcrl(tmp_path / f"DoS_dataset{SUFFIX[layout]}", msgs, layout, injected, subclass="Flooding")
    source = CanLogSource(path)
    assert source.format == layout
    labeled = list(source.iter_labeled())
    frames = [f for f, _ in labeled]
    assert [f.arbitration_id for f in frames] == [m.arbitration_id for m in msgs]
    assert [f.data for f in frames] == [bytes(m.data) for m in msgs]
    assert [f.dlc for f in frames] == [m.dlc for m in msgs]
    assert [f.ts for f in frames] == pytest.approx([m.timestamp for m in msgs], abs=1e-6)
    assert not any(f.is_extended or f.is_remote or f.is_error for f in frames)
    labels = [lab for _, lab in labeled]
    if layout == "hcrl-csv":
        assert labels == [("T",) if bad else ("R",) for bad in injected]
    elif layout == "hcrl-challenge":
        assert labels == [("Attack", "Flooding") if bad else ("Normal", "Normal") for bad in injected]
    else:
        assert labels == [()] * len(msgs)
    assert list(CanLogSource(path)) == frames
    assert source.stats()["data_frames"] == len(msgs)


def test_hcrl_text_remote_frame_and_padded_csv_rows(tmp_path: Path) -> None:
    """The text layout's flag bits mark a remote request; CSV rows padded with empty columns read."""
    txt = tmp_path / "normal_run_data.txt"
    txt.write_text("Timestamp: 1479121434.850202        ID: 0350    000    DLC: 8    05 28 84 66 6d 00 00 a2\n"
                   "Timestamp: 1479121434.850423        ID: 02c0    100    DLC: 8\n")
    first, remote = list(CanLogSource(txt))
    assert (first.arbitration_id, first.data) == (0x350, bytes.fromhex("052884666d0000a2"))
    assert remote.is_remote and remote.dlc == 8 and remote.data == b""
    csv_path = tmp_path / "gear_dataset.csv"
    csv_path.write_text("1478198376.389427,0316,2,05,21,R,,,,,,\n1478198376.389636,043f,8,01,45,60,ff,6b,00,00,00,T\n")
    assert [(f.arbitration_id, f.dlc) for f in CanLogSource(csv_path)] == [(0x316, 2), (0x43F, 8)]


@pytest.mark.parametrize(("name", "content", "line", "reason"), [
    ("DoS_dataset.csv", "1478198376.389427,0316,8,05,21,68,09,21,21,00,6f,R\n1478198376.3896,0316,8,05,21,R\n",
     2, "DLC 8 but 2 data bytes"),
    ("Fuzzy_dataset.csv", "1478198376.389427,0316,2,05,21,R\n1478198376.3896,xyz,2,05,21,R\n", 2, "xyz"),
    ("normal_run_data.txt", "Timestamp: 1479121434.850202        ID: 0350    000    DLC: 2    05 28\n"
     "Timestamp: 1479121434.85        ID: 0350    000    DLC: 9    05 28\n", 2, "DLC 9 outside 0..8"),
    ("challenge.csv", "Timestamp,Arbitration_ID,DLC,Data,Class,SubClass\n1597759710.1,153,2,20 A1,Normal,Normal\n"
     "1597759710.2,153,2,20 A1 FF,Normal,Normal\n", 3, "DLC 2 but 3 data bytes"),
])
def test_malformed_hcrl_row_names_file_and_line(tmp_path: Path, name: str, content: str, line: int,
                                                reason: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(CaptureError, match=rf"{path.name}:{line}: malformed hcrl-\w+ record \(.*{reason}"):
        list(CanLogSource(path))
    skipping = CanLogSource(path, on_malformed="skip")
    assert len(list(skipping)) == 1 and skipping.stats()["malformed"] == 1


def test_unknown_text_log_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(CaptureError, match=r"notes\.txt:1: unknown text CAN log"):
        CanLogSource(path)
