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
from support.lab_capture import T0, new_capture, write_capture
from test_edge_iiotset_parity import compare, ours_for, tshark_rows
from test_host_context import ctx_rows

from agent.sources.pcapfile import PcapFileSource
from trainer.lab import everyday
from trainer.lab.ethernet.benign.mqtt import normal_mqtt
from trainer.lab.ethernet.capture import Capture
from trainer.lab.ethernet.labels import NORMAL
from trainer.lab.ethernet.site import make_site


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    cap, site = new_capture(12)
    t0 = T0
    normal_mqtt(cap, site, t0, t0 + 20)  # the plant's own traffic, so MQTT 3 and 5 sit side by side
    for func in (everyday.normal_tls, everyday.normal_discovery, everyday.normal_mqtt_churn):
        func(cap, site, t0, t0 + 240)
    everyday.normal_rest(cap, site, t0, t0 + 900)  # long enough for tens of requests: every method
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


@pytest.fixture(scope="module")
def transfers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    rng = random.Random(21)
    site = make_site(rng)
    cap = Capture(random.Random(22), pad_short=False, offload=True)  # segments of up to 64 KB, as on a host
    t0 = T0
    everyday.normal_transfers(cap, site, t0, t0 + 600)
    everyday.normal_ssh(cap, site, t0, t0 + 600)
    return write_capture(cap, tmp_path_factory.mktemp("transfers") / "transfers.pcap")


def test_transfers_move_bulk_one_way_and_ssh_logs_in(tshark: str, transfers: tuple[Path, list[str]]) -> None:
    """Benign bulk (HTTP, TLS, SMB, SCP) flows one way per connection (a verified copy comes back once),
    unlike the lab's ransomware, in segments of several MSS where the capture host offloads
    segmentation; every SSH connection carries a well-formed key exchange before its encrypted part."""
    path, labels = transfers
    assert set(labels) == {NORMAL}
    out = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-E", "separator=\t", "-e", "tcp.stream",
                          "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.len", "-e", "frame.protocols",
                          "-e", "ssh.message_code"], capture_output=True, text=True, check=True, timeout=300).stdout
    sent: dict[tuple[str, bool], int] = Counter()
    service: dict[str, int] = {}
    codes: dict[str, set[str]] = {}
    for line in out.splitlines():
        stream, sport, dport, n, protos, code = line.split("\t")
        service.setdefault(stream, min(int(sport), int(dport)))
        sent[(stream, int(dport) == service[stream])] += int(n or 0)
        if service[stream] == 22:
            assert "_ws.malformed" not in protos, line
            codes.setdefault(stream, set()).update(code.split(",") if code else ())
    assert max(int(line.split("\t")[3] or 0) for line in out.splitlines()) > 20_000, "no offloaded segments"
    bulk = {st: service[st] for st in service if sent[(st, True)] + sent[(st, False)] >= 100_000}
    assert len(bulk) >= 2, sent
    for st in bulk:  # one way, or an SMB upload read back once to verify it
        up, down = sent[(st, True)], sent[(st, False)]
        verified = service[st] == 445 and 0.95 <= down / max(up, 1) <= 1.05
        assert max(up, down) >= 20 * min(up, down) or verified, (service[st], up, down)
    assert len(codes) >= 3
    for st, seen in codes.items():  # KEXINIT, ECDH init and reply, NEWKEYS
        assert {"20", "30", "31", "21"} <= seen, (st, seen)


def test_transfers_extractor_matches_tshark(tshark: str, transfers: tuple[Path, list[str]]) -> None:
    path, _ = transfers
    diffs = compare(ours_for(path), tshark_rows(tshark, path))
    assert not diffs, diffs[:10]


def test_transfers_turn_seldom(transfers: tuple[Path, list[str]]) -> None:
    """Bulk changes direction on a benign connection once or twice (a post-quantum key exchange, a
    verified copy), far below the lab's ransomware, which turns twice per file (see test_lab_ethernet)."""
    path, _ = transfers
    turns = [r["ctx.conn_turn_rate"] for r in ctx_rows(PcapFileSource(path))]
    assert max(turns) < 2.0, max(turns)  # log2(1 + r): below 3 turns/s


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    cap, site = new_capture(8)
    t0 = T0
    for _ in range(3):  # three management setups on one site: polling styles, syslog senders, traps
        everyday.normal_monitoring(cap, site, t0, t0 + 600)
    return write_capture(cap, tmp_path_factory.mktemp("monitoring") / "monitoring.pcap")


def test_snmp_walks_are_answered_request_by_request_and_syslog_comes_from_its_ports(
        tshark: str, monitoring: tuple[Path, list[str]]) -> None:
    path, labels = monitoring
    assert set(labels) == {NORMAL}
    out = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-E", "separator=\t", "-e", "frame.protocols",
                          "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport", "-e", "snmp.data",
                          "-e", "snmp.request_id", "-e", "udp.checksum.status", "-o", "udp.check_checksum:TRUE"],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert not [r for r in rows if "_ws.malformed" in r[0] or r[7] == "2"]
    pdus = Counter(r[5] for r in rows if r[5])
    assert pdus["1"] > 100, pdus  # get-next-request: walks
    assert pdus["0"] and pdus["2"], pdus  # gets and responses
    # each walk request is answered, to the port it came from, before the next request of the walk
    asked = {(r[1], r[2], r[6]) for r in rows if r[5] in ("1", "5")}
    answered = {(r[3], r[4], r[6]) for r in rows if r[5] == "2"}
    assert asked <= answered
    syslog = [r for r in rows if r[0].endswith("syslog")]
    assert len(syslog) > 50
    assert {r[2] for r in syslog} - {"514"}, "syslog from ephemeral ports as well as from 514"


def test_monitoring_extractor_matches_tshark(tshark: str, monitoring: tuple[Path, list[str]]) -> None:
    path, _ = monitoring
    diffs = compare(ours_for(path), tshark_rows(tshark, path))
    assert not diffs, diffs[:10]
