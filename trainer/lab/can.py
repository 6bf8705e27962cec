"""Labelled CAN traffic of a vehicle: benign periodic ECUs plus the five CICIoV2024 attacks.

A capture session is one vehicle on one drive. Every vehicle has tens of periodic IDs (10 ms to 1 s,
with jitter and the occasional late frame), whose payloads carry plausible signals: wheel speed, engine
RPM, gas pedal and steering angle driven by one simulated drive (accelerate, cruise, brake, turn),
plus rolling counters and checksums; the other IDs carry slowly changing status bytes.

Why the signal IDs come from a small set of platforms while everything else is drawn per vehicle: the
CICIoV2024 classes name *which* signal is spoofed (GAS, RPM, SPEED, STEERING_WHEEL), which a model can
only tell from the ID of the frame; a platform (a make's ID map) fixes those IDs as a real make does,
while the rest of the ID set, periods, jitter, payload layouts and signal ranges vary per vehicle.

Attacks are episodes inside the drive, as injected through an OBD-II dongle:

* DoS: a flood of ID 0x000 (all-zero payload) every 0.2-1 ms; it wins arbitration, so benign frames
  are delayed and some are lost while it lasts.
* Spoofing: forged payloads on the real ID of the signal, sent several times faster than its ECU, so
  receivers see the forged value most of the time; the real ECU keeps sending.

Outputs: candump ``-L`` logs (what ``candump -L`` and python-can's ``CanutilsLogWriter`` write),
per-frame labels, and the CICIoV2024 decimal CSV schema (``ID, DATA_0..DATA_7, label, category,
specific_class``) so the real-data loaders read identical columns.
"""

from __future__ import annotations

import csv
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENIGN = "BENIGN"
CLASSES = ("BENIGN", "DoS", "GAS", "RPM", "SPEED", "STEERING_WHEEL")
CATEGORY = {"BENIGN": "BENIGN", "DoS": "DoS", "GAS": "SPOOFING", "RPM": "SPOOFING", "SPEED": "SPOOFING",
            "STEERING_WHEEL": "SPOOFING"}
SIGNALS = ("GAS", "RPM", "SPEED", "STEERING_WHEEL")

#: platform -> signal -> (arbitration id, nominal period s)
PLATFORMS: dict[str, dict[str, tuple[int, float]]] = {
    "A": {"GAS": (0x204, 0.02), "RPM": (0x201, 0.01), "SPEED": (0x217, 0.02), "STEERING_WHEEL": (0x076, 0.01)},
    "B": {"GAS": (0x1C4, 0.01), "RPM": (0x0C9, 0.012), "SPEED": (0x3E9, 0.05), "STEERING_WHEEL": (0x1E5, 0.01)},
    "C": {"GAS": (0x170, 0.02), "RPM": (0x1F0, 0.02), "SPEED": (0x158, 0.01), "STEERING_WHEEL": (0x156, 0.01)},
}
PERIODS = (0.01, 0.01, 0.02, 0.02, 0.025, 0.05, 0.05, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0)


@dataclass
class Signal:
    """Where a physical signal sits in its frame and how it is scaled."""

    byte: int
    width: int  # bytes, big endian
    scale: float
    offset: float
    signed: bool = False


@dataclass
class Ecu:
    """One periodic ID: period, jitter, payload layout (signal, counter, checksum, static bytes)."""

    aid: int
    period: float
    phase: float
    jitter: float
    dlc: int
    static: bytearray
    signal: str | None
    layout: Signal | None
    counter_byte: int | None
    checksum: str | None  # "sum", "xor" or None (last byte)
    drift_bytes: tuple[int, ...]
    counter: int = 0

    def payload(self, rng: random.Random, value: float | None) -> bytes:
        d = bytearray(self.static)
        if self.layout is not None and value is not None:
            put(d, self.layout, value)
        for b in self.drift_bytes:
            if rng.random() < 0.05:
                self.static[b] = (self.static[b] + rng.choice((-1, 1))) & 0xFF
        if self.counter_byte is not None:
            self.counter = (self.counter + 1) & 0x0F
            d[self.counter_byte] = (d[self.counter_byte] & 0xF0) | self.counter
        seal(d, self.checksum)
        return bytes(d)


def put(d: bytearray, s: Signal, value: float) -> None:
    raw = round((value - s.offset) / s.scale)
    lim = 1 << (8 * s.width)
    raw = max(-(lim // 2), min(lim // 2 - 1, raw)) & (lim - 1) if s.signed else max(0, min(lim - 1, raw))
    d[s.byte:s.byte + s.width] = raw.to_bytes(s.width, "big")


def seal(d: bytearray, kind: str | None) -> None:
    if kind == "sum":
        d[-1] = sum(d[:-1]) & 0xFF
    elif kind == "xor":
        x = 0
        for b in d[:-1]:
            x ^= b
        d[-1] = x


def signal_layout(rng: random.Random, name: str, dlc: int) -> Signal:
    """Scale/offset of each signal, varied per vehicle the way real DBC files differ."""
    if name == "SPEED":
        return Signal(rng.randint(0, max(0, dlc - 3)), 2, rng.choice([0.01, 0.0078125, 0.1]), 0.0)
    if name == "RPM":
        return Signal(rng.randint(0, max(0, dlc - 3)), 2, rng.choice([0.25, 1.0, 0.125]), 0.0)
    if name == "GAS":
        return Signal(rng.randint(0, max(0, dlc - 2)), 1, rng.choice([0.4, 0.392157, 0.5]), 0.0)
    return Signal(rng.randint(0, max(0, dlc - 3)), 2, rng.choice([0.1, 0.0625, 0.04375]), 0.0, signed=True)


@dataclass
class Drive:
    """A drive sampled every 10 ms: speed (km/h), RPM, gas pedal (%), steering angle (deg)."""

    speed: list[float]
    rpm: list[float]
    gas: list[float]
    steer: list[float]

    def at(self, name: str, t: float) -> float:
        i = min(len(self.speed) - 1, max(0, int(t / 0.01)))
        return {"SPEED": self.speed, "RPM": self.rpm, "GAS": self.gas, "STEERING_WHEEL": self.steer}[name][i]


def simulate_drive(rng: random.Random, duration: float, vmax: float, idle: float) -> Drive:
    n = int(duration / 0.01) + 2
    v, steer, gas = 0.0, 0.0, 0.0
    target, hold = rng.uniform(0, vmax), rng.uniform(2, 10)
    sp, rp, gp, st = [], [], [], []
    ratios = (0.0, 14.0, 8.5, 5.8, 4.4, 3.5, 2.9)
    steer_target = 0.0
    for _ in range(n):
        hold -= 0.01
        if hold <= 0:
            target = rng.choice([0.0, rng.uniform(10, vmax), rng.uniform(30, vmax)])
            hold = rng.uniform(3, 20)
            steer_target = rng.choice([0.0, 0.0, rng.uniform(-90, 90), rng.uniform(-450, 450) if v < 20 else 0.0])
        err = target - v
        gas = max(0.0, min(100.0, gas + 0.02 * (max(0.0, err) * 4 - gas) + rng.gauss(0, 0.3)))
        accel = gas * 0.035 - (0.0 if err > 0 else min(8.0, -err * 0.3)) - 0.01 * v * 0.05
        v = max(0.0, min(vmax, v + accel * 0.01 * 3.6 / 3.6 + rng.gauss(0, 0.01)))
        gear = 0 if v < 1 else min(6, 1 + int(v / 22))
        rpm = idle + rng.gauss(0, 8) if gear == 0 else max(idle, v * ratios[gear] * 7.5 + rng.gauss(0, 15))
        steer += (steer_target - steer) * 0.01 + rng.gauss(0, 0.2)
        sp.append(v)
        rp.append(rpm)
        gp.append(gas)
        st.append(steer)
    return Drive(sp, rp, gp, st)


def make_vehicle(rng: random.Random) -> tuple[str, list[Ecu]]:
    """A vehicle: its platform's four signal IDs plus 16-50 other periodic IDs."""
    platform = rng.choice(sorted(PLATFORMS))
    ecus: list[Ecu] = []
    used = set()
    for name, (aid, period) in PLATFORMS[platform].items():
        dlc = 8 if rng.random() < 0.8 else rng.randint(4, 7)
        period = period * rng.choice([1.0, 1.0, 1.0, 2.0])
        ecus.append(_ecu(rng, aid, period, dlc, name))
        used.add(aid)
    while len(ecus) < rng.randint(20, 54):
        aid = rng.randint(0x010, 0x7FF) if rng.random() < 0.9 else rng.randint(0x700, 0x7FF)
        if aid in used:
            continue
        used.add(aid)
        ecus.append(_ecu(rng, aid, rng.choice(PERIODS), rng.choice([8, 8, 8, 8, 2, 3, 4, 5, 6, 7]), None))
    return platform, ecus


def _ecu(rng: random.Random, aid: int, period: float, dlc: int, signal: str | None) -> Ecu:
    if rng.random() < 0.5:
        static = bytearray(rng.randbytes(dlc))
    else:
        static = bytearray(rng.choice([0, 0, 0xFF, rng.randrange(256)]) for _ in range(dlc))
    checksum = rng.choice([None, "sum", "xor"]) if dlc >= 4 else None
    layout = signal_layout(rng, signal, dlc) if signal else None
    taken = set(range(layout.byte, layout.byte + layout.width)) if layout else set()
    free = [b for b in range(dlc - (1 if checksum else 0)) if b not in taken]
    counter_byte = rng.choice(free) if free and rng.random() < 0.6 else None
    drift = tuple(rng.sample([b for b in free if b != counter_byte], k=min(2, max(0, len(free) - 1))))
    return Ecu(aid, period, rng.uniform(0, period), period * rng.uniform(0.002, 0.03), dlc, static, signal, layout,
               counter_byte, checksum, drift)


@dataclass
class CanSession:
    name: str
    frames: list[tuple[float, int, bytes]]
    labels: list[str]
    platform: str
    ids: list[int]
    periods: dict[int, float]
    episodes: list[dict[str, Any]]
    channel: str


def generate_session(seed: int, index: int, scale: float = 1.0) -> CanSession:
    """One drive of one vehicle with every attack class as an episode."""
    rng = random.Random(f"edge-ids-lab-can/{seed}/{index}")
    platform, ecus = make_vehicle(rng)
    duration = max(30.0, 180.0 * scale) * rng.uniform(0.8, 1.2)
    drive = simulate_drive(rng, duration, rng.uniform(60, 180), rng.uniform(600, 900))
    start = rng.uniform(1.55e9, 1.75e9)
    # attack episodes in separate slots of the drive
    order = list(CLASSES[1:])
    rng.shuffle(order)
    slot = duration / (len(order) + 1)
    episodes: list[dict[str, Any]] = []
    for i, cls in enumerate(order):
        length = min(slot * 0.8, max(1.0, rng.uniform(3, 12) * scale))
        at = slot * (i + 0.5) + rng.uniform(0, slot - length)
        episodes.append({"class": cls, "start": at, "end": at + length})
    dos = [(e["start"], e["end"]) for e in episodes if e["class"] == "DoS"]
    events: list[tuple[float, int, int, bytes, str]] = []
    n = 0
    for ecu in ecus:
        t = ecu.phase
        while t < duration:
            ts = t + rng.gauss(0, ecu.jitter)
            if rng.random() < 0.002:  # a late frame (busy ECU)
                ts += ecu.period * rng.uniform(0.2, 0.9)
            lost = False
            for a, b in dos:
                if a <= ts < b:
                    lost = rng.random() < 0.6
                    ts += rng.uniform(0.0002, 0.004)
            if not lost:
                events.append((max(0.0, ts), n, ecu.aid, ecu.payload(rng, drive.at(ecu.signal, ts)
                                                                       if ecu.signal else None), BENIGN))
                n += 1
            t += ecu.period
    by_signal = {e.signal: e for e in ecus if e.signal}
    for ep in episodes:
        cls, a, b = ep["class"], ep["start"], ep["end"]
        before = n
        if cls == "DoS":
            gap = rng.uniform(0.0002, 0.001)
            payload = bytes(8) if rng.random() < 0.8 else bytes(rng.randint(0, 8))
            t = a
            while t < b:
                events.append((t, n, 0x000, payload, cls))
                n += 1
                t += gap * rng.uniform(0.9, 1.1)
        else:
            ecu = by_signal[cls]
            fake = Ecu(ecu.aid, ecu.period, 0, 0, ecu.dlc, bytearray(ecu.static), cls, ecu.layout,
                       ecu.counter_byte if rng.random() < 0.5 else None,
                       ecu.checksum if rng.random() < 0.6 else None, (), ecu.counter)
            forged = {"GAS": rng.choice([100.0, 0.0, rng.uniform(60, 100)]),
                      "RPM": rng.choice([rng.uniform(5000, 8000), 0.0, 16000.0]),
                      "SPEED": rng.choice([0.0, rng.uniform(150, 250), rng.uniform(5, 40)]),
                      "STEERING_WHEEL": rng.choice([rng.uniform(-500, -300), rng.uniform(300, 500), 0.0])}[cls]
            ratio = rng.uniform(3, 20)
            gap = max(0.0003, ecu.period / ratio)
            t = a
            while t < b:
                v = forged + (rng.gauss(0, abs(forged) * 0.02) if rng.random() < 0.3 else 0.0)
                events.append((t, n, ecu.aid, fake.payload(rng, v), cls))
                n += 1
                t += gap * rng.uniform(0.95, 1.05)
            ep["ratio"] = ratio
        ep["frames"] = n - before
    events.sort(key=lambda e: (e[0], e[1]))
    frames = [(start + ts, aid, data) for ts, _, aid, data, _ in events]
    channel = rng.choice(["can0", "can0", "can1", "vcan0", "slcan0"])
    return CanSession(f"drive{index:02d}", frames, [e[4] for e in events], platform, sorted(e.aid for e in ecus),
                      {e.aid: e.period for e in ecus}, episodes, channel)


def write_candump(path: Path, s: CanSession) -> None:
    """candump -L lines: ``(seconds.micro) channel ID#HEX``, 3-digit standard IDs, as candump writes them."""
    with open(path, "w") as fh:
        ch = s.channel
        fh.writelines(f"({ts:.6f}) {ch} {aid:03X}#{data.hex().upper()}\n" for ts, aid, data in s.frames)


def write_decimal(path: Path, s: CanSession) -> None:
    """CICIoV2024 decimal CSV: ID, DATA_0..DATA_7 (short frames padded with 0), label, category, class."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["ID", *(f"DATA_{i}" for i in range(8)), "label", "category", "specific_class"])
        for (_, aid, data), lab in zip(s.frames, s.labels, strict=True):
            w.writerow([aid, *data.ljust(8, b"\0"), "BENIGN" if lab == BENIGN else "ATTACK", CATEGORY[lab], lab])


def write_sessions(out: str | os.PathLike[str], seed: int, scale: float = 1.0, sessions: int = 6) -> dict[str, Any]:
    """Write ``<drive>.log``, ``<drive>.labels.csv``, ``decimal/decimal_<drive>.csv`` and ``sessions.json``."""
    root = Path(out)
    (root / "decimal").mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"kind": "can", "seed": seed, "scale": scale, "classes": list(CLASSES), "sessions": []}
    for i in range(sessions):
        s = generate_session(seed, i, scale)
        write_candump(root / f"{s.name}.log", s)
        write_decimal(root / "decimal" / f"decimal_{s.name}.csv", s)
        with open(root / f"{s.name}.labels.csv", "w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["frame", "label", "category", "specific_class", "session"])
            for k, lab in enumerate(s.labels, 1):
                w.writerow([k, "BENIGN" if lab == BENIGN else "ATTACK", CATEGORY[lab], lab, s.name])
        counts: dict[str, int] = {}
        for lab in s.labels:
            counts[lab] = counts.get(lab, 0) + 1
        manifest["sessions"].append({
            "name": s.name, "frames": len(s.frames), "counts": counts, "platform": s.platform,
            "channel": s.channel, "ids": [f"{a:03X}" for a in s.ids],
            "periods_ms": {f"{a:03X}": round(p * 1000, 3) for a, p in s.periods.items()},
            "episodes": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in e.items()}
                         for e in s.episodes]})
    (root / "sessions.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


__all__ = ["CATEGORY", "CLASSES", "PLATFORMS", "generate_session", "write_sessions"]
