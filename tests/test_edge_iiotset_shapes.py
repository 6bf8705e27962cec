# ruff: noqa: E501  (crafted packets read best on one line each)
"""Edge-IIoTset features against tshark on the shapes real attack and plant traffic has.

Each capture is crafted with scapy and compared cell by cell with ``tshark -T fields -E
occurrence=f``; 100% is required. The shapes: ICMP errors quoting UDP/TCP/ICMP (scan replies,
traceroute), nmap OS-detection probes, spoofed-source SYN floods and RSTs from closed ports, ARP
spoofing, UDP length corner cases, DNS over TCP split across segments, IPv6 fragments, HTTP CONNECT
tunnels and plain HTTP on the TLS port, Ethernet trailers, 802.1Q priority, IP options, bad checksums,
GRE / IP-in-IP / PPPoE / MPLS encapsulations and SCTP.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("scapy.all")
from scapy.all import (
    ARP,
    DNS,
    DNSQR,
    GRE,
    ICMP,
    IP,
    PPP,
    SCTP,
    TCP,
    UDP,
    Dot1Q,
    Ether,
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    ICMPv6TimeExceeded,
    IPOption_Router_Alert,
    IPOption_RR,
    IPv6,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    PPPoE,
    Raw,
    SCTPChunkInit,
    fragment6,
    wrpcap,
)
from scapy.contrib.mpls import MPLS
from test_edge_iiotset_parity import C, S, compare, mqtt_pdu, mqtt_str, ours_for, stamp, tcp_conv, tshark_rows

from agent.features.edge_iiotset import COLUMNS, EdgeIIoTsetExtractor

E = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")


def _err(inner: Any, typ: int = 3, code: int = 3, cut: int | None = None, src: str = S) -> Any:
    """An ICMP error from ``src`` quoting ``inner`` (optionally only its first ``cut`` bytes)."""
    b = bytes(inner)
    return E / IP(src=src, dst=C) / ICMP(type=typ, code=code) / Raw(b[:cut] if cut else b)


def build_icmp_errors() -> list[Any]:
    """Scan replies and traceroute: the quoted header's fields, and how they meet real flows."""
    u1 = IP(src=C, dst=S) / UDP(sport=40000, dport=161) / Raw(b"abc")
    u2 = IP(src=C, dst=S) / UDP(sport=40010, dport=162) / Raw(b"abc")
    q = IP(src=C, dst="10.0.0.53") / UDP(sport=33333, dport=53) / DNS(id=0x77, qd=DNSQR(qname="x.y"))
    syn = IP(src=C, dst=S) / TCP(sport=40030, dport=22, flags="S", seq=1000)
    http = tcp_conv(40020, 80, [("c", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), ("s", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")])
    mq = mqtt_pdu(0x30, mqtt_str(b"factory/temp") + b"23.5")
    mb = struct.pack("!HHHBBHH", 7, 0, 6, 1, 3, 0, 10)
    pk = [
        E / u1, _err(u1), E / u1.copy(),  # the quoted datagram shares the stream, not the time delta
        _err(u2), E / u2.copy(), E / IP(src=S, dst=C) / UDP(sport=162, dport=40010),  # ... or creates it
        *http[:4], _err(http[3][IP]), *http[4:],  # a quoted segment of a live connection: absolute numbers
        E / q, _err(q), E / q.copy(),  # a quoted DNS query is no retransmission and tracks nothing
        _err(syn), E / IP(src=S, dst=C) / TCP(sport=22, dport=40030, flags="SA", seq=77, ack=1001), E / syn.copy(),
        _err(IP(src=C, dst=S) / TCP(sport=40001, dport=22, flags="S", seq=1234), cut=28),  # 8 bytes of TCP
        _err(IP(src=C, dst=S) / TCP(sport=40002, dport=23, flags="S", seq=99, ack=20, options=[("MSS", 1460)]), code=13),
        _err(IP(src=C, dst="8.8.8.8", ttl=1) / UDP(sport=33434, dport=33435) / Raw(b"x" * 32), typ=11, code=0, src="10.9.9.9"),
        _err(IP(src=C, dst="8.8.8.8", ttl=1) / ICMP(type=8, id=5, seq=7) / Raw(b"x" * 8), typ=11, code=0, src="10.9.9.9"),
        E / IP(src=S, dst=C) / ICMP(type=3, code=4, nexthopmtu=1400) / IP(src=C, dst=S) / TCP(sport=40003, dport=80, flags="PA", seq=5, ack=6) / Raw(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        E / IP(src=S, dst=C) / ICMP(type=5, code=1, gw="10.0.0.254") / IP(src=C, dst="1.1.1.1") / UDP(sport=1, dport=2),
        E / IP(src=S, dst=C) / ICMP(type=4, code=0) / IP(src=C, dst=S) / UDP(sport=3, dport=4),
        E / IP(src=S, dst=C) / ICMP(type=12, code=0, ptr=5) / IP(src=C, dst=S) / UDP(sport=3, dport=4),
        _err(IP(src=C, dst=S) / TCP(sport=40100, dport=1883, flags="PA", seq=10, ack=20) / Raw(mq)),
        _err(IP(src=C, dst=S) / TCP(sport=40101, dport=502, flags="PA", seq=10, ack=20) / Raw(mb)),
        _err(IP(src=C, dst=S) / TCP(sport=40103, dport=53, flags="PA", seq=10, ack=20) / Raw(struct.pack("!H", 20) + bytes(DNS(id=1, qd=DNSQR(qname="q.t")))[:20])),
        _err(IP(src=C, dst=S) / UDP(sport=40104, dport=53) / DNS(id=1, qd=DNSQR(qname="q.t")), cut=28),
        _err(IP(src=C, dst=S) / UDP(sport=40105, dport=53, len=4), cut=28),
        _err(IP(src=C, dst=S) / UDP(sport=40106, dport=53) / DNS(id=1, qd=DNSQR(qname="q.t")), cut=34),
        _err(IP(src=C, dst=S, flags="MF") / UDP(sport=40107, dport=53) / Raw(b"x" * 30)),
        _err(IP(src=C, dst=S, frag=10) / UDP(sport=40108, dport=53) / Raw(b"x" * 30)),
        _err(IP(src=C, dst=S) / UDP(sport=40109, dport=1900) / Raw(b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n")),
        _err(IP(src=C, dst=S) / TCP(sport=40110, dport=8080, flags="PA", seq=10, ack=20) / Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")),
        _err(IP(src=C, dst=S) / TCP(sport=40111, dport=443, flags="PA", seq=10, ack=20) / Raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
        _err(IP(src=C, dst=S) / TCP(sport=40112, dport=80, flags="PA", seq=10, ack=20) / Raw(b"GET / HTTP/1.1\r\nHost: x\r\n")),
        _err(IP(src=C, dst=S, options=[IPOption_Router_Alert()]) / UDP(sport=40113, dport=7)),
        _err(IP(src=C, dst=S) / ICMP(type=13, id=1, seq=2, ts_ori=1, ts_rx=2, ts_tx=3)),
        E / IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6DestUnreach(code=4) / IPv6(src="2001:db8::2", dst="2001:db8::1") / UDP(sport=5000, dport=6000),
        E / IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6TimeExceeded() / IPv6(src="2001:db8::2", dst="2001:db8::9") / TCP(sport=40114, dport=80, flags="S", seq=5),
        E / IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6PacketTooBig() / IPv6(src="2001:db8::2", dst="2001:db8::9") / IPv6ExtHdrHopByHop() / UDP(sport=40115, dport=53) / DNS(qd=DNSQR(qname="v6.q")),
        E / IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6EchoRequest(id=1, seq=2),
        E / IP(src="172.16.0.1", dst="172.16.0.2") / GRE() / IP(src=S, dst=C) / ICMP(type=3, code=3) / IP(src=C, dst=S) / UDP(sport=40116, dport=9),
        E / IP(src=S, dst=C) / ICMP(type=3, code=3),
        E / IP(src=S, dst=C) / ICMP(type=3, code=3) / Raw(b"\x45\x00"),
    ]
    return pk


def build_scans_and_spoofing() -> list[Any]:
    """nmap OS probes, SYN flood with random sources, RSTs, ARP spoofing, ICMP info messages."""
    pk: list[Any] = []
    for fl, opts, win in [
        ("FPU", [("WScale", 15), ("NOP", b""), ("MSS", 265), ("Timestamp", (0xFFFFFFFF, 0)), ("SAckOK", b"")], 65535),
        ("", [("WScale", 10), ("NOP", b""), ("MSS", 265), ("Timestamp", (0xFFFFFFFF, 0)), ("SAckOK", b"")], 0),
        ("SFUP", [("WScale", 10)], 256), ("A", [("WScale", 10), ("NOP", b""), ("MSS", 1460)], 1024),
        ("SEC", [("MSS", 1460)], 3), ("F", [], 1024), ("N", [], 0), ("SR", [], 0),
    ]:
        pk.append(E / IP(src=C, dst=S) / TCP(sport=60001, dport=22, flags=fl, seq=12345, ack=999 if "A" in fl else 0, window=win, options=opts))
    for i in range(4):
        pk.append(E / IP(src=f"192.0.2.{i + 1}", dst=S) / TCP(sport=1000 + i, dport=80, flags="S", seq=1000000 * i + 7))
    pk += [
        E / IP(src=S, dst="192.0.2.1") / TCP(sport=80, dport=1000, flags="RA", seq=0, ack=8),
        E / IP(src=S, dst="192.0.2.2") / TCP(sport=80, dport=1001, flags="SA", seq=555, ack=1000008),
        E / IP(src="192.0.2.2", dst=S) / TCP(sport=1001, dport=80, flags="R", seq=1000008),
        E / IP(src=C, dst=S) / TCP(sport=61000, dport=443, flags="A", seq=111, ack=222),
        E / IP(src=S, dst=C) / TCP(sport=443, dport=61000, flags="R", seq=222),
        E / IP(src=C, dst=S) / TCP(sport=61001, dport=80, flags="S", seq=1, chksum=0x1234),
        E / IP(src=C, dst=S, chksum=0x1111) / UDP(sport=61002, dport=53, chksum=0x4321) / DNS(id=1, qd=DNSQR(qname="bad.sum")),
        E / IP(src=C, dst=S, options=[IPOption_RR(routers=["1.1.1.1"])]) / TCP(sport=61003, dport=502, flags="S"),
        E / IP(src=C, dst=S, options=[IPOption_Router_Alert()]) / UDP(sport=61004, dport=5353) / DNS(qd=DNSQR(qname="x.local", qtype="PTR")),
        Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, psrc=S, pdst=S, hwsrc="02:00:00:00:00:99"),
        Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=2, psrc=S, pdst=S, hwsrc="02:00:00:00:00:99", hwdst="ff:ff:ff:ff:ff:ff"),
        Ether(dst="02:00:00:00:00:02") / ARP(op=2, psrc="10.0.0.254", pdst=C, hwsrc="02:00:00:00:00:99"),
        Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, psrc="0.0.0.0", pdst=S),
        Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=3),
        Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(ptype=0x86DD, plen=16, op=1) / Raw(b"\0" * 10),
        E / IP(src=C, dst=S) / ICMP(type=13, id=9, seq=9, ts_ori=1, ts_rx=2, ts_tx=3),
        E / IP(src=C, dst=S) / ICMP(type=17, id=3, seq=4) / Raw(b"\0\0\0\0"),
        E / IP(src=S, dst=C) / ICMP(type=18, id=3, seq=4) / Raw(b"\xff\xff\xff\0"),
        E / IP(src=C, dst=S) / ICMP(type=15, id=3, seq=4),
    ]
    return pk


def build_lengths_and_links() -> list[Any]:
    """UDP length corner cases, Ethernet trailers, VLAN priority, tunnels, PPPoE, MPLS, SCTP."""
    pk: list[Any] = []
    for i, (ln, dport, pl) in enumerate([(0, 9999, b"zz"), (9, 53, b"\0" * 20), (9, 9999, b"\0" * 20), (4, 9999, b"ab"),
                                         (200, 9999, b"ab"), (10, 9999, b"ab"), (8, 9999, b""), (9, 53, b"")]):
        for _ in range(2):
            pk.append(E / IP(src=C, dst=S) / UDP(sport=62000 + i, dport=dport, len=ln) / Raw(pl))
    a = E / IP(src=C, dst=S) / UDP(sport=63000, dport=9999) / Raw(b"x")
    b = E / IP(src=C, dst=S) / UDP(sport=63000, dport=9999)
    z = E / IP(src=C, dst=S) / UDP(sport=63000, dport=9999, len=0) / Raw(b"x")
    b2 = E / IP(src=C, dst=S) / UDP(sport=63001, dport=9999)
    a2 = E / IP(src=C, dst=S) / UDP(sport=63001, dport=9999) / Raw(b"x")
    pk += [x.copy() for x in [a, b, a, z, a, b2, a2, b2, b2, a2]]  # empty datagrams are not timed
    mb = E / IP(src=C, dst=S) / TCP(sport=61008, dport=502, flags="PA", seq=1, ack=1) / Raw(struct.pack("!HHHBBHH", 7, 0, 6, 1, 3, 0, 10))
    pk += [
        Ether(bytes(mb) + b"\xde\xad\xbe\xef" * 4),  # trailer bytes after the IP total length
        Ether(bytes(E / IP(src=C, dst=S) / TCP(sport=61009, dport=80, flags="A")) + b"\x00" * 6),
        Ether(bytes(E / IP(src=C, dst=S) / UDP(sport=61010, dport=53) / DNS(id=2, qd=DNSQR(qname="pad.x"))) + b"\xff" * 10),
        Ether() / Dot1Q(prio=5, vlan=0) / IP(src=C, dst=S) / UDP(sport=61011, dport=1883) / Raw(b"u"),
        Ether() / Dot1Q(prio=7, vlan=100) / ARP(op=1, psrc=C, pdst=S),
        E / IP(src="172.16.0.1", dst="172.16.0.2") / GRE() / IP(src=C, dst=S) / UDP(sport=61012, dport=53) / DNS(id=3, qd=DNSQR(qname="gre.x")),
        E / IP(src="172.16.0.1", dst="172.16.0.2", proto=4) / IP(src=C, dst=S) / TCP(sport=61013, dport=1883, flags="S"),
        E / IP(src="172.16.0.1", dst="172.16.0.2") / GRE(proto=0x6558) / Ether() / IP(src=C, dst=S) / ICMP(),
        E / IP(src="172.16.0.1", dst="172.16.0.2") / GRE(key_present=1, key=7, seqnum_present=1, sequence_number=3) / IP(src=C, dst=S) / UDP(sport=61018, dport=9),
        E / IPv6(src="2001:db8::1", dst="2001:db8::2", nh=4) / IP(src=C, dst=S) / UDP(sport=61014, dport=9),
        E / IP(src="172.16.0.1", dst="172.16.0.2", proto=41) / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=61015, dport=9),
        E / IP(src=C, dst=S) / SCTP(sport=2905, dport=2905) / SCTPChunkInit(),
        Ether(type=0x8864) / PPPoE(sessionid=1) / PPP(proto=0x21) / IP(src=C, dst=S) / UDP(sport=61016, dport=53) / DNS(qd=DNSQR(qname="ppp.x")),
        Ether(type=0x8847) / MPLS(label=100, s=1) / IP(src=C, dst=S) / UDP(sport=61017, dport=9),
        Ether(type=0x8847) / MPLS(label=100, s=0) / MPLS(label=200, s=1) / IP(src=C, dst=S) / TCP(sport=61019, dport=80, flags="S"),
    ]
    return pk


def build_dns_tcp_frag6_tunnels() -> list[Any]:
    """DNS over TCP across segments, IPv6 fragments, HTTP CONNECT tunnels, HTTP on the TLS port."""
    q1 = bytes(DNS(id=0x10, rd=1, qd=DNSQR(qname="tcp.example", qtype="A")))
    q2 = bytes(DNS(id=0x11, qd=DNSQR(qname="two.example", qtype="MX")))
    a1 = bytes(DNS(id=0x10, qr=1, qd=DNSQR(qname="tcp.example")))
    m1, m2, ma = (struct.pack("!H", len(x)) + x for x in (q1, q2, a1))
    pk = tcp_conv(45001, 53, [("c", m1), ("s", ma), ("c", m1[:1]), ("c", m1[1:]), ("c", m1[:10]), ("c", m1[10:] + m2),
                              ("c", m2 + m1[:5]), ("c", m1[5:]), ("c", m1)])
    big = IPv6(src="2001:db8::2", dst="2001:db8::53") / IPv6ExtHdrFragment(id=77) / UDP(sport=45002, dport=53) / DNS(id=5, qd=DNSQR(qname="frag6.example")) / Raw(b"z" * 1300)
    pk += [E / f for f in fragment6(big, 700)]
    big2 = IPv6(src="2001:db8::2", dst="2001:db8::1") / IPv6ExtHdrFragment(id=78) / UDP(sport=45003, dport=9) / Raw(b"y" * 1300)
    fr = fragment6(big2, 700)
    pk += [E / f for f in reversed(fr)]  # out of order
    pk.append(E / IPv6(src="2001:db8::2", dst="2001:db8::1") / IPv6ExtHdrFragment(id=79, m=0, offset=0) / UDP(sport=45004, dport=9) / Raw(b"a"))
    hello = bytes.fromhex("1603010050010000") + b"\x00" * 80
    pk += tcp_conv(45005, 3128, [("c", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
                                 ("s", b"HTTP/1.1 200 Connection established\r\n\r\n"), ("c", hello)])
    pk += tcp_conv(45006, 443, [("c", hello)])
    pk += tcp_conv(45007, 8080, [("c", b"CONNECT 10.0.0.1:8883 HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n"), ("s", b"HTTP/1.1 200 OK\r\n\r\n"), ("c", hello)])
    pk += tcp_conv(45010, 443, [("c", b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"), ("s", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")])
    pk += tcp_conv(45011, 8883, [("c", b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")])
    return pk


SHAPES = {
    "icmp_errors": build_icmp_errors,
    "scans_and_spoofing": build_scans_and_spoofing,
    "lengths_and_links": build_lengths_and_links,
    "dns_tcp_frag6_tunnels": build_dns_tcp_frag6_tunnels,
}


@pytest.mark.tshark
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shape_matches_tshark(tshark: str, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.pcap"
    pkts = SHAPES[name]()
    wrpcap(str(path), stamp(pkts))
    ref = tshark_rows(tshark, path)
    diffs = compare(ours_for(path), ref)
    assert not diffs, f"{len(diffs)} cells differ, first: {diffs[:8]}"
    # the capture really exercises what it is named for: tshark filled fields beyond the IP layer
    filled = {c for row in ref for c, v in zip(COLUMNS, row, strict=True) if v != 0}
    assert len(filled) > 12, filled


@pytest.mark.tshark
def test_icmp_error_fields_come_from_the_quoted_packet(tshark: str, tmp_path: Path) -> None:
    """A named check of what tshark takes from the quoted packet (so a regression reads clearly)."""
    path = tmp_path / "quoted.pcap"
    pk = build_icmp_errors()[:3]
    wrpcap(str(path), stamp(pk))
    ours = ours_for(path)
    col = COLUMNS.index
    assert ours[1][col("udp.port")] == 40000  # the quoted datagram's source port
    assert ours[1][col("ip.src_host")] == S  # the outer header wins (occurrence=f)
    assert ours[1][col("udp.time_delta")] == 0  # not timed ...
    assert ours[2][col("udp.time_delta")] == pytest.approx(2 * 0.010017, abs=2e-6)  # ... nor advancing the clock
    assert compare(ours, tshark_rows(tshark, path)) == []


def test_ipv6_alert_context_is_text() -> None:
    """IPv6 addresses stay raw on the hot path; the alert context still gets RFC 5952 text."""
    from agent.records import Frame

    pk = build_dns_tcp_frag6_tunnels()
    frames = [Frame(1.0 + i, bytes(p), 1, len(p)) for i, p in enumerate(pk) if IPv6 in p][-1:]
    (_row, ctx), = EdgeIIoTsetExtractor().rows_with_context(frames)
    assert ctx[1] == "2001:db8::2" and ctx[3] == "2001:db8::1", ctx
