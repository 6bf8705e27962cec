"""The reproduction, in order: load, the paper's protocol and its Table III variants, the honest
protocols, the agent's view, transfer. Every partition is checked (:mod:`.splits`) before training.

Paper: Gueriani, Kheddar, Mazari, "Hybrid ResNet-1D-BiGRU with Multi-Head Attention for Cyberattack
Detection in IIoT". Its reported figures are in :data:`PAPER`; a figure not known here is ``None`` and
reads "not given here" in the report.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from trainer.config import TrainerConfig, load_trainer_config
from trainer.data import Dataset, load_dataset
from trainer.prep import Split
from trainer.reproduce import splits
from trainer.reproduce.progress import Progress
from trainer.reproduce.protocols import FULL, QUICK, Budget, Trained, subset, train_and_evaluate

#: the paper's Table II (its Edge-IIoTset row for reference; FPR as a fraction)
PAPER: dict[str, dict[str, float | None]] = {
    "ciciov2024": {"accuracy": 0.9999, "loss": 0.0028, "precision": 0.9999, "recall": 0.9999, "f1": 0.9999,
                   "fpr": 0.0, "seconds_per_instance": 0.00014},
    "edge-iiotset": {"accuracy": 0.9871, "loss": 0.0417, "precision": 0.9871, "recall": 0.9870, "f1": 0.9871,
                     "fpr": 0.00002, "seconds_per_instance": 0.0001},
}
#: Table III's variants on the paper's split (the base model is heads 4, dropout 0.3, SMOTE on)
VARIANTS: dict[str, list[str]] = {
    "heads2": ["model.heads=2"],
    "heads8": ["model.heads=8"],
    "dropout0.1": ["model.dropout=0.1"],
    "dropout0.5": ["model.dropout=0.5"],
    "no_smote": ["smote.enabled=false"],
}
TEST_FRACTION = 0.2
VAL_FRACTION = 0.1
SEED = 42


def config(budget: Budget, extra: list[str] | None = None) -> TrainerConfig:
    """The trainer's defaults with the run's budget: no Keras bar, SMOTE up to ``per_class``."""
    return load_trainer_config(None, ["train.verbose=0", f"train.patience={budget.patience}",
                                      f"smote.max_per_class={budget.per_class}", *(extra or [])])


def _plan_units(budget: Budget, n_logs: int) -> float:
    """Units of the ETA: an epoch is 1, an evaluation 1.5, loading 2, a replayed log 0.5."""
    fits = [budget.epochs, *[budget.variant_epochs] * len(VARIANTS), budget.epochs, budget.epochs,
            *[budget.loo_epochs] * 5, budget.epochs]
    return 2.0 + sum(fits) + 1.5 * len(fits) + 1.0 + 0.5 * n_logs


def reproduce(data: str | Path, quick: bool = False, captures: Path | None = None,
              progress: Progress | None = None) -> dict[str, Any]:
    """Run every protocol; returns the results the report is written from."""
    budget = QUICK if quick else FULL
    t_start = time.perf_counter()
    from trainer.reproduce.transfer import clean_logs

    logs = clean_logs(captures) if captures is not None and (captures / "can-site").is_dir() else []
    if budget.max_logs is not None:
        logs = logs[: budget.max_logs]
    progress = progress or Progress(_plan_units(budget, len(logs)))
    cfg = config(budget)
    progress.note(f"loading {data}")
    ds = load_dataset("ciciov2024", data, cfg.data)
    counts = Counter(ds.labels.tolist())
    keys = splits.row_keys(ds.frame)
    distinct = {c: len(np.unique(keys[ds.labels == c])) for c in sorted(counts)}
    conflicting = int(sum(len(set(ds.labels[keys == k])) > 1 for k in np.unique(keys[ds.labels != "BENIGN"])))
    progress.advance(2.0, f"loaded {len(ds.labels)} rows, distinct feature rows {distinct}")
    work = Path(tempfile.mkdtemp(prefix="edge-ids-reproduce-"))
    out: dict[str, Any] = {
        "quick": quick, "budget": budget.__dict__, "data": str(data), "files": ds.report.files,
        "class_counts": dict(counts), "distinct_rows": distinct, "conflicting_distinct_rows": conflicting,
        "paper": PAPER, "seed": SEED, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                    "platform": platform.platform()},
    }

    # --- the paper's protocol: 80/20 stratified over all rows, SMOTE on the training part only
    tr, te = splits.stratified(ds.labels, TEST_FRACTION, SEED)
    fit_idx, val_idx = _val_split(tr, ds.labels)
    test = te if budget.test_per_class is None else splits.sample_per_class(te, ds.labels, budget.test_per_class, SEED)
    val = splits.sample_per_class(val_idx, ds.labels, budget.val_per_class, SEED)
    train = splits.sample_per_class(fit_idx, ds.labels, budget.per_class, SEED, keys)
    paper_split = Split(train, val, test)
    paper = train_and_evaluate("paper", ds, paper_split, cfg, budget.epochs, work, progress, budget.latency_s)
    paper.result["test_rows_seen_in_training"] = float(np.isin(keys[test], keys[tr]).mean())
    paper.result["distinct_train_rows_sampled"] = len(np.unique(keys[train]))
    paper.result["distinct_train_rows_partition"] = len(np.unique(keys[tr]))
    paper.result["distinct_fit_rows"] = len(np.unique(keys[fit_idx]))
    out["paper_protocol"] = paper.result

    # --- Table III variants on the same split
    out["variants"] = {"base (heads 4, dropout 0.3, SMOTE)": paper.result}
    for name, overrides in VARIANTS.items():
        vcfg = config(budget, overrides)
        vsplit = paper_split
        if not vcfg.smote.enabled:  # without SMOTE the training sample keeps the classes' natural shares
            n = budget.per_class * len(counts)
            vsplit = Split(splits.sample_natural(fit_idx, ds.labels, n, SEED, keys), val, test)
        v = train_and_evaluate(name, ds, vsplit, vcfg, budget.variant_epochs, work, progress, budget.latency_s)
        v.result["overrides"] = overrides
        out["variants"][name] = v.result

    # --- honest 1: deduplicate (features + label) first, then split by row
    first = np.zeros(len(keys), dtype=bool)
    _, first_idx = np.unique(np.stack([keys, np.unique(ds.labels, return_inverse=True)[1]], 1), axis=0,
                             return_index=True)
    first[first_idx] = True
    dd = subset(ds, first)
    out["dedup"] = _grouped("dedup", dd, splits.row_keys(dd.frame), cfg, budget, work, progress).result

    # --- honest 2: all rows, split grouped by feature row
    out["grouped"] = _grouped("grouped", ds, keys, cfg, budget, work, progress).result

    # --- honest 3: leave one attack class out of training
    out["leave_one_out"] = {}
    for cls in sorted(c for c in counts if c != "BENIGN"):
        out["leave_one_out"][cls] = _leave_out(cls, ds, cfg, budget, work, progress)

    # --- honest 4: the agent's view (can-temporal rows over the frame order, windows of 16)
    out["windows"] = _windows(ds, budget, work, progress)

    # --- honest 5: transfer to other cars, through the agent
    if logs:
        from trainer.reproduce.transfer import replay_clean

        out["transfer"] = replay_clean(work / "paper" / "bundle", logs)
        progress.advance(0.5 * len(logs), f"transfer: {out['transfer']['incidents']} incidents in "
                                          f"{out['transfer']['seconds']:.0f} s of clean driving")
    else:
        out["transfer"] = {"skipped": "no vehicle logs (give --captures DIR holding can-site/)"}
    out["wall_seconds"] = time.perf_counter() - t_start
    return out


def _val_split(idx: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validation (early stopping, curves) carved from a training partition, stratified."""
    a, b = splits.stratified(labels[idx], VAL_FRACTION, SEED)
    return idx[a], idx[b]


def _grouped(name: str, ds: Dataset, keys: np.ndarray, cfg: TrainerConfig, budget: Budget, work: Path,
             progress: Progress) -> Trained:
    """Train and test on disjoint distinct feature rows (checked), validation likewise disjoint."""
    tr, te = splits.by_row(keys, ds.labels, TEST_FRACTION, SEED)
    fit_pos, val_pos = splits.by_row(keys[tr], ds.labels[tr], VAL_FRACTION, SEED, keep_min=2)
    fit_idx, val_idx = tr[fit_pos], tr[val_pos]
    train = splits.at_least_two(splits.sample_per_class(fit_idx, ds.labels, budget.per_class, SEED, keys),
                                ds.labels)
    val = splits.sample_per_class(val_idx, ds.labels, budget.val_per_class, SEED)
    test = te if budget.test_per_class is None else splits.sample_per_class(te, ds.labels, budget.test_per_class, SEED)
    splits.check_no_shared_rows(keys, np.concatenate([train, val]), test)
    t = train_and_evaluate(name, ds, Split(train, val, test), cfg, budget.epochs, work, progress, budget.latency_s)
    t.result["test_rows_seen_in_training"] = float(np.isin(keys[test], keys[train]).mean())
    t.result["distinct_rows"] = {"train": _distinct(keys, ds.labels, train), "test": _distinct(keys, ds.labels, test),
                                 "train_partition": _distinct(keys, ds.labels, fit_idx)}
    return t


def _distinct(keys: np.ndarray, labels: np.ndarray, idx: np.ndarray) -> dict[str, int]:
    return {str(c): len(np.unique(keys[idx][labels[idx] == c])) for c in np.unique(labels[idx])}


def _leave_out(cls: str, ds: Dataset, cfg: TrainerConfig, budget: Budget, work: Path,
               progress: Progress) -> dict[str, Any]:
    """Train without ``cls`` (checked); is its traffic still flagged as some attack class?"""
    from agent.preprocess import Preprocessor

    keep = ds.labels != cls
    rest = subset(ds, keep)
    rest_keys = splits.row_keys(rest.frame)
    orig = np.flatnonzero(keep)
    tr, te = splits.stratified(rest.labels, TEST_FRACTION, SEED)
    fit_idx, val_idx = _val_split(tr, rest.labels)
    train = splits.sample_per_class(fit_idx, rest.labels, budget.per_class, SEED, rest_keys)
    val = splits.sample_per_class(val_idx, rest.labels, budget.val_per_class, SEED)
    test = te if budget.test_per_class is None else splits.sample_per_class(te, rest.labels, budget.test_per_class,
                                                                            SEED)
    splits.check_not_trained_on(ds.labels, orig[np.concatenate([train, val])], cls)
    t = train_and_evaluate(f"without_{cls}", rest, Split(train, val, test), cfg, budget.loo_epochs, work, progress,
                           budget.latency_s)
    if cls in t.prep.classes:
        raise splits.LeakError(f"the model trained without {cls} has {cls} among its classes")
    held = np.flatnonzero(~keep)
    if budget.test_per_class is not None and len(held) > budget.test_per_class:
        held = np.sort(np.random.default_rng(SEED).choice(held, size=budget.test_per_class, replace=False))
    pre = Preprocessor.from_manifest(t.prep.manifest)
    x = pre.to_model_input(pre.transform(ds.frame.iloc[held]))
    pf, pq = t.score(x)
    benign = t.prep.classes.index(t.prep.manifest.benign_class)
    called = Counter(t.prep.classes[i] for i in pq.argmax(1))
    return {**t.result, "left_out": cls, "held_out_rows": len(held),
            "flagged_float": float((pf.argmax(1) != benign).mean()),
            "flagged_int8": float((pq.argmax(1) != benign).mean()),
            "called_int8": dict(called.most_common()),
            "benign_flagged_int8": 1.0 - t.result["int8"]["per_class"][t.prep.classes[benign]]["recall"]}


def _windows(ds: Dataset, budget: Budget, work: Path, progress: Progress) -> dict[str, Any]:
    """can-temporal rows in file order, 16-frame windows, ordered split per file."""
    from trainer.reproduce.windows import WINDOW, ordered_blocks, shared_windows, temporal_dataset

    td = temporal_dataset(ds)
    progress.note("windows: can-temporal rows computed over the files' frame order")
    assert td.groups is not None
    split = ordered_blocks(td.groups, td.labels, budget.windows_per_class * WINDOW,
                           None if budget.test_per_class is None else budget.test_per_class * WINDOW, SEED)
    cfg = config(budget, ["model.layout=window", f"model.window_size={WINDOW}", f"model.window_stride={WINDOW}",
                          f"smote.max_per_class={budget.windows_per_class}"])
    t = train_and_evaluate("windows", td, split, cfg, budget.epochs, work, progress, budget.latency_s)
    x_tr = t.prep.x_train_presmote if t.prep.x_train_presmote is not None else t.prep.x_train
    t.result["test_windows_seen_in_training"] = shared_windows(x_tr, t.prep.x_test)
    t.result["features"] = list(td.frame.columns)
    return t.result
