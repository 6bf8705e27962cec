"""Leakage-safe preparation: split first, fit on train only, oversample train only.

The order is the point of this module and is enforced by its shape: :func:`prepare` splits the
rows before anything is fitted; :func:`fit_preprocessing` only ever receives the training frame;
the validation and test partitions are transformed with the fitted parameters through
:class:`agent.preprocess.Preprocessor` (the agent's own code); SMOTE only ever receives the
transformed training matrix. The test partition is returned untouched by any fitting and is used
once, by the final evaluation.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from agent.bundle import ColumnSpec, Manifest, Preprocessing, Window
from agent.preprocess import Preprocessor
from trainer.config import TrainerConfig
from trainer.data import EDGE_ONEHOT, DataError, Dataset

log = logging.getLogger(__name__)


@dataclass
class Split:
    """Row indices of each partition (into the dataset's frame)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


@dataclass
class Prepared:
    """Everything training and evaluation need; test arrays stay unused until the final evaluation."""

    manifest: Manifest
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    split: Split
    smote: dict[str, Any] = field(default_factory=dict)
    x_train_presmote: np.ndarray | None = None
    y_train_presmote: np.ndarray | None = None


def split_indices(labels: np.ndarray, cfg: TrainerConfig, groups: np.ndarray | None = None) -> Split:
    """Train/val/test indices: stratified, grouped (no group in two partitions) or ordered blocks."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    n = len(labels)
    idx = np.arange(n)
    s = cfg.split
    if s.val_fraction <= 0 or s.test_fraction <= 0 or s.val_fraction + s.test_fraction >= 1:
        raise DataError("split: val_fraction and test_fraction must be > 0 and sum to < 1")
    if s.method == "ordered":
        n_test = round(n * s.test_fraction)
        n_val = round(n * s.val_fraction)
        return Split(idx[: n - n_test - n_val], idx[n - n_test - n_val : n - n_test], idx[n - n_test :])
    if s.method == "grouped":
        if groups is None:
            raise DataError("split.method=grouped needs groups (data.group_column, or a dataset with sessions)")
        gss = GroupShuffleSplit(n_splits=1, test_size=s.test_fraction, random_state=s.seed)
        rest, test = next(gss.split(idx, labels, groups))
        gss2 = GroupShuffleSplit(n_splits=1, test_size=s.val_fraction / (1 - s.test_fraction), random_state=s.seed)
        tr, va = next(gss2.split(rest, labels[rest], groups[rest]))
        return Split(np.sort(rest[tr]), np.sort(rest[va]), np.sort(test))
    counts = Counter(labels.tolist())
    strat = labels if min(counts.values()) >= 3 else None
    if strat is None:
        log.warning("a class has fewer than 3 rows; splitting without stratification")
    rest, test = train_test_split(idx, test_size=s.test_fraction, random_state=s.seed, stratify=strat)
    strat2 = labels[rest] if strat is not None else None
    tr, va = train_test_split(rest, test_size=s.val_fraction / (1 - s.test_fraction), random_state=s.seed,
                              stratify=strat2)
    return Split(np.sort(tr), np.sort(va), np.sort(test))


def fit_preprocessing(train: pd.DataFrame, categorical: list[str], max_vocabulary: int) -> Preprocessing:
    """Fit encoders (vocabularies) and scaler (mean/std) on the TRAINING frame only."""
    cols: list[ColumnSpec] = []
    for c in train.columns:
        if c in categorical:
            vc = train[c].astype(str).value_counts()
            vocab = sorted(vc.index[:max_vocabulary].tolist())
            cols.append(ColumnSpec(c, "onehot", vocabulary=vocab or ["0"]))
        else:
            v = train[c].to_numpy(dtype=np.float64)
            mean = float(v.mean()) if len(v) else 0.0
            std = float(v.std()) if len(v) else 1.0
            cols.append(ColumnSpec(c, "numeric", mean=mean, scale=std if std > 1e-12 else 1.0))
    return Preprocessing(columns=cols)


def make_windows(x: np.ndarray, y: np.ndarray, size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """``(N, F)`` rows in order -> ``(M, size, F)`` windows labelled by their last row."""
    if len(x) < size:
        return np.empty((0, size, x.shape[1]), np.float32), np.empty(0, dtype=y.dtype)
    starts = np.arange(0, len(x) - size + 1, stride)
    win = np.lib.stride_tricks.sliding_window_view(x, (size, x.shape[1]))[:, 0][starts]
    return np.ascontiguousarray(win, dtype=np.float32), y[starts + size - 1]


def apply_smote(x: np.ndarray, y: np.ndarray, cfg: TrainerConfig) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """SMOTE on the (transformed) training partition; returns the info written into the report."""
    from imblearn.over_sampling import SMOTE

    before = Counter(y.tolist())
    info: dict[str, Any] = {"enabled": cfg.smote.enabled, "before": {str(k): v for k, v in before.items()}}
    if not cfg.smote.enabled or len(before) < 2:
        return x, y, info
    smallest = min(before.values())
    if smallest < 2:
        log.warning("a class has a single training row; SMOTE skipped for this run")
        info["skipped"] = "a class has a single training row"
        return x, y, info
    strategy: Any = cfg.smote.strategy
    if cfg.smote.max_per_class is not None:
        cap = cfg.smote.max_per_class
        strategy = {k: max(v, min(cap, max(before.values()))) for k, v in before.items()}
    shape = x.shape[1:]
    sm = SMOTE(sampling_strategy=strategy, k_neighbors=min(cfg.smote.k_neighbors, smallest - 1),
               random_state=cfg.split.seed)
    xs, ys = sm.fit_resample(x.reshape(len(x), -1), y)
    info["after"] = {str(k): v for k, v in Counter(ys.tolist()).items()}
    return xs.reshape(len(xs), *shape).astype(np.float32), ys, info


def prepare(ds: Dataset, cfg: TrainerConfig, name: str, trainer_version: str) -> Prepared:
    """Split -> fit on train -> transform all through the agent's Preprocessor -> SMOTE on train."""
    classes = sorted(set(ds.labels.tolist()))
    benign = next((c for c in classes if c.lower() in ("normal", "benign")), classes[0])
    classes = [benign, *[c for c in classes if c != benign]]
    method_groups = ds.groups if cfg.split.method == "grouped" else None
    split = split_indices(ds.labels, cfg, method_groups)
    categorical = [c for c in ds.categorical if c in ds.frame.columns]
    if ds.dataset == "edge-iiotset" and cfg.data.recipe == "authors":
        categorical = [c for c in ds.frame.columns if c in EDGE_ONEHOT or c in categorical]
    prep = fit_preprocessing(ds.frame.iloc[split.train], categorical, cfg.data.max_vocabulary)
    m = cfg.model
    f = sum(c.width for c in prep.columns)
    layout_shape = [f, 1] if m.layout == "record" else [m.window_size, f]
    window = Window(1, 1, "global") if m.layout == "record" else Window(m.window_size, m.window_stride, m.window_key)
    manifest = Manifest(
        name=name, dataset=ds.dataset, feature_kind=ds.feature_kind, features=list(ds.frame.columns),
        preprocessing=prep, input_layout=m.layout, input_shape=layout_shape, classes=classes, benign_class=benign,
        row_columns=list(ds.row_columns), window=window, thresholds={c: 0.5 for c in classes if c != benign},
        severity={c: _default_severity(c) for c in classes if c != benign}, trainer_version=trainer_version,
    )
    pre = Preprocessor.from_manifest(manifest)
    index = {c: i for i, c in enumerate(classes)}
    parts = {}
    for part in ("train", "val", "test"):
        rows = getattr(split, part)
        x = pre.transform(ds.frame.iloc[rows])
        y = np.array([index[v] for v in ds.labels[rows]], dtype=np.int64)
        if m.layout == "window":
            x, y = make_windows(x, y, m.window_size, m.window_stride)
        else:
            x = pre.to_model_input(x)
        parts[part] = (x, y)
    x_tr, y_tr = parts["train"]
    x_sm, y_sm, info = apply_smote(x_tr, y_tr, cfg)
    return Prepared(manifest, x_sm, y_sm, *parts["val"], *parts["test"], classes, split, info, x_tr, y_tr)


def _default_severity(cls: str) -> int:
    """Suricata-style severity (1 highest): floods and malware 1, intrusion 2, reconnaissance 3."""
    c = cls.lower()
    if any(k in c for k in ("ddos", "dos", "ransom", "backdoor")):
        return 1
    if any(k in c for k in ("scan", "fingerprint")):
        return 3
    return 2
