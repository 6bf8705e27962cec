"""Detectors are registered plugins: every module of agent.rules is one, owning its config section;
a site's package adds one through an entry point; the config reference and README list them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap
from support.rule_checks import run_rule

from agent.commands.config_docs import README_BEGIN, README_END, with_detector_list
from agent.config import AgentConfig, load_config
from agent.errors import BackendError
from agent.rules import DETECTORS, DetectorConfig, build_rules, detector_classes, detector_list

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "examples" / "detector-plugin"


def test_every_module_of_the_package_is_a_detector_with_its_own_section() -> None:
    detectors = detector_classes()
    modules = sorted(p.stem for p in (REPO / "agent" / "rules").glob("*.py") if not p.stem.startswith("_"))
    assert [d.name for d in detectors] == [m for m in modules if m != "base"]
    cfg = AgentConfig()
    for d in detectors:
        assert d.__module__ == f"agent.rules.{d.name}" and d.summary
        assert issubclass(d.Config, DetectorConfig)
        section = getattr(cfg.baseline, d.family) if d.family else getattr(cfg.rules, d.name)
        assert type(section) is d.Config
    # a bad value is refused by the detector's own section, naming its key
    with pytest.raises(Exception, match=r"rules\.port_scan\.min_ports"):
        load_config(None, ["rules.port_scan.min_ports=many"])


def test_unknown_detector_and_settings_are_named() -> None:
    with pytest.raises(BackendError, match="unknown detector 'nope'"):
        DETECTORS.load("nope")
    with pytest.raises(Exception, match=r"rules\.nope"):
        load_config(None, ["rules.nope.enabled=false"])


def test_readme_lists_every_detector() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert with_detector_list(readme) == readme, "README's detectors are stale: edge-ids-agent config-docs --readme"
    block = readme[readme.index(README_BEGIN) + len(README_BEGIN): readme.index(README_END)]
    assert block.strip() == detector_list().strip()
    assert all(f"`{d.name}`" in block for d in detector_classes())
    with pytest.raises(ValueError, match="no detector list"):
        with_detector_list("# a README without the markers\n")


def _plugin_env(tmp_path: Path, entry: str) -> dict[str, str]:
    """An environment in which a distribution declaring ``entry`` in ``edge_ids.detectors`` is installed
    (its metadata in ``tmp_path``, the example package importable)."""
    dist = tmp_path / "edge_ids_telnet-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: edge-ids-telnet\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(f"[edge_ids.detectors]\n{entry}\n")
    paths = [str(tmp_path), str(PLUGIN), str(REPO), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def _agent(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``edge-ids-agent`` with ``args``; check-config with no broker (the shipped config's credentials
    are the gateway's)."""
    if args[0] == "check-config":
        args = (*args, "--set", "mqtt.enabled=false")
    return subprocess.run([sys.executable, "-m", "agent", *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def _telnet_session() -> list[Any]:
    """An engineer's laptop opening a Telnet session to a PLC and typing a password."""
    client, plc = "10.10.0.50", "10.10.0.5"
    packets = []
    for i, (src, dst, sport, dport, flags, load) in enumerate([
        (client, plc, 40000, 23, "S", b""), (plc, client, 23, 40000, "SA", b""), (client, plc, 40000, 23, "A", b""),
        (plc, client, 23, 40000, "PA", b"login: "), (client, plc, 40000, 23, "PA", b"admin\r\n"),
        (plc, client, 23, 40000, "PA", b"Password: "), (client, plc, 40000, 23, "PA", b"1234\r\n"),
    ]):
        p = Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=1000 + i) / load
        p.time = 1_700_000_000.0 + 0.2 * i
        packets.append(p)
    return packets


@pytest.mark.slow
def test_a_site_adds_a_detector_through_an_entry_point(tmp_path: Path) -> None:
    env = _plugin_env(tmp_path, "telnet_session = edge_ids_telnet:TelnetSessionRule")
    shown = _agent(env, "check-config", "configs/ethernet.yaml", "--set", "rules.telnet_session.window_s=60")
    assert shown.returncode == 0, shown.stderr
    assert "telnet_session" in shown.stdout and "window_s: 60.0" in shown.stdout
    bad = _agent(env, "check-config", "configs/ethernet.yaml", "--set", "rules.telnet_session.window_s=0")
    assert bad.returncode == 2 and "rules.telnet_session.window_s must be positive" in bad.stderr
    assert "Traceback" not in bad.stderr
    capture = tmp_path / "telnet.pcap"
    wrpcap(str(capture), _telnet_session())
    out = tmp_path / "alerts.jsonl"
    run = _agent(env, "replay", "--config", "configs/ethernet.yaml", "--input", str(capture), "--offline",
                 "--jsonl", str(out), "--quiet")
    assert run.returncode == 0, run.stderr
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    telnet = [a for a in alerts if a["edge_ids"].get("rule") == "telnet_session"]
    assert len(telnet) == 1, alerts
    assert telnet[0]["src_ip"] == "10.10.0.50" and telnet[0]["dest_port"] == 23
    assert telnet[0]["timestamp"].startswith("2023-11-14T22:13:2")  # the frames' own time
    off = _agent(env, "replay", "--config", "configs/ethernet.yaml", "--input", str(capture), "--offline",
                 "--set", "rules.telnet_session.enabled=false", "--quiet")
    assert off.returncode == 0 and "telnet_session" not in off.stdout


@pytest.mark.slow
def test_a_broken_plugin_stops_a_start_with_its_name(tmp_path: Path) -> None:
    env = _plugin_env(tmp_path, "telnet_session = edge_ids_missing:TelnetSessionRule")
    assert _agent(env, "--help").returncode == 0  # every other command still works
    bad = _agent(env, "check-config", "configs/ethernet.yaml")
    assert bad.returncode == 2, bad.stderr
    assert "detector 'telnet_session'" in bad.stderr and "edge_ids_missing" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_example_plugin_finds_a_session_in_process() -> None:
    sys.path.insert(0, str(PLUGIN))
    try:
        from edge_ids_telnet import TelnetSessionRule
    finally:
        sys.path.remove(str(PLUGIN))
    found, rule = run_rule(TelnetSessionRule, _telnet_session())
    assert [(f.context["src_ip"], f.context["dest_port"]) for f in found] == [("10.10.0.50", 23)]
    assert run_rule(TelnetSessionRule, _telnet_session(), ports=[2323])[0] == []
    assert rule.name not in [r.name for r in build_rules(AgentConfig().rules, rule.columns)]  # not installed here
