"""Sites and hosts: the address plan, vendors, operating systems and service choices of one capture
session."""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass, field
from typing import Any

#: vendor OUIs seen on IIoT sites (Raspberry Pi, Espressif, Siemens, Schneider, Wago, Dell, Intel, VMware...)
OUIS = {
    "sensor": ["b827eb", "dca632", "e45f01", "240ac4", "30aea4", "a4cf12", "7cdfa1", "84f3eb"],
    "plc": ["001b1b", "0080f4", "000e8c", "0030de", "00a045", "001d9c"],
    "server": ["000c29", "005056", "3cecef", "f8bc12", "b083fe", "525400", "001c42"],
    "client": ["3c5282", "f0def1", "a45e60", "8c8590", "dc4a3e", "5c879c"],
    "gateway": ["001e42", "4c5e0c", "e4956e", "000d48", "d8b370"],
}


@dataclass(frozen=True)
class OsProfile:
    """What an operating system's TCP/IP stack puts on the wire."""

    name: str
    ttl: int
    window: int
    mss: int
    wscale: int | None
    sack: bool
    ts: bool
    eph: tuple[int, int]
    ipid: str  # "inc" (global counter), "rand" (per packet), "zero_df" (Linux: 0 on DF-only SYN/ACK...)


OS_PROFILES = {
    "linux": OsProfile("linux", 64, 64240, 1460, 7, True, True, (32768, 60999), "inc"),
    "linux_old": OsProfile("linux_old", 64, 29200, 1460, 7, True, True, (32768, 61000), "inc"),
    "windows": OsProfile("windows", 128, 64240, 1460, 8, True, False, (49152, 65535), "inc"),
    "windows7": OsProfile("windows7", 128, 8192, 1460, 2, True, False, (49152, 65535), "inc"),
    "lwip": OsProfile("lwip", 255, 5744, 1436, None, False, False, (49152, 65535), "inc"),
    "rtos": OsProfile("rtos", 64, 2920, 1460, None, False, False, (1024, 5000), "inc"),
    "bsd": OsProfile("bsd", 64, 65535, 1460, 6, True, True, (49152, 65535), "rand"),
}


@dataclass
class Host:
    """A station on the capture's network (or, with ``external``, one reached through the gateway)."""

    name: str
    ip: bytes
    mac: bytes
    os: OsProfile
    ttl: int
    external: bool = False
    ipid: int = 0
    next_port: int = 0

    @property
    def addr(self) -> str:
        return socket.inet_ntoa(self.ip)

    def ident(self, rng: random.Random) -> int:
        if self.os.ipid == "rand":
            return rng.randrange(65536)
        self.ipid = (self.ipid + 1) & 0xFFFF
        return self.ipid

    def port(self, rng: random.Random) -> int:
        lo, hi = self.os.eph
        if not self.next_port:
            self.next_port = rng.randint(lo, hi)
        self.next_port += rng.choice((1, 1, 1, 2, 3))
        if self.next_port > hi:
            self.next_port = lo + (self.next_port - hi)
        return self.next_port


def rand_mac(rng: random.Random, kind: str) -> bytes:
    return bytes.fromhex(rng.choice(OUIS[kind])) + rng.randbytes(3)


def public_ip(rng: random.Random) -> bytes:
    """A routable-looking IPv4 address (no private, loopback, multicast or reserved first octets)."""
    while True:
        a = rng.randint(1, 223)
        if a not in (10, 127, 169, 172, 192, 100, 0):
            return bytes((a, rng.randrange(256), rng.randrange(256), rng.randint(1, 254)))


@dataclass
class Site:
    """Address plan and service choices of one capture session."""

    rng: random.Random
    prefix: bytes
    gw: Host
    broker: Host
    plcs: list[Host]
    sensors: list[Host]
    hmi: Host
    web: Host
    dns: Host
    ntp: Host
    clients: list[Host]
    attacker: Host
    ext_attacker: Host
    http_port: int
    topic_root: str
    domain: str
    rtt_lan: float
    rtt_wan: float
    loss: float
    hosts: list[Host] = field(default_factory=list)

    @property
    def web_host(self) -> str:
        """The web server as an HTTP Host header names it (the port only when not 80)."""
        return f"{self.web.addr}:{self.http_port}" if self.http_port != 80 else self.web.addr

    def describe(self) -> dict[str, Any]:
        return {h.name: {"ip": h.addr, "mac": h.mac.hex(":"), "os": h.os.name, "external": h.external}
                for h in self.hosts}


def make_site(rng: random.Random) -> Site:
    """Draw a site: private subnet of any of the three RFC 1918 blocks, vendors, OSes, service choices."""
    block = rng.choice(["10", "172", "192"])
    if block == "10":
        prefix = bytes((10, rng.randrange(256), rng.randrange(256)))
    elif block == "172":
        prefix = bytes((172, rng.randint(16, 31), rng.randrange(256)))
    else:
        prefix = bytes((192, 168, rng.randrange(256)))
    used: set[int] = set()

    def addr(lo: int = 2, hi: int = 253) -> bytes:
        while True:
            x = rng.randint(lo, hi)
            if x not in used:
                used.add(x)
                return prefix + bytes((x,))

    hosts: list[Host] = []

    def mk(name: str, kind: str, oses: list[str], ip: bytes | None = None) -> Host:
        o = OS_PROFILES[rng.choice(oses)]
        h = Host(name, ip or addr(), rand_mac(rng, kind), o, o.ttl, ipid=rng.randrange(65536))
        hosts.append(h)
        return h

    gw = mk("gateway", "gateway", ["linux", "bsd"], addr(1, 1) if rng.random() < 0.7 else addr(250, 254))
    server_os = ["linux", "linux_old", "windows"]
    broker = mk("broker", "server", server_os)
    hmi = mk("hmi", "client", ["windows", "windows7", "linux"])
    web = broker if rng.random() < 0.3 else mk("web", "server", server_os)
    dns = gw if rng.random() < 0.6 else mk("dns", "server", ["linux"])
    plcs = [mk(f"plc{i}", "plc", ["rtos", "lwip", "linux"]) for i in range(rng.randint(1, 4))]
    sensors = [mk(f"sensor{i}", "sensor", ["lwip", "linux", "rtos"]) for i in range(rng.randint(3, 10))]
    clients = [mk(f"client{i}", "client", ["windows", "linux", "bsd", "windows7"]) for i in range(rng.randint(1, 3))]
    attacker = mk("attacker", "client", ["linux", "linux_old"])
    ntp_o = OS_PROFILES["linux"]
    ntp = Host("ntp", public_ip(rng), gw.mac, ntp_o, ntp_o.ttl - rng.randint(8, 20), external=True)
    ext_o = OS_PROFILES[rng.choice(["linux", "windows"])]
    ext = Host("ext_attacker", public_ip(rng), gw.mac, ext_o, ext_o.ttl - rng.randint(6, 25), external=True)
    hosts += [ntp, ext]
    return Site(rng, prefix, gw, broker, plcs, sensors, hmi, web, dns, ntp, clients, attacker, ext,
                http_port=rng.choice([80, 80, 80, 8080, 8000, 8081, 5000, 1880]),
                topic_root=rng.choice(["factory", "plant", "site", "farm", "building", "iiot", "edge"])
                + "/" + rng.choice(["line", "zone", "area", "floor", "cell"]) + str(rng.randint(1, 9)),
                domain=rng.choice(["local", "lan", "plant.internal", "corp.example", "home.arpa"]),
                rtt_lan=rng.uniform(0.0002, 0.003), rtt_wan=rng.uniform(0.015, 0.12),
                loss=rng.uniform(0.0, 0.02), hosts=hosts)


def external(site: Site, rng: random.Random, name: str = "remote") -> Host:
    o = OS_PROFILES[rng.choice(["linux", "windows", "bsd"])]
    return Host(name, public_ip(rng), site.gw.mac, o, o.ttl - rng.randint(5, 25), external=True,
                ipid=rng.randrange(65536))


def rtt(site: Site, a: Host, b: Host) -> float:
    return site.rtt_wan if (a.external or b.external) else site.rtt_lan
