"""Floods: hping3-style TCP SYN, UDP and ICMP floods, and HTTP floods and slow attacks."""

from __future__ import annotations

import struct

from trainer.lab import wire
from trainer.lab.ethernet.attacks.hosts import pick_source, pick_victim, spoof_host
from trainer.lab.ethernet.capture import Capture, Tcp, port_unreachable
from trainer.lab.ethernet.payloads.http import BROWSER_UAS, http_request, http_response
from trainer.lab.ethernet.payloads.text import entropy_text
from trainer.lab.ethernet.site import Host, Site, external, rand_mac, rtt
from trainer.lab.wire import ACK, RST, SYN


def atk_ddos_tcp(cap: Capture, site: Site, t: float, n: int, label: str = "DDoS_TCP") -> None:
    """hping3 -S --flood --rand-source -p PORT: spoofed SYNs; the victim answers some with SYN/ACK or RST."""
    rng = cap.rng
    a, v = pick_source(site, rng), pick_victim(site, rng)
    dport = rng.choice([80, site.http_port, 1883, 502, 443, 22, rng.randint(1, 65535)])
    open_ = dport in (1883, 502, site.http_port, 80) and rng.random() < 0.8
    rate = rng.uniform(1500, 20000)
    win = rng.choice([64, 512, 1024, rng.randrange(65536)])
    payload_len = rng.choice([0, 0, 0, 120, 1024])
    inc_port = rng.random() < 0.3
    reply = rng.uniform(0.05, 0.5)
    for i in range(n):
        t += rng.expovariate(rate)
        s = spoof_host(site, rng, a)
        sport = rng.randint(1024, 65535)
        seq = rng.getrandbits(32)
        dp = (dport + i) & 0xFFFF if inc_port else dport
        cap.ip(t, label, s, v, wire.PROTO_TCP,
               wire.tcp(s.ip, v.ip, sport, dp, seq, 0, SYN, win, b"", rng.randbytes(payload_len)),
               df=False, ident=rng.randrange(65536))
        if rng.random() < reply:
            back = Host("x", s.ip, site.gw.mac if s.ip[:3] != site.prefix else rand_mac(rng, "client"), v.os, v.ttl)
            if open_:
                cap.ip(t + 0.0001, label, v, back, wire.PROTO_TCP,
                       wire.tcp(v.ip, s.ip, dp, sport, rng.getrandbits(32), seq + 1, SYN | ACK, v.os.window,
                                Tcp.syn_options(v)))
            else:
                cap.ip(t + 0.0001, label, v, back, wire.PROTO_TCP,
                       wire.tcp(v.ip, s.ip, dp, sport, 0, seq + 1, RST | ACK, 0))


def atk_ddos_udp(cap: Capture, site: Site, t: float, n: int, label: str = "DDoS_UDP") -> None:
    """hping3 --udp --flood --rand-source (or a UDP flooder): datagrams to one or random ports."""
    rng = cap.rng
    a, v = pick_source(site, rng), pick_victim(site, rng)
    rate = rng.uniform(2000, 25000)
    fixed = rng.random() < 0.5
    dport = rng.choice([53, 123, 161, 1900, 5683, rng.randint(1, 65535)])
    size = rng.choice([0, 0, 18, 64, 512, 1024, 1400, -1])
    filler = rng.choice([b"X", b"\0", b"A"])
    spoof = rng.random() < 0.8
    last_unreach = -1.0
    for _ in range(n):
        t += rng.expovariate(rate)
        s = spoof_host(site, rng, a) if spoof else a
        ln = rng.randint(0, 1400) if size < 0 else size
        dp = dport if fixed else rng.randint(1, 65535)
        payload = rng.randbytes(ln) if rng.random() < 0.5 else filler * ln
        sport = rng.randint(1024, 65535)
        cap.udp(t, label, s, v, sport, dp, payload, df=False)
        if t - last_unreach > rng.uniform(0.001, 1.0) and dp not in (53, 123):  # rate-limited unreachables
            last_unreach = t
            back = Host("x", s.ip, site.gw.mac, v.os, v.ttl)
            port_unreachable(cap, t + 0.0002, label, v, back,
                             wire.ipv4(s.ip, v.ip, wire.PROTO_UDP, wire.udp(s.ip, v.ip, sport, dp, payload), 64, 0), 28)


def atk_ddos_icmp(cap: Capture, site: Site, t: float, n: int, label: str = "DDoS_ICMP") -> None:
    """hping3 --icmp --flood --rand-source / ping -f: echo requests; the victim replies to each source."""
    rng = cap.rng
    a, v = pick_source(site, rng), pick_victim(site, rng)
    rate = rng.uniform(1000, 20000)
    size = rng.choice([0, 0, 56, 64, 100, 500, 1000, 1472])
    ident = rng.randrange(65536)
    spoof = rng.random() < 0.8
    seq = 0
    for _ in range(n):
        t += rng.expovariate(rate)
        s = spoof_host(site, rng, a) if spoof else a
        seq = (seq + (1 if rng.random() < 0.9 else 256)) & 0xFFFF
        rest = struct.pack("!HH", ident, seq)
        pay = rng.randbytes(size) if rng.random() < 0.3 else b"\0" * size
        cap.ip(t, label, s, v, wire.PROTO_ICMP, wire.icmp(8, 0, rest, pay), df=False)
        if rng.random() < 0.6:
            back = Host("x", s.ip, site.gw.mac if spoof else a.mac, v.os, v.ttl)
            cap.ip(t + 0.0001, label, v, back, wire.PROTO_ICMP, wire.icmp(0, 0, rest, pay))


def atk_ddos_http(cap: Capture, site: Site, t: float, n: int, label: str = "DDoS_HTTP") -> None:
    """HTTP floods from several bots (GET floods with cache-busting queries) or slowloris/slow POSTs."""
    rng = cap.rng
    v = site.web
    host = v.addr if site.http_port == 80 else f"{v.addr}:{site.http_port}"
    bots = [site.attacker if rng.random() < 0.5 else external(site, rng, "bot") for _ in range(rng.randint(1, 6))]
    mode = rng.choice(["flood", "flood", "slowloris", "slowpost"])
    paths = ["/", "/index.html", "/api/sensors", "/login", "/search", "/dashboard"]
    start, count = t, len(cap.frames)
    while len(cap.frames) - count < n:
        b = rng.choice(bots)
        c = Tcp(cap, label, b, v, site.http_port, start + rng.uniform(0, 0.05), rtt(site, b, v))
        c.open()
        ua = rng.choice(BROWSER_UAS)
        if mode == "flood":
            for _ in range(rng.randint(1, 20)):
                q = f"?{rng.choice(['r', 'id', 'cb', 'q'])}={rng.randrange(10**9)}" if rng.random() < 0.7 else ""
                c.exchange(http_request(rng, rng.choice(["GET", "GET", "GET", "POST", "HEAD"]), host,
                                        rng.choice(paths) + q, ua),
                           http_response(rng, rng.choice([200, 200, 503]), entropy_text(rng, rng.randint(0, 2000)),
                                         "text/html", "nginx"), rng.uniform(0.0005, 0.05))
            c.reset(True) if rng.random() < 0.5 else c.close(True)
            start += rng.uniform(0.0005, 0.01)
        elif mode == "slowloris":
            c.send(True, f"GET /?{rng.randrange(2000)} HTTP/1.1\r\nUser-Agent: {ua}\r\n".encode())
            for _ in range(rng.randint(2, 8)):
                c.t += rng.uniform(5, 15)
                c.send(True, f"X-a: {rng.randint(1, 5000)}\r\n".encode())
            start += rng.uniform(0.005, 0.05)
        else:
            size = rng.randint(10**5, 10**7)
            c.send(True, http_request(rng, "POST", host, rng.choice(paths), ua,
                                      extra=[("Content-Length", str(size))]).rstrip(b"\r\n") + b"\r\n\r\n")
            for _ in range(rng.randint(3, 10)):
                c.t += rng.uniform(1, 10)
                c.send(True, rng.randbytes(rng.randint(1, 4)))
            start += rng.uniform(0.005, 0.05)
