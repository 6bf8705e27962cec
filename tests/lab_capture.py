"""Writing a lab :class:`~trainer.lab.ethernet.Capture` built by a test to a pcap."""

from __future__ import annotations

from pathlib import Path

from trainer.lab import wire
from trainer.lab.ethernet import Capture


def write_capture(cap: Capture, path: Path) -> tuple[Path, list[str]]:
    """Sort ``cap``'s frames by time (as a session does), write them to ``path``; the path and the labels."""
    cap.frames.sort(key=lambda f: (f[0], f[1]))
    with open(path, "wb") as fh:
        wire.write_pcap(fh, [(ts, data) for ts, _, data, _ in cap.frames])
    return path, [f[3] for f in cap.frames]
