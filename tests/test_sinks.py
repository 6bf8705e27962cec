"""Local sinks (JSONL with rotation, console), the sink registry and build_sinks, and the outbox."""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from agent.alerts.record import build_alert
from agent.config import load_config
from agent.errors import BackendError, DeliveryError
from agent.sinks import SINKS, Sink, build_sinks, enabled_sinks
from agent.sinks.console import ConsoleSink
from agent.sinks.jsonl import JsonlSink
from agent.sinks.outbox import Outbox

SHA = "ab" * 32


def alert(i: int = 0, cls: str = "DDoS_UDP") -> dict:
    return build_alert(
        cls=cls, score=0.97, severity=1, first_seen=100.0 + i, last_seen=101.0 + i, count=3, model_name="lab",
        model_sha256=SHA, host="gw1", incident_id="", phase="start",
        context={"src_ip": "10.0.0.1", "src_port": 1234, "dest_ip": "10.0.0.2", "dest_port": 80, "proto": 17},
    )


def test_jsonl_appends_one_record_per_line(tmp_path: Path) -> None:
    path = tmp_path / "out" / "eve.jsonl"
    sink = JsonlSink(path)
    sent = [alert(i) for i in range(5)]
    for a in sent:
        sink.emit(a)
    # flushed per alert: readable before close
    lines = path.read_text().splitlines()
    assert [json.loads(x)["alert_id"] for x in lines] == [a["alert_id"] for a in sent]
    assert sink.flush(1.0) and sink.stats()["written"] == 5
    sink.close()


def test_jsonl_rotation_keeps_backups_and_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "eve.jsonl"
    line_len = len(json.dumps(alert(), separators=(",", ":"))) + 1
    sink = JsonlSink(path, max_bytes=line_len * 3, backups=2)
    sent = [alert(i) for i in range(20)]
    for a in sent:
        sink.emit(a)
    sink.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["eve.jsonl", "eve.jsonl.1", "eve.jsonl.2"]
    for p in tmp_path.iterdir():
        assert p.stat().st_size <= line_len * 3
        for line in p.read_text().splitlines():
            json.loads(line)  # never a split line
    kept = [json.loads(x)["alert_id"] for n in ("eve.jsonl.2", "eve.jsonl.1", "eve.jsonl")
            for x in (tmp_path / n).read_text().splitlines()]
    assert kept == [a["alert_id"] for a in sent][-len(kept):]  # the newest, in order
    assert len(kept) == 8 and sink.stats()["rotations"] == 6


def test_jsonl_reopen_appends(tmp_path: Path) -> None:
    path = tmp_path / "eve.jsonl"
    for _ in range(2):
        s = JsonlSink(path)
        s.emit(alert())
        s.close()
    assert len(path.read_text().splitlines()) == 2


def test_jsonl_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DeliveryError, match=r"sinks\.jsonl\.path"):
        JsonlSink(tmp_path / "file" / "eve.jsonl")


def test_console_prints_compact_line() -> None:
    buf = io.StringIO()
    sink = ConsoleSink(buf)
    sink.emit(alert())
    line = buf.getvalue().strip()
    assert "  sev 1  DDoS_UDP  0.970  " in line
    assert "10.0.0.1:1234 -> 10.0.0.2:80 UDP" in line
    assert sink.stats()["printed"] == 1 and sink.flush(0)
    can = build_alert(cls="DoS", score=1.0, severity=1, first_seen=0, last_seen=1, count=1, model_name="m",
                      model_sha256=SHA, host="gw", incident_id="", phase="start",
                      context={"channel": "can0", "arbitration_id": 0x316, "rate_hz": 500.0})
    sink.emit(can)
    assert "bus can0 id 0x316 at 500.0 frames/s" in buf.getvalue()


def test_registry_and_build_sinks(tmp_path: Path) -> None:
    assert SINKS.names() == ["console", "jsonl", "mqtt"]
    with pytest.raises(BackendError, match="unknown alert sink"):
        SINKS.load("carrier-pigeon")
    cfg = load_config(None, ["mqtt.enabled=false", "sinks.console=true", f"sinks.jsonl.path={tmp_path}/a.jsonl"])
    assert enabled_sinks(cfg) == ["jsonl", "console"]
    sinks = build_sinks(cfg, jsonl_path=str(tmp_path / "b.jsonl"))
    assert [s.name for s in sinks] == ["jsonl", "jsonl", "console"]
    assert all(isinstance(s, Sink) for s in sinks)
    for s in sinks:
        s.emit(alert())
        assert s.flush(1.0)
        s.close()
    assert (tmp_path / "a.jsonl").exists() and (tmp_path / "b.jsonl").exists()
    assert build_sinks(load_config(None, ["mqtt.enabled=false"])) == []


def test_outbox_order_bound_and_durability(tmp_path: Path) -> None:
    db = tmp_path / "state" / "outbox.sqlite"
    box = Outbox(db, max_rows=5)
    seqs = [box.put("t", f"m{i}".encode(), 1) for i in range(8)]
    assert seqs == sorted(seqs) and len(box) == 5
    assert box.dropped == 3 and box.dropped_total == 3
    rows = box.after(0, 100)
    assert [r.payload for r in rows] == [b"m3", b"m4", b"m5", b"m6", b"m7"]  # oldest went first
    assert box.delete(rows[0].seq) and not box.delete(rows[0].seq)
    box.close()
    again = Outbox(db, max_rows=5)  # what was committed survives a restart
    assert [r.payload for r in again.after(0, 100)] == [b"m4", b"m5", b"m6", b"m7"]
    assert again.dropped == 0 and again.dropped_total == 3
    # rows in flight (seq <= in_flight_upto) are not dropped
    first = again.after(0, 1)[0].seq
    again.put("t", b"m8", 1, in_flight_upto=first)
    again.put("t", b"m9", 1, in_flight_upto=first)
    assert [r.payload for r in again.after(0, 100)] == [b"m4", b"m6", b"m7", b"m8", b"m9"]
    with closing(sqlite3.connect(db)) as reader:  # WAL mode is kept in the database file itself
        mode = reader.execute("PRAGMA journal_mode").fetchone()[0]
    assert (db.parent / "outbox.sqlite-wal").exists() or mode == "wal"
    again.close()


def test_outbox_unwritable_state_dir(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(DeliveryError, match="state_dir"):
        Outbox(tmp_path / "f" / "outbox.sqlite")
