"""The Ethernet traffic lab: every class with its protocol shape, labels aligned, determinism, sessions."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import random
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from urllib.parse import unquote_plus

import numpy as np
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.utils import RawPcapReader
from support.lab_capture import write_capture
from test_host_context import ctx_rows

from agent.sources.pcapfile import PcapFileSource
from trainer.lab.ethernet.attacks.ransomware import atk_ransomware
from trainer.lab.ethernet.attacks.scans import host_sweep
from trainer.lab.ethernet.capture import Capture
from trainer.lab.ethernet.labels import CLASSES
from trainer.lab.ethernet.session import write_sessions
from trainer.lab.ethernet.site import make_site

SCALE, SESSIONS, SEED = 0.05, 2, 7


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lab-eth")
    write_sessions(out, SEED, SCALE, SESSIONS)
    return out


def frames(path: Path) -> list[bytes]:
    return [data for data, _ in RawPcapReader(str(path))]


def labels(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def by_class(lab: Path, name: str, cls: str) -> list[Ether]:
    fr = frames(lab / f"{name}.pcap")
    return [Ether(fr[int(r["frame"]) - 1]) for r in labels(lab / f"{name}.labels.csv") if r["Attack_type"] == cls]


def manifest(lab: Path) -> dict:
    return json.loads((lab / "sessions.json").read_text())


def test_every_class_in_every_session_and_labels_line_up(lab: Path) -> None:
    m = manifest(lab)
    assert len(m["sessions"]) == SESSIONS
    for s in m["sessions"]:
        rows = labels(lab / f"{s['name']}.labels.csv")
        assert len(rows) == len(frames(lab / f"{s['name']}.pcap")) == s["frames"]
        assert [int(r["frame"]) for r in rows] == list(range(1, len(rows) + 1))
        counts = Counter(r["Attack_type"] for r in rows)
        assert set(counts) == set(CLASSES)
        assert all(r["Attack_label"] == ("0" if r["Attack_type"] == "Normal" else "1") for r in rows)
        assert {r["session"] for r in rows} == {s["name"]}
        # the attack frames are exactly those the episodes produced
        for ep in s["episodes"]:
            assert counts[ep["class"]] == ep["frames"] > 0


def test_published_csv_matches_frames(lab: Path) -> None:
    if not manifest(lab)["published_csv"]:
        pytest.skip("the Edge-IIoTset extractor is not in this checkout")
    from agent.features.edge_iiotset.columns import COLUMN_KINDS
    with open(lab / "capture00.csv", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    assert header == [*COLUMN_KINDS, "Attack_label", "Attack_type"]
    lab_rows = labels(lab / "capture00.labels.csv")
    assert len(rows) == len(lab_rows)
    assert [r[-1] for r in rows] == [r["Attack_type"] for r in lab_rows]


def tshark_fields(pcap: Path, *fields: str) -> list[list[str]]:
    args = ["tshark", "-r", str(pcap), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f",
            "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout
    return [line.split("\t") for line in out.splitlines()]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_dissects_protocols_and_checksums(lab: Path) -> None:
    rows = tshark_fields(lab / "capture00.pcap", "frame.number", "frame.protocols", "ip.checksum.status",
                         "tcp.checksum.status", "udp.checksum.status", "mqtt.msgtype", "mbtcp.prot_id",
                         "mbtcp.len", "tcp.len", "modbus.func_code")
    lab_rows = labels(lab / "capture00.labels.csv")
    assert len(rows) == len(lab_rows)
    # 2 = Bad; an ICMP error quotes a truncated datagram whose UDP/TCP checksum cannot verify
    bad = [r[0] for r in rows if "2" in (r[2], r[3], r[4]) and "icmp:ip" not in r[1]]
    assert not bad, f"bad checksums in frames {bad[:5]}"
    mqtt_types = {int(r[5]) for r in rows if r[5]}
    # CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT
    assert {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14} <= mqtt_types
    mqtt_frames = [r for r in rows if "mqtt" in r[1].split(":")]
    assert mqtt_frames and not [r[0] for r in mqtt_frames if "_ws.malformed" in r[1]
                                and lab_rows[int(r[0]) - 1]["Attack_type"] == "Normal"]
    modbus = [r for r in rows if r[6]]
    assert modbus
    for r in modbus:  # valid MBAP: protocol id 0, length = the rest of the segment after 6 bytes
        assert int(r[6]) == 0 and int(r[7]) == int(r[8]) - 6, r
    assert {5, 6, 15, 16} & {int(r[9]) for r in modbus if r[9]}, "no Modbus writes"
    assert {1, 3} <= {int(r[9]) for r in modbus if r[9]}
    protos = Counter(p for r in rows for p in r[1].split(":"))
    for p in ("arp", "icmp", "dns", "ntp", "http", "mqtt", "mbtcp", "smb2"):
        assert protos[p], p


def test_syn_flood_has_syn_and_spoofed_sources(lab: Path) -> None:
    for s in manifest(lab)["sessions"]:
        pk = [p for p in by_class(lab, s["name"], "DDoS_TCP") if TCP in p]
        syns = [p for p in pk if p[TCP].flags == "S"]
        assert len(syns) > 0.5 * len(pk)
        assert len({p[IP].src for p in syns}) > 0.9 * len(syns)
        ports = sorted({p[TCP].dport for p in syns})
        # aimed at one port, or at consecutive ones (hping3 -p ++PORT), not scattered like a scan
        assert len(ports) == 1 or ports[-1] - ports[0] < len(syns) + 1


def test_udp_and_icmp_floods(lab: Path) -> None:
    udp = by_class(lab, "capture00", "DDoS_UDP")
    assert sum(UDP in p for p in udp) > 0.7 * len(udp)
    icmp = by_class(lab, "capture00", "DDoS_ICMP")
    req = [p for p in icmp if ICMP in p and p[ICMP].type == 8]
    assert len(req) > 0.5 * len(icmp)


def test_port_scan_probes_many_endpoints(lab: Path) -> None:
    for s in manifest(lab)["sessions"]:
        pk = by_class(lab, s["name"], "Port_Scanning")
        ports = {(p[IP].dst, p[TCP].dport) for p in pk if TCP in p}
        ports |= {(p[IP].dst, p[UDP].dport) for p in pk if UDP in p}
        asked = {p[ARP].pdst for p in pk if ARP in p and p[ARP].op == 1}
        assert len(ports) + len(asked) > 0.25 * len(pk)


@pytest.mark.parametrize("outside", [False, True])
def test_host_discovery_sweeps_the_subnet_in_address_order(outside: bool) -> None:
    """nmap -sn / arp-scan: on the LAN an ARP request per address, ascending, live hosts answering and
    a second pass for the silent ones; from outside an echo, a SYN to 443, an ACK to 80 and a
    timestamp request per address."""
    rng = random.Random(3)
    site = make_site(rng)
    cap = Capture(rng, pad_short=True)
    attacker = site.ext_attacker if outside else site.attacker
    host_sweep(cap, site, attacker, 100.0, 5000, "Port_Scanning")
    pk = [Ether(f[2]) for f in sorted(cap.frames)]
    subnet = site.gw.addr.rsplit(".", 1)[0]
    if outside:
        echo = [p[IP].dst for p in pk if ICMP in p and p[ICMP].type == 8]
        assert echo == [f"{subnet}.{i}" for i in range(1, 255)]
        assert sum(TCP in p and p[TCP].dport == 443 and p[TCP].flags == "S" for p in pk) == 254
        assert {p[IP].src for p in pk if ICMP in p and p[ICMP].type == 0} == {h.addr for h in site.hosts
                                                                             if not h.external}
    else:
        asked = [p[ARP].pdst for p in pk if p[ARP].op == 1]
        first = list(dict.fromkeys(asked))
        assert first == [f"{subnet}.{i}" for i in range(1, 255) if f"{subnet}.{i}" != attacker.addr]
        live = {h.addr for h in site.hosts if not h.external} - {attacker.addr}
        assert {p[ARP].psrc for p in pk if p[ARP].op == 2} == live
        assert len(asked) - len(first) == len(first) - len(live)  # the silent ones asked again
        assert all(p[Ether].dst == "ff:ff:ff:ff:ff:ff" and p[ARP].psrc == attacker.addr for p in pk if p[ARP].op == 1)


def test_fingerprinting_sends_nmap_os_probes(lab: Path) -> None:
    pk = [p for p in by_class(lab, "capture00", "Fingerprinting") if TCP in p]
    windows = {p[TCP].window for p in pk if p[TCP].flags == "S"}
    assert {1, 63, 4, 16, 512} <= windows
    assert any(p[TCP].flags == "FSPU" for p in pk)
    assert any(p[TCP].flags == 0 for p in pk)  # the null probe
    assert any(p[TCP].flags == "SEC" for p in pk)  # the ECN probe


def http_requests(pk: list[Ether]) -> list[bytes]:
    return [bytes(p[Raw].load) for p in pk if TCP in p and Raw in p
            and bytes(p[Raw].load).split(b" ", 1)[0] in (b"GET", b"POST", b"HEAD", b"OPTIONS", b"PROPFIND", b"TRACE")]


def uri_and_body(req: bytes) -> str:
    """The request target and body, without the headers (a User-Agent must not satisfy the checks)."""
    head, _, body = req.partition(b"\r\n\r\n")
    return (head.split(b" ")[1] + b" " + body).decode("latin-1")


def test_web_attacks_carry_their_payloads(lab: Path) -> None:
    for s in manifest(lab)["sessions"]:
        name = s["name"]
        vs = http_requests(by_class(lab, name, "Vulnerability_scanner"))
        assert len({r.split(b" ")[1] for r in vs}) >= 15
        sqli = [unquote_plus(uri_and_body(r)).upper() for r in http_requests(by_class(lab, name, "SQL_injection"))]
        assert sqli and all(any(k in r for k in ("SELECT", "AND", "OR", "--", "SLEEP", "WAITFOR", "DROP"))
                            for r in sqli)
        xss = [unquote_plus(uri_and_body(r)).lower() for r in http_requests(by_class(lab, name, "XSS"))]
        assert xss and all(any(k in r for k in ("<script", "onerror", "onload", "javascript:", "<svg", "<iframe",
                                                "ontoggle")) for r in xss)
        up = http_requests(by_class(lab, name, "Uploading"))
        assert up and all(b"multipart/form-data; boundary=" in r for r in up)


def test_password_brute_force_repeats_logins(lab: Path) -> None:
    for s in manifest(lab)["sessions"]:
        pk = [p for p in by_class(lab, s["name"], "Password") if TCP in p]
        syn = [p for p in pk if p[TCP].flags == "S"]
        assert len(syn) >= 3
        assert {p[TCP].dport for p in syn} <= {22, 23, 1883, 80, 8080, 8000, 8081, 5000, 1880}


def entropy(b: bytes) -> float:
    c = Counter(b)
    return -sum(v / len(b) * math.log2(v / len(b)) for v in c.values())


def test_ransomware_and_backdoor(lab: Path) -> None:
    pk = [p for p in by_class(lab, "capture00", "Ransomware") if TCP in p]
    big = [bytes(p[Raw].load) for p in pk if Raw in p and len(p[Raw].load) >= 1000 and p[TCP].dport == 445]
    assert big and max(entropy(b) for b in big) > 7.5
    # each file is read and written back: bulk flows both ways, and the receiver acknowledges as it comes
    back = [p for p in pk if Raw in p and len(p[Raw].load) >= 1000 and p[TCP].sport == 445]
    assert back, "no bulk reads from the share"
    acks = [p for p in pk if Raw not in p and p[TCP].flags == "A"]
    assert len(acks) >= (len(big) + len(back)) // 3, "bulk segments without the receiver's ACKs"
    bd = [p for p in by_class(lab, "capture00", "Backdoor") if TCP in p]
    assert bd


def test_ransomware_turns_file_after_file(tmp_path: Path) -> None:
    """An episode long enough for several files: the connection's bulk turns many times a second
    (benign transfers turn seldom: test_lab_everyday)."""
    rng = random.Random(5)
    cap = Capture(rng, pad_short=False)
    atk_ransomware(cap, make_site(rng), 1_700_000_000.0, 3000)
    path, _ = write_capture(cap, tmp_path / "ransomware.pcap")
    turning = [r["ctx.conn_turn_rate"] for r in ctx_rows(PcapFileSource(path)) if r["tcp.len"] >= 1000]
    assert turning and np.median(turning) > 3.0, np.median(turning)  # above 7 turns/s


def test_mitm_poisons_arp(lab: Path) -> None:
    for s in manifest(lab)["sessions"]:
        attacker = s["hosts"]["attacker"]
        arp = [p for p in by_class(lab, s["name"], "MITM") if ARP in p]
        assert arp
        for p in arp:  # the attacker's MAC claims someone else's address
            assert p[ARP].hwsrc == attacker["mac"] and p[ARP].psrc != attacker["ip"]


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path, lab: Path) -> None:
    write_sessions(tmp_path / "a", SEED, SCALE, 1, published_csv=False)
    write_sessions(tmp_path / "b", SEED + 1, SCALE, 1, published_csv=False)

    def digest(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()
    for f in ("capture00.pcap", "capture00.labels.csv"):
        assert digest(tmp_path / "a" / f) == digest(lab / f)
        assert digest(tmp_path / "b" / f) != digest(lab / f)


def test_sessions_use_different_address_plans(lab: Path) -> None:
    a, b = (s["hosts"] for s in manifest(lab)["sessions"][:2])
    assert {h["mac"] for h in a.values() if not h["external"]}.isdisjoint(
        {h["mac"] for h in b.values() if not h["external"]})
    assert a["gateway"]["ip"].rsplit(".", 1)[0] != b["gateway"]["ip"].rsplit(".", 1)[0]
    # and the pcaps agree with the plan: LAN frames of capture00 never use capture01's addresses
    b_ips = {h["ip"] for h in b.values()}
    normal = by_class(lab, "capture00", "Normal")
    assert not {p[IP].src for p in normal if IP in p} & b_ips
