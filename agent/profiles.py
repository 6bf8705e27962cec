"""Firmware profiles: per-device defaults that a config builds on.

Why profiles: the same agent runs on a 4-core Cortex-A53 telematics unit and on an x86 gateway;
thread counts, batch sizes, queue and socket buffer sizes that suit one starve or waste the other.
A profile (``firmware_profiles/<name>.yaml``) is a partial agent config plus a ``meta`` block saying
what it was tuned for, what is assumed and what was measured, and how to recognise the board.
A config names it with ``profile: <name or path>`` and overrides any of its values; ``load_config``
resolves it (see :func:`profile_values`). ``edge-ids-agent profile detect`` picks one from
``/proc/device-tree/model`` and ``/proc/cpuinfo``.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.profile_files import META_KEY as META_KEY
from agent.profile_files import PROFILE_DIRS as PROFILE_DIRS
from agent.profile_files import PROFILE_PATH_ENV as PROFILE_PATH_ENV
from agent.profile_files import Profile as Profile
from agent.profile_files import ProfileMatch as ProfileMatch
from agent.profile_files import ProfileMeta as ProfileMeta
from agent.profile_files import find_profile as find_profile
from agent.profile_files import list_profiles as list_profiles
from agent.profile_files import read_profile
from agent.profile_files import search_dirs as search_dirs
from agent.schema import build


def load_profile(name_or_path: str | os.PathLike[str], relative_to: str | os.PathLike[str] | None = None) -> Profile:
    """Find, read and validate a profile (its values as an agent config, its ``meta`` block).

    :raises ConfigError: unknown keys or wrong types, naming the profile file and key path.
    """
    profile = read_profile(name_or_path, relative_to)
    build(AgentConfig, profile.values, f"{profile.path}: ")  # validate: same rules as a config
    return profile


def profile_values(name_or_path: str, relative_to: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The raw config values of a profile, for :func:`agent.config.load_config` to merge under a config."""
    return load_profile(name_or_path, relative_to).values


@dataclass
class Detection:
    """The profile :func:`detect` chose and why."""

    name: str
    reason: str
    path: Path


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace").replace("\0", "").strip()
    except OSError:
        return ""


def board_model(device_tree_model: Path, cpuinfo_text: str) -> str:
    """The board name: the device tree's model, else cpuinfo's ``Model`` line (Raspberry Pi kernels)."""
    model = _read(device_tree_model)
    if model:
        return model
    for line in cpuinfo_text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "model" and value.strip():
            return value.strip()
    return ""


def detect(
    device_tree_model: str | os.PathLike[str] = "/proc/device-tree/model",
    cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo",
    machine: str | None = None,
    profiles: Mapping[str, Path] | None = None,
) -> Detection | None:
    """Pick the profile for this device (paths and ``machine`` injectable for tests).

    Board-specific matches (device-tree model, cpuinfo) beat architecture catch-alls through
    ``meta.priority``. :returns: ``None`` when no profile matches.
    """
    cpu_text = _read(Path(cpuinfo))
    model = board_model(Path(device_tree_model), cpu_text)
    arch = (machine if machine is not None else platform.machine()).lower()
    best: tuple[int, Detection] | None = None
    for name, path in sorted((profiles if profiles is not None else list_profiles()).items()):
        meta = load_profile(str(path)).meta
        reason = _matches(meta.match, model, cpu_text, arch)
        if reason is None:
            continue
        if best is None or meta.priority > best[0]:
            best = (meta.priority, Detection(name=name, reason=reason, path=path))
    return best[1] if best else None


def _matches(match: ProfileMatch, model: str, cpu_text: str, arch: str) -> str | None:
    low_model, low_cpu = model.lower(), cpu_text.lower()
    for s in match.model:
        if s.lower() in low_model:
            return f"board model {model!r} contains {s!r}"
    for s in match.cpuinfo:
        if s.lower() in low_cpu:
            return f"/proc/cpuinfo contains {s!r}"
    for s in match.machine:
        if s.lower() == arch:
            return f"architecture is {arch}"
    return None


def describe_profile(profile: Profile) -> list[tuple[str, Any]]:
    """(dotted key, value) for every value a profile sets, for `profile show`."""
    rows: list[tuple[str, Any]] = []

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        for k, v in node.items():
            key = f"{prefix}{k}"
            if isinstance(v, Mapping) and v and not key.endswith(("source.can", "thresholds", "severity")):
                walk(key + ".", v)
            else:
                rows.append((key, v))

    walk("", profile.values)
    return rows



def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def shortfalls(profile: Profile, cores: int) -> list[str]:
    """Where a machine with ``cores`` usable cores falls below what ``profile`` assumes, each with the
    setting to change; empty when it does not.

    Why: ``detect`` matches by architecture or board, and a catch-all such as generic-x86_64 also
    matches a 2-core VM it was not tuned for; saying so beats a silent pick.
    """
    out: list[str] = []
    if cores < profile.meta.min_cores:
        threads = (profile.values.get("model") or {}).get("threads")
        hint = f"; set model.threads: 1 in your config (the profile sets {threads})" if threads and threads > 1 else ""
        out.append(f"this machine has {cores} usable core(s), the profile assumes at least "
                   f"{profile.meta.min_cores}{hint}")
    affinity = (profile.values.get("runtime") or {}).get("cpu_affinity") or []
    missing = [c for c in affinity if isinstance(c, int) and c >= cores]
    if missing:
        out.append(f"runtime.cpu_affinity names core(s) {', '.join(map(str, missing))}, which this machine "
                   "lacks; set runtime.cpu_affinity: null or cores it has")
    return out
