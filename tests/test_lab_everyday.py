"""Everyday LAN traffic of the lab: the protocols real plant networks carry, all benign, as tshark reads them.

Why: these frames teach the default model what ordinary traffic it was never told about looks like
(TLS, DHCP, ARP probes, discovery, IPv6, LLDP/STP, MQTT 5, REST verbs). They must be well-formed
(tshark dissects them as those protocols, no malformed frames, valid checksums) and the agent's
extractor must give tshark's values on them, or the model learns from rows serving never sees.
"""

from __future__ import annotations

import random
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from lab_capture import write_capture
from test_edge_iiotset_parity import compare, ours_for, tshark_rows

from trainer.lab import everyday
from trainer.lab.ethernet import NORMAL, Capture, make_site, normal_mqtt


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    rng = random.Random(12)
    cap = Capture(rng, pad_short=True)
    site = make_site(rng)
    t0 = 1_700_000_000.0
    normal_mqtt(cap, site, t0, t0 + 20)  # the plant's own traffic, so MQTT 3 and 5 sit side by side
    for func in (everyday.normal_tls, everyday.normal_rest, everyday.normal_discovery, everyday.normal_mqtt_churn):
        func(cap, site, t0, t0 + 240)
    everyday.normal_non_ip(cap, site, t0, t0 + 240, stp=True)
    everyday.host_joins(cap, site, t0 + 5)
    return write_capture(cap, tmp_path_factory.mktemp("everyday") / "everyday.pcap")


def test_everything_is_labelled_normal(capture: tuple[Path, list[str]]) -> None:
    _, labels = capture
    assert len(labels) > 1000
    assert set(labels) == {NORMAL}


def test_tshark_sees_the_protocols_well_formed(tshark: str, capture: tuple[Path, list[str]]) -> None:
    path, _ = capture
    out = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-E", "separator=\t", "-e", "frame.protocols",
                          "-e", "mqtt.ver", "-e", "http.request.method", "-e", "arp.src.proto_ipv4",
                          "-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "tcp.checksum.status",
                          "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                          "-o", "tcp.check_checksum:TRUE"],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    protos = Counter(p for r in rows for p in r[0].split(":"))
    for p in ("tls", "dhcp", "mdns", "ssdp", "llmnr", "icmpv6", "lldp", "stp", "igmp", "mqtt", "http"):
        assert protos[p], f"no {p} frames"
    assert not [r for r in rows if "_ws.malformed" in r[0]]
    assert not [r for r in rows if "2" in r[4:7]], "bad checksums"
    assert {"3", "4", "5"} & {r[1] for r in rows} >= {"4", "5"}, "MQTT 3.1.1 and 5 clients"
    assert {"GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "M-SEARCH"} <= {r[2] for r in rows}
    assert "0.0.0.0" in {r[3] for r in rows}, "ARP probes (RFC 5227) from a joining host"


def test_extractor_matches_tshark(tshark: str, capture: tuple[Path, list[str]]) -> None:
    path, _ = capture
    diffs = compare(ours_for(path), tshark_rows(tshark, path))
    assert not diffs, diffs[:10]
