"""Site baselines: what one vehicle's bus or one plant's network normally does, learned on site.

Why: a model trained in a lab cannot know which CAN ids a car sends at which periods and with which
payload layout, nor which hosts of a plant talk Modbus to which, with which function codes and
registers. Passive OT monitors and the CAN IDS literature get there the same way: learn each site's
normal first, then report what departs from it, next to the classes a supervised model knows.

A baseline is an artefact like the model bundle: one human-readable JSON file (``baseline.json``)
in a directory, versioned, with a SHA-256 of its content so an edited or damaged file is refused,
and the feature kind and source it was learned for, so it cannot be used on another bus or network.
It is learned by ``edge-ids-agent learn`` (or by the daemon during ``baseline.commission_s``),
reviewed with ``edge-ids-agent baseline show`` / ``diff``, and read by the detectors in
:mod:`agent.baseline.can` and :mod:`agent.baseline.ethernet`, which run beside the rules.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

FORMAT = "edge-ids-baseline"
VERSION = 1
FILE_NAME = "baseline.json"
#: feature kind -> the baseline family that learns from its rows
FAMILIES: Mapping[str, str] = {
    "can-temporal": "can",
    "ciciov2024": "can",
    "edge-iiotset": "ethernet",
    "edge-iiotset-context": "ethernet",
}


class BaselineError(ConfigError):
    """A baseline that cannot be used: missing, damaged, edited, or learned for other traffic."""


@dataclass
class Baseline:
    """A learned baseline: what was learned from (``learned``), the content its detector reads
    (``content``), model thresholds calibrated on the learned traffic, and notes for the reviewer."""

    family: str
    feature_kind: str
    source: dict[str, Any]
    learned: dict[str, Any]
    content: dict[str, Any]
    thresholds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    created: str = ""
    path: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON document without its checksum."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "family": self.family,
            "feature_kind": self.feature_kind,
            "created": self.created,
            "source": self.source,
            "learned": self.learned,
            "thresholds": self.thresholds,
            "warnings": self.warnings,
            "content": self.content,
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``directory/baseline.json`` atomically (a reader never sees half a file)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        if not self.created:
            self.created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.path = str(out)
        return _write(out / FILE_NAME, self.body())


def _write(file: Path, body: dict[str, Any]) -> Path:
    """``body`` with its sha256, written to ``file`` atomically."""
    fd, tmp = tempfile.mkstemp(prefix=".baseline-", dir=file.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({**body, "sha256": _digest(body)}, f, indent=1)
        f.write("\n")
    os.replace(tmp, file)
    return file


def _read(file: Path) -> dict[str, Any]:
    """The JSON document of a baseline file (an edge-ids baseline of any version)."""
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"baseline {file}: not readable JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BaselineError(f"baseline {file}: not an edge-ids baseline (format is not {FORMAT!r})")
    return doc


def _digest(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def load_baseline(directory: str | os.PathLike[str], feature_kind: str | None = None,
                  source: Mapping[str, Any] | None = None) -> Baseline:
    """Read and check a baseline directory; :class:`BaselineError` naming the file and what is wrong.

    ``feature_kind`` and ``source`` (the config's) must fit what it was learned for: the same family
    of features, and where both name a live interface or bus channel, the same one.
    """
    path = Path(directory)
    file = path / FILE_NAME if path.is_dir() else path
    if not file.is_file():
        raise BaselineError(f"baseline {directory}: no {FILE_NAME} there (learn one with 'edge-ids-agent learn')")
    doc = _read(file)
    if doc.get("version") != VERSION:
        raise BaselineError(f"baseline {file}: version {doc.get('version')!r}, this agent reads version {VERSION}")
    stated = doc.pop("sha256", None)
    if stated != _digest(doc):
        raise BaselineError(
            f"baseline {file}: its content does not match its sha256 (edited or damaged); learn it again, "
            "or after reviewing an edit run 'edge-ids-agent baseline accept' on it"
        )
    try:
        baseline = Baseline(
            family=str(doc["family"]), feature_kind=str(doc["feature_kind"]), source=dict(doc["source"]),
            learned=dict(doc["learned"]), content=dict(doc["content"]),
            thresholds={str(k): float(v) for k, v in dict(doc.get("thresholds") or {}).items()},
            warnings=[str(w) for w in doc.get("warnings") or []], created=str(doc.get("created", "")),
            path=str(path),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BaselineError(f"baseline {file}: missing or malformed field ({exc})") from None
    if feature_kind is not None and FAMILIES.get(feature_kind) != baseline.family:
        raise BaselineError(
            f"baseline {file} was learned from {baseline.family} traffic (feature kind {baseline.feature_kind}); "
            f"features.kind {feature_kind} reads other traffic: use a baseline learned with this config"
        )
    if source is not None:
        mine, theirs = live_endpoint(source), live_endpoint(baseline.source)
        if mine is not None and theirs is not None and mine != theirs:
            raise BaselineError(
                f"baseline {file} was learned on {theirs}, this config captures on {mine}: "
                "learn a baseline for this interface"
            )
    return baseline


def accept_baseline(directory: str | os.PathLike[str]) -> Path:
    """Seal a reviewed edit of ``directory/baseline.json``: recompute its checksum, note the review."""
    doc = _read(Path(directory) / FILE_NAME)
    doc.pop("sha256", None)
    doc.setdefault("learned", {})["reviewed"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return _write(Path(directory) / FILE_NAME, doc)


def live_endpoint(source: Mapping[str, Any]) -> str | None:
    """The live interface or CAN channel a source section names (``None`` for files)."""
    backend = source.get("backend")
    if backend in ("scapy", "pyshark") and source.get("interface"):
        return f"interface {source['interface']}"
    if backend == "canbus":
        can = source.get("can") or {}
        if can.get("channel") is not None:
            return f"CAN channel {can['channel']}"
    return None


def commissioned_path(cfg: Any) -> Path:
    """Where the daemon keeps the baseline it learned while commissioning (``cfg``: the agent config)."""
    return Path(cfg.state_dir) / "baseline"


def site_baseline(cfg: Any) -> Any:
    """The baseline to detect with: ``baseline.path``, else one commissioned earlier under state_dir,
    else ``None``. Checked against the config's feature kind and source."""
    path = cfg.baseline.path
    if path is None and cfg.baseline.commission_s > 0 and (commissioned_path(cfg) / FILE_NAME).is_file():
        path = str(commissioned_path(cfg))
    if path is None:
        return None
    return load_baseline(path, cfg.features.kind, dataclasses.asdict(cfg.source))


def family_of(feature_kind: str) -> str:
    """The baseline family of a feature kind; :class:`BaselineError` for kinds no baseline reads."""
    try:
        return FAMILIES[feature_kind]
    except KeyError:
        raise BaselineError(f"features.kind {feature_kind}: no site baseline is learned from these rows") from None


def new_learner(feature_kind: str, columns: Sequence[str]) -> Any:
    """The learner for rows of ``feature_kind`` (columns as the extractor makes them)."""
    if family_of(feature_kind) == "can":
        from agent.baseline.can import CanLearner

        return CanLearner(columns)
    from agent.baseline.ethernet import EthernetLearner

    return EthernetLearner(columns)


def build_detector(baseline: Baseline, config: Any, columns: Sequence[str]) -> Any | None:
    """The registered detector that reads ``baseline`` (``config``: the ``baseline`` section), or
    ``None`` when it is off."""
    from agent.rules import detector_classes

    for detector in detector_classes():
        if detector.family == baseline.family:
            section = getattr(config, baseline.family)
            return detector.from_config(section, columns, baseline) if section.enabled else None
    raise BaselineError(f"no detector reads a {baseline.family} baseline")
