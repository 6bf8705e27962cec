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

from agent.config import AgentConfig, build, doc, read_yaml
from agent.errors import ConfigError

#: where shipped profiles live: beside the package in a checkout, or /usr/share when installed
PROFILE_DIRS: tuple[Path, ...] = (
    Path(__file__).resolve().parent.parent / "firmware_profiles",
    Path("/usr/share/edge-ids/firmware_profiles"),
    Path("/etc/edge-ids/firmware_profiles"),
)
#: set EDGE_IDS_PROFILE_PATH (os.pathsep-separated) to search other directories first
PROFILE_PATH_ENV = "EDGE_IDS_PROFILE_PATH"
#: the key holding a profile's metadata (not part of the agent config)
META_KEY = "meta"


@dataclass
class ProfileMatch:
    """How :func:`detect` recognises the board (case-insensitive substrings)."""

    model: list[str] = doc(
        "substrings of /proc/device-tree/model (or cpuinfo's 'Model' line) that identify the board",
        factory=list,
    )
    cpuinfo: list[str] = doc("substrings of /proc/cpuinfo that identify the SoC", factory=list)
    machine: list[str] = doc("CPU architectures (uname -m) for a catch-all match, e.g. x86_64", factory=list)


@dataclass
class ProfileMeta:
    """A profile's description: honest about what was measured and what is assumed."""

    name: str = doc("profile name (the file name without .yaml)", "")
    description: str = doc("one line for `profile list`", "")
    tuned_for: str = doc("the hardware and workload the values were chosen for", "")
    assumed: list[str] = doc("assumptions behind the values, not verified on the device", factory=list)
    measured: list[str] = doc("values measured on the device, with how", factory=list)
    preferred_model_variant: str = doc("which model variant suits the device (e.g. int8 on CPU)", "int8")
    match: ProfileMatch = doc("how `profile detect` recognises the board", factory=ProfileMatch)
    priority: int = doc("higher wins when several profiles match; catch-alls use 0", 10)
    min_cores: int = doc("CPU cores the values assume; `profile detect` warns on a machine with fewer", 1)


@dataclass
class Profile:
    """A loaded, validated profile: metadata, raw config values (for merging) and where it came from."""

    meta: ProfileMeta
    values: dict[str, Any]
    path: Path


def search_dirs() -> list[Path]:
    """Directories searched for ``<name>.yaml``, in order."""
    extra = [Path(p) for p in os.environ.get(PROFILE_PATH_ENV, "").split(os.pathsep) if p]
    return [*extra, *PROFILE_DIRS]


def find_profile(name: str, relative_to: str | os.PathLike[str] | None = None) -> Path:
    """The file of profile ``name``: a path (absolute, or relative to the config naming it) or a name.

    :raises ConfigError: naming the profile and the directories searched.
    """
    looks_like_path = name.endswith((".yaml", ".yml")) or os.sep in name
    if looks_like_path:
        p = Path(name).expanduser()
        if not p.is_absolute() and relative_to is not None:
            p = Path(relative_to).resolve().parent / p
        if p.is_file():
            return p
        raise ConfigError(f"profile {name!r}: no such file ({p})")
    for d in search_dirs():
        candidate = d / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(list_profiles())) or "none found"
    raise ConfigError(
        f"profile {name!r}: not found in {', '.join(str(d) for d in search_dirs())}; known profiles: {known}"
    )


def load_profile(name_or_path: str | os.PathLike[str], relative_to: str | os.PathLike[str] | None = None) -> Profile:
    """Find, read and validate a profile (its values as an agent config, its ``meta`` block).

    :raises ConfigError: unknown keys or wrong types, naming the profile file and key path.
    """
    path = find_profile(os.fspath(name_or_path), relative_to)
    raw = read_yaml(path)
    meta_raw = raw.pop(META_KEY, None) or {}
    if not isinstance(meta_raw, Mapping):
        raise ConfigError(f"{path}: {META_KEY}: expected a mapping")
    if "profile" in raw:
        raise ConfigError(f"{path}: profile: a profile cannot name another profile")
    meta = build(ProfileMeta, meta_raw, f"{path}: {META_KEY}")
    if not meta.name:
        meta.name = path.stem
    build(AgentConfig, raw, f"{path}: ")  # validate: same rules as a config
    return Profile(meta=meta, values=raw, path=path)


def profile_values(name_or_path: str, relative_to: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The raw config values of a profile, for :func:`agent.config.load_config` to merge under a config."""
    return load_profile(name_or_path, relative_to).values


def list_profiles() -> dict[str, Path]:
    """Every profile found, by name (earlier search directories shadow later ones)."""
    found: dict[str, Path] = {}
    for d in search_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.yaml")):
                found.setdefault(p.stem, p)
    return found


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
