"""Reconnaissance: host discovery, TCP and UDP port scans, masscan, and nmap OS fingerprinting."""

from __future__ import annotations

import random
import struct

from trainer.lab import wire
from trainer.lab.ethernet.attacks.hosts import pick_source
from trainer.lab.ethernet.capture import Capture, IcmpErrorLimit, Tcp, port_unreachable
from trainer.lab.ethernet.payloads.dns import dns_answer, dns_query
from trainer.lab.ethernet.payloads.snmp import snmp_pdu
from trainer.lab.ethernet.payloads.ssdp import ssdp_msearch
from trainer.lab.ethernet.site import Host, Site
from trainer.lab.wire import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG


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


def host_sweep(cap: Capture, site: Site, a: Host, t: float, n: int, label: str) -> float:
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
    a = pick_source(site, rng)
    modes = rng.sample(["syn", "connect", "udp", "masscan"], k=rng.choice([1, 1, 2, 3]))
    sweep_rng = random.Random(f"host-sweep {t!r} {n}")
    if sweep_rng.random() < 0.5:
        discovery = Capture(sweep_rng, cap.pad_short)
        end = host_sweep(discovery, site, a, 0.0, n // 3, label)
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
    a = pick_source(site, rng)
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
