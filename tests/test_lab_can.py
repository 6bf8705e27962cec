"""The CAN traffic lab: benign periodic IDs, DoS on ID 0, spoofing on the real IDs faster than the ECU."""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import can
import pytest

from trainer.lab import can as canlab

SCALE, SESSIONS, SEED = 0.2, 2, 3


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lab-can")
    canlab.write_sessions(out, SEED, SCALE, SESSIONS)
    return out


def read(lab: Path, name: str) -> tuple[list[can.Message], list[dict[str, str]]]:
    msgs = list(can.CanutilsLogReader(str(lab / f"{name}.log")))
    with open(lab / f"{name}.labels.csv", newline="") as fh:
        return msgs, list(csv.DictReader(fh))


def manifest(lab: Path) -> dict:
    return json.loads((lab / "sessions.json").read_text())


def test_every_class_and_labels_line_up(lab: Path) -> None:
    for s in manifest(lab)["sessions"]:
        msgs, rows = read(lab, s["name"])
        assert len(msgs) == len(rows) == s["frames"]
        counts = Counter(r["specific_class"] for r in rows)
        assert set(counts) == set(canlab.CLASSES)
        for r in rows:
            assert r["category"] == canlab.CATEGORY[r["specific_class"]]
            assert r["label"] == ("BENIGN" if r["specific_class"] == "BENIGN" else "ATTACK")
        for ep in s["episodes"]:
            assert counts[ep["class"]] == ep["frames"] > 0
        ts = [m.timestamp for m in msgs]
        assert ts == sorted(ts)


def test_benign_ids_are_periodic(lab: Path) -> None:
    s = manifest(lab)["sessions"][0]
    msgs, rows = read(lab, s["name"])
    times: dict[int, list[float]] = defaultdict(list)
    for m, r in zip(msgs, rows, strict=True):
        if r["specific_class"] == "BENIGN":
            times[m.arbitration_id].append(m.timestamp)
    assert len(times) >= 20
    for aid, ts in times.items():
        period = s["periods_ms"][f"{aid:03X}"] / 1000
        assert 10e-3 <= period <= 1.0
        med = statistics.median(b - a for a, b in itertools.pairwise(ts))
        assert abs(med - period) < 0.1 * period, (hex(aid), med, period)


def test_dos_floods_id_zero(lab: Path) -> None:
    for s in manifest(lab)["sessions"]:
        msgs, rows = read(lab, s["name"])
        dos = [m for m, r in zip(msgs, rows, strict=True) if r["specific_class"] == "DoS"]
        assert all(m.arbitration_id == 0 for m in dos)
        gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(dos)]
        assert statistics.median(gaps) < 0.002
        assert not [m for m, r in zip(msgs, rows, strict=True) if r["specific_class"] == "BENIGN"
                    and m.arbitration_id == 0]


def test_spoofing_uses_the_real_id_faster_than_its_ecu(lab: Path) -> None:
    for s in manifest(lab)["sessions"]:
        msgs, rows = read(lab, s["name"])
        ids = canlab.PLATFORMS[s["platform"]]
        for cls in ("GAS", "RPM", "SPEED", "STEERING_WHEEL"):
            aid = ids[cls][0]
            forged = [m for m, r in zip(msgs, rows, strict=True) if r["specific_class"] == cls]
            real = [m for m, r in zip(msgs, rows, strict=True) if r["specific_class"] == "BENIGN"
                    and m.arbitration_id == aid]
            assert forged and real
            assert {m.arbitration_id for m in forged} == {aid}
            span = forged[-1].timestamp - forged[0].timestamp
            real_span = real[-1].timestamp - real[0].timestamp
            assert len(forged) / span > 2 * len(real) / real_span


def test_decimal_csv_schema(lab: Path) -> None:
    name = manifest(lab)["sessions"][0]["name"]
    with open(lab / "decimal" / f"decimal_{name}.csv", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    assert header == ["ID", *(f"DATA_{i}" for i in range(8)), "label", "category", "specific_class"]
    msgs, labels = read(lab, name)
    assert len(rows) == len(msgs)
    for row, m, lab_row in zip(rows[:2000], msgs, labels, strict=False):
        assert int(row[0]) == m.arbitration_id
        assert [int(x) for x in row[1:9]] == list(bytes(m.data).ljust(8, b"\0"))
        assert row[9:] == [lab_row["label"], lab_row["category"], lab_row["specific_class"]]


def test_agent_reader_agrees(lab: Path) -> None:
    from agent.sources.canlog import CanLogSource
    name = manifest(lab)["sessions"][0]["name"]
    ours = list(CanLogSource(lab / f"{name}.log"))
    msgs, _ = read(lab, name)
    assert len(ours) == len(msgs)
    assert all(a.arbitration_id == b.arbitration_id and a.data == bytes(b.data)
               for a, b in zip(ours, msgs, strict=True))


def test_determinism_and_vehicles_differ(tmp_path: Path, lab: Path) -> None:
    canlab.write_sessions(tmp_path / "a", SEED, SCALE, 1)
    for f in ("drive00.log", "drive00.labels.csv", "decimal/decimal_drive00.csv"):
        assert hashlib.sha256((tmp_path / "a" / f).read_bytes()).digest() == \
            hashlib.sha256((lab / f).read_bytes()).digest()
    a, b = manifest(lab)["sessions"][:2]
    assert set(a["ids"]) != set(b["ids"])
