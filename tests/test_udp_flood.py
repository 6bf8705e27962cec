"""The UDP flood rule: floods and reflection attacks found, servers, pollers, one-way senders,
discovery and scans left alone, bounded state, and its findings as alerts through the shipped bundle."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from support.rule_checks import check_rule_config, incidents_of, replay_rule, run_rule
from test_tcp_flood import modbus_polls

from agent.rules import Finding
from agent.rules.udp_flood import UdpFloodRule

T0 = 1_700_000_000.0
VICTIM, ATTACKER = "10.10.0.5", "10.10.0.66"


def dgram(ts: float, src: str, sport: int, dst: str, dport: int, size: int = 0) -> Any:
    p = Ether() / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(b"x" * size)
    p.time = T0 + ts
    return p


def scan(packets: list[Any], **kw: Any) -> tuple[list[Finding], UdpFloodRule]:
    return run_rule(UdpFloodRule, packets, **kw)


def hping3_udp(n: int, rate: float, start: float = 0.0, dport: int | None = 53) -> list[Any]:
    """hping3 --udp --flood: the next source port for every datagram (random ports with dport None)."""
    rng = random.Random(3)
    return [dgram(start + i / rate, ATTACKER, 1024 + i % 60000, VICTIM, dport or rng.randint(1, 65535))
            for i in range(n)]


def test_a_one_source_flood_is_found_with_its_port() -> None:
    found, rule = scan(hping3_udp(300, rate=5000.0))
    assert len(found) == 1
    f = found[0]
    assert (f.key, f.cls, f.first_ts) == ("global", "DDoS_UDP", T0)
    assert f.last_ts == pytest.approx(T0 + 255 / 5000.0)  # the 256th source port
    assert f.context == {"src_ip": ATTACKER, "dest_ip": VICTIM, "dest_port": 53, "proto": "UDP"}
    assert f"256 source ports from {ATTACKER}" in f.evidence and "(port 53)" in f.evidence
    assert rule.stats()["udp_flood_findings"] == 1


def test_a_flood_to_random_ports_and_a_reflection_attack_are_found() -> None:
    found, _ = scan(hping3_udp(600, rate=5000.0, dport=None))
    assert len(found) == 1 and found[0].context["dest_port"] is None and "256 ports" in found[0].evidence
    # DNS amplification: 300 resolvers answer queries forged with the victim's address, each from port 53
    rng = random.Random(5)
    resolvers = [f"203.0.{i // 200}.{i % 200 + 1}" for i in range(300)]
    packets = [dgram(i / 3000.0, rng.choice(resolvers), 53, VICTIM, rng.randint(1024, 65535), 400)
               for i in range(6000)]  # 2 s
    found, _ = scan(packets)
    assert len(found) == 2
    assert found[0].context["src_ip"] is None and "from 256 addresses sent" in found[0].evidence
    assert found[1].first_ts == found[0].last_ts and found[1].quiet_s == 10.0


def hping3_one_port(n: int, rate: float, dport: int | None = 53, start: float = 0.0) -> list[Any]:
    """hping3 --udp -s 40000 -k --flood: every datagram from one source port, to one port or (``dport``
    None, ``-p ++1``) to the next port each time."""
    return [dgram(start + i / rate, ATTACKER, 40000, VICTIM, dport or 1 + i % 65535, 512) for i in range(n)]


def test_a_flood_from_one_source_port_is_found_by_its_datagrams() -> None:
    found, rule = scan(hping3_one_port(12000, rate=12000.0))
    assert len(found) == 1
    f = found[0]
    assert f.context == {"src_ip": ATTACKER, "dest_ip": VICTIM, "dest_port": 53, "proto": "UDP"}
    assert f.last_ts == pytest.approx(T0 + 9999 / 12000.0)  # the 10,000th datagram
    assert f"1 source port from {ATTACKER} sent 10000 UDP datagrams to {VICTIM} (port 53)" in f.evidence
    assert rule.stats()["udp_flood_findings"] == 1  # the next 2,000 fall in the interval that reported
    # to the next port each time: the ports it names are bounded like the pairs
    found, _ = scan(hping3_one_port(25000, rate=12000.0, dport=None))
    assert len(found) == 2 and found[0].context["dest_port"] is None
    assert "(512 ports or more)" in found[0].evidence and found[1].first_ts == found[0].last_ts
    # the same flood under the count, or with the count off
    assert scan(hping3_one_port(12000, rate=9000.0))[0] == []
    assert scan(hping3_one_port(12000, rate=12000.0), min_datagrams=0)[0] == []
    assert len(scan(hping3_one_port(3000, rate=12000.0), min_datagrams=2000)[0]) == 1


def test_fast_traffic_from_one_port_that_is_answered_or_asked_for_is_left_alone() -> None:
    packets: list[Any] = []
    # a client asking a server 12,000 times a second from one port, every request answered
    for i in range(12000):
        t = i / 12000.0
        packets += [dgram(t, ATTACKER, 40000, VICTIM, 9000, 64), dgram(t + 0.00002, VICTIM, 9000, ATTACKER, 40000, 64)]
    # a stream the receiver asked for (its request first), 15,000 datagrams a second from one port
    packets.append(dgram(2.0, VICTIM, 5004, "10.10.0.77", 5004, 40))
    packets += [dgram(2.001 + i / 15000.0, "10.10.0.77", 5004, VICTIM, 5004, 1200) for i in range(15000)]
    found, rule = scan(packets)
    assert found == [], [f.evidence for f in found]
    assert rule.stats()["udp_flood_findings"] == 0


def test_servers_pollers_one_way_senders_discovery_and_scans_are_left_alone() -> None:
    packets: list[Any] = []
    # a DNS server answering 400 clients a second
    for i in range(400):
        t = i / 400.0
        packets += [dgram(t, f"10.10.1.{i % 200 + 1}", 30000 + i, VICTIM, 53, 30),
                    dgram(t + 0.0005, VICTIM, 53, f"10.10.1.{i % 200 + 1}", 30000 + i, 80)]
    # an NMS sweeping 600 devices within a second: each answer was asked for
    for i in range(600):
        t = 1.0 + i / 600.0
        dev = f"10.20.{i // 200}.{i % 200 + 1}"
        packets += [dgram(t, VICTIM, 40000, dev, 161, 40), dgram(t + 0.001, dev, 161, VICTIM, 40000, 60)]
    # logger: syslog from a new source port for every message, 100 a second, to a collector
    packets += [dgram(2.0 + i / 100.0, ATTACKER, 33000 + i, VICTIM, 514, 90) for i in range(300)]
    # SSDP: one M-SEARCH to the group, 300 devices answer it by unicast
    packets.append(dgram(6.0, VICTIM, 50000, "239.255.255.250", 1900, 100))
    packets += [dgram(6.001 + i / 1000.0, f"10.30.{i // 200}.{i % 200 + 1}", 1900, VICTIM, 50000, 300)
                for i in range(300)]
    # mDNS from 300 hosts to the group
    packets += [dgram(7.0 + i / 1000.0, f"10.40.{i // 200}.{i % 200 + 1}", 5353, "224.0.0.251", 5353, 50)
                for i in range(300)]
    # nmap -sU: 1000 ports from one source port, then a second round
    packets += [dgram(8.0 + i / 5000.0, ATTACKER, 61000, VICTIM, 1 + i % 1000) for i in range(2000)]
    # a flood too slow to count: 200 source ports a second
    packets += hping3_udp(600, rate=200.0, start=9.0)
    found, rule = scan(packets)
    assert found == [], [f.evidence for f in found]
    assert rule.stats()["udp_flood_findings"] == 0


def test_thresholds_come_from_the_config_and_state_stays_bounded() -> None:
    found, _ = scan(hping3_udp(300, rate=5000.0), min_sources=100)
    assert len(found) == 1 and "100 source ports" in found[0].evidence
    found, _ = scan(hping3_udp(600, rate=200.0), window_s=2.0)  # 400 in an interval of 2 s
    assert len(found) == 1
    # one datagram to each of 2000 hosts: the oldest targets are dropped
    found, rule = scan([dgram(i / 10000.0, ATTACKER, 40000, f"10.50.{i // 200}.{i % 200 + 1}", 123)
                        for i in range(2000)], max_targets=100)
    assert found == []
    st = rule.stats()
    assert st["udp_flood_targets_tracked"] == 100 and st["udp_flood_targets_evicted"] == 1900
    # more pairs in an interval than it holds: the ones beyond are counted, not stored
    found, rule = scan([dgram(i / 10000.0, f"10.60.0.{i % 250 + 1}", 20000 + i, VICTIM, 123) for i in range(100)]
                       + [dgram((i + 0.5) / 10000.0, VICTIM, 123, f"10.60.0.{i % 250 + 1}", 20000 + i)
                          for i in range(100)], min_sources=20)  # an NTP server answering each client
    assert found == [] and rule.stats()["udp_flood_pairs_capped"] == 60


def test_the_rule_is_configured_and_bad_settings_are_named() -> None:
    check_rule_config("udp_flood", (("min_sources", "1"), ("window_s", "0"), ("max_targets", "0"),
                                    ("min_datagrams", "100")))


def test_a_reflection_attack_raises_ddos_udp_through_the_shipped_bundle(tmp_path: Path) -> None:
    """NTP reflection onto a host polling a PLC over Modbus/TCP: the rule's finding is one DDoS_UDP
    incident named after the rule."""
    packets = modbus_polls(VICTIM, "10.10.0.9")
    rng = random.Random(7)
    packets += [dgram(1.0 + i / 2000.0, f"198.18.{i % 40}.{i % 250 + 1}", 123, VICTIM, rng.randint(1024, 65535),
                      468) for i in range(4000)]  # monlist answers from 1000 servers, 2 s
    alerts, stats, by_rule = replay_rule(tmp_path, packets, "udp_flood")
    assert by_rule[0]["edge_ids"]["class"] == "DDoS_UDP" and by_rule[0]["dest_ip"] == VICTIM
    assert incidents_of(alerts, "DDoS_UDP") == 1
    assert stats["rules"]["udp_flood_findings"] == 2
