"""Benign infrastructure traffic: DNS, NTP, ARP and monitoring pings."""

from __future__ import annotations

import struct

from trainer.lab import wire
from trainer.lab.ethernet.capture import Capture
from trainer.lab.ethernet.labels import NORMAL
from trainer.lab.ethernet.payloads.dns import dns_answer, dns_query
from trainer.lab.ethernet.site import Site, public_ip


def normal_infra(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """DNS lookups, NTP polls, ARP refreshes and monitoring pings."""
    rng = cap.rng
    lan = [h for h in site.hosts if not h.external]
    names = [f"broker.{site.domain}", f"plc{rng.randint(1, 9)}.{site.domain}", "pool.ntp.org", "time.google.com",
             "api.github.com", "updates.example.com", f"hmi.{site.domain}", "connectivitycheck.gstatic.com"]
    t = t0
    while t < t1:
        t += rng.expovariate(1 / rng.uniform(1.0, 4.0))
        h = rng.choice(lan)
        if h is site.dns:
            continue
        name = rng.choice(names)
        qid = rng.randrange(65536)
        sport = h.port(rng) if rng.random() < 0.8 else rng.randint(1024, 65535)
        for qtype in ([1, 28] if rng.random() < 0.3 else [1]):
            cap.udp(t, NORMAL, h, site.dns, sport, 53, dns_query(qid, name, qtype))
            if rng.random() < 0.03:  # lost: client retries the same id
                t += rng.uniform(1, 5)
                cap.udp(t, NORMAL, h, site.dns, sport, 53, dns_query(qid, name, qtype))
            addrs = ([site.broker.ip] if name.endswith(site.domain) else [public_ip(rng)
                                                                           for _ in range(rng.randint(1, 3))])
            if qtype == 28:
                addrs = [rng.randbytes(16)] if rng.random() < 0.5 else []
            cap.udp(t + rng.uniform(0.0005, 0.03), NORMAL, site.dns, h, 53, sport,
                    dns_answer(qid, name, qtype, addrs, rng.choice([60, 300, 3600])))
            qid = (qid + 1) & 0xFFFF
    # NTP: each Linux-ish host polls at 64-1024 s
    for h in lan:
        if rng.random() < 0.5:
            continue
        poll = rng.choice([64, 128, 256]) * rng.uniform(0.9, 1.1)
        t = t0 + rng.uniform(0, poll)
        while t < t1:
            req = bytes((0x23,)) + b"\0" * 39 + struct.pack("!II", int(t) + 2208988800, rng.getrandbits(32))
            cap.udp(t, NORMAL, h, site.ntp, 123 if rng.random() < 0.5 else h.port(rng), 123, req)
            resp = (bytes((0x24, 2, 6, 0xE9)) + rng.randbytes(12) + b"\0" * 8 + req[40:48]
                    + struct.pack("!IIII", int(t) + 2208988800, 0, int(t) + 2208988800, 1))
            cap.udp(t + site.rtt_wan, NORMAL, site.ntp, h, 123, 123, resp)
            t += poll
    # ARP: refreshes between LAN hosts
    t = t0
    while t < t1:
        t += rng.expovariate(1 / rng.uniform(2, 10))
        a, b = rng.sample(lan, 2)
        cap.arp(t, NORMAL, 1, a.mac, a.ip, b"\0" * 6, b.ip)
        cap.arp(t + rng.uniform(0.0001, 0.002), NORMAL, 2, b.mac, b.ip, a.mac, a.ip)
    # ICMP: a monitoring host pings the PLCs and the broker
    mon = rng.choice([site.hmi, site.gw, *site.clients])
    ident = rng.randrange(65536)
    for target in [*site.plcs, site.broker]:
        seq, t = 1, t0 + rng.uniform(0, 30)
        size = rng.choice([56, 32, 48])
        while t < t1:
            pay = struct.pack("!Q", int(t * 1e6)) + bytes(range(size - 8)) if size >= 8 else b""
            rest = struct.pack("!HH", ident, seq)
            cap.ip(t, NORMAL, mon, target, wire.PROTO_ICMP, wire.icmp(8, 0, rest, pay))
            cap.ip(t + site.rtt_lan, NORMAL, target, mon, wire.PROTO_ICMP, wire.icmp(0, 0, rest, pay))
            seq += 1
            t += rng.choice([1, 5, 10, 30, 60]) * rng.uniform(0.98, 1.02)
