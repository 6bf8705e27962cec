# ruff: noqa: E501  (crafted packets read best on one line each)
"""Edge-IIoTset features against tshark, cell by cell.

Crafted captures (built here with scapy, one per protocol family and link type) must match tshark
100%. The real third-party captures in ``../shared/captures/pcaps`` are compared with the tshark
output stored beside them; their per-field match rates are printed and must stay above a high bar.
"""

from __future__ import annotations

import csv
import os
import struct
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.golden import differing_cells as compare

from agent.features.edge_iiotset import COLUMNS, EdgeIIoTsetExtractor, encode_tshark
from agent.sources.pcapfile import PcapFileSource

scapy_all = pytest.importorskip("scapy.all")
from scapy.all import (  # noqa: E402
    ARP,
    ASN1_OID,
    DNS,
    DNSQR,
    ICMP,
    IP,
    SNMP,
    TCP,
    UDP,
    CookedLinux,
    Dot1AD,
    Dot1Q,
    Ether,
    IPv6,
    Raw,
    SNMPget,
    SNMPresponse,
    SNMPvarbind,
    fragment,
    wrpcap,
)

csv.field_size_limit(1 << 30)


def tshark_rows(tshark: str, path: Path) -> list[list[Any]]:
    """tshark's rows for the 61 columns, encoded the project's way (UTC, as the reference files)."""
    cmd = [tshark, "-r", str(path), "-T", "fields", "-E", "header=n", "-E", "separator=/t", "-E", "quote=n",
           "-E", "occurrence=f"]
    for c in COLUMNS:
        cmd += ["-e", c]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "TZ": "UTC"},
                         encoding="utf-8", errors="replace").stdout
    rows = []
    for line in out.split("\n")[:-1]:
        cells = line.split("\t")
        cells += [""] * (len(COLUMNS) - len(cells))
        rows.append([encode_tshark(c, v) for c, v in zip(COLUMNS, cells, strict=False)])
    return rows


def ours_for(path: Path) -> list[list[Any]]:
    return list(EdgeIIoTsetExtractor().rows(PcapFileSource(path)))


def write_linktype(path: Path, linktype: int, frames: list[bytes], t0: float = 1_600_000_000.0) -> None:
    """A classic pcap of raw frames with the given link type (for types scapy does not write)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for i, fr in enumerate(frames):
            ts = t0 + i * 0.001
            f.write(struct.pack("<IIII", int(ts), round((ts % 1) * 1e6), len(fr), len(fr)) + fr)


def stamp(pkts: list[Any], t0: float = 1_650_000_000.123456) -> list[Any]:
    for i, p in enumerate(pkts):
        p.time = t0 + i * 0.010017
    return pkts


# -- crafted traffic ---------------------------------------------------------------------------
C, S = "10.0.0.2", "10.0.0.1"


def tcp_conv(sport: int, dport: int, payloads: list[tuple[str, bytes]], isn_c: int = 1000, isn_s: int = 5000,
             src: str = C, dst: str = S, v6: bool = False) -> list[Any]:
    """A TCP connection: handshake, the payloads ('c' client, 's' server) with ACKs, FIN/ACK."""
    ipc = (lambda: IPv6(src="2001:db8::2", dst="2001:db8::1")) if v6 else (lambda: IP(src=src, dst=dst))
    ips = (lambda: IPv6(src="2001:db8::1", dst="2001:db8::2")) if v6 else (lambda: IP(src=dst, dst=src))
    e = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
    pk = [e / ipc() / TCP(sport=sport, dport=dport, flags="S", seq=isn_c, options=[("MSS", 1460), ("SAckOK", b"")]),
          e / ips() / TCP(sport=dport, dport=sport, flags="SA", seq=isn_s, ack=isn_c + 1),
          e / ipc() / TCP(sport=sport, dport=dport, flags="A", seq=isn_c + 1, ack=isn_s + 1)]
    cs, ss = isn_c + 1, isn_s + 1
    for who, data in payloads:
        if who == "c":
            pk.append(e / ipc() / TCP(sport=sport, dport=dport, flags="PA", seq=cs, ack=ss) / Raw(data))
            cs += len(data)
            pk.append(e / ips() / TCP(sport=dport, dport=sport, flags="A", seq=ss, ack=cs))
        else:
            pk.append(e / ips() / TCP(sport=dport, dport=sport, flags="PA", seq=ss, ack=cs) / Raw(data))
            ss += len(data)
            pk.append(e / ipc() / TCP(sport=sport, dport=dport, flags="A", seq=cs, ack=ss))
    pk.append(e / ipc() / TCP(sport=sport, dport=dport, flags="FA", seq=cs, ack=ss))
    pk.append(e / ips() / TCP(sport=dport, dport=sport, flags="FA", seq=ss, ack=cs + 1))
    pk.append(e / ipc() / TCP(sport=sport, dport=dport, flags="A", seq=cs + 1, ack=ss + 1))
    return pk


def mqtt_str(s: bytes) -> bytes:
    return struct.pack("!H", len(s)) + s


def mqtt_pdu(hdr: int, body: bytes) -> bytes:
    n = len(body)
    rl = b""
    while True:
        b = n & 0x7F
        n >>= 7
        rl += bytes([b | (0x80 if n else 0)])
        if not n:
            break
    return bytes([hdr]) + rl + body


def build_http() -> list[Any]:
    body = b"<html>hello\tworld\nline2 \xe2\x80\x99 \\ end</html>"
    req = (b"GET /index.php?id=1&q=%27or HTTP/1.1\r\nHost: plc.local:8080\r\nReferer: http://evil.example/x\r\n"
           b"User-Agent: t\r\n\r\n")
    resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    post = b"POST /upload HTTP/1.0\r\nHost: 10.0.0.1\r\nContent-Length: 11\r\n\r\nhello=world"
    pk = tcp_conv(40001, 80, [("c", req), ("s", resp[:40]), ("s", resp[40:]), ("c", post), ("s", b"HTTP/1.0 204 No Content\r\n\r\n")])
    pk += tcp_conv(40002, 8080, [("c", b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"),
                                 ("s", b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
                                 ("c", b"CONNECT a:443 HTTP/1.1\r\n\r\n")])
    # HTTP found by tshark's heuristic on a port no dissector claims
    pk += tcp_conv(40003, 15672, [("c", b"GET /api HTTP/1.1\r\nHost: x\r\n\r\n"),
                                  ("s", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")])
    # control characters and NUL in a target, a header and a binary body (tshark's strings end at NUL)
    blob = bytes(range(1, 256)) + b"\x00after" + bytes(range(256))
    pk += tcp_conv(40004, 80, [("c", b"GET /a\x08b\x0cc?q=x\x00y HTTP/1.1\r\nHost: h\x07st\r\nReferer: r\x00ef\r\n\r\n"),
                               ("s", b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                     b"Content-Length: %d\r\n\r\n" % len(blob) + blob)])
    # a 1.5 MB download (more than the extractor holds) and a pipelined response right after its body
    big = b"PK\x03\x04firmware" + bytes(i % 251 for i in range(1_500_000))
    stream = (b"HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: %d\r\n\r\n" % len(big) + big
              + b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    pk += tcp_conv(40005, 80, [("c", b"GET /fw.zip HTTP/1.1\r\nHost: h\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n"),
                               *(("s", stream[i:i + 1448]) for i in range(0, len(stream), 1448))])
    return stamp(pk)


def build_mqtt() -> list[Any]:
    connect4 = mqtt_pdu(0x10, mqtt_str(b"MQTT") + bytes([4, 0xC2]) + b"\x00\x3c" + mqtt_str(b"sensor-1")
                        + mqtt_str(b"user") + mqtt_str(b"pass"))
    connect3 = mqtt_pdu(0x10, mqtt_str(b"MQIsdp") + bytes([3, 0x02]) + b"\x00\x3c" + mqtt_str(b"s3"))
    connect5 = mqtt_pdu(0x10, mqtt_str(b"MQTT") + bytes([5, 0x02]) + b"\x00\x3c" + b"\x00" + mqtt_str(b"s5"))
    connack = mqtt_pdu(0x20, b"\x01\x00")
    pub0 = mqtt_pdu(0x30, mqtt_str(b"factory/temp") + b"23.5")
    pub1 = mqtt_pdu(0x32, mqtt_str(b"factory/hum") + b"\x00\x07" + b"41")
    pub5 = mqtt_pdu(0x30, mqtt_str(b"v5/topic") + b"\x00" + b"payload5")
    sub = mqtt_pdu(0x82, b"\x00\x01" + mqtt_str(b"factory/#") + b"\x01")
    suback = mqtt_pdu(0x90, b"\x00\x01\x01")
    ping = mqtt_pdu(0xC0, b"")
    big = mqtt_pdu(0x30, mqtt_str(b"big") + bytes(range(256)) * 3)
    pk = tcp_conv(50001, 1883, [("c", connect4), ("s", connack), ("c", pub0 + pub1), ("c", sub), ("s", suback),
                                ("c", big[:300]), ("c", big[300:]), ("c", ping + pub0), ("c", b"\xf0\x05ab")])
    pk += tcp_conv(50002, 1883, [("c", connect3), ("s", connack), ("c", pub0)])
    pk += tcp_conv(50003, 1883, [("c", connect5), ("s", mqtt_pdu(0x20, b"\x00\x00\x00")), ("c", pub5)], v6=True)
    return stamp(pk)


def build_modbus() -> list[Any]:
    req = struct.pack("!HHHBBHH", 7, 0, 6, 1, 3, 0, 10)
    resp = struct.pack("!HHHBBB", 7, 0, 23, 1, 3, 20) + bytes(20)
    req2 = struct.pack("!HHHBBHH", 8, 0, 6, 17, 5, 1, 0xFF00)
    pk = tcp_conv(41000, 502, [("c", req), ("s", resp), ("c", req2 + req), ("s", resp[:5]), ("s", resp[5:])])
    return stamp(pk)


def build_udp_dns() -> list[Any]:
    e = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
    q = e / IP(src=C, dst="10.0.0.53") / UDP(sport=33333, dport=53) / DNS(id=0x1234, rd=1, qd=DNSQR(qname="plc.factory.local", qtype="A"))
    a = e / IP(src="10.0.0.53", dst=C) / UDP(sport=53, dport=33333) / DNS(id=0x1234, qr=1, qd=DNSQR(qname="plc.factory.local"))
    q2 = e / IP(src=C, dst="10.0.0.53") / UDP(sport=33334, dport=53) / DNS(id=7, qd=DNSQR(qname="x.example", qtype="AAAA"))
    root = e / IP(src=C, dst="10.0.0.53") / UDP(sport=33335, dport=53) / DNS(id=8, qd=DNSQR(qname=".", qtype="NS"))
    mdns = e / IP(src=C, dst="224.0.0.251") / UDP(sport=5353, dport=5353) / DNS(id=0, qd=DNSQR(qname="_http._tcp.local", qtype="PTR", unicastresponse=1))
    bad = e / IP(src=C, dst="10.0.0.53") / UDP(sport=33336, dport=53) / Raw(b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07examp")
    other = e / IP(src=C, dst="10.0.0.9") / UDP(sport=1000, dport=2000) / Raw(b"x" * 10)
    v6 = e / IPv6(src="2001:db8::2", dst="2001:db8::53") / UDP(sport=44444, dport=53) / DNS(id=9, qd=DNSQR(qname="six.example"))
    pk = [q, q, a, a, q2, other, other, root, mdns, bad, v6, q2]
    return stamp(pk)


def build_icmp_arp() -> list[Any]:
    e = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
    inner = IP(src=S, dst=C) / UDP(sport=53, dport=33333)
    pk = [
        e / IP(src=C, dst=S) / ICMP(type=8, id=0x42, seq=0x0102) / Raw(b"abcdefgh"),
        e / IP(src=S, dst=C) / ICMP(type=0, id=0x42, seq=0x0102) / Raw(b"abcdefgh"),
        e / IP(src=C, dst=S) / ICMP(type=13, id=1, seq=2, ts_ori=1000, ts_rx=0, ts_tx=123456),
        e / IP(src=S, dst=C) / ICMP(type=14, id=1, seq=2, ts_ori=1000, ts_rx=2000, ts_tx=3000),
        e / IP(src=S, dst=C) / ICMP(type=3, code=3) / inner,
        e / IP(src=S, dst=C) / ICMP(type=11, code=0) / inner,
        Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:02") / ARP(op=1, psrc=C, pdst=S),
        Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01") / ARP(op=2, psrc=S, pdst=C, hwsrc="02:00:00:00:00:01"),
    ]
    return stamp(pk)


def build_edge_cases() -> list[Any]:
    e = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
    pk: list[Any] = []
    # VLAN and QinQ
    pk.append(Ether() / Dot1Q(vlan=10) / IP(src=C, dst=S) / UDP(sport=1, dport=2) / Raw(b"v"))
    pk.append(Ether() / Dot1AD(vlan=20) / Dot1Q(vlan=30) / IP(src=C, dst=S) / TCP(sport=3, dport=4, flags="S"))
    # IPv4 fragments of a DNS query
    big = IP(src=C, dst="10.0.0.53", id=999) / UDP(sport=35000, dport=53) / DNS(id=5, qd=DNSQR(qname="frag.example")) / Raw(b"z" * 1200)
    for f in fragment(big, fragsize=600):
        pk.append(e / f)
    # retransmission and out-of-order segments on an MQTT connection
    conv = tcp_conv(50010, 1883, [("c", mqtt_pdu(0x30, mqtt_str(b"a/b") + b"1")), ("c", mqtt_pdu(0x30, mqtt_str(b"c/d") + b"2"))])
    pk += [*conv[:5], conv[3], *conv[5:7], conv[5], *conv[7:]]
    # RST, and a SYN with a non-zero ack field
    pk.append(e / IP(src=C, dst=S) / TCP(sport=7000, dport=7001, flags="R", seq=5))
    pk.append(e / IP(src=C, dst=S) / TCP(sport=7002, dport=7003, flags="S", seq=5, ack=77))
    pk.append(e / IP(src=C, dst=S) / TCP(sport=7004, dport=7005, flags="SEC", seq=9))
    # non-IP, and an Ethernet frame too short to hold a header
    pk.append(Ether(type=0x88CC) / Raw(b"\x02\x07\x04"))
    return stamp(pk)


def build_snmp() -> list[Any]:
    """SNMP polls as an NMS sends them, and the cases that decide tshark's stream indices: its SNMP
    dissector opens a conversation of its own per client port and agent (and SNMP port), so a reply
    starts a new udp.stream; a reply seen first, an agent answering from another port, a retried
    request, a trap port, and a non-SNMP datagram to port 161 (no such conversation)."""
    a, b, c = "10.0.0.9", "10.0.0.1", "10.0.0.2"
    e = Ether(src="02:00:00:00:00:09", dst="02:00:00:00:00:01")
    oid = ASN1_OID("1.3.6.1.2.1.1.3.0")

    def snmp(s: str, d: str, sp: int, dp: int, resp: bool = False, raw: bytes | None = None) -> Any:
        pdu = (SNMPresponse(id=sp, varbindlist=[SNMPvarbind(oid=oid, value=5)]) if resp
               else SNMPget(id=sp, varbindlist=[SNMPvarbind(oid=oid)]))
        return e / IP(src=s, dst=d) / UDP(sport=sp, dport=dp) / (Raw(raw) if raw else SNMP(PDU=pdu))

    pk = []
    for _ in range(2):  # two poll rounds of two agents from one client port
        for agent in (b, c):
            pk += [snmp(a, agent, 5000, 161), snmp(agent, a, 161, 5000, True)]
    pk += [snmp(b, a, 161, 6000, True), snmp(a, b, 6000, 161), snmp(b, a, 161, 6000, True),  # reply first
           snmp(b, a, 7777, 6000, True), snmp(a, b, 6000, 9999, raw=b"hello"), snmp(b, a, 9999, 6000, raw=b"hi"),
           snmp(a, b, 5001, 161), snmp(a, b, 5001, 161), snmp(b, a, 161, 5001, True),  # a retry
           snmp(c, b, 5000, 161, raw=b"hello"), snmp(b, c, 161, 5000, raw=b"hi"),  # not SNMP
           snmp(a, b, 5000, 162), snmp(b, a, 162, 5000, True)]  # the trap port
    return stamp(pk)


CRAFTED = {
    "snmp": build_snmp,
    "http": build_http,
    "mqtt": build_mqtt,
    "modbus": build_modbus,
    "udp_dns": build_udp_dns,
    "icmp_arp": build_icmp_arp,
    "edge_cases": build_edge_cases,
}


@pytest.mark.tshark
@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_matches_tshark(tshark: str, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.pcap"
    wrpcap(str(path), CRAFTED[name]())
    diffs = compare(ours_for(path), tshark_rows(tshark, path))
    assert not diffs, f"{len(diffs)} cells differ, first: {diffs[:8]}"


def _ip_frames() -> list[bytes]:
    pk = tcp_conv(45000, 1883, [("c", mqtt_pdu(0x30, mqtt_str(b"t") + b"m"))])
    pk += build_udp_dns()
    return [bytes(p[IP]) if IP in p else bytes(p[IPv6]) for p in pk if IP in p or IPv6 in p]


@pytest.mark.tshark
@pytest.mark.parametrize("linktype", [0, 101, 113, 276, 228, 229, 108])
def test_link_types_match_tshark(tshark: str, tmp_path: Path, linktype: int) -> None:
    frames = []
    for ip in _ip_frames():
        v6 = ip[0] >> 4 == 6
        if (linktype == 228 and v6) or (linktype == 229 and not v6):
            continue
        if linktype == 0:
            frames.append(struct.pack("<I", 30 if v6 else 2) + ip)
        elif linktype == 108:
            frames.append(struct.pack("!I", 24 if v6 else 2) + ip)
        elif linktype == 113:
            frames.append(bytes(CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=b"\x02" * 6 + b"\0\0",
                                            proto=0x86DD if v6 else 0x0800)) + ip)
        elif linktype == 276:
            frames.append(struct.pack("!HHIHBB8s", 0x86DD if v6 else 0x0800, 0, 2, 1, 0, 6, b"\x02" * 6 + b"\0\0") + ip)
        else:
            frames.append(ip)
    path = tmp_path / f"lt{linktype}.pcap"
    write_linktype(path, linktype, frames)
    diffs = compare(ours_for(path), tshark_rows(tshark, path))
    assert not diffs, f"{len(diffs)} cells differ, first: {diffs[:8]}"


@pytest.mark.tshark
def test_truncated_snaplen_matches_tshark(tshark: str, tmp_path: Path) -> None:
    frames = [bytes(p)[:n] for p in build_mqtt()[:12] for n in (60,)] + [bytes(p)[:34] for p in build_http()[3:6]]
    path = tmp_path / "snap.pcap"
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 60, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1_600_000_000 + i, 0, len(fr), len(fr) + 40) + fr)
    diffs = compare(ours_for(path), tshark_rows(tshark, path))
    assert not diffs, f"{len(diffs)} cells differ, first: {diffs[:8]}"


def test_syn_flood_state_is_bounded() -> None:
    """Spoofed-source SYNs: the TCP table never exceeds its limit; evictions are counted."""
    from agent.records import Frame

    ex = EdgeIIoTsetExtractor(max_tcp_streams=1000)
    base = bytes(Ether() / IP(src="1.2.3.4", dst=S) / TCP(sport=1234, dport=502, flags="S"))
    for i in range(5000):
        d = bytearray(base)
        d[26:30] = struct.pack("!I", 0x0B000000 + i)  # source address
        ex.row(Frame(1_600_000_000 + i * 1e-4, bytes(d), 1, len(d)))
    st = ex.stats()
    assert st["tcp_streams"] <= 1000
    assert st["tcp_evicted"] == 4000


# -- real captures -----------------------------------------------------------------------------
REAL = ["modbus_pcapshare.pcapng", "mixed_ndpi_android.pcap", "mqtt_smalltests_merged.pcap", "http_zeek_methods.pcap"]


@pytest.mark.parametrize("name", REAL)
def test_real_capture_matches_reference(shared_captures: Path, name: str) -> None:
    pcap = shared_captures / "pcaps" / name
    tsv = pcap.with_name(pcap.name.rsplit(".", 1)[0] + ".fields.tsv")
    with open(tsv, encoding="utf-8", errors="replace", newline="") as f:
        raw = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert raw[0] == list(COLUMNS)
    ref = [[encode_tshark(c, v) for c, v in zip(COLUMNS, r + [""] * (61 - len(r)), strict=False)] for r in raw[1:]]
    ours = ours_for(pcap)
    diffs = compare(ours, ref)
    per_field = Counter(c for _, c, _, _ in diffs)
    n = len(ref)
    print(f"\n{name}: {n} frames, cells equal {100 * (1 - len(diffs) / (n * 61)):.4f}%")
    for c in COLUMNS:
        if per_field[c]:
            print(f"  {c}: {100 * (1 - per_field[c] / n):.3f}%")
    assert len(diffs) / (n * 61) < 0.001, diffs[:10]
    for c in COLUMNS:
        assert per_field[c] / n < 0.01, (c, [d for d in diffs if d[1] == c][:5])


def test_rows_with_context_gives_the_alert_tuple() -> None:
    from agent.features import ETHERNET_CONTEXT
    from agent.records import Frame

    pk = build_mqtt()[:5] + build_udp_dns()[:1]
    frames = [Frame(float(p.time), bytes(p), 1, len(p)) for p in pk]
    ex = EdgeIIoTsetExtractor()
    out = list(ex.rows_with_context(frames))
    assert ex.context_fields == ETHERNET_CONTEXT
    _row, ctx = out[3]
    assert ctx[1:7] == (C, 50001, S, 1883, "TCP", "mqtt")
    assert out[4][1][7] == ctx[7]  # the reply belongs to the same flow
    assert out[5][1][5:7] == ("UDP", "dns") and out[5][1][7] != ctx[7]
    assert ctx[8] == bytes(pk[3])[6:12]  # the Ethernet source, raw
    # an ARP frame's hardware source is its sender hardware address (what a host caches), not Ethernet's
    from scapy.layers.l2 import ARP, Ether

    arp = bytes(Ether(src="02:00:00:00:00:01") / ARP(op=1, hwsrc="32:7b:3a:18:ab:23", psrc="10.0.0.1", pdst="10.0.0.2"))
    (_row, arp_ctx), = ex.rows_with_context([Frame(1.0, arp, 1, len(arp))])
    assert arp_ctx[8] == bytes.fromhex("327b3a18ab23") and arp_ctx[1] is None
    assert [r for r, _ in out] == list(EdgeIIoTsetExtractor().rows(frames))
