"""Capture sessions: benign traffic with every attack placed as an episode, written as pcaps with
labels."""

from __future__ import annotations

import csv
import json
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.lab import wire
from trainer.lab.ethernet.attacks.backdoor import atk_backdoor
from trainer.lab.ethernet.attacks.floods import atk_ddos_http, atk_ddos_icmp, atk_ddos_tcp, atk_ddos_udp
from trainer.lab.ethernet.attacks.mitm import atk_mitm
from trainer.lab.ethernet.attacks.password import atk_password
from trainer.lab.ethernet.attacks.ransomware import atk_ransomware
from trainer.lab.ethernet.attacks.scans import atk_fingerprint, atk_port_scan
from trainer.lab.ethernet.attacks.web import atk_injection, atk_upload, atk_vuln_scan
from trainer.lab.ethernet.benign.http import normal_http
from trainer.lab.ethernet.benign.infra import normal_infra
from trainer.lab.ethernet.benign.modbus import normal_modbus
from trainer.lab.ethernet.benign.mqtt import normal_mqtt
from trainer.lab.ethernet.capture import Capture
from trainer.lab.ethernet.labels import ATTACKS, CLASSES, NORMAL
from trainer.lab.ethernet.site import Site, make_site
from trainer.lab.everyday import add_admin_and_transfers, add_everyday
from trainer.lab.plant_floor import add_plant_floor

log = logging.getLogger(__name__)

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
    streams: list[tuple[str, Callable[[Capture, Site, float, float], None]]] = [
        ("transfers", add_admin_and_transfers)]
    if plant_floor:
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
