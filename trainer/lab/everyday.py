"""Everyday LAN traffic that real plant networks carry besides their own protocols.

Why this exists: a model trained on MQTT, Modbus and a dashboard only has never seen an HMI's
browser fetch TLS pages, a laptop join the network (DHCP, ARP probes, gratuitous ARP), discovery
chatter (mDNS, SSDP, LLMNR, NetBIOS, LAN sync broadcasts), IPv6 neighbour discovery, switches
talking LLDP/STP, or a REST client using PUT/DELETE/OPTIONS. On a real network those are benign,
and a classifier that never saw them guesses an attack class for them (a bulk TLS download looked
like Ransomware, a joining phone's ARP probes like MITM). Each kind is switched on per capture
session with its own probability, so that some sessions look like a pure OT cell and others like
an office-adjacent plant LAN.

Every frame here is labelled ``Normal``.
"""

from __future__ import annotations

import random
import struct

from trainer.lab import wire
from trainer.lab.ethernet.capture import Capture, IcmpErrorLimit, Tcp, port_unreachable
from trainer.lab.ethernet.labels import NORMAL
from trainer.lab.ethernet.payloads.dns import dns_answer, dns_name
from trainer.lab.ethernet.payloads.http import BROWSER_UAS, http_request, http_response
from trainer.lab.ethernet.payloads.mqtt import mqtt, mqtt_connect, mqtt_str
from trainer.lab.ethernet.payloads.smb import smb2, smb_read, smb_session, smb_write
from trainer.lab.ethernet.payloads.snmp import (
    SNMP_GET,
    SNMP_GETBULK,
    SNMP_GETNEXT,
    SNMP_RESPONSE,
    SNMP_TRAP2,
    ber,
    ber_oid,
    snmp_message,
)
from trainer.lab.ethernet.payloads.ssdp import ssdp_msearch
from trainer.lab.ethernet.payloads.text import entropy_text
from trainer.lab.ethernet.site import Host, Site, external, rand_mac, rtt
from trainer.lab.wire import ACK, RST

BROADCAST_MAC = b"\xff" * 6
ETH_IPV6 = 0x86DD
ETH_LLDP = 0x88CC


def _tls_record(rng: random.Random, ctype: int, n: int) -> bytes:
    """``n`` opaque bytes in TLS records of at most 16 KiB (what a capture of encrypted traffic shows)."""
    out = []
    while True:
        k = min(n, 16384)
        out.append(struct.pack("!BHH", ctype, 0x0303, k) + rng.randbytes(k))
        n -= k
        if n <= 0:
            return b"".join(out)


def client_hello_size(rng: random.Random) -> int:
    """Bytes of a ClientHello: 200-600 classic, 1.1-1.9 KB with a post-quantum key share (X25519MLKEM768,
    what Chrome, Firefox and OpenSSL 3.5 send by default), so the first flight turns a connection."""
    return rng.randint(180, 600) if rng.random() < 0.5 else rng.randint(1100, 1900)


def llmnr_port(h: Host, rng: random.Random) -> int:
    """The source port of an LLMNR query: Windows (Vista on) and systemd-resolved send it, both from
    ephemeral ports above 32767. (A lower source port that tshark assigns to another dissector, as
    4551 is to MIH, would make tshark read the query as that protocol: it tries the lower port first.)"""
    return h.port(rng) if h.os.eph[0] > 5355 else rng.randint(49152, 65535)


def group_host(site: Site, addr: bytes, mac: bytes) -> Host:
    """A broadcast or multicast destination, as a Host the capture helpers can address."""
    o = site.gw.os
    return Host("group", addr, mac, o, o.ttl)


def discovery_groups(site: Site) -> tuple[Host, Host, Host, Host]:
    """Where discovery chatter goes: the mDNS, SSDP and LLMNR multicast groups and the subnet broadcast."""
    return (group_host(site, bytes((224, 0, 0, 251)), bytes.fromhex("01005e0000fb")),
            group_host(site, bytes((239, 255, 255, 250)), bytes.fromhex("01005e7ffffa")),
            group_host(site, bytes((224, 0, 0, 252)), bytes.fromhex("01005e0000fc")),
            group_host(site, site.prefix + b"\xff", BROADCAST_MAC))


def normal_tls(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """HTTPS from clients, the HMI and the gateway to cloud services: handshakes, requests, downloads.

    Browsers open several connections at once, most transfers are small, some are bulk downloads
    (updates, reports) of high-entropy bytes; connections end with FIN or, as browsers often do, RST.
    """
    rng = cap.rng
    users = [*site.clients, site.hmi, site.gw]
    servers = [external(site, rng, f"cloud{i}") for i in range(rng.randint(3, 12))]
    for h in users:
        t = t0 + rng.uniform(0, 20)
        gap = rng.uniform(8, 60)
        while t < t1:
            for _ in range(rng.choice([1, 1, 2, 3, 4, 6])):
                srv = rng.choice(servers)
                c = Tcp(cap, NORMAL, h, srv, rng.choice([443, 443, 443, 443, 8443, 8883]), t + rng.uniform(0, 0.3),
                        rtt(site, h, srv), site.loss)
                pace(c, rng, wan=True)
                c.open()
                c.exchange(_tls_record(rng, 22, client_hello_size(rng)),
                           _tls_record(rng, 22, rng.randint(90, 130)) + _tls_record(rng, 20, 1)
                           + _tls_record(rng, 23, rng.randint(1500, 5200)), rng.uniform(0.002, 0.03))
                c.send(True, _tls_record(rng, 20, 1) + _tls_record(rng, 23, rng.randint(50, 110)), ack=False)
                for _ in range(rng.randint(1, 8)):
                    c.t += rng.uniform(0.01, 3)
                    big = rng.random() < 0.06
                    size = rng.randint(60_000, 600_000) if big else rng.choice([rng.randint(30, 900),
                                                                               rng.randint(900, 20_000)])
                    request = rng.randint(30, 800) if rng.random() < 0.8 else rng.randint(800, 4000)  # cookies, forms
                    c.exchange(_tls_record(rng, 23, request), _tls_record(rng, 23, size),
                               rng.uniform(0.005, 0.2))
                c.t += rng.uniform(0.05, 10)
                if rng.random() < 0.4:
                    c.reset(True)
                else:
                    c.send(True, _tls_record(rng, 21, 26), ack=False)
                    c.close(rng.random() < 0.7)
            t += rng.expovariate(1 / gap)


def normal_rest(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """A REST client (Node-RED, a historian, a script) using the whole HTTP method set on the web server."""
    rng = cap.rng
    cl = rng.choice([site.hmi, *site.clients])
    host = site.web_host
    ua = rng.choice(["python-requests/2.31.0", "node-fetch/1.0", "Go-http-client/1.1", "curl/8.5.0",
                     "okhttp/4.12.0", rng.choice(BROWSER_UAS)])
    t = t0 + rng.uniform(0, 30)
    while t < t1:
        c = Tcp(cap, NORMAL, cl, site.web, site.http_port, t, site.rtt_lan, site.loss)
        c.open()
        for _ in range(rng.randint(1, 10)):
            method = rng.choice(["GET", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
            path = rng.choice(["/api/v1/tags", "/api/v1/tags/{}", "/api/v1/recipes/{}", "/api/v1/alarms/{}/ack",
                               "/api/v1/trends?from={}", "/api/v1/config", "/flows", "/api/v1/batches/{}"])
            path = path.format(rng.randint(1, 5000))
            body = b""
            if method in ("POST", "PUT", "PATCH"):
                body = f'{{"value": {rng.uniform(-50, 500):.3f}, "quality": "good", "ts": {int(t)}}}'.encode()
            status = {"POST": 201, "DELETE": 204, "OPTIONS": 204, "PUT": 200}.get(method, 200)
            if rng.random() < 0.05:
                status = rng.choice([400, 401, 404, 405, 409, 503])
            resp_body = b"" if method in ("HEAD", "OPTIONS", "DELETE") or status == 204 else (
                b'{"ok": true, "items": [' + b",".join(b"%d" % rng.randint(0, 999)
                                                       for _ in range(rng.randint(1, 60))) + b"]}")
            c.exchange(http_request(rng, method, host, path, ua, body=body,
                                    ctype="application/json" if body else None),
                       http_response(rng, status, resp_body, "application/json", "nginx"), rng.uniform(0.001, 0.04))
            c.t += rng.uniform(0.02, 1.5)
        c.close(rng.random() < 0.6)
        t = c.t + rng.expovariate(1 / rng.uniform(3, 40))


def normal_pollers(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Monitoring scripts and health checks: one short request per connection, on a fixed period.

    Why: curl in a cron loop, Python's urllib, a Prometheus or Zabbix check, a PLC gateway pushing a
    reading by HTTP POST, all open a new connection for each request, every 0.2-10 s, for months. A
    brute-force tool does the same at a similar pace; the difference is in what is sent, so a model
    that has not seen pollers calls them a password attack.
    """
    rng = cap.rng
    host = site.web_host
    for _ in range(rng.randint(2, 4)):
        cl = rng.choice([site.hmi, site.gw, *site.clients])
        ua = rng.choice(["Python-urllib/3.11", "curl/7.88.1", "Prometheus/2.45.0", "Zabbix 6.0",
                         "python-requests/2.31.0", "Wget/1.21.3", "check_http/v2.3.3 (monitoring-plugins 2.3.3)"])
        period = rng.choice([0.2, 0.5, 1.0, 2.0, 5.0, 10.0]) * rng.uniform(0.9, 1.1)
        method = rng.choice(["GET", "GET", "HEAD", "POST", "POST"])
        path = rng.choice(["/", "/health", "/healthz", "/metrics", "/api/status", "/api/v1/readings",
                           "/cgi-bin/status", "/status.json", "/index.html"])
        auth = [("Authorization", "Basic " + rng.choice(["YWRtaW46cGxjMjAyNA==", "bW9uaXRvcjptb25pdG9y"]))] \
            if rng.random() < 0.3 else None
        server, version = rng.choice([("SimpleHTTP/0.6 Python/3.11.2", "1.0"), ("nginx", "1.1"),
                                      ("lighttpd/1.4.69", "1.1"), ("Werkzeug/2.2.2 Python/3.11.2", "1.1")])
        t = t0 + rng.uniform(0, period)
        while t < t1:
            c = Tcp(cap, NORMAL, cl, site.web, site.http_port, t, site.rtt_lan, site.loss)
            c.open()
            body = f'{{"id": {rng.randint(1, 40)}, "v": {rng.uniform(0, 100):.2f}}}'.encode() if method == "POST" \
                else b""
            resp = b"" if method == "HEAD" else (b'{"status": "ok", "uptime": %d}' % rng.randint(10, 10**7)
                                                 if path != "/" else entropy_text(rng, rng.randint(300, 3000)))
            c.exchange(http_request(rng, method, host, path, ua, body=body, extra=auth, version=rng.choice(
                ["1.1", "1.1", "1.0"]), ctype="application/json" if body else None),
                http_response(rng, rng.choices([200, 204, 304, 503], [90, 4, 4, 2])[0] if method != "POST" else 201,
                              resp, "application/json", server, version), rng.uniform(0.0005, 0.02))
            c.close(rng.random() < 0.3)  # most servers close after the response
            t += period * rng.uniform(0.97, 1.03)


def host_joins(cap: Capture, site: Site, t: float) -> float:
    """A laptop or phone joins: DHCP, ARP probes and announcements (RFC 5227), then ARP for its peers."""
    rng = cap.rng
    mac = rand_mac(rng, "client")
    ip = site.prefix + bytes((rng.randint(100, 240),))
    zero = b"\0\0\0\0"
    bcast = group_host(site, b"\xff\xff\xff\xff", BROADCAST_MAC)
    xid = rng.getrandbits(32)
    ghost = Host("joining", zero, mac, site.gw.os, 64)
    for mtype in (1, 3):  # DISCOVER, REQUEST from 0.0.0.0
        dhcp = (struct.pack("!BBBBIHH", 1, 1, 6, 0, xid, 0, 0x8000) + zero * 4 + mac + b"\0" * 10 + b"\0" * 192
                + b"\x63\x82\x53\x63" + bytes((53, 1, mtype)) + bytes((55, 4, 1, 3, 6, 15)) + b"\xff")
        cap.udp(t, NORMAL, ghost, bcast, 68, 67, dhcp, src_ip=zero, ident=0, ttl=64)
        t += rng.uniform(0.002, 0.05)
        reply = (struct.pack("!BBBBIHH", 2, 1, 6, 0, xid, 0, 0) + zero + ip + site.gw.ip + zero + mac + b"\0" * 10
                 + b"\0" * 192 + b"\x63\x82\x53\x63" + bytes((53, 1, 2 if mtype == 1 else 5))
                 + bytes((54, 4)) + site.gw.ip + bytes((51, 4)) + struct.pack("!I", 86400) + b"\xff")
        cap.udp(t, NORMAL, site.gw, bcast, 67, 68, reply)
        t += rng.uniform(0.01, 0.3)
    for _ in range(3):  # probes: sender 0.0.0.0
        cap.arp(t, NORMAL, 1, mac, zero, b"\0" * 6, ip)
        t += rng.uniform(1, 2)
    for _ in range(2):  # announcements: sender == target
        cap.arp(t, NORMAL, rng.choice([1, 2]), mac, ip, b"\0" * 6, ip, eth_dst=BROADCAST_MAC)
        t += 2
    lan = [h for h in site.hosts if not h.external]
    for peer in rng.sample(lan, min(len(lan), rng.randint(1, 8))):
        cap.arp(t, NORMAL, 1, mac, ip, b"\0" * 6, peer.ip)
        if rng.random() < 0.9:
            cap.arp(t + rng.uniform(0.0002, 0.003), NORMAL, 2, peer.mac, peer.ip, mac, ip)
        t += rng.uniform(0.001, 0.5)
    return t


def _mdns(rng: random.Random, name: str, answer: bool) -> bytes:
    qtype = rng.choice([12, 12, 33, 16, 1, 28, 255])
    if answer:
        return dns_answer(0, name, 1, [bytes((169, 254, rng.randrange(256), rng.randint(1, 254)))], 120)
    qclass = 0x8001 if rng.random() < 0.5 else 1  # the unicast-response ("QU") bit is common
    return struct.pack("!HHHHHH", 0, 0, 1, 0, 0, 0) + dns_name(name) + struct.pack("!HH", qtype, qclass)


def normal_discovery(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Service discovery and broadcast chatter of PCs, phones, printers and media devices."""
    rng = cap.rng
    lan = [h for h in site.hosts if not h.external]
    chatty = rng.sample(lan, max(1, len(lan) // 3))
    mdns, ssdp, llmnr, bcast = discovery_groups(site)
    services = ["_googlecast._tcp.local", "_spotify-connect._tcp.local", "_ipp._tcp.local", "_http._tcp.local",
                "_workstation._tcp.local", "_companion-link._tcp.local", "_hap._tcp.local", "_airplay._tcp.local"]
    t = t0
    while t < t1:
        t += rng.expovariate(1 / rng.uniform(1.0, 8.0))
        h = rng.choice(chatty)
        kind = rng.random()
        if kind < 0.35:
            name = rng.choice(services)
            cap.udp(t, NORMAL, h, mdns, 5353, 5353, _mdns(rng, name, False), ttl=255)
            if rng.random() < 0.4:
                cap.udp(t + rng.uniform(0.01, 0.2), NORMAL, rng.choice(lan), mdns, 5353, 5353, _mdns(rng, name, True),
                        ttl=255)
        elif kind < 0.6:
            st = rng.choice(["ssdp:all", "upnp:rootdevice", "urn:dial-multiscreen-org:service:dial:1",
                             "urn:schemas-upnp-org:device:MediaRenderer:1"])
            msg = ssdp_msearch(rng.randint(1, 5), st)
            sport = h.port(rng)
            for _ in range(rng.randint(1, 3)):
                cap.udp(t, NORMAL, h, ssdp, sport, 1900, msg, ttl=rng.choice([1, 2, 4]))
                t += rng.uniform(0.1, 1.0)
        elif kind < 0.75:
            qid = rng.randrange(65536)
            q = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + dns_name(f"desktop-{rng.randrange(16**4):04x}") + \
                struct.pack("!HH", rng.choice([1, 28]), 1)
            cap.udp(t, NORMAL, h, llmnr, llmnr_port(h, rng), 5355, q, ttl=1)
        elif kind < 0.9:
            port = rng.choice([17500, 57621, 137, 138, 9956, 15600])
            cap.udp(t, NORMAL, h, bcast, port, port, rng.randbytes(rng.randint(30, 250)), ttl=64)
        else:
            # IGMPv2 membership report for a discovery group
            grp = rng.choice([mdns, ssdp, llmnr])
            igmp = bytes((0x16, 0, 0, 0)) + grp.ip
            igmp = igmp[:2] + wire.checksum(igmp) + igmp[4:]
            cap.ip(t, NORMAL, h, grp, 2, igmp, ttl=1, tos=0xC0)
    # now and then a device joins the network
    t = t0 + rng.uniform(0, 120)
    while t < t1:
        t = host_joins(cap, site, t)
        t += rng.expovariate(1 / rng.uniform(60, 400))


def _icmpv6(src: bytes, dst: bytes, typ: int, code: int, body: bytes) -> bytes:
    pseudo = src + dst + struct.pack("!IxxxB", 4 + len(body), 58)
    msg = bytes((typ, code, 0, 0)) + body
    return msg[:2] + wire.checksum(pseudo + msg) + msg[4:]


def normal_non_ip(cap: Capture, site: Site, t0: float, t1: float, stp: bool | None = None) -> None:
    """Frames with none of the dataset's fields: IPv6 neighbour discovery and MLD, LLDP, spanning tree.

    ``stp``: whether the switch sends spanning-tree BPDUs (``None``: drawn for the session; many don't).
    """
    rng = cap.rng
    lan = [h for h in site.hosts if not h.external]
    v6 = [h for h in lan if rng.random() < 0.6] or lan[:1]
    switch_mac = rand_mac(rng, "gateway")
    lldp_every = rng.choice([30, 30, 60])
    t_lldp, t_stp = t0 + rng.uniform(0, lldp_every), t0 + rng.uniform(0, 2)
    t = t0
    stp_on = rng.random() < 0.5 if stp is None else stp
    while t < t1:
        t += rng.expovariate(1 / rng.uniform(2, 15))
        h = rng.choice(v6)
        ll = b"\xfe\x80" + b"\0" * 6 + bytes((h.mac[0] ^ 2,)) + h.mac[1:3] + b"\xff\xfe" + h.mac[3:]
        kind = rng.random()
        if kind < 0.5:  # neighbour solicitation for a peer, multicast to its solicited-node group
            peer = rng.choice(v6)
            tgt = b"\xfe\x80" + b"\0" * 6 + bytes((peer.mac[0] ^ 2,)) + peer.mac[1:3] + b"\xff\xfe" + peer.mac[3:]
            dst = bytes.fromhex("ff020000000000000000000001ff") + tgt[13:]
            body = b"\0" * 4 + tgt + bytes((1, 1)) + h.mac
            payload, dmac = _icmpv6(ll, dst, 135, 0, body), bytes.fromhex("3333ff") + tgt[13:]
        elif kind < 0.75:  # router solicitation
            dst = bytes.fromhex("ff020000000000000000000000000002")
            payload, dmac = _icmpv6(ll, dst, 133, 0, b"\0" * 4 + bytes((1, 1)) + h.mac), bytes.fromhex("333300000002")
        else:  # MLDv2 report
            dst = bytes.fromhex("ff020000000000000000000000000016")
            rec = bytes((4, 0, 0, 0)) + bytes.fromhex("ff0200000000000000000000000000fb")
            payload, dmac = _icmpv6(ll, dst, 143, 0, b"\0\0\0\1" + rec), bytes.fromhex("333300000016")
        hop = 1 if kind >= 0.75 else 255
        ip6 = struct.pack("!IHBB", 0x60000000, len(payload), 58, hop) + ll + dst + payload
        cap.add(t, wire.ether(dmac, h.mac, ETH_IPV6, ip6, cap.pad_short), NORMAL)
        while t_lldp < t:
            tlv = (struct.pack("!H", (1 << 9) | 7) + b"\x04" + switch_mac
                   + struct.pack("!H", (2 << 9) | 4) + b"\x05" + b"1/%d" % rng.randint(1, 24)
                   + struct.pack("!H", (3 << 9) | 2) + struct.pack("!H", 120) + b"\0\0")
            cap.add(t_lldp, wire.ether(bytes.fromhex("0180c200000e"), switch_mac, ETH_LLDP, tlv, cap.pad_short),
                    NORMAL)
            t_lldp += lldp_every
        while stp_on and t_stp < t:
            bpdu = b"\x42\x42\x03" + b"\0\0\x02\x3c" + b"\x80\x00" + switch_mac + b"\0" * 4 + b"\x80\x00" \
                + switch_mac + b"\x80\x01" + b"\0\0\x14\x00\x02\x00\x0f\x00\x00"
            cap.add(t_stp, wire.ether(bytes.fromhex("0180c2000000"), switch_mac, len(bpdu), bpdu, cap.pad_short),
                    NORMAL)
            t_stp += 2.0


def normal_mqtt_churn(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Clients that come and go: short-lived publishers, reconnects after Wi-Fi drops, MQTT 5 clients."""
    rng = cap.rng
    clients = rng.sample(site.sensors, max(1, len(site.sensors) // 2))
    t = t0 + rng.uniform(0, 60)
    while t < t1:
        s = rng.choice(clients)
        c = Tcp(cap, NORMAL, s, site.broker, 1883, t, site.rtt_lan, site.loss)
        c.open()
        if rng.random() < 0.4:  # MQTT 5: protocol level 5 and an (empty or session-expiry) property block
            props = b"\x05\x11\x00\x00\x0e\x10" if rng.random() < 0.5 else b"\x00"
            body = mqtt_str("MQTT") + b"\x05\x02" + struct.pack("!H", rng.choice([30, 60])) + props \
                + mqtt_str(f"job-{rng.randrange(16**6):06x}")
            c.exchange(mqtt(0x10, body), mqtt(0x20, b"\x00\x00\x00"), 0.002)
        else:
            c.exchange(mqtt_connect(f"{s.name}-{rng.randrange(16**4):04x}", 60), mqtt(0x20, b"\x00\x00"), 0.002)
        for pid in range(1, rng.randint(1, 5) + 1):
            topic = f"{site.topic_root}/{s.name}/event"
            c.exchange(mqtt(0x32, mqtt_str(topic) + struct.pack("!H", pid) + b'{"event": "%d"}' % rng.randint(0, 99)),
                       mqtt(0x40, struct.pack("!H", pid)), 0.001)
        if rng.random() < 0.7:
            c.send(True, mqtt(0xE0, b""), ack=False)
            c.close(True)
        else:  # dropped off Wi-Fi: the broker later gives up with a RST
            c.t += rng.uniform(30, 90)
            c.seg(False, RST | ACK)
        t = c.t + rng.expovariate(1 / rng.uniform(20, 120))


def normal_auth_failures(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Failed logins that are not attacks: a device left with a wrong password that retries every few
    seconds to a minute, a monitoring script whose token expired, an operator's typo at the login page.

    Why: a brute force is told by many failures in a short time, not by one; a model that never saw
    a benign failure would call every refused login an attack.
    """
    rng = cap.rng
    host = site.web_host
    kinds = rng.sample(["mqtt_device", "stale_token", "typo"], k=rng.randint(1, 3))
    if "mqtt_device" in kinds:  # a sensor provisioned with the wrong password: refused, backs off, retries
        s = rng.choice(site.sensors)
        t, delay = t0 + rng.uniform(0, (t1 - t0) / 2), rng.uniform(2, 10)
        code = rng.choice([4, 5])
        while t < t1:
            c = Tcp(cap, NORMAL, s, site.broker, 1883, t, site.rtt_lan, site.loss)
            c.open()
            c.exchange(mqtt_connect(f"{s.name}-{rng.randrange(16**4):04x}", 60, True, True, s.name, "changeme"),
                       mqtt(0x20, bytes((0, code))), 0.002)
            c.close(False)
            delay = min(delay * rng.uniform(1.0, 2.0), 60.0)
            t = c.t + delay
    if "stale_token" in kinds:  # a monitoring script polls with an expired token and is refused each time
        cl = rng.choice([site.hmi, *site.clients])
        period = rng.choice([10.0, 15.0, 30.0, 60.0])
        t = t0 + rng.uniform(0, period)
        while t < t1:
            c = Tcp(cap, NORMAL, cl, site.web, site.http_port, t, site.rtt_lan, site.loss)
            c.open()
            c.exchange(http_request(rng, "GET", host, "/api/status", "python-requests/2.31.0",
                                    extra=[("Authorization", "Bearer " + rng.randbytes(24).hex())]),
                       http_response(rng, rng.choice([401, 403]), b'{"error": "invalid token"}', "application/json",
                                     "nginx"), rng.uniform(0.001, 0.02))
            c.close(rng.random() < 0.5)
            t += period * rng.uniform(0.98, 1.02)
    if "typo" in kinds:  # operators log in; now and then a password is mistyped once or twice
        for _ in range(rng.randint(1, 6)):
            cl = rng.choice(site.clients)
            c = Tcp(cap, NORMAL, cl, site.web, site.http_port, rng.uniform(t0, t1), site.rtt_lan, site.loss)
            c.open()
            ua = rng.choice(BROWSER_UAS)
            for _ in range(rng.choice([1, 1, 2])):
                c.exchange(http_request(rng, "POST", host, "/login", ua, body=b"username=operator&password=x",
                                        ctype="application/x-www-form-urlencoded"),
                           http_response(rng, rng.choice([401, 200]), b"<p>Invalid user name or password</p>",
                                         "text/html", "nginx"), rng.uniform(0.01, 0.1))
                c.t += rng.uniform(3, 15)  # retyping
            c.exchange(http_request(rng, "POST", host, "/login", ua, body=b"username=operator&password=y",
                                    ctype="application/x-www-form-urlencoded"),
                       http_response(rng, 302, b"", "text/html", "nginx"), rng.uniform(0.01, 0.1))
            c.close(True)


#: the MIB-2 subtrees an NMS walks (system, interfaces, ifX counters, host resources, UCD load)
WALKED_TREES = ("1.3.6.1.2.1.1", "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1", "1.3.6.1.2.1.25.2.3.1",
                "1.3.6.1.4.1.2021.10.1")
#: linkDown, linkUp, coldStart (snmpTrapOID values)
LINK_TRAPS = ("1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.6.3.1.1.5.1")
#: what devices say in syslog
SYSLOG_TEXTS = ("link up on port {n}", "cycle time {n} us", "io module {n} ok", "user admin logged in from console",
                "config saved", "NTP sync to {n}", "watchdog ok", "CRON[{n}]: (root) CMD (run-parts /etc/cron.hourly)",
                "dhcp lease renewed", "temperature {n} C", "fan {n} rpm", "sshd[{n}]: Accepted publickey for admin")


def _snmp_value(rng: random.Random) -> bytes:
    """A varbind's value as agents answer: a counter, gauge, timeticks, integer or a display string."""
    kind = rng.random()
    if kind < 0.5:
        raw = rng.getrandbits(32).to_bytes(5, "big")
        while len(raw) > 1 and raw[0] == 0 and raw[1] < 0x80:  # the shortest two's complement form
            raw = raw[1:]
        return ber(rng.choice([0x41, 0x42, 0x43]), raw)
    if kind < 0.7:
        return ber(0x02, bytes((rng.randrange(128),)))
    return ber(0x04, entropy_text(rng, rng.randint(3, 90)))


def _snmp_walk(cap: Capture, nms: Host, dev: Host, t: float, sport: int, community: bytes, version: int,
               rtt_s: float, most: int) -> float:
    """snmpwalk / snmpbulkwalk of one subtree: each request sent as soon as the previous answer arrives,
    from one port; the walk ends with the first OID past the subtree (of at most ``most`` rows).
    Returns when it ended."""
    rng = cap.rng
    tree = rng.choice(WALKED_TREES)
    rows = rng.randint(8, most)
    bulk = version == 1 and rng.random() < 0.5
    per = rng.randint(10, 25) if bulk else 1
    rid = rng.randrange(1 << 30)
    done = 0
    while done <= rows:
        rid += 1
        oid = f"{tree}.{done}" if done else tree
        pdu = SNMP_GETBULK if bulk else SNMP_GETNEXT
        req = snmp_message(version, community, pdu, rid, [(oid, b"\x05\x00")], (0, per) if bulk else (0, 0))
        cap.udp(t, NORMAL, nms, dev, sport, 161, req)
        n = min(per, rows + 1 - done)
        ans = [(f"{tree}.{done + i + 1}", _snmp_value(rng)) for i in range(n)]
        t += rtt_s + rng.uniform(0.0002, 0.004) + 0.00002 * n
        cap.udp(t, NORMAL, dev, nms, 161, sport, snmp_message(version, community, SNMP_RESPONSE, rid, ans))
        done += n
        t += rng.uniform(0.00005, 0.0005)
    return t


def _syslog_line(rng: random.Random, h: Host, t: float, rfc5424: bool) -> bytes:
    """One syslog message (RFC 3164 or RFC 5424)."""
    pri = rng.choice([13, 14, 30, 134, 165, 11, 28])
    text = rng.choice(SYSLOG_TEXTS).format(n=rng.randint(1, 9999))
    if rfc5424:
        stamp = f"2026-11-{int(t // 86400) % 28 + 1:02d}T{int(t % 86400) // 3600:02d}:{int(t % 3600) // 60:02d}:" \
                f"{t % 60:06.3f}Z"
        return f"<{pri}>1 {stamp} {h.name} {rng.choice(['plc-agent', 'kernel', 'sshd', '-'])} " \
               f"{rng.randint(1, 30000)} - - {text}".encode()
    return f"<{pri}>Nov {int(t // 86400) % 28 + 1:2d} {int(t % 86400) // 3600:02d}:{int(t % 3600) // 60:02d}:" \
           f"{int(t % 60):02d} {h.name} {text}".encode()


def normal_monitoring(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Network management: an NMS polling devices over SNMP, devices sending syslog and traps.

    Why: every managed plant network has it, and its shapes look like attacks to a model that never
    saw them. An NMS sweeps every device with a get each period, or walks subtrees: a walk sends
    hundreds of GetNext/GetBulk requests back to back, as fast as the agent answers (snmpwalk,
    LibreNMS, Zabbix). net-snmp's tools bind a new source port for each run. Syslog comes from
    port 514 (embedded stacks), from one ephemeral port (rsyslog), or from a new port per message
    (``logger``, busybox), from 1 message a minute to bursts of hundreds when a device boots; a
    collector that is not listening answers each with ICMP port unreachable, rate-limited.

    Switched on with the plant-floor traffic (:func:`trainer.lab.plant_floor.add_plant_floor`,
    ``generate --plant-floor``), not in every session: see docs/lab.md, *Known limits* for what a model
    trained with it in every session did.
    """
    rng = cap.rng
    lan = [h for h in site.hosts if not h.external]
    nms = rng.choice([site.hmi, *site.clients, site.gw])
    devices = [h for h in lan if h is not nms]
    community = rng.choice([b"public", b"public", b"monitor", b"pl4nt-ro"])
    version = rng.choice([0, 1, 1])
    new_port = rng.random() < 0.6  # each poll a new process (snmpget, snmpwalk) or one long-lived poller
    sport = nms.port(rng)
    period = rng.choice([1.0, 2.0, 5.0, 10.0, 30.0, 60.0])
    sweep = period >= 5 and rng.random() < 0.6
    # walks: one device's small subtree every second or so, or a few devices' tables every minutes
    walk_s = rng.choice([1.0, 10.0, 60.0, 300.0])
    walked = rng.sample(devices, k=min(len(devices), 1 if walk_s < 10 else rng.randint(1, 4)))
    walk_every = max(1, round(walk_s / period))
    polls = 0
    silent = {id(h) for h in devices if rng.random() < 0.1}
    t, rid = t0 + rng.uniform(0, period), rng.randrange(1 << 20)
    while t < t1:
        at = t
        if sweep:
            for h in devices:
                rid += 1
                port = nms.port(rng) if new_port else sport
                oids = rng.sample(["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.2.2.1.10.1",
                                   "1.3.6.1.2.1.2.2.1.16.1", "1.3.6.1.2.1.1.5.0"], k=rng.randint(1, 3))
                cap.udp(at, NORMAL, nms, h, port, 161, snmp_message(version, community, SNMP_GET, rid,
                                                                    [(o, b"\x05\x00") for o in oids]))
                if id(h) not in silent:
                    cap.udp(at + rng.uniform(0.001, 0.02), NORMAL, h, nms, 161, port, snmp_message(
                        version, community, SNMP_RESPONSE, rid, [(o, _snmp_value(rng)) for o in oids]))
                at += rng.uniform(0.002, 0.05)
        polls += 1
        for h in walked if polls % walk_every == 0 else ():
            at = _snmp_walk(cap, nms, h, at + rng.uniform(0.001, 0.05), nms.port(rng) if new_port else sport,
                            community, version, site.rtt_lan, 30 if walk_s < 10 else 250)
        t += max(period, at - t + 0.5) * rng.uniform(0.98, 1.02)
    if rng.random() < 0.3:  # traps: link changes, threshold crossings
        for h in rng.sample(devices, k=min(len(devices), 3)):
            t = t0 + rng.expovariate(1 / 120)
            while t < t1:
                trap = snmp_message(1, community, SNMP_TRAP2, rng.randrange(1 << 30),
                                    [("1.3.6.1.2.1.1.3.0", ber(0x43, rng.randbytes(3))),
                                     ("1.3.6.1.6.3.1.1.4.1.0", ber_oid(rng.choice(LINK_TRAPS)))])
                cap.udp(t, NORMAL, h, nms, h.port(rng), 162, trap)
                t += rng.expovariate(1 / 300)
    collector = rng.choice([site.hmi, site.broker, site.gw, nms])
    listening = rng.random() < 0.75
    limit = IcmpErrorLimit()
    for i, h in enumerate(rng.sample([h for h in devices if h is not collector], k=min(len(devices) - 1, 6))):
        mode = rng.choice(["514", "514", "fixed", "per-message"])
        port = 514 if mode == "514" else h.port(rng)
        rfc5424 = rng.random() < 0.4
        gap = rng.choice([0.2, 0.5, 1.0, 5.0] if i == 0 else [5.0, 30.0, 60.0, 300.0])  # one chatty sender
        t = t0 + rng.uniform(0, gap)
        while t < t1:
            burst = rng.randint(20, 200) if rng.random() < 0.01 else 1  # a boot or an error storm
            for _ in range(burst):
                if mode == "per-message":
                    port = h.port(rng)
                msg = _syslog_line(rng, h, t, rfc5424)
                cap.udp(t, NORMAL, h, collector, port, 514, msg)
                if not listening and limit.allow(id(h), t):
                    port_unreachable(cap, t + 0.0001, NORMAL, collector, h, wire.ipv4(
                        h.ip, collector.ip, wire.PROTO_UDP, wire.udp(h.ip, collector.ip, port, 514, msg), h.ttl, 0))
                t += rng.uniform(0.001, 0.02) if burst > 1 else 0.0
            t += rng.expovariate(1 / gap)


def add_everyday(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Switch each kind of everyday traffic on with its own probability for this capture session."""
    rng = cap.rng
    for func, p in ((normal_tls, 0.8), (normal_rest, 0.6), (normal_discovery, 0.75), (normal_non_ip, 0.8),
                    (normal_mqtt_churn, 0.6), (normal_pollers, 1.0), (normal_auth_failures, 0.7)):
        if rng.random() < p:
            func(cap, site, t0, t1)


SSH_SERVER_BANNERS = [b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n",
                      b"SSH-2.0-OpenSSH_7.4\r\n", b"SSH-2.0-dropbear_2022.83\r\n",
                      b"SSH-2.0-OpenSSH_for_Windows_8.1\r\n"]
SSH_CLIENT_BANNERS = [b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n",
                      b"SSH-2.0-PuTTY_Release_0.80\r\n", b"SSH-2.0-paramiko_3.4.0\r\n",
                      b"SSH-2.0-WinSCP_release_6.1\r\n"]


#: captures shorter than this carry no bulk transfer (a few MB would dwarf them)
MIN_TRANSFER_SPAN_S = 400.0


def _ssh_packet(rng: random.Random, payload: bytes) -> bytes:
    """An unencrypted SSH binary packet (RFC 4253 section 6): length, padding length, payload, padding."""
    pad = 8 - (len(payload) + 5) % 8
    pad += 8 if pad < 4 else 0
    return struct.pack("!IB", len(payload) + pad + 1, pad) + payload + rng.randbytes(pad)


def _ssh_string(b: bytes) -> bytes:
    return struct.pack("!I", len(b)) + b


def _ssh_kexinit(rng: random.Random) -> bytes:
    lists = [b"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ext-info-c",
             b"ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256",
             *[b"chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr,aes256-gcm@openssh.com"] * 2,
             *[b"umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-256"] * 2,
             *[rng.choice([b"none,zlib@openssh.com", b"none"])] * 2, b"", b""]
    return _ssh_packet(rng, b"\x14" + rng.randbytes(16) + b"".join(map(_ssh_string, lists)) + b"\x00" + bytes(4))


def _ssh_login(c: Tcp, rng: random.Random) -> None:
    """Banners, key exchange (curve25519 or a post-quantum hybrid) and a public-key login that succeeds,
    as every SSH connection starts; after NEWKEYS each packet is opaque bytes of its encrypted length."""
    c.send(False, rng.choice(SSH_SERVER_BANNERS))
    c.send(True, rng.choice(SSH_CLIENT_BANNERS))
    c.send(True, _ssh_kexinit(rng))
    c.send(False, _ssh_kexinit(rng))
    # curve25519, or a post-quantum hybrid (sntrup761x25519, mlkem768x25519: OpenSSH 9.0+ defaults):
    # its client key share is 1.2 KB and the server's reply 1.1 KB, so the key exchange turns once
    client_share, server_share = (32, 32) if rng.random() < 0.5 else rng.choice([(1190, 1071), (1216, 1120)])
    c.exchange(_ssh_packet(rng, b"\x1e" + _ssh_string(rng.randbytes(client_share))),
               _ssh_packet(rng, b"\x1f" + _ssh_string(_ssh_string(b"ssh-ed25519") + _ssh_string(rng.randbytes(32)))
                           + _ssh_string(rng.randbytes(server_share))
                           + _ssh_string(_ssh_string(b"ssh-ed25519") + _ssh_string(rng.randbytes(64))))
               + _ssh_packet(rng, b"\x15"), 0.002)
    c.exchange(_ssh_packet(rng, b"\x15") + rng.randbytes(rng.choice([44, 60])), rng.randbytes(rng.choice([44, 52])),
               0.001)  # NEWKEYS, then the encrypted service request and its answer
    c.exchange(rng.randbytes(rng.randint(380, 700)), rng.randbytes(rng.choice([28, 44, 52])),
               rng.uniform(0.002, 0.03))  # publickey: accepted
    c.exchange(rng.randbytes(rng.choice([112, 128, 144])), rng.randbytes(rng.choice([44, 52, 600])), 0.001)  # channel


def _transfer_size(rng: random.Random) -> int:
    """Bytes of one bulk transfer: log-uniform from 100 KB to 4 MB."""
    return int(100_000 * 40 ** rng.random())


def _smb_copy(c: Tcp, rng: random.Random, sizes: list[int], upload: bool, verify: bool = False) -> None:
    """Copy files one way over an SMB2 session: per file CREATE, READs (or WRITEs) of 64 KB-1 MB, CLOSE;
    with ``verify``, an upload is read back once it is written (backup tools that check their copy).

    A file copy moves bytes in one direction (a verified one turns once per file); ransomware reads
    each file and writes it back, file after file."""
    mid, tree, sess = smb_session(c, rng, "\\\\files\\projects", rng.randint(150, 400))
    chunk = rng.choice([65536, 262144, 1048576])
    for size in sizes:
        name = f"{rng.choice(['backup', 'project', 'recipe', 'trend', 'firmware', 'report'])}{rng.randrange(999)}"
        mid += 1
        c.exchange(smb2(5, b"\x39\x00" + rng.randbytes(54) + f"{name}.zip".encode("utf-16-le"), mid, tree, sess,
                        False), smb2(5, b"\x59\x00" + rng.randbytes(86), mid, tree, sess, True), 0.001)
        passes = [upload]  # write the file (an upload) or read it (a download)
        if upload and verify:
            passes.append(False)  # then read it back
        for write in passes:
            for off in range(0, size, chunk):
                mid += 1
                if write:
                    smb_write(c, rng, (mid, tree, sess), min(chunk, size - off))
                else:
                    smb_read(c, rng, (mid, tree, sess), min(chunk, size - off))
        mid += 1
        c.exchange(smb2(6, b"\x18\x00" + rng.randbytes(22), mid, tree, sess, False),
                   smb2(6, b"\x3c\x00" + rng.randbytes(58), mid, tree, sess, True), 0.001)
        c.t += rng.uniform(0.001, 0.2)


def pace(c: Tcp, rng: random.Random, wan: bool) -> None:
    """A bulk path's rate and ACK policy: log-uniform from 30 KB/s to 3 MB/s across a WAN (a cloud
    download, a remote site's uplink), from 1 MB/s to 60 MB/s on the LAN; a receiver ACKs every
    second segment or, a third of the time, each one."""
    lo, hi = (30e3, 3e6) if wan else (1e6, 60e6)
    c.rate = lo * (hi / lo) ** rng.random()
    c.ack_every = 1 if rng.random() < 0.33 else 2


def normal_transfers(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Bulk transfers of compressed or encrypted files: firmware and update downloads over HTTP and
    HTTPS, backups and project files copied over SMB and SCP, one direction each.

    Why: a real capture of a plant LAN holds them every day (an engineering laptop pulls a PLC
    project from the file server, a historian exports its archive), and they are the same
    high-entropy bulk the lab's ransomware moves; a model that never saw benign bulk calls every
    download ransomware (seen with curl, scp and smbclient on a real network). Captures shorter
    than :data:`MIN_TRANSFER_SPAN_S` (the bundles' small demo captures) carry none.
    """
    rng = cap.rng
    users = [site.hmi, site.gw, *site.clients]
    for _ in range(rng.randint(2, 6) if t1 - t0 >= MIN_TRANSFER_SPAN_S else 0):
        kind = rng.choice(["http", "https", "smb", "smb", "scp"])
        cl = rng.choice(users)
        t = rng.uniform(t0, t1)
        size = _transfer_size(rng)
        if kind == "https":
            srv = external(site, rng, "updates") if rng.random() < 0.6 else site.web
            c = Tcp(cap, NORMAL, cl, srv, 443, t, rtt(site, cl, srv), site.loss)
            pace(c, rng, wan=srv is not site.web)
            c.open()
            c.exchange(_tls_record(rng, 22, client_hello_size(rng)),
                       _tls_record(rng, 22, rng.randint(2000, 4500)), rng.uniform(0.002, 0.03))
            c.exchange(_tls_record(rng, 20, 1) + _tls_record(rng, 23, rng.randint(90, 400)),
                       _tls_record(rng, 23, rng.randint(200, 500)), rng.uniform(0.005, 0.1))
            c.send(False, _tls_record(rng, 23, size))
        else:
            srv = rng.choice([h for h in (site.web, site.broker, site.hmi) if h is not cl] or [site.web])
            wan = kind == "http" and rng.random() < 0.5  # a vendor's download server, a package mirror
            if wan:
                srv = external(site, rng, "mirror")
            c = Tcp(cap, NORMAL, cl, srv, {"http": 80 if wan else site.http_port, "smb": 445, "scp": 22}[kind], t,
                    rtt(site, cl, srv), site.loss)
            pace(c, rng, wan)
            c.open()
            if kind == "http":
                path = rng.choice(["/firmware/plc-fw-{}.bin", "/downloads/update-{}.tar.gz", "/export/trend-{}.zip",
                                   "/backup/config-{}.tgz"]).format(rng.randrange(1000))
                c.send(True, http_request(rng, "GET", site.web_host, path, rng.choice(["Wget/1.21.3", "curl/8.5.0",
                                                                                      *BROWSER_UAS])), ack=False)
                c.send(False, http_response(rng, 200, rng.randbytes(size), "application/octet-stream",
                                            rng.choice(["nginx", "Apache/2.4.57 (Debian)", "lighttpd/1.4.69"])))
            elif kind == "smb":
                k = 1 if rng.random() < 0.5 else rng.randint(3, 30)  # one archive, or a folder of files
                upload = rng.random() < 0.5
                _smb_copy(c, rng, [max(2000, size // k)] * k, upload, verify=upload and rng.random() < 0.4)
            else:
                _ssh_login(c, rng)
                c.exchange(rng.randbytes(rng.choice([96, 112, 160])), rng.randbytes(rng.choice([44, 60])), 0.002)
                c.send(rng.random() < 0.5, rng.randbytes(size))
        c.t += rng.uniform(0.001, 0.5)
        c.close(rng.random() < 0.7)


def normal_ssh(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Administrators and automation on SSH: an interactive session, and bursts of short sessions
    (Ansible, a backup or deploy script) a second or a few apart, every few minutes.

    Why: a brute force against SSH is many short sessions from one host; so is a configuration run.
    The difference is that a brute force opens them many times a second and never gets past the login.
    """
    rng = cap.rng
    admin = rng.choice([site.hmi, site.gw, *site.clients])
    servers = [h for h in (site.web, site.broker, site.gw, *site.plcs) if h is not admin and not h.os.name
               .startswith(("rtos", "lwip"))] or [site.web]
    t = t0 + rng.uniform(0, 120)
    while t < t1:
        for _ in range(rng.randint(3, 15)):  # one run of a configuration or backup script
            srv = rng.choice(servers)
            c = Tcp(cap, NORMAL, admin, srv, 22, t, rtt(site, admin, srv), site.loss)
            c.open()
            _ssh_login(c, rng)
            for _ in range(rng.randint(1, 6)):
                c.exchange(rng.randbytes(rng.choice([52, 68, 100, 244])),
                           rng.randbytes(rng.choice([44, 68, 132, 420, 1400, 3200])), rng.uniform(0.005, 0.5))
            c.close(rng.random() < 0.5)
            t = c.t + rng.uniform(0.5, 5)
        t += rng.uniform(120, 600)
    if rng.random() < 0.6:  # an engineer logged in, typing: one keystroke, one echo
        srv = rng.choice(servers)
        c = Tcp(cap, NORMAL, admin, srv, 22, rng.uniform(t0, t1), rtt(site, admin, srv), site.loss)
        c.open()
        _ssh_login(c, rng)
        end = c.t + rng.uniform(30, 300)
        while c.t < min(end, t1):
            c.exchange(rng.randbytes(36), rng.randbytes(36), 0.001)
            if rng.random() < 0.1:
                c.send(False, rng.randbytes(rng.randint(100, 4000)))
            c.t += rng.expovariate(4) if rng.random() < 0.9 else rng.uniform(2, 20)
        c.close(True)


def add_admin_and_transfers(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Bulk transfers always; SSH administration in most capture sessions."""
    normal_transfers(cap, site, t0, t1)
    if cap.rng.random() < 0.7:
        normal_ssh(cap, site, t0, t1)
