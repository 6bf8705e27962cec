"""The one-line alert a person reads (console sink, tail, demo): phase, severity, who -> whom."""

from __future__ import annotations

from typing import Any

import pytest

from agent.alerts.record import build_alert
from agent.alerts.text import format_alert

SHA = "ab" * 32


def _alert(context: dict[str, Any], cls: str = "Password", phase: str = "start", count: int = 4,
           rule: str | None = None, evidence: str | None = None) -> dict[str, Any]:
    return build_alert(cls=cls, score=0.9961, severity=2, first_seen=1598371251.0, last_seen=1598371251.364232,
                       count=count, model_name="lab", model_sha256=SHA, host="gw", incident_id="", phase=phase,
                       context=context, rule=rule, evidence=evidence)


@pytest.mark.parametrize(("context", "kwargs", "line"), [
    # the model's record holds the server's answer: the client is put first
    ({"src_ip": "10.63.58.60", "src_port": 80, "dest_ip": "21.121.215.124", "dest_port": 53360, "proto": 6,
      "app_proto": "http"}, {},
     "2020-08-25 16:00:51.364Z  start   sev 2  Password  0.996  21.121.215.124:53360 -> 10.63.58.60:80 TCP/http"),
    # a scanner's probe from a high port to a lower one stays as it is
    ({"src_ip": "21.121.215.124", "src_port": 45884, "dest_ip": "10.63.58.236", "dest_port": 19372, "proto": 6},
     {"cls": "Port_Scanning"}, "Port_Scanning  0.996  21.121.215.124:45884 -> 10.63.58.236:19372 TCP"),
    # a rule names the attacker first itself; ARP by MAC and IP address, no ports
    ({"src_ip": "10.63.58.52", "dest_ip": "10.63.58.253", "proto": "ARP", "src_mac": "02:00:00:00:00:52"},
     {"cls": "MITM", "phase": "end", "count": 10, "rule": "arp_poisoning",
      "evidence": "3 unasked ARP replies claimed 10.63.58.52"},
     "end     sev 2  MITM  0.996  10.63.58.52 at 02:00:00:00:00:52 -> 10.63.58.253 ARP  after 10 windows  "
     "| 3 unasked ARP replies claimed 10.63.58.52"),
    # ICMP with its type and without ports
    ({"src_ip": "143.134.126.225", "src_port": 0, "dest_ip": "10.63.58.53", "dest_port": 0, "proto": 1,
      "icmp_type": 8}, {"cls": "DDoS_ICMP"},
     "DDoS_ICMP  0.996  143.134.126.225 -> 10.63.58.53 ICMP type 8 (echo request)"),
    ({"src_ip": "fe80::1", "dest_ip": "ff02::1", "proto": 58, "icmp_type": 134}, {},
     "fe80::1 -> ff02::1 IPv6-ICMP type 134 (router advertisement)"),
    # IPv6 with ports is bracketed
    ({"src_ip": "2001:db8::1", "src_port": 40000, "dest_ip": "2001:db8::2", "dest_port": 443, "proto": 6}, {},
     "[2001:db8::1]:40000 -> [2001:db8::2]:443 TCP"),
    # CAN by bus, id and rate
    ({"channel": "can0", "arbitration_id": 0x316, "rate_hz": 480.0}, {"cls": "SPOOFING"},
     "SPOOFING  0.996  bus can0 id 0x316 at 480.0 frames/s"),
    # an Ethernet window without addresses is not printed as CAN
    ({"src_ip": None, "src_port": 0, "dest_ip": None, "dest_port": 0}, {"cls": "SQL_injection"},
     "SQL_injection  0.996  no addresses in the scored window"),
])
def test_alert_line(context: dict[str, Any], kwargs: dict[str, Any], line: str) -> None:
    assert line in format_alert(_alert(context, **kwargs))


def test_origin_and_rate_limited_records() -> None:
    a = _alert({"src_ip": "10.0.0.1", "src_port": 1234, "dest_ip": "10.0.0.2", "dest_port": 502, "proto": 6})
    a["edge_ids"]["suppressed"] = 3
    line = format_alert(a, "plant/gw1")
    assert line.startswith("2020-08-25 16:00:51.364Z  plant/gw1  start   sev 2  Password")
    assert line.endswith("10.0.0.1:1234 -> 10.0.0.2:502 TCP  (+3 rate-limited)")
