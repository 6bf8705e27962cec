"""The ICMP flood rule: ICMP and ICMPv6 echo floods, spoofed floods and router advertisement floods
found; answers, errors, monitoring and neighbour discovery left alone; the ICMP type in the alert
context; bounded state; and its findings as alerts through the shipped bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from support.rule_checks import check_rule_config, frames, incidents_of, replay_rule, run_rule
from test_tcp_flood import modbus_polls, seg

from agent.features import ETHERNET_CONTEXT
from agent.features.host_context import HostContextExtractor
from agent.rules import Finding
from agent.rules.icmp_flood import IcmpFloodRule

REPO = Path(__file__).resolve().parent.parent
T0 = 1_700_000_000.0
VICTIM, ATTACKER = "10.10.0.5", "10.10.0.66"
VICTIM6, ATTACKER6 = "fd00:10::5", "fd00:10::66"
ICMP_TYPE = ETHERNET_CONTEXT.index("icmp_type")
#: Ethernet header with both addresses given (scapy would otherwise resolve them, IPv6 by solicitation)
LINK = {"src": "02:00:00:00:00:66", "dst": "02:00:00:00:00:05"}


def at(ts: float, p: Any) -> Any:
    p.time = T0 + ts
    return p


def echo(ts: float, src: str, dst: str, seq: int, reply: bool = False) -> Any:
    if ":" in dst:
        msg = ICMPv6EchoReply if reply else ICMPv6EchoRequest
        return at(ts, Ether(**LINK) / IPv6(src=src, dst=dst) / msg(id=0x4D2, seq=seq & 0xFFFF, data=b"x" * 56))
    return at(ts, Ether(**LINK) / IP(src=src, dst=dst) / ICMP(type=0 if reply else 8, id=0x4D2, seq=seq & 0xFFFF)
              / Raw(b"x" * 56))


def scan(packets: list[Any], **kw: Any) -> tuple[list[Finding], IcmpFloodRule]:
    return run_rule(IcmpFloodRule, packets, **kw)


def ping_flood(n: int, rate: float, src: str = ATTACKER6, dst: str = VICTIM6, start: float = 0.0,
               spoofed: bool = False) -> list[Any]:
    """Echo requests as ping -f or hping3 --icmp --flood send them (from a new address each when spoofed)."""
    def source(i: int) -> str:
        if not spoofed:
            return src
        if ":" in dst:
            return f"2001:db8:{i // 250 % 250:x}::{i % 250 + 1:x}"
        return f"198.51.{i // 250 % 250}.{i % 250 + 1}"
    return [echo(start + i / rate, source(i), dst, i) for i in range(n)]


def test_an_icmpv6_echo_flood_is_found_with_its_type() -> None:
    found, rule = scan(ping_flood(600, rate=5000.0))
    assert len(found) == 1
    f = found[0]
    assert (f.key, f.cls, f.first_ts) == ("global", "DDoS_ICMP", T0)
    assert f.last_ts == pytest.approx(T0 + 499 / 5000.0)  # the 500th request
    assert f.context == {"src_ip": ATTACKER6, "dest_ip": VICTIM6, "dest_port": None, "proto": "IPv6-ICMP",
                         "icmp_type": 128}
    assert f"500 ICMPv6 messages (echo request) from {ATTACKER6} reached {VICTIM6}" in f.evidence
    assert rule.stats()["icmp_flood_findings"] == 1


def test_a_spoofed_ipv4_flood_and_a_router_advertisement_flood_are_found() -> None:
    found, _ = scan(ping_flood(300, rate=5000.0, dst=VICTIM, spoofed=True))
    assert len(found) == 1 and found[0].context["src_ip"] is None and found[0].context["proto"] == "ICMP"
    assert f"256 ICMP messages (echo request) from 256 addresses reached {VICTIM}" in found[0].evidence
    # flood_router6: advertisements from random link-local addresses and MACs to all nodes
    ras = [at(i / 4000.0, Ether(src=f"02:00:00:00:{i // 250 % 250:02x}:{i % 250:02x}", dst="33:33:00:00:00:01")
              / IPv6(src=f"fe80::{i + 1:x}", dst="ff02::1", hlim=255) / ICMPv6ND_RA()
              / ICMPv6NDOptSrcLLAddr(lladdr=f"02:00:00:00:{i // 250 % 250:02x}:{i % 250:02x}")) for i in range(600)]
    found, _ = scan(ras)
    assert len(found) == 1 and found[0].context["dest_ip"] == "ff02::1" and found[0].context["icmp_type"] == 134
    assert "(router advertisement)" in found[0].evidence


def test_answers_errors_monitoring_and_neighbour_discovery_are_left_alone() -> None:
    packets: list[Any] = []
    # a host answering a flood: its echo replies are answers
    packets += [echo(i / 5000.0, VICTIM6, ATTACKER6, i, reply=True) for i in range(2000)]
    # a UDP flood's victim answering with port unreachables, unthrottled
    packets += [at(1.0 + i / 5000.0, Ether(**LINK) / IP(src=VICTIM, dst=ATTACKER) / ICMP(type=3, code=3)
                   / IP(src=ATTACKER, dst=VICTIM) / UDP(sport=1024 + i, dport=53)) for i in range(2000)]
    # a monitoring server pinging 500 hosts once a second each, for 3 s
    packets += [echo(2.0 + i / 500.0, ATTACKER, f"10.20.{j // 250}.{j % 250 + 1}", i)
                for i in range(1500) for j in (i % 500,)]
    # 400 echo requests a second to one host, under min_messages
    packets += ping_flood(800, rate=400.0, start=6.0)
    # neighbour discovery: 200 hosts soliciting the router's address
    packets += [at(9.0 + i / 200.0, Ether(**LINK) / IPv6(src=f"fd00:10::{i + 100:x}", dst="ff02::1:ff00:1")
                   / ICMPv6ND_NS(tgt="fd00:10::1")) for i in range(200)]
    # and TCP: no ICMP type
    packets += modbus_polls("10.10.0.9", VICTIM)
    found, rule = scan(packets)
    assert found == [], [f.evidence for f in found]
    assert rule.stats()["icmp_flood_findings"] == 0


def test_the_extractor_gives_the_icmp_type_of_icmp_and_icmpv6_messages_only() -> None:
    packets = [echo(0.0, ATTACKER, VICTIM, 1), echo(0.1, VICTIM6, ATTACKER6, 1, reply=True),
               at(0.2, Ether(**LINK) / IPv6(src=ATTACKER6, dst="ff02::1:ff00:5") / ICMPv6ND_NS(tgt=VICTIM6)),
               seg(0.3, ATTACKER, 40000, VICTIM, 502, "S")]
    ext = HostContextExtractor()
    types = [ctx[ICMP_TYPE] for _, ctx in ext.rows_with_context(frames(packets))]
    assert types == [8, 129, 135, None]


def test_thresholds_come_from_the_config_and_state_stays_bounded() -> None:
    found, _ = scan(ping_flood(800, rate=400.0), min_messages=300)  # 2 s: one finding in each
    assert len(found) == 2 and "300 ICMPv6 messages" in found[0].evidence
    found, _ = scan(ping_flood(600, rate=5000.0), min_messages=0)  # the count off: one source is no flood
    assert found == []
    # a long flood reports each interval, each finding adding the time since the one before
    found, _ = scan(ping_flood(3000, rate=1000.0))
    assert len(found) == 3 and [f.first_ts for f in found[1:]] == [found[0].last_ts, found[1].last_ts]
    # pings to 2000 hosts: the oldest targets are dropped
    found, rule = scan([echo(i / 1000.0, ATTACKER, f"10.{i // 250}.0.{i % 250 + 1}", i) for i in range(2000)],
                       max_targets=100)
    assert found == []
    st = rule.stats()
    assert st["icmp_flood_targets_tracked"] == 100 and st["icmp_flood_targets_evicted"] == 1900


def test_the_rule_is_built_for_ethernet_rows_and_bad_settings_are_named() -> None:
    check_rule_config("icmp_flood", (("min_sources", "1"), ("window_s", "0"), ("max_targets", "0"),
                                     ("min_messages", "100")))


def test_an_icmpv6_flood_raises_ddos_icmp_through_the_shipped_bundle(tmp_path: Path) -> None:
    """An ICMPv6 echo flood beside Modbus polling: no Edge-IIoTset column describes ICMPv6, so the
    model alone does not see it; the rule's finding is one DDoS_ICMP incident whose alert carries the
    ICMP type and validates against the alert schema."""
    jsonschema = pytest.importorskip("jsonschema")
    packets = modbus_polls("10.10.0.9", VICTIM, n=60)
    packets += ping_flood(8000, rate=4000.0, start=1.0)  # 2 s
    alerts, stats, by_rule = replay_rule(tmp_path, packets, "icmp_flood")
    first = by_rule[0]
    assert first["edge_ids"]["class"] == "DDoS_ICMP" and first["dest_ip"] == VICTIM6
    assert (first["proto"], first["icmp_type"]) == ("IPv6-ICMP", 128)
    schema = json.loads((REPO / "agent" / "alerts" / "eve-alert.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(first)
    assert incidents_of(alerts, "DDoS_ICMP") == 1
    assert stats["rules"]["icmp_flood_findings"] == 2
