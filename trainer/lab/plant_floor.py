"""Plant-floor traffic besides Modbus and MQTT: other control protocols, cyclic I/O, management.

Why this exists: a real plant LAN is not only Modbus polling. SCADA and HMIs poll PLCs over S7comm,
EtherNet/IP, DNP3, OPC UA or IEC 60870-5-104 many times a second; controllers exchange cyclic I/O
every few milliseconds (PROFINET RT and EtherCAT at layer 2, EtherNet/IP implicit messaging over
UDP); IEDs send GOOSE heartbeats; clocks sync over PTP; every device is polled by SNMP and sends
syslog (:func:`trainer.lab.everyday.normal_monitoring`). None of these carries an Edge-IIoTset field
beyond TCP/UDP, and a model that never saw them called S7 polling an HTTP flood, PROFINET cycles a
UDP flood and SNMP polling a port scan. Each kind
is switched on per capture session with its own probability and its own rates, and the busiest run
for a stretch of the session only, so one session does not drown the others.

Every frame here is labelled ``Normal``.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Sequence

from trainer.lab import wire
from trainer.lab.ethernet.capture import Capture, Tcp
from trainer.lab.ethernet.labels import NORMAL
from trainer.lab.ethernet.payloads.dns import dns_name
from trainer.lab.ethernet.payloads.ssdp import ssdp_msearch
from trainer.lab.ethernet.site import Host, Site, rand_mac
from trainer.lab.everyday import BROADCAST_MAC, discovery_groups, llmnr_port, normal_monitoring

#: cyclic and polled traffic may add about this many frames per second of session, on average
FRAME_BUDGET_PER_S = 40.0


def _span(rng: random.Random, t0: float, t1: float, rate: float) -> tuple[float, float]:
    """A stretch of ``t0..t1`` over which traffic at ``rate`` frames/s stays within the frame budget."""
    length = min(t1 - t0, FRAME_BUDGET_PER_S * (t1 - t0) * rng.uniform(0.3, 1.0) / max(rate, 1e-9))
    start = rng.uniform(t0, t1 - length)
    return start, start + length


# --- request/response payloads of the control protocols -------------------------------------------
def _s7(rng: random.Random, pdu_ref: int) -> tuple[bytes, bytes]:
    """S7comm read-var job and its ack-data, in COTP data over TPKT (ISO-on-TCP, port 102)."""
    items = rng.randint(1, 8)
    params = bytes((0x04, items)) + b"".join(
        bytes((0x12, 0x0A, 0x10, rng.choice([2, 4, 5]))) + struct.pack("!HHB", rng.randint(1, 64), rng.randint(1, 500),
                                                                         0x84) + rng.randbytes(3)
        for _ in range(items))
    job = b"\x32\x01\x00\x00" + struct.pack("!HHH", pdu_ref, len(params), 0) + params
    data = b"".join(b"\xff\x04" + struct.pack("!H", 8 * n) + rng.randbytes(n) + (b"\0" if n % 2 else b"")
                    for n in (rng.choice([2, 4, 4, 8, 16]) for _ in range(items)))
    ack = b"\x32\x03\x00\x00" + struct.pack("!HHH", pdu_ref, 2, len(data)) + b"\x00\x00" + bytes((0x04, items)) + data

    def tpkt(pdu: bytes) -> bytes:
        return struct.pack("!BBH", 3, 0, len(pdu) + 7) + b"\x02\xf0\x80" + pdu

    return tpkt(job), tpkt(ack)


def _enip(rng: random.Random, session: int) -> tuple[bytes, bytes]:
    """EtherNet/IP SendRRData carrying a CIP read-tag request and its reply (explicit messaging, 44818)."""
    tag = rng.choice([b"Line1_Speed", b"Tank_Level", b"Motor3.Status", b"Recipe[4]", b"HMI_Heartbeat"])
    path = bytes((0x91, len(tag))) + tag + (b"\0" if len(tag) % 2 else b"")
    cip_req = bytes((0x4C, len(path) // 2)) + path + struct.pack("<H", rng.randint(1, 20))
    cip_resp = bytes((0xCC, 0, 0, 0)) + struct.pack("<H", rng.choice([0xC3, 0xC4, 0xCA])) + rng.randbytes(
        rng.choice([2, 4, 4, 8, 40]))

    def encap(cip: bytes) -> bytes:
        cpf = struct.pack("<IHH", 0, 10, 2) + struct.pack("<HH", 0, 0) + struct.pack("<HH", 0xB2, len(cip)) + cip
        return struct.pack("<HHII", 0x6F, len(cpf), session, 0) + rng.randbytes(8) + struct.pack("<I", 0) + cpf

    return encap(cip_req), encap(cip_resp)


def _dnp3_crc(block: bytes) -> bytes:
    """DNP3's CRC-16 (polynomial 0x3D65, reflected, inverted), little-endian after each block."""
    crc = 0
    for byte in block:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA6BC if crc & 1 else crc >> 1
    return struct.pack("<H", ~crc & 0xFFFF)


def _dnp3(rng: random.Random, seq: int) -> tuple[bytes, bytes]:
    """DNP3 class-data poll and its response (link frames with a CRC every 16 bytes, port 20000)."""
    def link(ctrl: int, dst: int, src: int, user: bytes) -> bytes:
        head = struct.pack("<BBBBHH", 0x05, 0x64, 5 + len(user), ctrl, dst, src)
        out = head + _dnp3_crc(head)
        for i in range(0, len(user), 16):
            out += user[i:i + 16] + _dnp3_crc(user[i:i + 16])
        return out

    app_req = bytes((0xC0 | (seq & 0x0F), 0xC0 | (seq & 0x0F), 0x01)) + bytes.fromhex("3c02063c03063c04063c0106")
    points = rng.randint(2, 40)
    app_resp = (bytes((0xC0 | (seq & 0x0F), 0xC0 | (seq & 0x0F), 0x81, 0, 0)) + bytes((0x1E, 0x01, 0, 0, points - 1))
                + rng.randbytes(5 * points))
    return link(0xC4, 10, 1, app_req), link(0x44, 1, 10, app_resp)


def _opcua(rng: random.Random, req_id: int) -> tuple[bytes, bytes]:
    """OPC UA binary ReadRequest/ReadResponse in a secure-channel MSG chunk (port 4840)."""
    def msg(body: bytes) -> bytes:
        head = struct.pack("<III", rng.randint(1, 50), rng.randint(1, 10), req_id) + struct.pack("<I", req_id)
        return b"MSGF" + struct.pack("<I", 8 + len(head) + len(body)) + head + body

    nodes = rng.randint(1, 30)
    req = b"\x01\x00\x77\x02" + rng.randbytes(24) + struct.pack("<i", nodes) + rng.randbytes(10 * nodes)
    resp = (b"\x01\x00\x7a\x02" + rng.randbytes(24) + struct.pack("<i", nodes)
            + rng.randbytes(rng.choice([9, 13]) * nodes))
    return msg(req), msg(resp)


def _iec104(rng: random.Random, tx: int, rx: int) -> tuple[bytes, bytes]:
    """IEC 60870-5-104 interrogation (I-format) and a spontaneous measurement reply (port 2404)."""
    def i_frame(s: int, r: int, asdu: bytes) -> bytes:
        return bytes((0x68, 4 + len(asdu))) + struct.pack("<HH", (s << 1) & 0xFFFF, (r << 1) & 0xFFFF) + asdu

    ca = rng.randint(1, 300)
    req = i_frame(tx, rx, bytes((100, 1, 6, 0)) + struct.pack("<H", ca) + b"\0\0\0" + bytes((20,)))
    n = rng.randint(1, 12)
    resp = i_frame(rx, tx + 1, bytes((13, n, 3, 0)) + struct.pack("<H", ca)
                   + b"".join(struct.pack("<I", rng.randint(1, 5000))[:3] + rng.randbytes(5) for _ in range(n)))
    return req, resp


#: name -> (TCP port, payload maker taking (rng, counter))
OT_TCP: dict[str, tuple[int, Callable[[random.Random, int], tuple[bytes, bytes]]]] = {
    "s7comm": (102, _s7),
    "enip": (44818, _enip),
    "dnp3": (20000, _dnp3),
    "opcua": (4840, _opcua),
    "iec104": (2404, lambda rng, k: _iec104(rng, k, k)),
}


def normal_ot_polling(cap: Capture, site: Site, t0: float, t1: float, protocols: Sequence[str] = ()) -> None:
    """A SCADA server or HMI polls PLCs over one to three control protocols (``protocols``: these,
    else drawn for the session), on persistent connections mostly, at periods from 20 ms to seconds."""
    rng = cap.rng
    for name in protocols or rng.sample(sorted(OT_TCP), rng.randint(1, 3)):
        port, make = OT_TCP[name]
        master = rng.choice([site.hmi, site.hmi, *site.clients])
        for plc in rng.sample(site.plcs, rng.randint(1, len(site.plcs))):
            period = rng.choice([0.02, 0.05, 0.1, 0.1, 0.2, 0.5, 1.0, 2.0]) * rng.uniform(0.9, 1.1)
            persistent = rng.random() < 0.85
            a, b = _span(rng, t0, t1, 4.0 / period * len(site.plcs))
            t, k, c = a + rng.uniform(0, period), rng.randrange(65536), None
            while t < b:
                if c is None or not persistent:
                    c = Tcp(cap, NORMAL, master, plc, port, t, site.rtt_lan, site.loss)
                    c.open()
                c.t = max(c.t, t)
                k = (k + 1) & 0xFFFF
                req, resp = make(rng, k)
                c.exchange(req, resp, rng.uniform(0.0005, 0.015))
                if not persistent:
                    c.close(True)
                t += period * rng.uniform(0.97, 1.03)
            if c is not None and persistent:
                c.close(True)


ETH_PROFINET, ETH_ETHERCAT, ETH_GOOSE, ETH_PTP = 0x8892, 0x88A4, 0x88B8, 0x88F7


def normal_cyclic_io(cap: Capture, site: Site, t0: float, t1: float, kind: str = "") -> None:
    """Cyclic I/O between a controller and its devices: PROFINET RT or EtherCAT frames at layer 2, or
    EtherNet/IP implicit messages over UDP 2222, every 1 to 32 ms in both directions (``kind``:
    ``profinet``, ``ethercat`` or ``enip_io``; drawn for the session when empty)."""
    rng = cap.rng
    plc = rng.choice(site.plcs)
    kind = kind or rng.choice(["profinet", "profinet", "ethercat", "enip_io", "enip_io"])
    cycle = rng.choice([0.001, 0.002, 0.004, 0.008, 0.016, 0.032])
    devices = [Host(f"io{i}", site.prefix + bytes((rng.randint(2, 253),)), rand_mac(rng, "plc"), plc.os, plc.os.ttl)
               for i in range(rng.randint(1, 4))]
    a, b = _span(rng, t0, t1, 2 * len(devices) / cycle)
    size = rng.choice([40, 40, 64, 128, 250])
    k = 0
    t = a
    while t < b:
        for j, dev in enumerate(devices):
            at = t + j * cycle / (2 * len(devices)) + rng.uniform(0, cycle * 0.02)
            if kind == "enip_io":
                for src, dst, off in ((plc, dev, 0.0), (dev, plc, cycle / 4)):
                    cpf = (struct.pack("<HHHHII", 2, 0x8002, 8, 0, 0x10000 + j, k) + struct.pack("<HH", 0xB1, size + 2)
                           + struct.pack("<H", k & 0xFFFF) + rng.randbytes(size))
                    cap.udp(at + off, NORMAL, src, dst, 2222, 2222, cpf, ttl=rng.choice([1, 64]) if k == 0 else None)
            elif kind == "profinet":
                for src, dst, off in ((plc, dev, 0.0), (dev, plc, cycle / 4)):
                    body = struct.pack("!H", 0x8000 + j) + rng.randbytes(size) + struct.pack("!HBB", (k * 32) & 0xFFFF,
                                                                                             0x35, 0)
                    cap.add(at + off, wire.ether(dst.mac, src.mac, ETH_PROFINET, body, cap.pad_short), NORMAL)
            else:  # EtherCAT: the master's frame passes every slave and comes back
                body = struct.pack("<H", 0x1000 | (size + 12)) + bytes((0x0C, k & 0xFF)) + rng.randbytes(size + 10)
                if j == 0:
                    cap.add(at, wire.ether(BROADCAST_MAC, plc.mac, ETH_ETHERCAT, body, cap.pad_short), NORMAL)
                    cap.add(at + cycle / 3, wire.ether(BROADCAST_MAC, plc.mac, ETH_ETHERCAT, body, cap.pad_short),
                            NORMAL)
        k += 1
        t += cycle * rng.uniform(0.999, 1.001)


def normal_substation(cap: Capture, site: Site, t0: float, t1: float, ptp: bool | None = None) -> None:
    """IEC 61850 GOOSE heartbeats from IEDs (bursts at 2, 4, 8 ms on an event) and, with ``ptp`` (drawn
    for the session when None), PTP sync messages."""
    rng = cap.rng
    ieds = [rand_mac(rng, "plc") for _ in range(rng.randint(1, 6))]
    beat = rng.choice([0.5, 1.0, 1.0, 2.0])
    for i, mac in enumerate(ieds):
        dst = bytes.fromhex("010ccd0100") + bytes((i,))
        t, st, sq = t0 + rng.uniform(0, beat), 1, 0
        while t < t1:
            body = struct.pack("!HHHH", 0x3000 + i, 80, 0, 0) + rng.randbytes(72) + struct.pack("!II", st, sq)
            cap.add(t, wire.ether(dst, mac, ETH_GOOSE, body, cap.pad_short), NORMAL)
            sq += 1
            if rng.random() < 0.01:  # an event: the new state is repeated fast, then back to the heartbeat
                st, sq = st + 1, 0
                for dt in (0.002, 0.004, 0.008, 0.016, 0.032):
                    t += dt
                    cap.add(t, wire.ether(dst, mac, ETH_GOOSE, body, cap.pad_short), NORMAL)
            t += beat * rng.uniform(0.99, 1.01)
    if rng.random() < 0.7 if ptp is None else ptp:
        gm = rand_mac(rng, "gateway")
        t, seq = t0 + rng.uniform(0, 1), 0
        while t < t1:
            for mtype, dt in ((0x0, 0.0), (0x8, 0.0002)):  # Sync, Follow_Up
                msg = bytes((mtype, 2)) + struct.pack("!H", 44) + rng.randbytes(26) + struct.pack("!H", seq) + \
                    rng.randbytes(14)
                cap.add(t + dt, wire.ether(bytes.fromhex("011b19000000"), gm, ETH_PTP, msg, cap.pad_short), NORMAL)
            seq = (seq + 1) & 0xFFFF
            t += rng.choice([0.125, 0.5, 1.0])


def discovery_bursts(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Many hosts announcing at once (after a switch reboot, a link flap, a shift's PCs waking up):
    mDNS, SSDP, LLMNR and NetBIOS from each within a second or two."""
    rng = cap.rng
    lan = [h for h in site.hosts if not h.external]
    mdns, ssdp, llmnr, bcast = discovery_groups(site)
    t = t0 + rng.uniform(0, 120)
    while t < t1:
        for h in rng.sample(lan, max(2, int(len(lan) * rng.uniform(0.5, 1.0)))):
            at = t + rng.uniform(0, 2.0)
            q = struct.pack("!HHHHHH", 0, 0, 1, 0, 0, 0) + dns_name("_workstation._tcp.local") + b"\0\x0c\0\x01"
            cap.udp(at, NORMAL, h, mdns, 5353, 5353, q, ttl=255)
            cap.udp(at + 0.05, NORMAL, h, ssdp, h.port(rng), 1900, ssdp_msearch(1, "upnp:rootdevice"),
                    ttl=rng.choice([1, 4]))
            cap.udp(at + 0.1, NORMAL, h, llmnr, llmnr_port(h, rng), 5355,
                    struct.pack("!HHHHHH", rng.randrange(65536), 0, 1, 0, 0, 0) + dns_name("wpad") + b"\0\x01\0\x01",
                    ttl=1)
            cap.udp(at + 0.15, NORMAL, h, bcast, 137, 137, rng.randbytes(50))
        t += rng.uniform(30, 400)


def add_plant_floor(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Switch each kind of plant-floor traffic on with its own probability for this capture session."""
    rng = cap.rng
    for func, p in ((normal_ot_polling, 0.6), (normal_cyclic_io, 0.5), (normal_substation, 0.3),
                    (normal_monitoring, 0.6), (discovery_bursts, 0.4)):
        if rng.random() < p:
            func(cap, site, t0, t1)
