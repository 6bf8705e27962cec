"""Ethernet site baselines: a Modbus plant learned, then each departure it reports (and its calm on
the plant's later normal traffic); real captures of ../shared/captures/ics."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.site_checks import RTUS, first_seen, learn_site, plant_pcap, replay_site, starts

from agent.baseline import load_baseline
from agent.baseline.ethernet import modbus_requests

T0 = 1_700_000_000.0
FAMILY = {"Fingerprinting": "information gathering", "Port_Scanning": "information gathering",
          "Uploading": "injection", "Backdoor": "malware"}


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("plant")
    return tmp, learn_site(tmp, "ethernet.yaml", [plant_pcap(tmp / "learn.pcap", T0, 120)])


def test_learned_plant(plant: tuple[Path, Path]) -> None:
    _, out = plant
    b = load_baseline(out, "edge-iiotset-context")
    services = {(s["server"], s["proto"], s["port"]) for s in b.content["services"]}
    assert {(rtu, "TCP", 502) for rtu in RTUS} <= services
    assert ("10.10.0.5", "TCP", 445) in services and ("10.10.0.2", "UDP", 53) in services
    rtu = b.content["modbus"][RTUS[0]]
    assert rtu["masters"] == ["10.10.0.1"] and rtu["units"] == [1] and rtu["functions"] == [3, 6]
    assert rtu["writes"] == {"10.10.0.1 unit 1 registers": [[100, 100]]}


def test_later_normal_traffic_raises_nothing(plant: tuple[Path, Path]) -> None:
    tmp, out = plant
    assert starts(replay_site(tmp, "ethernet.yaml", plant_pcap(tmp / "later.pcap", T0 + 86400, 60), out)) == []


@pytest.mark.parametrize("attack,family", [
    ("recon", "information gathering"),
    ("forged_write", "injection"),
    ("smb_exploit", "malware"),
    ("cnc_upload", "malware"),
    ("sweep", "information gathering"),
])
def test_each_plant_attack_raises_its_family(plant: tuple[Path, Path], attack: str, family: str) -> None:
    tmp, out = plant
    t0 = T0 + 2 * 86400
    capture = plant_pcap(tmp / f"{attack}.pcap", t0, 40, attack, attack_at=20.0)
    alerts = [a for a in replay_site(tmp, "ethernet.yaml", capture, out)
              if a["edge_ids"].get("rule") == "ethernet_baseline"]
    raised = {FAMILY.get(a["edge_ids"]["class"]) for a in alerts}
    assert family in raised, [a["edge_ids"].get("evidence") for a in alerts]
    assert all(t0 + 20 <= first_seen(a) <= t0 + 22 for a in starts(alerts))
    assert all(a.get("src_ip") and a.get("dest_ip") for a in alerts)


def test_modbus_requests_read_several_pdus_per_segment() -> None:
    two = "0001000000060a03000a0002" + "0002000000060a06006400ff"
    assert modbus_requests(two) == [(10, 3, 10, 2), (10, 6, 100, 1)]
    assert modbus_requests("zz") == []
    assert modbus_requests("000100010006") == []  # not Modbus (protocol id 1), and too short


@pytest.mark.slow
def test_real_gateway_new_masters_and_writes(shared_captures: Path, tmp_path: Path) -> None:
    ics = shared_captures / "ics"
    out = learn_site(tmp_path, "ethernet.yaml", [ics / "modbus_gateway_polling_15min.pcap"])
    alerts = replay_site(tmp_path, "ethernet.yaml", ics / "modbus_gateway_polling_2min.pcap", out)
    evidence = " ".join(a["edge_ids"].get("evidence") or "" for a in alerts)
    # the 2-minute capture has four masters the 15-minute one never saw, one writing setpoints
    assert "192.168.0.156" in evidence and "never wrote" in evidence
    assert {a["edge_ids"]["class"] for a in alerts if a["edge_ids"].get("rule")} >= {"Uploading", "Backdoor"}
