"""A lab :class:`~trainer.lab.ethernet.capture.Capture` for a test to fill, and writing it to a pcap."""

from __future__ import annotations

import random
from pathlib import Path

from trainer.lab import wire
from trainer.lab.ethernet.capture import Capture
from trainer.lab.ethernet.site import Site, make_site

#: when the captures tests build start
T0 = 1_700_000_000.0


def new_capture(seed: int) -> tuple[Capture, Site]:
    """An empty capture (short frames padded, as on the wire) and a site, both from one ``seed``."""
    rng = random.Random(seed)
    return Capture(rng, pad_short=True), make_site(rng)


def write_capture(cap: Capture, path: Path) -> tuple[Path, list[str]]:
    """Sort ``cap``'s frames by time (as a session does), write them to ``path``; the path and the labels."""
    cap.frames.sort(key=lambda f: (f[0], f[1]))
    with open(path, "wb") as fh:
        wire.write_pcap(fh, [(ts, data) for ts, _, data, _ in cap.frames])
    return path, [f[3] for f in cap.frames]
