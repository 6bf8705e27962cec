"""Firmware profile files: where they are found, how they are read, and their ``meta`` block.

What :mod:`agent.config` needs to put a profile under a config, without the agent config itself:
:mod:`agent.profiles` validates a profile's values as an agent config and picks one for a board.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from agent.schema import build, doc, read_yaml

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


def read_profile(name_or_path: str | os.PathLike[str], relative_to: str | os.PathLike[str] | None = None) -> Profile:
    """Find and read a profile, its ``meta`` block validated; its values are the caller's to validate as
    an agent config (:func:`agent.profiles.load_profile`, :func:`agent.config.load_config`).

    :raises ConfigError: unknown keys or wrong types in ``meta``, naming the profile file and key path.
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
    return Profile(meta=meta, values=raw, path=path)



def list_profiles() -> dict[str, Path]:
    """Every profile found, by name (earlier search directories shadow later ones)."""
    found: dict[str, Path] = {}
    for d in search_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.yaml")):
                found.setdefault(p.stem, p)
    return found
