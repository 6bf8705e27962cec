"""The model bundle: the contract between the trainer and the agent.

A bundle is a directory holding ``model.tflite`` and ``manifest.json``. The manifest says everything
the agent needs to turn feature rows into model inputs and probabilities into alerts: which feature
kind and columns, how each column is encoded and scaled, the input layout and window, the classes,
thresholds, quantization parameters and the sha256 of the model. It is JSON only: a bundle from a
stranger must not be able to run code, so there are no pickles and nothing is evaluated.

Why the checks: a gateway loads a bundle once and scores with it for months. A truncated copy, a
model swapped without its manifest, or a bundle trained for CAN frames loaded on an Ethernet
gateway must fail at start with a message that names the file and the problem, never score
silently with wrong inputs. The manifest is validated with the same typed machinery as the agent
config (:func:`agent.config.build`), so unknown keys and wrong types are errors with their key path.

See ``docs/bundle.md`` for the field reference.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from agent.config import EvidenceSpec, build, to_dict
from agent.errors import BundleError, ConfigError

#: Version of the manifest layout. Bumped when a field changes meaning; the agent refuses others.
SCHEMA_VERSION = 1
MODEL_FILE = "model.tflite"
MANIFEST_FILE = "manifest.json"
#: Dataset families a bundle may declare.
DATASETS = ("edge-iiotset", "ciciov2024")
#: How raw values are encoded before scaling / one-hot (schema version 1). Stored in every manifest
#: so a reader knows the rules without reading code; :mod:`agent.preprocess` implements them.
VALUE_ENCODING: dict[str, str] = {
    "absent": "empty cell, None, NaN or 'nan' -> 0",
    "boolean": "true/false (any case) -> 1/0",
    "hex": "0x-prefixed string -> its integer",
    "integral_float": "'24.0' -> 24 (category key '24')",
    "multi_occurrence": "'a,b' -> first occurrence 'a'",
    "whitespace": "stripped",
    "numeric_unparseable": "string in a numeric column -> 0 (counted)",
    "unknown_category": "value not in the vocabulary -> all-zero one-hot",
}


@dataclass
class ColumnSpec:
    """How one raw column becomes model features: a scaled number or a one-hot block."""

    name: str
    kind: Literal["numeric", "onehot"]
    mean: float = 0.0
    scale: float = 1.0
    vocabulary: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        """Number of model features this column expands to."""
        return len(self.vocabulary) if self.kind == "onehot" else 1


@dataclass
class Preprocessing:
    """Per-column encoders and scaler parameters, fitted on the training partition only."""

    columns: list[ColumnSpec]
    value_encoding: dict[str, str] = field(default_factory=lambda: dict(VALUE_ENCODING))


@dataclass
class Window:
    """How consecutive rows are grouped into one model input (``size`` 1 for the record layout)."""

    size: int = 1
    stride: int = 1
    key: Literal["global", "flow", "channel"] = "global"
    #: which records enter the model's windows (``agent.features.RECORD_FILTERS``): ``all``, or
    #: ``protocol-fields`` (Edge-IIoTset rows with at least one protocol field; the trainer cut its
    #: windows from the same rows)
    records: Literal["all", "protocol-fields"] = "all"


@dataclass
class Quantization:
    """How the model's input and output tensors are quantized (scale/zero point for int8 tensors)."""

    mode: Literal["float32", "float16", "dynamic", "int8"] = "float32"
    input_dtype: str = "float32"
    input_scale: float = 0.0
    input_zero_point: int = 0
    output_dtype: str = "float32"
    output_scale: float = 0.0
    output_zero_point: int = 0


@dataclass
class Manifest:
    """``manifest.json``: everything the agent needs besides the model itself (see docs/bundle.md)."""

    name: str
    dataset: str
    feature_kind: str
    features: list[str]
    preprocessing: Preprocessing
    input_layout: Literal["record", "window"]
    input_shape: list[int]
    classes: list[str]
    benign_class: str
    schema_version: int = SCHEMA_VERSION
    row_columns: list[str] = field(default_factory=list)
    window: Window = field(default_factory=Window)
    thresholds: dict[str, float] = field(default_factory=dict)
    severity: dict[str, int] = field(default_factory=dict)
    #: per class, per numeric feature column: the least raw value some record of a window must reach
    #: for the class to stand, or a list of such sets of which one suffices (see :mod:`agent.evidence`)
    evidence: dict[str, EvidenceSpec] = field(default_factory=dict)
    #: windows of one class from one key before an alert is sent (chosen on validation by the trainer)
    confirm_windows: int = 1
    #: ... within this many consecutive windows of their key (0: anywhere within the merge gap)
    confirm_span: int = 0
    quantization: Quantization = field(default_factory=Quantization)
    metrics: dict[str, Any] = field(default_factory=dict)
    model_sha256: str = ""
    created: str = ""
    trainer_version: str = ""

    @property
    def n_features(self) -> int:
        """Width of one preprocessed row (numeric columns plus one-hot blocks)."""
        return sum(c.width for c in self.preprocessing.columns)

    def to_json(self) -> str:
        """The manifest as pretty JSON (stable key order, for diffs)."""
        return json.dumps(to_dict(self), indent=2, sort_keys=False) + "\n"


@dataclass
class Bundle:
    """A verified bundle: its directory, manifest and the exact model bytes whose hash was checked.

    The scorer builds its interpreter from ``model_bytes`` (not by re-reading the file), so what is
    scored is what was verified.
    """

    path: Path
    manifest: Manifest
    model_bytes: bytes = dataclasses.field(repr=False)

    @property
    def classes(self) -> list[str]:
        return self.manifest.classes

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Model input shape without the batch dimension."""
        return tuple(self.manifest.input_shape)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_manifest(data: Any, where: str) -> Manifest:
    """Validate raw manifest data into a :class:`Manifest`; ``where`` prefixes messages (the file)."""
    if not isinstance(data, dict):
        raise BundleError(f"{where}: manifest must be a JSON object, got {type(data).__name__}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BundleError(
            f"{where}: schema_version {version!r} is not supported by this agent (it reads "
            f"{SCHEMA_VERSION}); re-export the bundle with a matching edge-ids-trainer"
        )
    try:
        manifest = build(Manifest, data, f"{where}: ")
    except ConfigError as exc:
        raise BundleError(f"invalid manifest: {exc}") from None
    check_manifest(manifest, where)
    return manifest


def check_manifest(m: Manifest, where: str) -> None:
    """Cross-field consistency checks; raises :class:`BundleError` naming the field."""
    from agent.features import FEATURE_KINDS, RECORD_FILTERS

    def bad(key: str, what: str) -> BundleError:
        return BundleError(f"{where}: {key}: {what}")

    if m.dataset not in DATASETS:
        raise bad("dataset", f"{m.dataset!r} is not one of {', '.join(DATASETS)}")
    if m.feature_kind not in FEATURE_KINDS:
        raise bad("feature_kind", f"{m.feature_kind!r} is not one of {', '.join(FEATURE_KINDS.names())}")
    if not m.features:
        raise bad("features", "empty feature list")
    names = [c.name for c in m.preprocessing.columns]
    if names != list(m.features):
        raise bad("preprocessing.columns", "column names must equal 'features', in the same order")
    if m.row_columns:
        missing = [f for f in m.features if f not in m.row_columns]
        if missing:
            raise bad("row_columns", f"lacks feature column(s) {', '.join(missing)}")
    for i, c in enumerate(m.preprocessing.columns):
        if c.kind == "onehot" and not c.vocabulary:
            raise bad(f"preprocessing.columns[{i}]", f"one-hot column {c.name!r} has an empty vocabulary")
        if c.kind == "numeric" and not c.scale > 0:
            raise bad(f"preprocessing.columns[{i}]", f"scale of {c.name!r} must be > 0, got {c.scale}")
    if len(m.classes) < 2 or len(set(m.classes)) != len(m.classes):
        raise bad("classes", "need at least two distinct class names")
    if m.benign_class not in m.classes:
        raise bad("benign_class", f"{m.benign_class!r} is not one of the classes")
    for key in ("thresholds", "severity"):
        extra = [k for k in getattr(m, key) if k not in m.classes]
        if extra:
            raise bad(key, f"unknown class(es) {', '.join(extra)}")
    for cls, t in m.thresholds.items():
        if not 0.0 <= t <= 1.0:
            raise bad(f"thresholds.{cls}", f"must be within [0, 1], got {t}")
    try:
        check_evidence(m, m.evidence, "evidence")
    except BundleError as exc:
        raise BundleError(f"{where}: {exc}") from None
    if m.confirm_windows < 1:
        raise bad("confirm_windows", f"must be >= 1, got {m.confirm_windows}")
    if m.confirm_span < 0:
        raise bad("confirm_span", f"must be >= 0, got {m.confirm_span}")
    if m.window.size < 1 or m.window.stride < 1:
        raise bad("window", "size and stride must be >= 1")
    kinds = RECORD_FILTERS.get(m.window.records)
    if kinds is not None and m.feature_kind not in kinds:
        raise bad("window.records", f"{m.window.records!r} applies to feature kinds {', '.join(kinds)}, "
                                    f"not {m.feature_kind!r}")
    f = m.n_features
    expected = [f, 1] if m.input_layout == "record" else [m.window.size, f]
    if m.input_layout == "record" and m.window.size != 1:
        raise bad("window.size", "must be 1 for the record layout")
    if list(m.input_shape) != expected:
        raise bad("input_shape", f"{m.input_shape} does not match layout {m.input_layout!r} (expected {expected})")
    q = m.quantization
    if q.mode == "int8" and (q.input_dtype != "int8" or q.input_scale <= 0 or q.output_scale <= 0):
        raise bad("quantization", "int8 mode needs int8 input and positive input/output scales")


def floor_sets(spec: EvidenceSpec) -> list[dict[str, float]]:
    """One class's evidence as the sets of floors of which a window must meet one (``{}`` and ``[]``:
    none, the class stands anywhere)."""
    if isinstance(spec, Mapping):
        return [dict(spec)] if spec else []
    return [dict(s) for s in spec]


def check_evidence(m: Manifest, floors: Mapping[str, EvidenceSpec], key: str) -> None:
    """Raise :class:`BundleError` naming ``key`` (``evidence`` in a manifest, ``model.evidence`` in a
    config) when an evidence floor names a class the bundle lacks, the benign class, a column that is
    not one of its numeric feature columns, or a value that is not a finite number, or when a list of
    alternatives holds an empty set (which every window would meet)."""
    numeric = {c.name for c in m.preprocessing.columns if c.kind == "numeric"}
    for cls, spec in floors.items():
        if cls not in m.classes:
            raise BundleError(f"{key}.{cls}: not a class of bundle {m.name!r} (classes: {', '.join(m.classes)})")
        if cls == m.benign_class:
            raise BundleError(f"{key}.{cls}: the benign class cannot have an evidence floor")
        alternatives = isinstance(spec, list)
        for i, per_column in enumerate(floor_sets(spec)):
            where = f"{key}.{cls}[{i}]" if alternatives else f"{key}.{cls}"
            if not per_column:
                raise BundleError(f"{where}: an empty set of floors lets every window pass; "
                                  f"to remove the class's floors, give {{}}")
            for col, value in per_column.items():
                if col not in numeric:
                    raise BundleError(f"{where}.{col}: not a numeric feature column of bundle {m.name!r}")
                if not math.isfinite(value):
                    raise BundleError(f"{where}.{col}: must be a finite number, got {value}")


def load_bundle(
    path: str | os.PathLike[str],
    feature_kind: str | None = None,
) -> Bundle:
    """Load and verify a bundle directory.

    :param feature_kind: the agent's configured feature kind; a bundle for another kind is refused.
    :raises BundleError: missing files, invalid JSON or fields, unsupported schema version, sha256
        mismatch (a tampered or half-copied model), or an incompatible feature kind.
    """
    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"{root}: model bundle directory not found (set model.bundle in the config)")
    mpath = root / MANIFEST_FILE
    try:
        text = mpath.read_text(encoding="utf-8")
    except OSError as exc:
        raise BundleError(f"{mpath}: cannot read manifest: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{mpath}: line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}") from None
    manifest = parse_manifest(data, str(mpath))
    model_path = root / MODEL_FILE
    try:
        model_bytes = model_path.read_bytes()
    except OSError as exc:
        raise BundleError(f"{model_path}: cannot read model: {exc.strerror or exc}") from None
    digest = sha256_bytes(model_bytes)
    if digest != manifest.model_sha256:
        raise BundleError(
            f"{model_path}: sha256 {digest} does not match manifest model_sha256 "
            f"{manifest.model_sha256 or '(empty)'}; the model was modified or copied incompletely"
        )
    if feature_kind is not None and feature_kind != manifest.feature_kind:
        raise BundleError(
            f"{mpath}: bundle expects feature kind {manifest.feature_kind!r} but the agent is configured "
            f"with features.kind={feature_kind!r}; use a bundle trained for {feature_kind!r} or change the config"
        )
    return Bundle(root, manifest, model_bytes)


def write_bundle(out_dir: str | os.PathLike[str], manifest: Manifest, model_bytes: bytes) -> Bundle:
    """Write a bundle atomically: build it in a temporary sibling directory, then rename into place.

    Sets ``model_sha256`` and ``created`` (when empty) on ``manifest``, validates it, and replaces an
    existing bundle at ``out_dir`` so a reader never sees a half-written one (at worst, for an
    instant during the swap, no directory at all). Returns the bundle as loaded back.
    """
    out = Path(out_dir)
    manifest.model_sha256 = sha256_bytes(model_bytes)
    if not manifest.created:
        manifest.created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    # Validate through the same path the agent uses before anything touches the disk.
    parse_manifest(json.loads(manifest.to_json()), f"{out / MANIFEST_FILE}")
    out.parent.mkdir(parents=True, exist_ok=True)
    # a plain mkdir, not mkdtemp: mkdtemp's 0700 would survive the rename, and a bundle built as root
    # would be unreadable by the service user (User=edge-ids); mkdir gives the umask's usual 0755
    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    try:
        for name, payload in ((MODEL_FILE, model_bytes), (MANIFEST_FILE, manifest.to_json().encode())):
            with open(tmp / name, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_bundle(out)
