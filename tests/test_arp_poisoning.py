"""The ARP poisoning rule: what it finds, what it leaves alone, and how its findings become alerts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import wrpcap

from agent.alerts.policy import AlertPolicy
from agent.config import AlertsConfig, RulesConfig, load_config
from agent.errors import ConfigError
from agent.features.edge_iiotset import EdgeIIoTsetExtractor
from agent.features.host_context import HostContextExtractor
from agent.records import Frame
from agent.rules import Finding, build_rules
from agent.rules.arp_poisoning import ArpPoisoningRule

REPO = Path(__file__).resolve().parent.parent
ATTACKER, VICTIM_MAC, GW_MAC = "32:7b:3a:18:ab:23", "8a:94:d5:fb:06:d0", "00:11:22:33:44:55"
GW, VICTIM = "192.168.1.1", "192.168.1.20"
T0 = 1_700_000_000.0


def arp(ts: float, op: int, psrc: str, pdst: str, src: str = ATTACKER, dst: str = VICTIM_MAC) -> Frame:
    data = bytes(Ether(src=src, dst=dst) / ARP(op=op, hwsrc=src, psrc=psrc, hwdst=dst if op == 2 else
                                               "00:00:00:00:00:00", pdst=pdst))
    return Frame(T0 + ts, data, 1, len(data))


def ettercap_replies(ts: float) -> list[Any]:
    """One round of ettercap -M arp at ``ts`` (seconds after T0): each of the pair told the other is at
    the attacker's MAC address, as scapy packets (for captures written with wrpcap)."""
    out = []
    for claimed, target, dst in ((GW, VICTIM, VICTIM_MAC), (VICTIM, GW, GW_MAC)):
        pkt = Ether(src=ATTACKER, dst=dst) / ARP(op=2, hwsrc=ATTACKER, psrc=claimed, hwdst=dst, pdst=target)
        pkt.time = T0 + ts + (0.001 if claimed == VICTIM else 0.0)
        out.append(pkt)
    return out


def scan(frames: list[Frame], **kw: Any) -> tuple[list[Finding], ArpPoisoningRule]:
    ext = HostContextExtractor()
    rule = ArpPoisoningRule(ext.columns, **kw)
    rows, ctxs = zip(*ext.rows_with_context(frames), strict=True)
    return rule.scan(rows, ctxs), rule


def test_repeated_unasked_replies_are_found_from_the_third() -> None:
    frames = [arp(2.0 * i, 2, GW, VICTIM) for i in range(5)]  # arpspoof -t victim gateway
    found, rule = scan(frames)
    assert [f.last_ts - T0 for f in found] == [4.0, 6.0, 8.0]
    first = found[0]
    assert (first.key, first.cls, first.first_ts) == ("global", "MITM", T0)
    assert first.context == {"src_ip": GW, "dest_ip": VICTIM, "proto": "ARP", "src_mac": ATTACKER}
    assert "3 ARP replies" in first.evidence and f"MAC address {ATTACKER}" in first.evidence
    assert GW in first.evidence and VICTIM in first.evidence
    assert found[1].first_ts == T0 + 4.0  # later findings add the time since the reply before
    assert rule.stats() == {"arp_unasked_replies": 5, "arp_poisoning_findings": 3, "arp_pairs_evicted": 0,
                            "arp_pairs_tracked": 1, "arp_disputed_claims": 0, "arp_addresses_evicted": 0,
                            "arp_addresses_tracked": 0}


def test_answers_announcements_and_scattered_replies_are_left_alone() -> None:
    frames: list[Frame] = []
    for i in range(10):  # the victim asks for the gateway every 30 s and the gateway answers
        frames += [arp(30.0 * i, 1, VICTIM, GW, src=VICTIM_MAC, dst="ff:ff:ff:ff:ff:ff"),
                   arp(30.0 * i + 0.001, 2, GW, VICTIM, src=GW_MAC)]
        frames.append(arp(30.0 * i + 1, 2, "192.168.1.7", "192.168.1.7", src="02:00:00:00:00:07",
                          dst="ff:ff:ff:ff:ff:ff"))  # a gratuitous announcement
    frames += [arp(400.0 + 70.0 * i, 2, GW, VICTIM) for i in range(4)]  # unasked, but a minute apart
    frames += [arp(700.0, 2, GW, "192.168.1.21"), arp(701.0, 2, GW, "192.168.1.22")]  # one to each host
    found, rule = scan(frames)
    assert found == []
    assert rule.stats()["arp_unasked_replies"] == 6


def forged_requests(start: float, n: int, every: float = 1.0) -> list[Frame]:
    """scapy's arpcachepoison(VICTIM, GW): requests to the victim claiming the gateway's address from
    the attacker's MAC address, one every ``every`` seconds."""
    return [arp(start + every * i, 1, GW, VICTIM) for i in range(n)]


def gateway_asks(ts: float) -> list[Frame]:
    """The gateway refreshing its entry for the victim (a request with its own MAC address) and the
    victim's answer."""
    return [arp(ts, 1, GW, VICTIM, src=GW_MAC), arp(ts + 0.001, 2, VICTIM, GW, src=VICTIM_MAC, dst=GW_MAC)]


def from_gateway(ts: float) -> Frame:
    """An IPv4 datagram the gateway sends the victim (its Modbus poll, say), from its own MAC address."""
    data = bytes(Ether(src=GW_MAC, dst=VICTIM_MAC) / IP(src=GW, dst=VICTIM) / UDP(sport=5000, dport=5000))
    return Frame(T0 + ts, data, 1, len(data))


def test_forged_requests_are_found_while_the_owner_sends_from_its_own_mac_address() -> None:
    frames = gateway_asks(0.0) + forged_requests(5.0, 10) + [from_gateway(4.0 + 0.5 * i) for i in range(30)]
    found, rule = scan(sorted(frames, key=lambda f: f.ts))
    # the third request (at 7 s) completes the evidence; the gateway sent at 5.5 s and after
    assert [f.last_ts - T0 for f in found] == [7.0 + i for i in range(8)]
    first = found[0]
    assert (first.key, first.cls, first.first_ts) == ("global", "MITM", T0 + 5.0)
    assert first.context == {"src_ip": GW, "dest_ip": VICTIM, "proto": "ARP", "src_mac": ATTACKER}
    assert first.evidence.startswith(f"3 ARP requests from {ATTACKER} within 2.0 s claimed {GW}, which "
                                     f"meanwhile sent from {GW_MAC}")
    assert found[1].first_ts == T0 + 7.0  # later findings add the time since the request before
    assert rule.stats()["arp_unasked_replies"] == 0
    # the owner's own ARP after the first forged request is the same evidence
    frames = gateway_asks(0.0) + forged_requests(5.0, 20) + gateway_asks(30.0) + forged_requests(30.5, 2)
    found, _ = scan(sorted(frames, key=lambda f: f.ts))
    assert [f.last_ts - T0 for f in found] == [30.5, 31.5]
    assert found[0].first_ts == T0 + 5.0 and "21 ARP requests" in found[0].evidence
    # the owner silent after the first of them: not yet evidence
    assert scan(gateway_asks(0.0) + forged_requests(5.0, 20))[0] == []


def test_addresses_that_move_once_and_quiet_owners_are_left_alone() -> None:
    frames: list[Frame] = []
    # a failover: the standby takes a service address over with gratuitous ARP and then asks as it
    vip, active, standby = "192.168.1.254", "00:11:22:33:44:aa", "00:11:22:33:44:bb"
    frames += [arp(10.0 * i, 1, vip, VICTIM, src=active, dst="ff:ff:ff:ff:ff:ff") for i in range(5)]
    frames += [arp(41.0 + 0.5 * i, 1, vip, vip, src=standby, dst="ff:ff:ff:ff:ff:ff") for i in range(5)]
    frames += [arp(44.0 + 1.0 * i, 1, vip, VICTIM, src=standby, dst="ff:ff:ff:ff:ff:ff") for i in range(20)]
    # forged requests a minute after the owner last spoke, and an owner that speaks two minutes later
    frames += gateway_asks(100.0) + forged_requests(200.0, 10) + gateway_asks(300.0)
    # ARP probes from 0.0.0.0 claim nothing
    frames += [arp(400.0 + i, 1, "0.0.0.0", GW, src=f"02:00:00:00:00:{i:02x}") for i in range(6)]
    found, rule = scan(sorted(frames, key=lambda f: f.ts))
    assert found == [], [f.evidence for f in found]
    assert rule.stats()["arp_disputed_claims"] == 0


def test_thresholds_come_from_the_config_and_pairs_stay_bounded() -> None:
    found, _ = scan([arp(1.0 * i, 2, GW, VICTIM) for i in range(5)], min_replies=5)
    assert len(found) == 1
    found, _ = scan([arp(10.0 * i, 2, GW, VICTIM) for i in range(5)], window_s=15.0)
    assert found == []  # three replies span 20 s, more than the window
    frames = [arp(0.01 * i, 2, GW, f"10.0.{i // 250}.{i % 250 + 1}") for i in range(1000)]
    found, rule = scan(frames, max_pairs=100)
    assert found == []
    assert rule.stats()["arp_pairs_tracked"] == 100 and rule.stats()["arp_pairs_evicted"] == 900


def test_rules_are_built_for_the_context_features_only_and_bad_settings_are_named() -> None:
    everything = ["arp_poisoning", "icmp_flood", "port_scan", "shell_session", "ssh_guessing", "tcp_flood", "udp_flood",
                  "web_attack"]
    assert [r.name for r in build_rules(RulesConfig(), HostContextExtractor.columns)] == everything
    assert [r.name for r in build_rules(RulesConfig(), EdgeIIoTsetExtractor.columns)] == everything[1:]
    off = load_config(None, ["rules.arp_poisoning.enabled=false"])
    assert [r.name for r in build_rules(off.rules, HostContextExtractor.columns)] == everything[1:]
    bad = load_config(None, ["rules.arp_poisoning.min_replies=0"])
    with pytest.raises(ConfigError, match=r"rules\.arp_poisoning\.min_replies"):
        build_rules(bad.rules, HostContextExtractor.columns)


def _policy(confirm_windows: int = 4, linger_s: float = 0.0) -> AlertPolicy:
    """linger_s 0: an incident ends after the merge gap or its rule's evidence window, nothing longer."""
    cfg = AlertsConfig(realert_interval_s=60.0, merge_gap_s=5.0, rate_limit_per_min=0, linger_s=linger_s)
    return AlertPolicy(cfg, ["Normal", "MITM"], "Normal", {}, {}, "lab", "ab" * 32, "gw1",
                       confirm_windows=confirm_windows)


def test_a_finding_announces_its_incident_at_once_and_merges_with_the_models_windows() -> None:
    p = _policy()
    window = np.array([0.1, 0.9])
    ctx = {"src_ip": None, "dest_ip": None}
    assert p.observe("global", window, 0.0, 10.0, ctx) == []  # one of the 4 windows the model needs
    finding = Finding("global", "MITM", 4.0, 12.0, {"src_ip": GW, "dest_ip": VICTIM, "proto": "ARP"}, "why")
    start = p.observe_finding(finding, "arp_poisoning")
    assert len(start) == 1
    e = start[0]["edge_ids"]
    assert (e["phase"], e["count"], e["rule"], e["evidence"]) == ("start", 2, "arp_poisoning", "why")
    assert start[0]["src_ip"] == GW and start[0]["proto"] == "ARP"
    # the rule's evidence dates the incident it announces, not the window the model could not confirm
    assert e["first_seen"] == start[0]["timestamp"].replace("12.000000", "04.000000")
    assert p.observe("global", window, 8.0, 14.0, ctx) == []  # merged, nothing new to tell yet
    end = p.flush()
    assert [a["edge_ids"]["phase"] for a in end] == ["end"]
    assert end[0]["edge_ids"]["incident_id"] == start[0]["alert_id"] and end[0]["edge_ids"]["count"] == 3
    assert p.stats()["findings_observed"] == 1 and p.stats()["incidents_opened"] == 1


def test_a_rules_evidence_window_keeps_its_incident_open_between_sparse_findings() -> None:
    """ettercap repeats its forged replies every 10 s, more than the merge gap: one incident all the
    same, which ends once the rule's own window has passed without a finding."""
    ctx = {"src_ip": GW, "dest_ip": VICTIM, "proto": "ARP"}
    spans = [(0.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 14.0), (14.0, 24.0)]  # the replies: 1 s apart, then 10 s

    def run(quiet_s: float) -> tuple[AlertPolicy, list[str]]:
        p = _policy()
        out = []
        for first, last in spans:
            out += p.flush(last - 0.1)  # a periodic tick just before the reply
            finding = Finding("global", "MITM", first, last, ctx, "why", quiet_s=quiet_s)
            out += p.observe_finding(finding, "arp_poisoning")
        return p, [a["edge_ids"]["phase"] for a in out]

    p, phases = run(60.0)
    assert phases == ["start"]
    assert p.flush(24.0 + 59.0) == []
    end = p.flush(24.0 + 61.0)
    assert [(a["edge_ids"]["phase"], a["edge_ids"]["count"]) for a in end] == [("end", 5)]
    _, phases = run(0.0)  # the merge gap alone: split where the replies slow down
    assert phases == ["start", "end", "start"]
    p = _policy(linger_s=60.0)  # an announced incident that lingers (the default) also holds them together
    out = []
    for first, last in spans:
        out += p.observe_finding(Finding("global", "MITM", first, last, ctx, "why", quiet_s=0.0), "arp_poisoning")
    assert [a["edge_ids"]["phase"] for a in out] == ["start"]


def test_model_windows_alone_still_wait_for_confirmation() -> None:
    p = _policy()
    out = [a for i in range(3) for a in p.observe("global", np.array([0.1, 0.9]), i, i + 1.0, {})]
    assert out == [] and p.flush() == []
    assert p.stats()["incidents_unconfirmed"] == 1


def test_short_ettercap_run_raises_mitm_through_the_shipped_bundle(tmp_path: Path) -> None:
    """Twelve forged replies, both directions (ettercap -M arp): too few for one model window, so
    only the rule can see it; with the rule off the replay is silent."""
    from trainer.lab.replay import replay_alerts
    from trainer.lab.sessions import PLANS

    frames = [pkt for i in range(6) for pkt in ettercap_replies(float(i))]
    capture = tmp_path / "ettercap_only.pcap"
    wrpcap(str(capture), frames)
    plan = PLANS["ethernet"]
    bundle = REPO / "models" / plan.name
    alerts, stats = replay_alerts(plan, bundle, capture)
    assert stats["records_in"] == 12 and stats["windows_scored"] == 0
    assert stats["rules"]["arp_poisoning_findings"] == 8
    starts = [a for a in alerts if a["edge_ids"]["phase"] == "start"]
    assert len(starts) == 1  # both directions are one incident on the Ethernet stream
    assert {a["edge_ids"]["class"] for a in alerts} == {"MITM"}
    assert starts[0]["edge_ids"]["rule"] == "arp_poisoning"
    assert starts[0]["src_ip"] == GW and starts[0]["dest_ip"] == VICTIM
    silent, _ = replay_alerts(plan, bundle, capture, ["rules.arp_poisoning.enabled=false"])
    assert silent == []


def test_a_full_ettercap_run_among_plant_traffic_is_one_incident(tmp_path: Path) -> None:
    """ettercap -M arp's cadence (five forged replies a second apart, then one every 10 s, then the
    true addresses re-announced at the end) for a minute among Modbus polling: one MITM incident, from
    the first forged reply to the last, however the replayed file is cut into batches."""
    from scapy.layers.inet import IP, TCP
    from scapy.packet import Raw

    from trainer.lab.replay import replay_alerts
    from trainer.lab.sessions import PLANS

    times = [1.0, 2.0, 3.0, 4.0, 5.0, 15.0, 25.0, 35.0, 45.0, 55.0]
    frames = [pkt for t in times for pkt in ettercap_replies(t)]
    for i in range(600):  # an HMI polls a PLC ten times a second (request, response)
        t = 0.1 * i
        req = (Ether(src=VICTIM_MAC, dst=GW_MAC) / IP(src=VICTIM, dst=GW) / TCP(sport=50200, dport=502, flags="PA",
               seq=1000 + 12 * i, ack=1) / Raw(bytes.fromhex(f"{i % 65536:04x}000000060103000a0004")))
        req.time = T0 + t + 0.01
        resp = (Ether(src=GW_MAC, dst=VICTIM_MAC) / IP(src=GW, dst=VICTIM) / TCP(sport=502, dport=50200, flags="PA",
                seq=1, ack=1012 + 12 * i) / Raw(bytes.fromhex(f"{i % 65536:04x}0000000b01030800010002000300 04")))
        resp.time = T0 + t + 0.02
        frames += [req, resp]
    frames.sort(key=lambda f: float(f.time))
    capture = tmp_path / "ettercap_modbus.pcap"
    wrpcap(str(capture), frames)
    plan = PLANS["ethernet"]
    alerts, stats = replay_alerts(plan, REPO / "models" / plan.name, capture)
    assert stats["records_in"] == len(frames)
    mitm = [a for a in alerts if a["edge_ids"]["class"] == "MITM"]
    assert len({a["edge_ids"]["incident_id"] for a in mitm}) == 1
    assert [a["edge_ids"]["phase"] for a in mitm] == ["start", "end"]
    last_seen = datetime.fromisoformat(mitm[-1]["edge_ids"]["last_seen"]).timestamp() - T0
    assert 55.0 <= last_seen < 57.0  # the last forged reply, or a model window just after it
