"""The capture of one session: frames with their labels, a TCP connection simulator, and ICMP errors."""

from __future__ import annotations

import random
from typing import Any

from trainer.lab import wire
from trainer.lab.ethernet.site import Host
from trainer.lab.wire import ACK, FIN, PSH, RST, SYN


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
