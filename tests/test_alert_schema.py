"""Every alert the policy builds validates against the shipped JSON Schema, and the schema is strict
enough to reject records a SIEM parser would choke on."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from importlib import resources
from typing import Any

import numpy as np
import pytest

jsonschema = pytest.importorskip("jsonschema")

from agent.alerts import SCHEMA_PATH  # noqa: E402
from agent.alerts.policy import AlertPolicy  # noqa: E402
from agent.alerts.record import build_alert, iso_timestamp, new_alert_id, proto_name  # noqa: E402
from agent.config import AlertsConfig  # noqa: E402
from agent.rules import Finding  # noqa: E402

SHA = "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def many_alerts() -> list[dict[str, Any]]:
    """Alerts of every shape: network and CAN, start/update/end, unknown, rate-limited."""
    classes = ["Normal", "DDoS_UDP", "Port_Scanning", "MITM"]
    cfg = AlertsConfig(realert_interval_s=3.0, merge_gap_s=2.0, rate_limit_per_min=5, unknown_enabled=True)
    p = AlertPolicy(cfg, classes, "Normal", {}, {}, "edge-iiotset-lab", SHA, "gw-01")
    rng = np.random.default_rng(7)
    out: list[dict[str, Any]] = []
    contexts = [
        {"ts": 0, "src_ip": "192.168.1.10", "src_port": 51000, "dest_ip": "192.168.1.1", "dest_port": 1883,
         "proto": 6, "app_proto": "mqtt", "flow_id": 123456789},
        {"ts": 0, "src_ip": "fe80::1", "src_port": None, "dest_ip": "fe80::2", "dest_port": None,
         "proto": 58, "app_proto": None, "flow_id": "fe80::1-fe80::2-58"},
        {"ts": 0, "src_ip": "10.0.0.1", "src_port": "", "dest_ip": "10.0.0.2", "dest_port": 0,
         "proto": "udp", "app_proto": "", "flow_id": None},
    ]
    for t in range(200):
        vec = rng.dirichlet(np.ones(len(classes)) * 0.3)
        ctx = contexts[t % len(contexts)]
        out += p.observe(f"k{t % 7}", vec, t * 0.5, t * 0.5 + 0.4, ctx)
    for t in range(20):  # one long attack: start, updates, end
        out += p.observe("long", np.array([0.0, 0.0, 0.0, 1.0]), 200 + t, 200.5 + t, contexts[0])
    for t in range(3):  # a rule's finding: announced at once, with the rule and its evidence
        out += p.observe_finding(Finding("global", "MITM", 300.0, 301.0 + t, {"src_ip": "192.168.1.1",
                                         "dest_ip": "192.168.1.20", "proto": "ARP"}, "replies nobody asked for"),
                                 "arp_poisoning")
    out += p.observe_finding(Finding("flip", "MITM", 400.0, 401.0, {"src_ip": "192.168.1.1", "dest_ip": "192.168.1.20",
                                     "proto": "ARP", "src_mac": "32:7b:3a:18:ab:23"}, "claimed in turn"),
                             "arp_poisoning")
    out += p.flush()
    can = AlertPolicy(AlertsConfig(), ["BENIGN", "DoS", "SPOOFING-GAS"], "BENIGN", {}, {}, "ciciov", SHA, "gw-01")
    out += can.observe("can0", np.array([0.0, 1.0, 0.0]), 1.0, 1.2, {"ts": 1.2, "channel": "can0", "arbitration_id": 0})
    out += can.observe("can1", np.array([0.0, 0.0, 1.0]), 1.0, 1.2,
                       {"iface": "can1", "arbitration_id": 0x1FFFFFFF, "rate_hz": 0.0})
    return out


def test_every_alert_validates(validator: Any) -> None:
    alerts = many_alerts()
    phases = {a["edge_ids"]["phase"] for a in alerts}
    assert phases == {"start", "update", "end"}
    assert {a["edge_ids"]["class"] for a in alerts} >= {"DDoS_UDP", "Unknown", "DoS"}
    assert any("suppressed" in a["edge_ids"] for a in alerts)
    assert any(a["edge_ids"].get("rule") == "arp_poisoning" and a["edge_ids"]["evidence"] for a in alerts)
    assert any(a.get("ether") == {"src_mac": "32:7b:3a:18:ab:23"} for a in alerts)
    for a in alerts:
        errors = sorted(validator.iter_errors(a), key=str)
        assert not errors, (a, [e.message for e in errors])
        json.dumps(a)  # plain JSON types only
    assert len({a["alert_id"] for a in alerts}) == len(alerts)


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda a: a.pop("timestamp"), "timestamp is required"),
        (lambda a: a.update(event_type="flow"), "event_type must be alert"),
        (lambda a: a.update(timestamp="2024-05-01 12:00:00"), "ISO 8601 with µs and offset"),
        (lambda a: a.update(src_port=70000), "port range"),
        (lambda a: a["alert"].update(severity=0), "severity 1..4"),
        (lambda a: a["edge_ids"].update(score=1.5), "score is a probability"),
        (lambda a: a["edge_ids"].update(model_sha256="xyz"), "sha256 hex"),
        (lambda a: a["edge_ids"].pop("count"), "count is required"),
        (lambda a: a.update(can={"iface": "can0", "arbitration_id": 1}), "CAN and 5-tuple are exclusive"),
        (lambda a: a.update(surprise=1), "no unknown top-level keys"),
        (lambda a: a.update(alert_id="not-an-id"), "alert_id format"),
        (lambda a: a.update(ether={"src_mac": "32-7B-3A-18-AB-23"}), "MAC address as tshark writes it"),
    ],
)
def test_schema_rejects_bad_records(validator: Any, mutate: Any, why: str) -> None:
    good = build_alert(
        cls="DDoS_UDP", score=0.9, severity=1, first_seen=1.0, last_seen=2.0, count=2, model_name="m",
        model_sha256=SHA, host="gw", context={"src_ip": "1.2.3.4", "src_port": 1, "dest_ip": "5.6.7.8",
                                               "dest_port": 2, "proto": 17}, incident_id="", phase="start",
    )
    assert validator.is_valid(good)
    bad = copy.deepcopy(good)
    mutate(bad)
    assert not validator.is_valid(bad), why


def test_timestamp_and_ids() -> None:
    assert iso_timestamp(1714564800.123456) == "2024-05-01T12:00:00.123456+00:00"
    ids = [new_alert_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", i) for i in ids)
    assert new_alert_id(1.0) < new_alert_id(2.0)  # time-ordered
    assert proto_name(6) == "TCP" and proto_name("17") == "UDP" and proto_name("icmp") == "ICMP"
    assert proto_name("IPv6-ICMP") == proto_name(58) == "IPv6-ICMP" and proto_name("sctp") == "SCTP"
    assert proto_name(None) is None


def test_schema_ships_as_package_data() -> None:
    files = resources.files("agent.alerts")
    assert json.loads((files / "eve-alert.schema.json").read_text())["title"]


def test_agent_does_not_need_jsonschema_at_runtime() -> None:
    code = (
        "import sys; sys.modules['jsonschema'] = None\n"
        "import agent.alerts.policy, agent.alerts.record, agent.sinks, agent.sinks.jsonl, agent.sinks.mqtt\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
