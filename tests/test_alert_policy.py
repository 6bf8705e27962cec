"""The alert policy: thresholds, merging into incidents, re-alerts, rate limits, severity, Unknown."""

from __future__ import annotations

import numpy as np
import pytest

from agent.alerts.policy import MAX_WINDOW_HOLD_S, AlertPolicy
from agent.config import AlertsConfig

CLASSES = ["Normal", "DDoS_UDP", "Port_Scanning", "SQL_injection"]
SHA = "ab" * 32
FLOW = {"src_ip": "10.0.0.5", "src_port": 40000, "dest_ip": "10.0.0.9", "dest_port": 502,
        "proto": 6, "app_proto": "modbus", "flow_id": 77}


def probs(cls: str, p: float = 0.9) -> np.ndarray:
    out = np.full(len(CLASSES), (1.0 - p) / (len(CLASSES) - 1), dtype=np.float32)
    out[CLASSES.index(cls)] = p
    return out


def policy(confirm_windows: int = 1, confirm_span: int = 0, **kw: object) -> AlertPolicy:
    # linger_s 0: incidents end after the merge gap (the tests of lingering set it)
    cfg = AlertsConfig(**{"realert_interval_s": 60.0, "merge_gap_s": 5.0, "rate_limit_per_min": 0, "linger_s": 0.0,
                          **kw})  # type: ignore[arg-type]
    return AlertPolicy(cfg, CLASSES, "Normal", {"DDoS_UDP": 0.6}, {"SQL_injection": 3}, "lab", SHA, "gw1",
                       confirm_windows=confirm_windows, confirm_span=confirm_span)


def test_benign_never_alerts_even_when_certain() -> None:
    p = policy()
    assert p.observe("f", probs("Normal", 1.0), 0.0, 1.0, FLOW) == []
    assert p.flush() == []
    assert p.stats()["windows_alerting"] == 0


def test_threshold_per_class() -> None:
    p = policy()
    assert p.observe("f", probs("DDoS_UDP", 0.55), 0.0, 1.0, FLOW) == []  # below its 0.6
    out = p.observe("g", probs("Port_Scanning", 0.55), 0.0, 1.0, FLOW)  # default 0.5
    assert [a["edge_ids"]["class"] for a in out] == ["Port_Scanning"]


def test_first_window_emitted_at_once_then_merged_and_ended() -> None:
    p = policy()
    first = p.observe("f", probs("DDoS_UDP"), 100.0, 101.0, FLOW)
    assert len(first) == 1
    start = first[0]
    assert start["edge_ids"]["phase"] == "start" and start["edge_ids"]["count"] == 1
    assert start["src_ip"] == "10.0.0.5" and start["proto"] == "TCP" and start["flow_id"] == 77
    for i in range(1, 10):
        assert p.observe("f", probs("DDoS_UDP", 0.95), 100.0 + i, 101.0 + i, FLOW) == []
    end = p.flush()
    assert len(end) == 1
    e = end[0]["edge_ids"]
    assert e["phase"] == "end" and e["count"] == 10 and e["incident_id"] == start["alert_id"]
    assert e["score"] == pytest.approx(0.95)
    assert e["first_seen"].startswith("1970-01-01T00:01:40.000000")
    assert e["last_seen"].startswith("1970-01-01T00:01:50.000000")
    assert end[0]["alert_id"] != start["alert_id"]


def test_single_window_incident_has_no_end_record() -> None:
    p = policy()
    assert len(p.observe("f", probs("DDoS_UDP"), 0.0, 1.0, FLOW)) == 1
    assert p.flush() == []


def test_gap_longer_than_merge_gap_starts_new_incident_and_ends_old() -> None:
    p = policy()
    p.observe("f", probs("DDoS_UDP"), 0.0, 1.0, FLOW)
    p.observe("f", probs("DDoS_UDP"), 1.0, 2.0, FLOW)
    out = p.observe("f", probs("DDoS_UDP"), 20.0, 21.0, FLOW)
    assert [a["edge_ids"]["phase"] for a in out] == ["end", "start"]
    assert out[0]["edge_ids"]["count"] == 2


def test_keys_and_classes_are_separate_incidents() -> None:
    p = policy()
    assert len(p.observe("f1", probs("DDoS_UDP"), 0.0, 1.0, FLOW)) == 1
    assert len(p.observe("f2", probs("DDoS_UDP"), 0.0, 1.0, FLOW)) == 1
    assert len(p.observe("f1", probs("Port_Scanning"), 0.0, 1.0, FLOW)) == 1
    assert p.stats()["incidents_open"] == 3


def test_realert_interval_sends_updates_during_long_attack() -> None:
    p = policy(realert_interval_s=10.0)
    phases = []
    for t in range(0, 35):
        phases += [a["edge_ids"]["phase"] for a in p.observe("f", probs("DDoS_UDP"), t, t + 1.0, FLOW)]
    phases += [a["edge_ids"]["phase"] for a in p.flush()]
    # start at t=1, updates at 11, 21, 31, end at 35
    assert phases == ["start", "update", "update", "update", "end"]


def test_quiet_incident_ends_on_sweep_and_on_flush_with_now() -> None:
    p = policy()
    p.observe("f", probs("DDoS_UDP"), 0.0, 1.0, FLOW)
    p.observe("f", probs("DDoS_UDP"), 1.0, 2.0, FLOW)
    assert p.flush(now=4.0) == []  # still within the merge gap
    out = p.flush(now=10.0)
    assert [a["edge_ids"]["phase"] for a in out] == ["end"]
    # another key's window far later also sweeps quiet incidents
    p.observe("a", probs("DDoS_UDP"), 20.0, 21.0, FLOW)
    p.observe("a", probs("DDoS_UDP"), 21.0, 22.0, FLOW)
    out = p.observe("b", probs("Normal"), 40.0, 41.0, FLOW)
    assert [a["edge_ids"]["phase"] for a in out] == ["end"]


def test_rate_limit_counts_suppressed_and_reports_them_later() -> None:
    p = policy(rate_limit_per_min=3)
    sent = []
    for i in range(10):
        sent += p.observe(f"flow{i}", probs("Port_Scanning"), i / 10, i / 10 + 0.05, FLOW)
    assert len(sent) == 3
    assert p.stats()["alerts_suppressed"] == 7
    # A minute later the held-back incidents end; the limit lets 3 through, each saying that its
    # start was held back; the other 4 are counted again.
    out = p.flush(now=70.0)
    assert [a["edge_ids"]["phase"] for a in out] == ["end"] * 3
    assert all(a["edge_ids"]["suppressed"] == 1 for a in out)
    assert p.stats()["alerts_suppressed"] == 11


def test_rate_limit_is_per_class() -> None:
    p = policy(rate_limit_per_min=1)
    assert len(p.observe("a", probs("Port_Scanning"), 0.0, 1.0, FLOW)) == 1
    assert len(p.observe("b", probs("Port_Scanning"), 0.0, 1.0, FLOW)) == 0
    assert len(p.observe("c", probs("DDoS_UDP"), 0.0, 1.0, FLOW)) == 1


def test_severity_defaults_bundle_and_config_override() -> None:
    cfg = AlertsConfig(severity={"Port_Scanning": 1}, rate_limit_per_min=0)
    p = AlertPolicy(cfg, CLASSES, "Normal", {}, {"SQL_injection": 3}, "lab", SHA, "gw1")
    sev = {c: p.observe(c, probs(c), 0.0, 1.0, FLOW)[0]["alert"]["severity"] for c in CLASSES[1:]}
    assert sev == {"DDoS_UDP": 1, "Port_Scanning": 1, "SQL_injection": 3}
    default = AlertPolicy(AlertsConfig(), CLASSES, "Normal", {}, {}, "lab", SHA, "gw1")
    assert default.severity["DDoS_UDP"] == 1
    assert default.severity["SQL_injection"] == 2
    assert default.severity["Port_Scanning"] == 3


def test_unknown_alerts_off_by_default_and_on_when_enabled() -> None:
    unsure = np.array([0.3, 0.35, 0.2, 0.15], dtype=np.float32)  # top is DDoS_UDP at 0.35 < 0.6
    assert policy().observe("f", unsure, 0.0, 1.0, FLOW) == []
    p = policy(unknown_enabled=True, unknown_max_probability=0.5)
    out = p.observe("f", unsure, 0.0, 1.0, FLOW)
    assert [a["edge_ids"]["class"] for a in out] == ["Unknown"]
    assert out[0]["alert"]["category"] == "Unknown Traffic"
    # an unsure window whose top class is benign is not unknown
    assert p.observe("g", np.array([0.4, 0.3, 0.2, 0.1], dtype=np.float32), 0.0, 1.0, FLOW) == []


def test_can_context_gives_can_object_without_five_tuple() -> None:
    classes = ["BENIGN", "DoS", "SPOOFING-RPM"]
    p = AlertPolicy(AlertsConfig(), classes, "BENIGN", {}, {}, "can-lab", SHA, "gw1")
    out = p.observe("vcan0", np.array([0.01, 0.02, 0.97]), 0.0, 0.1,
                    {"ts": 0.1, "channel": "vcan0", "arbitration_id": 0x316, "rate_hz": 250.0})
    a = out[0]
    assert a["can"] == {"iface": "vcan0", "arbitration_id": 0x316, "rate_hz": 250.0}
    assert "src_ip" not in a and "proto" not in a
    assert a["alert"]["severity"] == 1


def test_incident_table_is_bounded() -> None:
    p = AlertPolicy(AlertsConfig(rate_limit_per_min=0), CLASSES, "Normal", {}, {}, "lab", SHA, "gw1", max_incidents=4)
    for i in range(10):
        p.observe(f"k{i}", probs("DDoS_UDP"), 0.0, 1.0, FLOW)
    st = p.stats()
    assert st["incidents_open"] == 4 and st["incidents_evicted"] == 6


def test_confirmation_holds_the_start_until_n_windows() -> None:
    p = policy(confirm_windows=3)
    assert p.observe("f", probs("DDoS_UDP"), 0.0, 1.0, FLOW) == []
    assert p.observe("f", probs("DDoS_UDP"), 1.0, 2.0, FLOW) == []
    out = p.observe("f", probs("DDoS_UDP"), 2.0, 3.0, FLOW)
    assert [a["edge_ids"]["phase"] for a in out] == ["start"]
    e = out[0]["edge_ids"]
    assert e["count"] == 3 and e["first_seen"].startswith("1970-01-01T00:00:00.000000")
    p.observe("f", probs("DDoS_UDP"), 3.0, 4.0, FLOW)
    end = p.flush()
    assert [a["edge_ids"]["phase"] for a in end] == ["end"] and end[0]["edge_ids"]["count"] == 4
    assert p.stats()["incidents_opened"] == 1 and p.stats()["incidents_unconfirmed"] == 0


def test_sparse_windows_longer_than_the_merge_gap_still_merge_and_confirm() -> None:
    """An ARP poisoner's replies every 2 s: 16-record windows span 30 s, each overlapping the last.
    The incident waits for the merge gap plus its window's span, so the second window confirms it
    (with the gap alone, the sweep at the second window's end closed the first, unconfirmed)."""
    p = policy(confirm_windows=2)
    assert p.observe("g", probs("Port_Scanning"), 0.0, 30.0, FLOW, index=0) == []
    assert p.flush(now=40.0) == []  # 10 s quiet: past the gap, within gap + span
    out = p.observe("g", probs("Port_Scanning"), 16.0, 46.0, FLOW, index=1)
    assert [a["edge_ids"]["phase"] for a in out] == ["start"]
    p.flush(now=80.0)  # 34 s after the last window: still within 5 + 30
    assert p.stats()["incidents_open"] == 1
    p.flush(now=82.0)  # (its start told both windows: no end record)
    assert p.stats()["incidents_open"] == 0 and p.stats()["incidents_closed"] == 1
    assert p.stats()["incidents_unconfirmed"] == 0
    # the hold is bounded: a window spanning an hour does not keep its incident open for an hour
    q = policy()
    q.observe("g", probs("Port_Scanning"), 0.0, 3600.0, FLOW)
    q.observe("g", probs("Port_Scanning"), 1800.0, 3601.0, FLOW)
    assert q.flush(now=3601.0 + MAX_WINDOW_HOLD_S + 4.0) == []
    assert [a["edge_ids"]["phase"] for a in q.flush(now=3601.0 + MAX_WINDOW_HOLD_S + 6.0)] == ["end"]


def test_unconfirmed_incident_ends_silently_and_is_counted() -> None:
    p = policy(confirm_windows=3)
    assert p.observe("f", probs("DDoS_UDP"), 0.0, 1.0, FLOW) == []
    assert p.observe("f", probs("DDoS_UDP"), 1.0, 2.0, FLOW) == []
    # a gap longer than merge_gap_s: the two windows never become an alert
    assert p.observe("f", probs("DDoS_UDP"), 30.0, 31.0, FLOW) == []
    assert p.flush() == []
    s = p.stats()
    assert s["incidents_unconfirmed"] == 2 and s["incidents_opened"] == 0 and s["alerts_emitted"] == 0


def test_confirmation_within_a_span_needs_a_dense_run_of_windows() -> None:
    """3 windows within 6 consecutive windows of the key: 3 scattered misreads never confirm, a
    dense run does, and its start counts every window merged so far."""
    p = policy(confirm_windows=3, confirm_span=6)
    for i in (0, 10, 20, 30, 40):  # every 10th window of the stream, all within the merge gap
        assert p.observe("can0", probs("DDoS_UDP"), i * 0.01, i * 0.01 + 0.01, FLOW, index=i) == []
    assert p.observe("can0", probs("DDoS_UDP"), 0.42, 0.43, FLOW, index=42) == []
    out = p.observe("can0", probs("DDoS_UDP"), 0.45, 0.46, FLOW, index=45)
    assert [a["edge_ids"]["phase"] for a in out] == ["start"]  # windows 40, 42, 45: within 6
    assert out[0]["edge_ids"]["count"] == 7
    assert p.observe("can0", probs("DDoS_UDP"), 0.5, 0.51, FLOW, index=50) == []  # announced: merges
    assert p.stats()["incidents_opened"] == 1


def test_confirmation_span_ignores_windows_without_an_ordinal_and_restarts_with_the_stream() -> None:
    p = policy(confirm_windows=2, confirm_span=2)
    # the record layout gives no ordinal (-1): the count within the merge gap decides, as without a span
    assert p.observe("f", probs("DDoS_UDP"), 0.0, 1.0, FLOW) == []
    assert len(p.observe("f", probs("DDoS_UDP"), 3.0, 4.0, FLOW)) == 1
    # a stream that started again (ordinals back to 0) does not pair with its old windows
    p = policy(confirm_windows=2, confirm_span=2)
    assert p.observe("g", probs("DDoS_UDP"), 0.0, 1.0, FLOW, index=500) == []
    assert p.observe("g", probs("DDoS_UDP"), 1.0, 2.0, FLOW, index=0) == []
    assert len(p.observe("g", probs("DDoS_UDP"), 1.1, 2.1, FLOW, index=1)) == 1


def test_an_announced_incident_lingers_and_recurring_windows_continue_it() -> None:
    """A poller misread every 10 s is one incident updated while it recurs, not one alert per cycle."""
    p = policy(confirm_windows=2, linger_s=60.0)
    records = []
    for cycle in range(12):  # two windows every 10 s, for two minutes
        t = cycle * 10.0
        records += p.observe("g", probs("DDoS_UDP"), t, t + 0.2, FLOW)
        records += p.observe("g", probs("DDoS_UDP"), t + 0.2, t + 0.4, FLOW)
    assert [r["edge_ids"]["phase"] for r in records] == ["start", "update"]  # realert_interval_s 60
    assert p.flush(170.0) == []  # quiet for 59.6 s: still open
    end = p.flush(171.0)
    assert [r["edge_ids"]["phase"] for r in end] == ["end"]
    assert {r["edge_ids"]["incident_id"] for r in records + end} == {records[0]["alert_id"]}
    assert end[0]["edge_ids"]["count"] == 24
    st = p.stats()
    assert st["incidents_opened"] == 1 and st["incidents_closed"] == 1
    # the same class after the linger: a new incident
    again = [r for t in (300.0, 300.2) for r in p.observe("g", probs("DDoS_UDP"), t, t + 0.2, FLOW)]
    assert [r["edge_ids"]["phase"] for r in again] == ["start"]
    assert again[0]["edge_ids"]["incident_id"] != records[0]["alert_id"]


def test_lingering_does_not_help_unconfirmed_windows_add_up() -> None:
    """Confirmation still needs its windows within the merge gap: scattered misreads stay silent."""
    p = policy(confirm_windows=2, linger_s=60.0)
    out = []
    for k in range(10):  # one window every 10 s
        out += p.observe("g", probs("DDoS_UDP"), k * 10.0, k * 10.0 + 0.2, FLOW)
    out += p.flush()
    assert out == []
    assert p.stats()["incidents_unconfirmed"] == 10


def test_a_rules_hosts_stay_on_its_incident_while_model_windows_merge_into_it() -> None:
    """A model window on the shared Ethernet stream names whatever frame ended it; once a rule's finding
    has named the scanner and its target, later windows of the incident do not replace them."""
    from agent.rules import Finding

    p = policy()
    background = {**FLOW, "src_ip": "10.0.0.254"}
    start = p.observe("global", probs("Port_Scanning"), 100.0, 101.0, background)
    assert start[0]["src_ip"] == "10.0.0.254"
    scanner = {"src_ip": "10.0.0.66", "dest_ip": "10.0.0.9", "proto": "TCP"}
    p.observe_finding(Finding("global", "Port_Scanning", 101.0, 101.5, scanner, "32 ports"), "port_scan")
    p.observe("global", probs("Port_Scanning"), 101.0, 102.0, background)
    end = p.flush()[0]
    assert (end["src_ip"], end["dest_ip"], end["edge_ids"]["rule"]) == ("10.0.0.66", "10.0.0.9", "port_scan")
    assert "src_port" not in end
