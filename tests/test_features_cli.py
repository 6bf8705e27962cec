"""``edge-ids-agent features``: header, one row per frame in order, streaming before an error."""

from __future__ import annotations

import csv
import struct
from pathlib import Path

import pytest

from agent.cli import main
from agent.features.edge_iiotset import COLUMNS


def _frame(i: int) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, i, 0, 64, 17, 0, b"\x0a\0\0\x02", b"\x0a\0\0\x01")
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + struct.pack("!HHHH", 40000 + i, 9999, 8, 0)


def _pcap(path: Path, n: int, cut: int = 0) -> None:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i in range(n):
        fr = _frame(i)
        out += struct.pack("<IIII", 1_600_000_000 + i, 500, len(fr), len(fr)) + fr
    path.write_bytes(out[:len(out) - cut])


def _read(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_features_writes_header_and_rows_in_order(tmp_path: Path) -> None:
    cap, out = tmp_path / "a.pcap", tmp_path / "a.csv"
    _pcap(cap, 5)
    assert main(["features", "--kind", "edge-iiotset", "--input", str(cap), "--out", str(out)]) == 0
    rows = _read(out)
    assert rows[0] == list(COLUMNS) and len(COLUMNS) == 61
    assert len(rows) == 6
    port = COLUMNS.index("udp.port")
    assert [int(r[port]) for r in rows[1:]] == [40000 + i for i in range(5)]
    assert rows[1][0] == "Sep 13, 2020 12:26:40.000500000 UTC"


def test_corrupt_capture_keeps_rows_and_names_frame(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cap, out = tmp_path / "bad.pcap", tmp_path / "bad.csv"
    _pcap(cap, 5, cut=5)
    rc = main(["features", "--kind", "edge-iiotset", "--input", str(cap), "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert str(cap) in err and "frame 5" in err
    assert len(_read(out)) == 1 + 4


def test_config_overrides_reach_the_extractor(tmp_path: Path) -> None:
    cap, out = tmp_path / "a.pcap", tmp_path / "a.csv"
    _pcap(cap, 3)
    rc = main(["features", "--kind", "edge-iiotset", "--input", str(cap), "--out", str(out),
               "--set", "features.max_udp_streams=1"])
    assert rc == 0
    stream = COLUMNS.index("udp.stream")
    assert [r[stream] for r in _read(out)[1:]] == ["0", "1", "2"]


def test_missing_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["features", "--kind", "edge-iiotset", "--input", str(tmp_path / "none.pcap"),
               "--out", str(tmp_path / "o.csv")])
    assert rc == 2
    assert "none.pcap" in capsys.readouterr().err


@pytest.mark.tshark
def test_real_capture_through_cli(shared_captures: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    cap = shared_captures / "pcaps" / "modbus_pcapshare.pcapng"
    assert main(["features", "--kind", "edge-iiotset", "--input", str(cap), "--out", str(out)]) == 0
    assert len(_read(out)) == 12791


def test_features_tells_how_many_rows_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cap, out = tmp_path / "a.pcap", tmp_path / "a.csv"
    _pcap(cap, 5)
    assert main(["features", "--kind", "edge-iiotset", "--input", str(cap), "--out", str(out)]) == 0
    assert f"features: wrote 5 edge-iiotset rows to {out} in " in capsys.readouterr().err
    _pcap(cap, 5, cut=5)  # the last frame cut short: the four before it are written, and said so
    assert main(["features", "--kind", "edge-iiotset", "--input", str(cap), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "features: wrote 4 edge-iiotset rows" in err and "frame 5" in err


def test_progress_on_long_inputs() -> None:
    import io

    from agent.commands.features import BATCH, Progress, write_rows

    buf = io.StringIO()
    progress = Progress(buf, every_s=0.0)
    rows = ([i] for i in range(2 * BATCH + 5))
    assert write_rows(io.StringIO(), rows, 1, None, on_batch=progress) == 2 * BATCH + 5
    said = buf.getvalue().splitlines()
    assert said[0].startswith(f"features: {BATCH:,} rows so far (")
    assert progress.rows == 2 * BATCH + 5
