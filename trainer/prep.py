"""Leakage-safe preparation: split first, fit on train only, oversample train only.

The order is the point of this module and is enforced by its shape: :func:`prepare` splits the
rows before anything is fitted; :func:`fit_preprocessing` only ever receives the training frame;
the validation and test partitions are transformed with the fitted parameters through
:class:`agent.preprocess.Preprocessor` (the agent's own code); SMOTE only ever receives the
transformed training matrix. The test partition is returned untouched by any fitting and is used
once, by the final evaluation.
"""

from __future__ import annotations

import copy
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
        if s.test_groups:
            return _named_groups(groups, s.val_groups, s.test_groups)
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


def _named_groups(groups: np.ndarray, val: list[str], test: list[str]) -> Split:
    """The partitions ``split.val_groups`` and ``split.test_groups`` name; every other group trains."""
    present = set(groups.tolist())
    missing = [g for g in (*val, *test) if g not in present]
    if missing:
        raise DataError(f"split: group {missing[0]!r} is not in the data (groups: {', '.join(sorted(present)[:8])})")
    if set(val) & set(test):
        raise DataError("split: a group is named in both val_groups and test_groups")
    idx = np.arange(len(groups))
    is_val, is_test = np.isin(groups, val), np.isin(groups, test)
    return Split(idx[~is_val & ~is_test], idx[is_val], idx[is_test])


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


def robust_scales(prep: Preprocessing, train: pd.DataFrame, target: float = 3.0, pct: float = 95.0) -> Preprocessing:
    """Set each numeric column's scale so that ``pct``% of training values land within +-``target``.

    Why: the int8 model quantizes its whole input tensor with ONE scale. Heavy-tailed columns (an id
    silent for a second, a 1,500-byte segment) standardised by their std reach z = 50-100 and would
    set that scale, leaving the ordinary values of every other column a few int8 steps. With these
    scales, and inputs clipped in training (``preprocess.clip``; the int8 input saturates the same way
    in the agent), the input step stays near 0.05 standard units. The far tail saturates instead,
    which the model sees identically in training (clipped) and in the agent.
    """
    for col in prep.columns:
        if col.kind != "numeric":
            continue
        v = np.abs(train[col.name].to_numpy(dtype=np.float64) - col.mean)
        spread = float(np.percentile(v, pct)) / target if len(v) else 0.0
        col.scale = spread if spread > 1e-9 else max(col.scale, 1e-9)
    return prep


def content_windows(x: np.ndarray, y: np.ndarray, n_classes: int, size: int, stride: int, min_frac: float,
                    min_records: dict[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(N, F)`` rows of ONE capture -> ``(M, size, F)`` windows labelled by what they carry.

    A window takes the attack class holding the most of its records when that class holds at least
    ``min_frac`` of them, else benign (class 0). Why not the last record's label: attacks are
    interleaved with normal traffic, so the last record of a flood window is often a normal frame and
    the last record of a normal window is sometimes a lone attack frame; labelling by content teaches
    the model what the agent should alert on and keeps it quiet on stray frames. ``min_records``
    (class index -> records) lowers the bar for classes whose every frame is the attack (one forged
    ARP reply poisons a cache); among the classes that clear their bar, the one with the most wins.
    """
    n, f = x.shape
    if n < size:
        return np.empty((0, size, f), np.float32), np.empty(0, np.int64)
    starts = np.arange(0, n - size + 1, stride)
    win = np.lib.stride_tricks.sliding_window_view(x, (size, f))[:, 0][starts]
    onehot = np.eye(n_classes, dtype=np.int32)[y]
    csum = np.vstack([np.zeros((1, n_classes), np.int32), np.cumsum(onehot, axis=0)])
    counts = csum[starts + size] - csum[starts]
    counts[:, 0] = 0
    need = np.full(n_classes, max(1, int(np.ceil(min_frac * size))), np.int32)
    for c, k in (min_records or {}).items():
        need[c] = max(1, int(k))
    qualified = np.where(counts >= need, counts, 0)
    top = qualified.argmax(1)
    ok = qualified[np.arange(len(starts)), top] > 0
    return np.ascontiguousarray(win, dtype=np.float32), np.where(ok, top, 0).astype(np.int64)


def cut_windows(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None, stride: int, classes: list[str],
                cfg: TrainerConfig) -> tuple[np.ndarray, np.ndarray]:
    """Windows of one partition, cut within each group (a window never spans two captures), groups in
    order of first appearance, labelled as ``windows.label`` says."""
    m, w = cfg.model, cfg.windows
    index = {c: i for i, c in enumerate(classes)}
    min_records = {index[c]: k for c, k in w.min_attack_records.items() if c in index}
    parts = [np.arange(len(x))] if groups is None else [
        np.flatnonzero(groups == g) for g in pd.unique(groups)]
    xs, ys = [], []
    for rows in parts:
        if w.label == "content":
            xw, yw = content_windows(x[rows], y[rows], len(classes), m.window_size, stride, w.min_attack_fraction,
                                     min_records)
        else:
            xw, yw = make_windows(x[rows], y[rows], m.window_size, stride)
        xs.append(xw)
        ys.append(yw)
    if not xs:
        return make_windows(x, y, m.window_size, stride)
    return np.concatenate(xs), np.concatenate(ys)


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


def prepare(ds: Dataset, cfg: TrainerConfig, name: str, trainer_version: str, split: Split | None = None) -> Prepared:
    """Split -> fit on train -> transform all through the agent's Preprocessor -> SMOTE on train.

    :param split: partitions chosen by the caller (``reproduce``'s protocols: grouped by feature row,
        leave-one-class-out, capped training samples); default: ``cfg.split``.
    """
    classes = sorted(set(ds.labels.tolist()))
    benign = next((c for c in classes if c.lower() in ("normal", "benign")), classes[0])
    classes = [benign, *[c for c in classes if c != benign]]
    method_groups = ds.groups if cfg.split.method == "grouped" else None
    split = split if split is not None else split_indices(ds.labels, cfg, method_groups)
    categorical = [c for c in ds.categorical if c in ds.frame.columns]
    if ds.dataset == "edge-iiotset" and cfg.data.recipe == "authors":
        categorical = [c for c in ds.frame.columns if c in EDGE_ONEHOT or c in categorical]
    train_frame = ds.frame.iloc[split.train]
    prep = fit_preprocessing(train_frame, categorical, cfg.data.max_vocabulary)
    if cfg.preprocess.scale == "robust":
        robust_scales(prep, train_frame, cfg.preprocess.robust_target, cfg.preprocess.robust_percentile)
    m = cfg.model
    f = sum(c.width for c in prep.columns)
    layout_shape = [f, 1] if m.layout == "record" else [m.window_size, f]
    window = (Window(1, 1, "global") if m.layout == "record"
              else Window(m.window_size, m.window_stride, m.window_key, m.window_records))
    manifest = Manifest(
        name=name, dataset=ds.dataset, feature_kind=ds.feature_kind, features=list(ds.frame.columns),
        preprocessing=prep, input_layout=m.layout, input_shape=layout_shape, classes=classes, benign_class=benign,
        row_columns=list(ds.row_columns), window=window,
        thresholds={c: cfg.thresholds.fixed for c in classes if c != benign},
        severity={c: _default_severity(c) for c in classes if c != benign}, trainer_version=trainer_version,
        evidence={c: copy.deepcopy(floors) for c, floors in cfg.alerts.evidence.items() if c in classes},
        confirm_windows=cfg.alerts.confirm_windows, confirm_span=cfg.alerts.confirm_span,
    )
    pre = Preprocessor.from_manifest(manifest)
    index = {c: i for i, c in enumerate(classes)}
    parts = {}
    for part in ("train", "val", "test"):
        rows = getattr(split, part)
        x = pre.transform(ds.frame.iloc[rows])
        if cfg.preprocess.clip is not None:
            x = np.clip(x, -cfg.preprocess.clip, cfg.preprocess.clip)
        y = np.array([index[v] for v in ds.labels[rows]], dtype=np.int64)
        if m.layout == "window":
            stride = (cfg.windows.train_stride or m.window_stride) if part == "train" else m.window_stride
            x, y = cut_windows(x, y, None if ds.groups is None else ds.groups[rows], stride, classes, cfg)
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
