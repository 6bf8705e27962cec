"""Live end to end: the agent as a real process on a real interface or CAN bus, alerts over Mosquitto.

What each test does, with nothing faked between the wire and the subscriber:

* Ethernet: a veth pair whose far end sits in a network namespace; the agent (``python -m agent run``)
  captures on the near end with the scapy backend and the default Edge-IIoTset model; scapy frames
  sent from inside the namespace (a spoofed-source SYN flood, a SYN port scan, each mixed with a
  sensor's MQTT session) must come back as alerts of the matching family over MQTT, valid against
  the EVE alert schema and carrying the 5-tuple.
* CAN: python-can's ``udp_multicast`` bus inside a namespace with loopback only, where the broker,
  the agent (default CICIoV2024 model), a sender process and the subscriber all run; a DoS flood of
  ID 0x000 and a spoofed signal must come back as DoS and spoofing alerts.
* SIGTERM while traffic flows: exit 0 within 5 s, and every alert of the JSONL sink reaches the broker
  (matched by ``alert_id``; a restart may drain what the outbox kept).
* SIGHUP while traffic flows: a changed config takes effect (seen in the alerts), the reload is
  counted in health, a broken config is refused and the running one stays; no alert is lost.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.live_agent import (
    Agent,
    VethPair,
    assert_valid_alerts,
    base_config,
    entered,
    healths,
    netns,
    running,
    short_tag,
    status,
    summary,
    veth_pair,
    wait_online,
)
from support.live_traffic import (
    CAN_ECUS,
    CAN_SENDER,
    DOS_FAMILY,
    FLOOD_PORT,
    SCANNER,
    SPOOF_ID,
    VICTIM,
    interleave,
    normal_mqtt,
    syn_flood,
    syn_scan,
)
from support.mqtt_broker import Subscriber, broker_factory_fixture, broker_fixture  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.mosquitto, pytest.mark.timeout(90)]

REPO = Path(__file__).resolve().parent.parent
ETH_BUNDLE = REPO / "models" / "edge-iiotset-lab"
CAN_BUNDLE = REPO / "models" / "ciciov2024-lab"

SCAN_FAMILY = {"Port_Scanning", "Fingerprinting", "Vulnerability_scanner"}
CAN_DOS_FAMILY = {"DoS"}
CAN_SPOOF_FAMILY = {"SPOOFING", "GAS", "RPM", "SPEED", "STEERING_WHEEL"}  # category or specific class

#: how long an alert may take from the end of the attack to the subscriber
ALERT_TIMEOUT_S = 10.0


def _bundle(path: Path) -> Path:
    if not (path / "manifest.json").is_file():
        pytest.skip(f"{path.relative_to(REPO)} is not built (make models)")
    return path


@pytest.fixture
def eth_bundle() -> Path:
    return _bundle(ETH_BUNDLE)


@pytest.fixture
def can_bundle() -> Path:
    return _bundle(CAN_BUNDLE)


@pytest.fixture
def veth(root: None, tmp_path: Path) -> Iterator[VethPair]:
    pytest.importorskip("scapy")
    with veth_pair(tmp_path) as pair:
        yield pair


def _classes(alerts: list[dict[str, Any]]) -> set[str]:
    return {a["edge_ids"]["class"] for a in alerts}


def _eth_agent(tmp_path: Path, veth: VethPair, bundle: Path, port: int, **sections: dict[str, Any]) -> Agent:
    cfg = base_config(
        tmp_path, bundle, port, gateway=f"gw-{veth.host}",
        source={"backend": "scapy", "interface": veth.host, "promiscuous": True, "buffer_size_mb": 8},
        features={"kind": json.loads((bundle / "manifest.json").read_text())["feature_kind"]},
        **sections,
    )
    return Agent(cfg, tmp_path)


def _delivered(sub: Subscriber, agent: Agent, timeout: float) -> tuple[set[str], set[str]]:
    """Wait until every alert id of the agent's JSONL sink arrived at the subscriber; (jsonl, got)."""
    jsonl = {a["alert_id"] for a in agent.jsonl_alerts()}
    sub.wait(lambda s: jsonl <= set(s.alert_ids()), timeout=timeout)
    return jsonl, set(sub.alert_ids())


# --------------------------------------------------------------------------------------------------
# Ethernet


@pytest.mark.parametrize(
    ("attack", "family"),
    # a SYN scan and a SYN flood to a closed port are the same Edge-IIoTset rows; the default model
    # tells them apart by its per-host context (endpoints one source tried vs sources one host saw)
    [("syn_flood", DOS_FAMILY), ("port_scan", SCAN_FAMILY)],
)
def test_ethernet_attack_on_veth_raises_matching_alert_over_mqtt(
    attack: str, family: set[str], veth: VethPair, eth_bundle: Path, broker: Any, tmp_path: Path
) -> None:
    sub = Subscriber(broker.port)
    agent = _eth_agent(tmp_path, veth, eth_bundle, broker.port)
    try:
        with running(agent):
            wait_online(sub, agent)
            normal = normal_mqtt(40)
            # a quiet start: the sensor's session alone must not alert
            veth.send(normal[:60], rate=200)
            sub.wait(lambda s: False, timeout=0.5)
            assert not sub.alerts(), f"alerts on the sensor's MQTT session alone: {summary(sub.alerts())}"
            if attack == "syn_flood":
                frames, rate = interleave(syn_flood(3000), normal[60:]), 3000.0
            else:
                frames, rate = interleave(syn_scan(1500), normal[60:]), 1000.0
            t0 = time.monotonic()
            sent = veth.send(frames, rate=rate)
            assert sent == len(frames)

            def matched(s: Subscriber) -> bool:
                return bool(_classes(s.alerts()) & family)

            got = sub.wait(matched, timeout=ALERT_TIMEOUT_S)
            latency = time.monotonic() - t0
            alerts = sub.alerts()
            assert got, (
                f"{attack}: {len(frames)} frames at {rate:.0f}/s; no {sorted(family)} alert within "
                f"{ALERT_TIMEOUT_S}s of the end; alerts: {summary(alerts)}; last health: "
                f"{_health_brief(sub)}"
            )
            rc, _ = agent.terminate()
        assert rc == 0, agent.log_text()
        alerts = sub.alerts()
        assert_valid_alerts(alerts)
        hits = [a for a in alerts if a["edge_ids"]["class"] in family]
        for a in hits:
            assert {"dest_ip", "proto"} <= a.keys(), a
            if "src_ip" not in a:  # a spoofed flood has no one source: a rule's record counts them instead
                assert a["edge_ids"].get("rule") and " addresses " in a["edge_ids"]["evidence"], a
            assert a["host"] == agent.cfg["gateway_id"]
        # the 5-tuple names the attack: its last record was one of the attack's frames in most windows
        if attack == "syn_flood":
            assert any(
                a["dest_ip"] == VICTIM and a.get("dest_port") == FLOOD_PORT and a["proto"] == "TCP" for a in hits
            ), summary(hits)
        else:
            assert any(a["src_ip"] == SCANNER and a["dest_ip"] == VICTIM and a["proto"] == "TCP" for a in hits), (
                summary(hits)
            )
        print(f"{attack}: first matching alert {latency:.2f}s after the send began; {summary(alerts)}")
    finally:
        sub.close()


def _health_brief(sub: Subscriber) -> dict[str, Any]:
    h = healths(sub)
    if not h:
        return {}
    keys = ("records_in", "records_scored", "windows_scored", "alerts_raised", "dropped_queue", "dropped_kernel")
    return {k: h[-1].get(k) for k in keys}


# --------------------------------------------------------------------------------------------------
# CAN over udp_multicast, everything inside one namespace


CAN_GROUP = "239.77.0.17"


def _run_can_sender(ns: str, plan: list[tuple[str, float]]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c", CAN_SENDER, CAN_GROUP, json.dumps(plan),
         json.dumps(CAN_ECUS), str(SPOOF_ID)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_can_dos_and_spoofing_over_udp_multicast_raise_alerts(
    root: None, can_bundle: Path, broker_factory: Any, tmp_path: Path
) -> None:
    pytest.importorskip("msgpack", reason="python-can's udp_multicast interface needs msgpack")
    with netns(f"edgeids-can-{short_tag()}", multicast_on_lo=True) as ns:
        with entered(ns):
            broker = broker_factory()
            sub = Subscriber(broker.port)
        cfg = base_config(
            tmp_path, can_bundle, broker.port, gateway="vin-live",
            source={"backend": "canbus", "can": {"interface": "udp_multicast", "channel": CAN_GROUP}},
            features={"kind": "can-temporal", "can_warmup_s": 2.0},
            alerts={"merge_gap_s": 0.5},
        )
        agent = Agent(cfg, tmp_path, netns=ns)
        try:
            with running(agent):
                wait_online(sub, agent)
                plan = [("benign", 4.0), ("dos", 3.0), ("benign", 3.0), ("spoof", 3.0), ("benign", 2.0)]
                sender = _run_can_sender(ns, plan)
                out, err = sender.communicate(timeout=60)
                assert sender.returncode == 0, err
                phases = json.loads(out.strip().splitlines()[-1])["phases"]

                def both(s: Subscriber) -> bool:
                    got = _classes(s.alerts())
                    return bool(got & CAN_DOS_FAMILY) and bool(got & CAN_SPOOF_FAMILY)

                sub.wait(both, timeout=ALERT_TIMEOUT_S)
                rc, _ = agent.terminate()
            assert rc == 0, agent.log_text()
            sub.wait(lambda s: False, timeout=0.5)
            alerts = sub.alerts()
            assert_valid_alerts(alerts)
            report = f"phases sent {phases}; alerts {summary(alerts)}; health {_health_brief(sub)}"
            dos = [a for a in alerts if a["edge_ids"]["class"] in CAN_DOS_FAMILY]
            spoof = [a for a in alerts if a["edge_ids"]["class"] in CAN_SPOOF_FAMILY]
            assert dos, f"no DoS alert for the 0x000 flood; {report}"
            assert spoof, f"no spoofing alert for 0x{SPOOF_ID:03X} at 10x its rate; {report}"
            assert any(a["can"]["arbitration_id"] == 0 for a in dos), report
            assert any(a["can"]["arbitration_id"] == SPOOF_ID for a in spoof), report
            for a in alerts:
                assert a["can"]["iface"] == CAN_GROUP and "src_ip" not in a
            # alerts fall in their phases (data time is the receive time of the frames)
            benign_only = _alert_times_outside(alerts, [(p[1], p[2]) for p in phases if p[0] != "benign"], slack=2.0)
            assert not benign_only, f"alerts outside any attack phase: {summary(benign_only)}; {report}"
            print(report)
        finally:
            sub.close()


def _alert_times_outside(
    alerts: list[dict[str, Any]], spans: list[tuple[float, float]], slack: float
) -> list[dict[str, Any]]:
    from datetime import datetime

    out = []
    for a in alerts:
        first = datetime.fromisoformat(a["edge_ids"]["first_seen"]).timestamp()
        if not any(lo - slack <= first <= hi + slack for lo, hi in spans):
            out.append(a)
    return out


# --------------------------------------------------------------------------------------------------
# SIGTERM and SIGHUP while traffic flows (Ethernet, SYN flood in repeated bursts)


def _flood_stream() -> list[bytes]:
    """Repeated flood bursts with the sensor's session between them, so incidents start and end."""
    normal = normal_mqtt(60)
    return syn_flood(600, seed=11) + normal + syn_flood(600, seed=12) + normal


def test_sigterm_under_traffic_flushes_exits_0_within_5s_and_loses_nothing(
    veth: VethPair, eth_bundle: Path, broker: Any, tmp_path: Path
) -> None:
    sub = Subscriber(broker.port)
    agent = _eth_agent(tmp_path, veth, eth_bundle, broker.port,
                       alerts={"realert_interval_s": 0.5, "merge_gap_s": 0.3})
    sender = None
    try:
        with running(agent):
            wait_online(sub, agent)
            sender = veth.send_loop(_flood_stream(), rate=3000, duration=20)
            assert sub.wait(lambda s: len(s.alert_ids()) >= 3, timeout=15), (
                f"fewer than 3 alerts under a looping SYN flood: {summary(sub.alerts())}; {_health_brief(sub)}"
            )
            rc, took = agent.terminate()
            traffic_still_flowing = sender.poll() is None
            sender.kill()
            sender.wait()
        assert traffic_still_flowing, "the sender ended before SIGTERM: not a stop under traffic"
        assert rc == 0, agent.log_text()
        assert took < 5.0, f"SIGTERM took {took:.2f}s"
        assert sub.wait(lambda s: status(s) == "offline", timeout=2), "no 'offline' status after a clean stop"
        jsonl, got = _delivered(sub, agent, timeout=5)
        missing = jsonl - got
        if missing:  # what the outbox kept is delivered by the next start
            with running(agent):
                jsonl, got = _delivered(sub, agent, timeout=15)
                agent.terminate()
            missing = jsonl - got
        assert jsonl, "no alert in the JSONL sink"
        assert not missing, f"{len(missing)} of {len(jsonl)} alerts never reached the broker"
        assert got <= jsonl, "an alert reached the broker that the JSONL sink never saw"
        assert_valid_alerts(sub.alerts())
        print(f"SIGTERM: exit {rc} in {took:.2f}s, {len(jsonl)} alerts, all delivered; runs: {agent.runs}")
    finally:
        if sender is not None and sender.poll() is None:
            sender.kill()
            sender.wait()
        sub.close()


def test_sighup_under_traffic_reloads_refuses_bad_config_and_loses_nothing(
    veth: VethPair, eth_bundle: Path, broker: Any, tmp_path: Path
) -> None:
    manifest = json.loads((eth_bundle / "manifest.json").read_text())
    classes = [c for c in manifest["classes"] if c != manifest["benign_class"]]
    sub = Subscriber(broker.port)
    agent = _eth_agent(tmp_path, veth, eth_bundle, broker.port,
                       alerts={"realert_interval_s": 0.5, "merge_gap_s": 0.3, "severity": dict.fromkeys(classes, 2)})
    sender = None
    try:
        with running(agent):
            wait_online(sub, agent)
            sender = veth.send_loop(_flood_stream(), rate=3000, duration=25)
            assert sub.wait(lambda s: len(s.alert_ids()) >= 2, timeout=15), summary(sub.alerts())
            assert {a["alert"]["severity"] for a in sub.alerts()} == {2}

            # a good change: severities and the re-alert interval
            new = json.loads(json.dumps(agent.cfg))
            new["alerts"].update({"realert_interval_s": 0.4, "severity": dict.fromkeys(classes, 4)})
            agent.write_config(new)
            before = len(sub.alerts())
            agent.signal(signal.SIGHUP)
            assert sub.wait(lambda s: any(h.get("reloads") == 1 for h in healths(s)), timeout=5), _health_brief(sub)
            assert sub.wait(lambda s: any(a["alert"]["severity"] == 4 for a in s.alerts()[before:]), timeout=10), (
                f"no alert with the reloaded severity: {summary(sub.alerts()[before:])}"
            )

            # a broken one: refused, the agent keeps running on the config it has
            agent.write_config(text="alerts:\n  realert_interval: 5\n")  # unknown key
            agent.signal(signal.SIGHUP)
            assert sub.wait(lambda s: any(h.get("reloads_refused") == 1 for h in healths(s)), timeout=5)
            reports = len(healths(sub))  # one more health report: the agent runs on after the refusal
            assert sub.wait(lambda s: len(healths(s)) > reports, timeout=5), _health_brief(sub)
            assert agent.alive()
            last = healths(sub)[-1]
            assert (last["reloads"], last["reloads_refused"]) == (1, 1)
            later = len(sub.alerts())
            assert sub.wait(lambda s: len(s.alerts()) > later, timeout=10), "no alert after the refused reload"
            assert {a["alert"]["severity"] for a in sub.alerts()[later:]} == {4}
            assert sender.poll() is None, "the sender ended early: reloads were not under traffic"
            rc, took = agent.terminate()
        assert rc == 0 and took < 5.0, (rc, took)
        assert "reload refused" in agent.log_text(50000)
        assert "alerts.realert_interval: unknown key" in agent.log_text(50000)
        jsonl, got = _delivered(sub, agent, timeout=5)
        assert jsonl and not jsonl - got, f"{len(jsonl - got)} of {len(jsonl)} alerts never reached the broker"
        assert_valid_alerts(sub.alerts())
    finally:
        if sender is not None and sender.poll() is None:
            sender.kill()
            sender.wait()
        sub.close()
