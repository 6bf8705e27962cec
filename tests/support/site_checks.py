"""Helpers for the site-baseline tests: learn and replay through the CLI's own functions, and a small
synthetic vehicle whose logs the tests attack."""

from __future__ import annotations

import contextlib
import io
import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.commands.learn import learn
from agent.commands.replay import replay, with_baseline
from agent.config import load_config

REPO = Path(__file__).resolve().parents[2]


def config(name: str, state: Path, *overrides: str, baseline: str | None = None) -> Any:
    """``configs/<name>`` for an offline run under ``state``, detecting with ``baseline`` if given."""
    cfg = load_config(str(REPO / "configs" / name),
                      ["mqtt.enabled=false", f"state_dir={state}", "logging.level=WARNING", *overrides])
    return with_baseline(cfg, baseline)


def learn_site(tmp: Path, name: str, inputs: list[Path], *overrides: str) -> Path:
    """Learn a baseline from ``inputs`` with ``configs/<name>``; its directory."""
    out = tmp / f"baseline-{len(list(tmp.glob('baseline-*')))}"
    with contextlib.redirect_stdout(io.StringIO()):
        learn(config(name, tmp / "state", *overrides), [str(p) for p in inputs], None, str(out))
    return out


def replay_site(tmp: Path, name: str, capture: Path, baseline: Path | None, *overrides: str) -> list[dict[str, Any]]:
    """Every alert record of replaying ``capture`` with ``configs/<name>`` and ``baseline``."""
    jsonl = tmp / f"alerts-{len(list(tmp.glob('alerts-*')))}.jsonl"
    cfg = config(name, tmp / "state", *overrides, baseline=None if baseline is None else str(baseline))
    with contextlib.redirect_stdout(io.StringIO()):
        replay(cfg, str(capture), jsonl=str(jsonl))
    return [json.loads(line) for line in jsonl.read_text().splitlines()] if jsonl.is_file() else []


def starts(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records that open an incident."""
    return [a for a in alerts if a["edge_ids"]["phase"] == "start"]


def first_seen(alert: dict[str, Any]) -> float:
    return datetime.fromisoformat(alert["edge_ids"]["first_seen"]).timestamp()


# --------------------------------------------------------------------------------------------------
# a synthetic vehicle: periodic ids with a counter, a signal and constant bytes


#: id -> period (s)
IDS = {0x0C1: 0.010, 0x0F1: 0.010, 0x1E5: 0.020, 0x1F1: 0.050, 0x32A: 0.100, 0x3D1: 0.100, 0x4C1: 0.500}


def vehicle_frames(t0: float, seconds: float, seed: int) -> list[tuple[float, int, bytes]]:
    """Frames of the synthetic vehicle for ``seconds`` from ``t0`` (jittered periods)."""
    rng = random.Random(seed)
    out = []
    for aid, period in IDS.items():
        t = t0 + rng.random() * period
        n = 0
        while t < t0 + seconds:
            signal = int(128 + 100 * rng.random()) & 0xFF
            out.append((t, aid, bytes([n & 0x0F, signal, 0x00, 0x40, aid & 0xFF, 0x00, 0x00, 0x00])))
            n += 1
            t += period * (1 + rng.uniform(-0.05, 0.05))
    out.sort()
    return out


def write_candump(path: Path, frames: list[tuple[float, int, bytes]]) -> Path:
    path.write_text("".join(f"({t:.6f}) can0 {aid:03X}#{data.hex().upper()}\n" for t, aid, data in sorted(frames)))
    return path


def attacked(frames: list[tuple[float, int, bytes]], kind: str, start: float, end: float,
             seed: int = 1) -> list[tuple[float, int, bytes]]:
    """``frames`` with one attack in ``[start, end]``: dos, fuzz, inject (twice the rate of 0x1F1) or
    masquerade (0x1F1's constant byte 3 changed far from its value, at its own timing)."""
    rng = random.Random(seed)
    if kind == "dos":
        return frames + [(start + i / 2000, 0x000, bytes(8)) for i in range(int((end - start) * 2000))]
    if kind == "fuzz":
        return frames + [(start + i / 500, rng.randrange(0x600, 0x800), rng.randbytes(8))
                         for i in range(int((end - start) * 500))]
    if kind == "inject":
        latest = [f for f in frames if f[1] == 0x1F1 and f[0] < start][-1][2]
        return frames + [(start + 0.0123 + i * 0.025, 0x1F1, latest) for i in range(int((end - start) / 0.025))]
    if kind == "masquerade":
        return [(t, aid, data[:3] + bytes([data[3] ^ 0xFF]) + data[4:]) if aid == 0x1F1 and start <= t <= end
                else (t, aid, data) for t, aid, data in frames]
    raise ValueError(kind)


# --------------------------------------------------------------------------------------------------
# a small Modbus plant: a master polling six RTUs, writing a setpoint, using DNS and an SMB share

MTU, HMI, DNS = "10.10.0.1", "10.10.0.5", "10.10.0.2"
RTUS = [f"10.10.0.{11 + i}" for i in range(6)]


class TcpConversation:
    """One TCP connection's segments with consistent sequence numbers."""

    def __init__(self, out: list[Any], client: str, server: str, sport: int, dport: int, t: float) -> None:
        from scapy.layers.inet import IP, TCP
        from scapy.layers.l2 import Ether

        self.out, self.IP, self.TCP, self.Ether = out, IP, TCP, Ether
        self.c, self.s, self.sport, self.dport = client, server, sport, dport
        self.cseq, self.sseq = 1000, 50000
        self._seg(t, True, "S", b"")
        self._seg(t + 0.0002, False, "SA", b"")
        self._seg(t + 0.0004, True, "A", b"")

    def _mac(self, ip: str) -> str:
        return "02:00:00:00:00:%02x" % (int(ip.split(".")[-1]) % 256)

    def _seg(self, t: float, from_client: bool, flags: str, data: bytes) -> None:
        src, dst = (self.c, self.s) if from_client else (self.s, self.c)
        sport, dport = (self.sport, self.dport) if from_client else (self.dport, self.sport)
        seq, ack = (self.cseq, self.sseq) if from_client else (self.sseq, self.cseq)
        pkt = (self.Ether(src=self._mac(src), dst=self._mac(dst)) / self.IP(src=src, dst=dst)
               / self.TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack if "A" in flags else 0) / data)
        pkt.time = t
        self.out.append(pkt)
        grow = len(data) + (1 if "S" in flags or "F" in flags else 0)
        if from_client:
            self.cseq += grow
        else:
            self.sseq += grow

    def exchange(self, t: float, request: bytes, reply: bytes) -> None:
        self._seg(t, True, "PA", request)
        self._seg(t + 0.003, False, "PA", reply)

    def send(self, t: float, data: bytes, from_client: bool = True) -> None:
        """One data segment, unanswered."""
        self._seg(t, from_client, "PA", data)


def modbus(tid: int, unit: int, pdu: bytes) -> bytes:
    return tid.to_bytes(2, "big") + b"\x00\x00" + (len(pdu) + 1).to_bytes(2, "big") + bytes([unit]) + pdu


def plant_pcap(path: Path, t0: float, seconds: float, attack: str | None = None, attack_at: float = 0.0) -> Path:
    """A pcap of the plant for ``seconds`` from ``t0``; ``attack`` (recon, forged_write, smb_exploit,
    cnc_upload, sweep) starts at ``t0 + attack_at``."""
    from scapy.layers.dns import DNS as DNSLayer
    from scapy.layers.dns import DNSQR
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    out: list[Any] = []
    polls = [TcpConversation(out, MTU, rtu, 40000 + i, 502, t0 + 0.001 * i) for i, rtu in enumerate(RTUS)]
    share = TcpConversation(out, MTU, HMI, 40100, 445, t0 + 0.01)
    tid = 0
    for second in range(int(seconds)):
        t = t0 + 0.05 + second
        for i, conn in enumerate(polls):
            tid += 1
            reply = modbus(tid, 1, b"\x03\x14" + bytes(20))
            conn.exchange(t + 0.01 * i, modbus(tid, 1, b"\x03\x00\x00\x00\x0a"), reply)
        if second % 5 == 0:
            tid += 1
            polls[0].exchange(t + 0.2, modbus(tid, 1, b"\x06\x00\x64\x01\xf4"), modbus(tid, 1, b"\x06\x00\x64\x01\xf4"))
        if second % 10 == 0:
            share.exchange(t + 0.3, b"\x00\x00\x00\x40" + bytes(64), b"\x00\x00\x00\x40" + bytes(64))
            q = Ether() / IP(src=MTU, dst=DNS) / UDP(sport=50000 + second, dport=53) / DNSLayer(
                rd=1, qd=DNSQR(qname="historian.plant.local"))
            q.time = t + 0.4
            out.append(q)
    ta = t0 + attack_at
    if attack == "recon":
        conn = TcpConversation(out, MTU, RTUS[1], 41000, 502, ta)
        conn.exchange(ta + 0.1, modbus(1, 1, b"\x2b\x0e\x01\x00"), modbus(1, 1, b"\xab\x01"))
        for unit in range(2, 12):
            conn.exchange(ta + 0.1 * unit, modbus(unit, unit, b"\x11"), modbus(unit, unit, b"\x91\x0b"))
    elif attack == "forged_write":
        conn = TcpConversation(out, "10.10.0.66", RTUS[3], 41000, 502, ta)
        conn.exchange(ta + 0.1, modbus(1, 1, b"\x06\x00\x05\xff\xff"), modbus(1, 1, b"\x06\x00\x05\xff\xff"))
    elif attack == "smb_exploit":
        conn = TcpConversation(out, HMI, MTU, 41000, 445, ta)
        for k in range(5):
            conn.exchange(ta + 0.05 * (k + 1), b"\x00\x00\x01\x00" + bytes(256), b"\x00\x00\x00\x40" + bytes(64))
    elif attack == "cnc_upload":
        conn = TcpConversation(out, HMI, "198.51.100.7", 41000, 8080, ta)
        for k in range(40):
            conn.exchange(ta + 0.01 * (k + 1), bytes(1400), b"")
    elif attack == "sweep":
        for i, host in enumerate([*RTUS, HMI, DNS]):
            TcpConversation(out, "10.10.0.77", host, 42000 + i, 80, ta + 0.01 * i)
    elif attack is not None:
        raise ValueError(attack)
    out.sort(key=lambda p: float(p.time))
    wrpcap(str(path), out)
    return path
