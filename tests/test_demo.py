"""``edge-ids-agent demo``: alert lines a person can read, and per capture the classes present vs raised."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.cli import main
from agent.commands.demo import coverage

REPO = Path(__file__).resolve().parent.parent


def test_coverage_counts_incidents_per_class_present_or_not() -> None:
    text = coverage({"DoS", "SPOOFING"}, {"DoS": 1, "GAS": 2})
    assert text.splitlines()[0] == "attack classes in the capture: 2, raised: 1"
    assert "  DoS       yes         1" in text
    assert "  GAS       no          2  (not in the capture)" in text
    assert "  SPOOFING  yes         0  (missed)" in text


def test_demo_from_any_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    here = os.getcwd()
    os.chdir(tmp_path)  # the bundled models are found without a models/ here
    try:
        assert main(["demo"]) == 0
    finally:
        os.chdir(here)
    out = capsys.readouterr().out
    assert "Traceback" not in out
    lines = out.splitlines()
    alerts = [ln for ln in lines if "  sev " in ln]
    assert alerts and all(" start " in ln or " end " in ln or " update " in ln for ln in alerts)
    assert not any("None" in ln or "can None" in ln for ln in alerts)
    assert any("demo/can-gw  start   sev 1  DoS" in ln and "bus can0 id 0x000" in ln for ln in alerts)
    assert "attack classes in the capture: 2, raised: 2" in out  # the CAN capture: DoS and SPOOFING
    assert "incidents / alert records" in out
    assert out.count("the summary's counters:") == 1
