"""The agent against the golden files in tests/data/ (tests/data/make_golden.py says how they were
made and when regenerating them is legitimate): the extractor's rows against tshark's recorded
output, a replayed scan's alert record, and a baseline learned from a small CAN log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.golden import (
    ALERT_IGNORED,
    DATA,
    differing_cells,
    encoded_rows,
    golden_baseline,
    tshark_fields,
    without_ignored,
)
from support.site_checks import learn_site, replay_site

from agent.baseline import load_baseline
from agent.features.edge_iiotset import EdgeIIoTsetExtractor
from agent.sources.pcapfile import PcapFileSource

MIX = DATA / "ethernet_mix.pcap"
MIX_FIELDS = DATA / "ethernet_mix.tshark.tsv"


def test_the_extractor_agrees_with_tshark_s_recorded_fields() -> None:
    golden = encoded_rows(MIX_FIELDS.read_text())
    ours = list(EdgeIIoTsetExtractor().rows(PcapFileSource(MIX)))
    assert len(golden) >= 30  # Modbus/TCP, MQTT, DNS and HTTP, a few frames each
    assert differing_cells(ours, golden) == []


@pytest.mark.tshark
def test_the_recorded_fields_are_still_what_tshark_prints(tshark: str) -> None:
    assert differing_cells(encoded_rows(tshark_fields(tshark, MIX)), encoded_rows(MIX_FIELDS.read_text())) == []


def test_a_replayed_scan_gives_the_golden_alert_record() -> None:
    from trainer.lab.replay import replay_alerts
    from trainer.lab.sessions import PLANS

    plan = PLANS["ethernet"]
    alerts, _ = replay_alerts(plan, Path(__file__).resolve().parents[1] / "models" / plan.name,
                              DATA / "port_scan.pcap")
    first = next(a for a in alerts if a["edge_ids"].get("rule") == "port_scan")
    assert {"alert_id", "timestamp"} <= set(first) and "incident_id" in first["edge_ids"]  # left out, not missing
    golden = json.loads((DATA / "port_scan.alert.json").read_text())
    assert not set(ALERT_IGNORED) & (set(golden) | set(golden["edge_ids"]))
    assert without_ignored(first) == golden


def test_a_baseline_learned_from_the_golden_log_is_the_golden_baseline(tmp_path: Path) -> None:
    out = learn_site(tmp_path, "can.yaml", [DATA / "can_learn.log"])
    learned = golden_baseline(load_baseline(out, "can-temporal"))
    assert learned.body() == load_baseline(DATA / "can_baseline", "can-temporal").body()


def _shifted(log: str, by: float) -> list[tuple[float, str]]:
    """The candump lines of ``log`` as (time + ``by``, rest of the line)."""
    out = []
    for line in log.splitlines():
        stamp, rest = line.split(" ", 1)
        out.append((float(stamp.strip("()")) + by, rest))
    return out


def test_the_golden_baseline_loads_and_detects(tmp_path: Path) -> None:
    golden = load_baseline(DATA / "can_baseline", "can-temporal")
    assert golden.family == "can" and set(golden.content["ids"]) == {"0x1A0", "0x2B0", "0x3C0"}
    baseline = tmp_path / "baseline"
    shutil.copytree(DATA / "can_baseline", baseline)
    drive = _shifted((DATA / "can_learn.log").read_text(), 1000.0)
    clean = tmp_path / "clean.log"
    clean.write_text("".join(f"({t:.6f}) {rest}\n" for t, rest in drive))
    assert [a for a in replay_site(tmp_path, "can.yaml", clean, baseline)
            if a["edge_ids"].get("rule") == "can_baseline"] == []
    # 0x2B0 sent four times as often as it should from 2 s to 4 s: an injection
    t_start = drive[0][0] + 2.0
    injected = [(t_start + k * 0.05 + 0.013, f"can0 2B0#{k & 0x0F:02X}640040B0000000") for k in range(40)]
    attacked = tmp_path / "inject.log"
    attacked.write_text("".join(f"({t:.6f}) {rest}\n" for t, rest in sorted(drive + injected)))
    found = [a for a in replay_site(tmp_path, "can.yaml", attacked, baseline)
             if a["edge_ids"].get("rule") == "can_baseline"]
    assert found, "the golden baseline found nothing in an injection"
    assert {a["edge_ids"]["class"] for a in found} == {"SPOOFING"}
