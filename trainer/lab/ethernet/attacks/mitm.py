"""Man in the middle: ARP poisoning, relayed traffic and forged DNS answers."""

from __future__ import annotations

from trainer.lab import wire
from trainer.lab.ethernet.capture import Capture
from trainer.lab.ethernet.labels import NORMAL
from trainer.lab.ethernet.payloads.dns import dns_answer, dns_query
from trainer.lab.ethernet.payloads.mqtt import mqtt_publish
from trainer.lab.ethernet.payloads.text import entropy_text
from trainer.lab.ethernet.site import Site, public_ip
from trainer.lab.wire import ACK, PSH


def atk_mitm(cap: Capture, site: Site, t: float, n: int, label: str = "MITM") -> None:
    """arpspoof/ettercap: forged ARP replies poisoning victim and gateway, relayed traffic, forged DNS answers."""
    rng = cap.rng
    a = site.attacker
    victim = rng.choice([*site.sensors, site.hmi, *site.clients, *site.plcs])
    peer = rng.choice([site.gw, site.broker]) if victim is not site.broker else site.gw
    interval = rng.choice([1.0, 2.0, 10.0]) * rng.uniform(0.9, 1.1) if rng.random() < 0.7 else rng.uniform(0.05, 0.3)
    dns_spoof = rng.random() < 0.5
    count = len(cap.frames)
    while len(cap.frames) - count < n:
        op = 2 if rng.random() < 0.9 else 1  # some tools poison with requests
        cap.arp(t, label, op, a.mac, peer.ip, victim.mac if op == 2 else b"\0" * 6, victim.ip,
                eth_dst=victim.mac)
        cap.arp(t + 0.0002, label, op, a.mac, victim.ip, peer.mac if op == 2 else b"\0" * 6, peer.ip,
                eth_dst=peer.mac)
        # traffic the victim now sends to the attacker's MAC, relayed by the attacker to the real peer
        for _ in range(rng.randint(0, 3)):
            tt = t + rng.uniform(0, interval)
            payload = rng.choice([mqtt_publish("x/y", b"21.5", 0, 0), b"", entropy_text(rng, 200)])
            sport, dport = victim.port(rng), rng.choice([1883, 80, 502, 443])
            seg = wire.tcp(victim.ip, peer.ip, sport, dport, rng.getrandbits(32), rng.getrandbits(32), ACK | PSH,
                           victim.os.window, b"", payload)
            ident = victim.ident(rng)
            # labelled NORMAL: on the wire it is the victim's own traffic (only the MACs, which no column
            # holds, show the detour); labelled MITM it would teach "data without a handshake = MITM"
            cap.ip(tt, NORMAL, victim, peer, wire.PROTO_TCP, seg, eth_dst=a.mac, ident=ident)
            cap.ip(tt + 0.0003, NORMAL, victim, peer, wire.PROTO_TCP, seg, eth_src=a.mac, eth_dst=peer.mac,
                   ttl=victim.ttl - (1 if rng.random() < 0.5 else 0), ident=ident)
        if dns_spoof and rng.random() < 0.5:
            tt = t + rng.uniform(0, interval)
            qid, name = rng.randrange(65536), rng.choice([f"broker.{site.domain}", "update.vendor.com",
                                                          "login.example.com", f"hmi.{site.domain}"])
            sport = victim.port(rng)
            cap.udp(tt, label, victim, site.dns, sport, 53, dns_query(qid, name), eth_dst=a.mac)
            cap.udp(tt + 0.0002, label, site.dns, victim, 53, sport, dns_answer(qid, name, 1, [a.ip], 60),
                    eth_src=a.mac)
            cap.udp(tt + rng.uniform(0.002, 0.03), label, site.dns, victim, 53, sport,
                    dns_answer(qid, name, 1, [site.broker.ip if site.domain in name else public_ip(rng)], 300))
        t += interval
