"""The TCP flood rule: floods of any flags found, busy services and scans left alone, bounded state,
and its findings as alerts through the shipped bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from support.rule_checks import check_rule_config, incidents_of, replay_rule, run_rule

from agent.config import RulesConfig
from agent.features.edge_iiotset import EdgeIIoTsetExtractor
from agent.rules import Finding, build_rules
from agent.rules.tcp_flood import TcpFloodRule

T0 = 1_700_000_000.0
VICTIM, ATTACKER = "10.10.0.5", "10.10.0.66"


def seg(ts: float, src: str, sport: int, dst: str, dport: int, flags: str, data: bytes = b"") -> Any:
    p = Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=1000, ack=1 if "A" in flags
                                             else 0)
    if data:
        p = p / Raw(data)
    p.time = T0 + ts
    return p


def scan(packets: list[Any], **kw: Any) -> tuple[list[Finding], TcpFloodRule]:
    return run_rule(TcpFloodRule, packets, **kw)


def modbus_polls(client: str, server: str, n: int = 40) -> list[Any]:
    """A Modbus/TCP poll every 100 ms and its answer: ordinary traffic for a capture to hold besides an attack."""
    packets: list[Any] = []
    for i in range(n):
        t = 0.1 * i
        packets += [seg(t, client, 50200, server, 502, "PA", bytes.fromhex(f"{i:04x}000000060103000a0004")),
                    seg(t + 0.002, server, 502, client, 50200, "PA",
                        bytes.fromhex(f"{i:04x}0000000b010308000100020003000400"))]
    return packets


def hping3_flood(n: int, flags: str, rate: float, start: float = 0.0, spoofed: bool = False) -> list[Any]:
    """hping3 --flood as it sends: the next source port for every segment, to one service."""
    return [seg(start + i / rate, f"198.51.{i // 250 % 250}.{i % 250 + 1}" if spoofed else ATTACKER,
                1024 + i % 60000, VICTIM, 80, flags) for i in range(n)]


@pytest.mark.parametrize("flags", ["A", "S", "F", "PA", "FPU"])
def test_a_one_source_flood_of_any_flags_is_found(flags: str) -> None:
    found, rule = scan(hping3_flood(300, flags, rate=5000.0))
    assert len(found) == 1
    f = found[0]
    assert (f.key, f.cls, f.first_ts) == ("global", "DDoS_TCP", T0)
    assert f.last_ts == pytest.approx(T0 + 255 / 5000.0)  # the 256th source port
    assert f.context == {"src_ip": ATTACKER, "dest_ip": VICTIM, "dest_port": 80, "proto": "TCP"}
    assert f"256 source ports from {ATTACKER}" in f.evidence and f"{VICTIM} port 80" in f.evidence
    assert rule.stats()["tcp_flood_findings"] == 1


def test_a_spoofed_flood_names_how_many_addresses_and_a_long_one_reports_each_interval() -> None:
    found, _ = scan(hping3_flood(3000, "S", rate=1000.0, spoofed=True))  # 3 s at 1000 segments/s
    assert len(found) == 3
    assert found[0].context["src_ip"] is None and "from 256 addresses" in found[0].evidence
    assert found[0].first_ts == T0
    # later findings add the time since the one before, and keep the incident open between them
    assert [f.first_ts for f in found[1:]] == [found[0].last_ts, found[1].last_ts]
    assert all(f.quiet_s == 10.0 for f in found)


def test_a_syn_flood_to_random_ports_is_found_by_its_syn_count() -> None:
    """Mirai's SYN flood: one bot, a random source and destination port for every SYN, so no port sees
    more than one pair; 10,000 SYNs a second to one address are a flood whatever the ports."""
    import random

    rng = random.Random(11)
    packets = [seg(i / 20000.0, ATTACKER, rng.randint(1024, 65535), VICTIM, rng.randint(1, 65535), "S")
               for i in range(12000)]
    found, rule = scan(packets)
    assert len(found) == 1
    f = found[0]
    assert (f.cls, f.first_ts) == ("DDoS_TCP", T0)
    assert f.last_ts == pytest.approx(T0 + 9999 / 20000.0)  # the 10,000th SYN
    assert f.context == {"src_ip": ATTACKER, "dest_ip": VICTIM, "dest_port": None, "proto": "TCP"}
    assert f"10000 SYNs from {ATTACKER} reached {VICTIM} (512 ports or more)" in f.evidence
    st = rule.stats()
    assert st["tcp_flood_findings"] == 0 and st["tcp_flood_syn_findings"] == 1
    # the same flood under the count, or with the count off, is not found
    assert scan(packets[:9999])[0] == []
    assert scan(packets, min_syns=0)[0] == []


def test_busy_services_scans_and_slow_floods_are_left_alone() -> None:
    packets: list[Any] = []
    # 400 HTTP clients a second, each handshake followed by its request
    for i in range(400):
        t, sport = i / 400.0, 20000 + i
        packets += [seg(t, ATTACKER, sport, VICTIM, 80, "S"), seg(t + 0.0002, ATTACKER, sport, VICTIM, 80, "A"),
                    seg(t + 0.0003, ATTACKER, sport, VICTIM, 80, "PA", b"GET / HTTP/1.1\r\n\r\n")]
    # a SYN scan's answers: the scanned host's ports reply to the scanner's one source port
    for port in range(1, 1001):
        packets.append(seg(2.0 + port / 10000.0, VICTIM, port, ATTACKER, 61000, "SA" if port % 10 == 0 else "RA"))
    # a connect scan: every port once
    packets += [seg(3.0 + port / 10000.0, ATTACKER, 40000 + port, VICTIM, port, "S") for port in range(1, 1001)]
    # a flood too slow to count: 200 source ports a second
    packets += hping3_flood(600, "A", rate=200.0, start=5.0)
    packets.sort(key=lambda p: float(p.time))
    found, rule = scan(packets)
    assert found == []
    assert rule.stats()["tcp_flood_findings"] == 0


def test_thresholds_come_from_the_config_and_state_stays_bounded() -> None:
    found, _ = scan(hping3_flood(300, "A", rate=5000.0), min_sources=100)
    assert len(found) == 1 and "100 source ports" in found[0].evidence
    found, _ = scan(hping3_flood(600, "A", rate=200.0), window_s=2.0)  # 400 in an interval of 2 s
    assert len(found) == 1
    # a scan of 2000 services: the oldest targets are dropped
    packets = [seg(i / 10000.0, ATTACKER, 40000, VICTIM, 1 + i, "S") for i in range(2000)]
    found, rule = scan(packets, max_targets=100)
    assert found == []
    st = rule.stats()
    assert st["tcp_flood_targets_tracked"] == 100 and st["tcp_flood_targets_evicted"] == 1900
    # a server busier than the pairs an interval holds: the ones beyond are counted, not stored
    packets = [seg(i / 10000.0, ATTACKER, 20000 + i, VICTIM, 80, "PA", b"x") for i in range(100)]
    found, rule = scan(packets, min_sources=20)
    assert found == [] and rule.stats()["tcp_flood_pairs_capped"] == 60


def test_rules_are_built_for_ethernet_rows_and_bad_settings_are_named() -> None:
    assert "tcp_flood" in [r.name for r in build_rules(RulesConfig(), EdgeIIoTsetExtractor.columns)]
    check_rule_config("tcp_flood", (("min_sources", "1"), ("window_s", "0"), ("max_targets", "0"),
                                    ("min_syns", "100")))


def test_an_ack_flood_raises_ddos_tcp_through_the_shipped_bundle(tmp_path: Path) -> None:
    """An ACK flood from one host among Modbus polling: the rule's finding is a DDoS_TCP incident
    named after the rule, with the attacker's address."""
    packets = modbus_polls("10.10.0.9", VICTIM)
    packets += hping3_flood(4000, "A", rate=2000.0, start=1.0)  # 2 s: two intervals
    alerts, stats, by_rule = replay_rule(tmp_path, packets, "tcp_flood")
    assert by_rule[0]["edge_ids"]["class"] == "DDoS_TCP" and by_rule[0]["src_ip"] == ATTACKER
    assert incidents_of(alerts, "DDoS_TCP") == 1
    assert stats["rules"]["tcp_flood_findings"] == 2
