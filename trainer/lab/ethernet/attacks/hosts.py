"""Who attacks whom: victims, attack sources and spoofed sources drawn from a site."""

from __future__ import annotations

import random

from trainer.lab.ethernet.site import Host, Site, public_ip


def pick_victim(site: Site, rng: random.Random) -> Host:
    return rng.choice([site.broker, site.web, *site.plcs])


def pick_source(site: Site, rng: random.Random) -> Host:
    """The attacker: a compromised LAN host, or one outside reached through the gateway."""
    return site.attacker if rng.random() < 0.6 else site.ext_attacker


def spoof_host(site: Site, rng: random.Random, a: Host) -> Host:
    o = a.os
    ip = public_ip(rng) if rng.random() < 0.85 else site.prefix + bytes((rng.randint(1, 254),))
    return Host("spoof", ip, a.mac, o, rng.choice([64, 64, 128, 255]) - (rng.randint(3, 20) if a.external else 0),
                True, ipid=rng.randrange(65536))
