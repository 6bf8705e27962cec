"""The port scan rule: SYN, FIN, NULL and Xmas scans found answered or not, clients of many services,
file transfers, servers' answers and floods left alone, bounded state, and its findings as alerts
through the shipped bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.rule_checks import check_rule_config, incidents_of, replay_rule, run_rule
from test_tcp_flood import hping3_flood, modbus_polls, seg

from agent.rules import Finding
from agent.rules.port_scan import PortScanRule, probe_kind

T0 = 1_700_000_000.0
VICTIM, ATTACKER = "10.10.0.5", "10.10.0.66"
#: the flags nmap's scans send, by the name the evidence gives them
SCANS = {"SYN": "S", "FIN": "F", "NULL": "", "Xmas": "FPU"}


def scan(packets: list[Any], **kw: Any) -> tuple[list[Finding], PortScanRule]:
    return run_rule(PortScanRule, packets, **kw)


def nmap_probes(kind: str, ports: range, rate: float = 1000.0, start: float = 0.0,
                answered: bool = False) -> list[Any]:
    """An nmap scan's probes from its one source port, with the closed ports' resets when ``answered``."""
    packets = []
    for i, port in enumerate(ports):
        t = start + i / rate
        packets.append(seg(t, ATTACKER, 61000, VICTIM, port, SCANS[kind]))
        if answered:
            packets.append(seg(t + 0.0002, VICTIM, port, ATTACKER, 61000, "RA"))
    return packets


@pytest.mark.parametrize("answered", [False, True], ids=["unanswered", "answered"])
@pytest.mark.parametrize("kind", sorted(SCANS))
def test_a_scan_of_any_probe_is_found_whether_answered_or_not(kind: str, answered: bool) -> None:
    found, rule = scan(nmap_probes(kind, range(1, 101), answered=answered))
    assert len(found) == 1
    f = found[0]
    assert (f.key, f.cls, f.first_ts) == ("global", "Port_Scanning", T0)
    assert f.last_ts == pytest.approx(T0 + 31 / 1000.0)  # the 32nd port
    assert f.context == {"src_ip": ATTACKER, "dest_ip": VICTIM, "proto": "TCP"}
    assert f"{ATTACKER} probed 32 TCP ports of {VICTIM}" in f.evidence and f"probes: 32 {kind}" in f.evidence
    assert "(1, 2, 3, 4, 5, 6, 7, 8, ...;" in f.evidence
    assert rule.stats()["port_scan_findings"] == 1


def test_a_connect_scan_is_found_and_open_ports_answering_do_not_hide_it() -> None:
    packets = []
    for i, port in enumerate(range(1, 41)):  # every port open: the handshake completes, then the scanner resets
        t, sport = i / 500.0, 40000 + port
        packets += [seg(t, ATTACKER, sport, VICTIM, port, "S"), seg(t + 0.0001, VICTIM, port, ATTACKER, sport, "SA"),
                    seg(t + 0.0002, ATTACKER, sport, VICTIM, port, "A"),
                    seg(t + 0.0003, ATTACKER, sport, VICTIM, port, "RA")]
    found, _ = scan(packets)
    assert len(found) == 1 and "probes: 32 SYN" in found[0].evidence


def test_probe_kinds_are_named_as_nmap_names_its_scans() -> None:
    assert [probe_kind(f) for f in (0x02, 0x00, 0x29, 0x01, 0x08)] == ["SYN", "NULL", "Xmas", "FIN", "flags 0x08"]


def test_clients_of_many_services_transfers_answers_and_floods_are_left_alone() -> None:
    packets: list[Any] = []
    # a client opening 60 services of one server in a second, each carrying its request
    for i, port in enumerate(range(8000, 8060)):
        t, sport = i / 60.0, 30000 + i
        packets += [seg(t, ATTACKER, sport, VICTIM, port, "S"), seg(t + 0.0001, VICTIM, port, ATTACKER, sport, "SA"),
                    seg(t + 0.0002, ATTACKER, sport, VICTIM, port, "PA", b"GET / HTTP/1.1\r\n\r\n")]
    # passive FTP: 100 data connections to new server ports, each carrying a file down
    for i in range(100):
        t, port, sport = 2.0 + i / 50.0, 50000 + i, 31000 + i
        packets += [seg(t, ATTACKER, sport, VICTIM, port, "S"), seg(t + 0.0001, VICTIM, port, ATTACKER, sport, "SA"),
                    seg(t + 0.0003, VICTIM, port, ATTACKER, sport, "PA", b"x" * 512)]
    # active FTP: the server connects from port 20 to 100 client ports, each carrying a listing
    for i in range(100):
        t, port = 5.0 + i / 50.0, 40000 + i
        packets += [seg(t, VICTIM, 20, ATTACKER, port, "S"), seg(t + 0.0001, ATTACKER, port, VICTIM, 20, "SA"),
                    seg(t + 0.0003, VICTIM, 20, ATTACKER, port, "PA", b"drwxr-xr-x 2 ftp ftp 4096 pump\r\n")]
    # a server answering a scan from elsewhere: SYN-ACKs and resets carry ACK
    packets += [seg(8.0 + p / 1000.0, VICTIM, p, "10.10.0.77", 61000, "RA" if p % 5 else "SA") for p in range(1, 500)]
    # a SYN flood to one port from 300 source ports: the TCP flood rule's, not a scan
    packets += hping3_flood(300, "S", rate=5000.0, start=9.0)
    # a scan too slow to count: 31 ports a minute
    packets += nmap_probes("SYN", range(1, 63), rate=31 / 60.0, start=10.0)
    found, rule = scan(packets)
    assert found == [], [f.evidence for f in found]
    assert rule.stats()["port_scan_findings"] == 0


def test_thresholds_come_from_the_config_and_state_stays_bounded() -> None:
    found, _ = scan(nmap_probes("SYN", range(1, 101)), min_ports=10)
    assert len(found) == 1 and "probed 10 TCP ports" in found[0].evidence
    found, _ = scan(nmap_probes("SYN", range(1, 63), rate=31 / 60.0), window_s=120.0)
    assert len(found) == 1
    # a long scan reports once per interval, each finding adding the time since the one before
    found, _ = scan(nmap_probes("FIN", range(1, 301), rate=2.0))  # 150 s at 2 ports a second
    assert len(found) == 3
    assert [f.first_ts for f in found[1:]] == [found[0].last_ts, found[1].last_ts]
    assert all(f.quiet_s == 120.0 for f in found)
    # a sweep of one port over 2000 hosts: the oldest pairs are dropped
    packets = [seg(i / 1000.0, ATTACKER, 61000, f"10.{i // 250}.0.{i % 250 + 1}", 502, "S") for i in range(2000)]
    found, rule = scan(packets, max_pairs=100)
    assert found == []
    st = rule.stats()
    assert st["port_scan_pairs_tracked"] == 100 and st["port_scan_pairs_evicted"] == 1900


def test_the_rule_is_built_for_ethernet_rows_and_bad_settings_are_named() -> None:
    check_rule_config("port_scan", (("min_ports", "1"), ("window_s", "0"), ("max_pairs", "0")))


def test_an_unanswered_fin_scan_raises_port_scanning_through_the_shipped_bundle(tmp_path: Path) -> None:
    """nmap -sF against a host that drops every probe, among Modbus polling: the model alone reads
    it as other classes; the rule's finding is a Port_Scanning incident with the scanner's address."""
    packets = modbus_polls("10.10.0.9", VICTIM, n=60)
    packets += nmap_probes("FIN", range(1, 1001), rate=2000.0, start=1.0)
    alerts, stats, by_rule = replay_rule(tmp_path, packets, "port_scan")
    first = by_rule[0]
    assert first["edge_ids"]["class"] == "Port_Scanning" and first["src_ip"] == ATTACKER
    assert "probes: 32 FIN" in first["edge_ids"]["evidence"]
    assert incidents_of(alerts, "Port_Scanning") == 1
    assert stats["rules"]["port_scan_findings"] == 1
