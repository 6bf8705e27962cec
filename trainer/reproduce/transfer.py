"""Transfer: a model trained on CICIoV2024 (one 2019 Ford), replayed through the agent on other cars.

Why through the agent: an operator meets the model as the agent runs it (its feature extractor,
windows, thresholds, evidence floors, incident logic), so false incidents per hour of clean driving
are counted from the agent's own replay (:func:`agent.commands.replay.replay`), not from row scores.
The logs are clean (no attack injected), so every incident is a false one.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Any

#: suffixes python-can reads that the vehicle logs use
LOG_SUFFIXES = (".log", ".asc", ".trc", ".blf")


def clean_logs(captures: Path) -> list[Path]:
    """Clean vehicle logs under ``captures``: ``can-site/learn`` and ``can-site/test`` (both cars), and
    files of ``can/`` that are not copies of those (the README's sources table names them)."""
    site = captures / "can-site"
    logs = sorted(p for role in ("learn", "test") for p in (site / role).rglob("*") if p.suffix in LOG_SUFFIXES)
    copies = {p.stem for p in logs}
    for p in sorted((captures / "can").glob("*")):
        if p.suffix in LOG_SUFFIXES and not any(p.stem.endswith(f"_{c}") for c in copies):
            logs.append(p)
    return logs


def log_span(path: Path) -> tuple[int, float]:
    """Frames and seconds (last minus first timestamp) of a CAN log, read with python-can."""
    import can

    n, first, last = 0, None, None
    with contextlib.redirect_stderr(io.StringIO()):
        for msg in can.LogReader(str(path)):
            n += 1
            first = msg.timestamp if first is None else first
            last = msg.timestamp
    return n, (last - first) if n > 1 and first is not None and last is not None else 0.0


def replay_clean(bundle: Path, logs: list[Path]) -> dict[str, Any]:
    """Replay every log through the agent with ``bundle`` (features.kind ciciov2024, rules and
    baselines off so only the model speaks); incidents per log and per hour."""
    from agent.commands.replay import replay
    from agent.config import load_config

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, log in enumerate(logs):
            cfg = load_config(None, ["mqtt.enabled=false", f"state_dir={tmp}/state{i}", "logging.level=WARNING",
                                     "features.kind=ciciov2024", f"model.bundle={bundle}", "sinks.console=false",
                                     "sinks.jsonl.path=null"])
            with contextlib.redirect_stdout(io.StringIO()):
                _, stats = replay(cfg, str(log))
            frames, seconds = log_span(log)
            rows.append({"log": f"{log.parent.name}/{log.name}", "frames": frames, "seconds": seconds,
                         "windows_scored": stats.get("windows_scored"), "incidents": stats["incidents"],
                         "incidents_by_class": stats["incidents_by_class"]})
    seconds = sum(r["seconds"] for r in rows)
    incidents = sum(r["incidents"] for r in rows)
    return {"logs": rows, "seconds": seconds, "incidents": incidents,
            "incidents_per_hour": incidents / (seconds / 3600) if seconds > 0 else float("nan")}
