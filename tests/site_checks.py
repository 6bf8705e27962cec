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

REPO = Path(__file__).resolve().parent.parent


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
