"""CAN logs written in the layouts the HCRL vehicle datasets are published in.

Tests cannot download the Car-Hacking, OTIDS or Car Hacking Challenge files, so they write frames
in exactly those layouts: the Car-Hacking CSV (no header; ``timestamp,ID,DLC,bytes...,flag``, the
flag ``T`` for an injected frame and ``R`` otherwise, one byte column per DLC, IDs as four hex
digits), the text recording (``Timestamp: t        ID: 0316    000    DLC: 8    05 20 ...``) and
the challenge CSV (``Timestamp,Arbitration_ID,DLC,Data,Class,SubClass``, data bytes space
separated).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import can

LAYOUTS = ("hcrl-csv", "hcrl-text", "hcrl-challenge")
SUFFIX = {"hcrl-csv": ".csv", "hcrl-text": ".txt", "hcrl-challenge": ".csv"}


def write_hcrl(path: Path, messages: Sequence[can.Message], layout: str,
               injected: Sequence[bool] | None = None, subclass: str = "Spoofing") -> Path:
    """``messages`` in ``layout``; ``injected[i]`` marks frame i as an attack frame."""
    flags = list(injected) if injected is not None else [False] * len(messages)
    lines = ["Timestamp,Arbitration_ID,DLC,Data,Class,SubClass"] if layout == "hcrl-challenge" else []
    for m, bad in zip(messages, flags, strict=True):
        data = [f"{b:02x}" for b in m.data]
        if layout == "hcrl-csv":
            lines.append(",".join([f"{m.timestamp:.6f}", f"{m.arbitration_id:04x}", str(m.dlc), *data,
                                   "T" if bad else "R"]))
        elif layout == "hcrl-text":
            lines.append(f"Timestamp: {m.timestamp:17.6f}        ID: {m.arbitration_id:04x}    "
                         f"{'100' if m.is_remote_frame else '000'}    DLC: {m.dlc}    " + " ".join(data))
        elif layout == "hcrl-challenge":
            cls = ("Attack", subclass) if bad else ("Normal", "Normal")
            lines.append(",".join([f"{m.timestamp:.7f}", f"{m.arbitration_id:03X}", str(m.dlc),
                                   " ".join(d.upper() for d in data), *cls]))
        else:
            raise ValueError(f"unknown HCRL layout {layout!r}")
    path.write_text("\n".join(lines) + "\n")
    return path
