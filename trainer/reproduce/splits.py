"""The partitions of each protocol, and the checks that they are what they claim.

Why explicit checks (raising, not ``assert``, which ``python -O`` strips): the honest protocols are
only honest if no test feature row was seen in training in any copy and a left-out class never
reaches training. Each split function checks its own result before returning it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from agent.errors import EdgeIdsError


class LeakError(EdgeIdsError):
    """A partition breaks the property its protocol promises (a shared row, a left-out class trained)."""


def row_keys(frame: pd.DataFrame) -> np.ndarray:
    """One integer per row naming its distinct feature row (equal features, equal key)."""
    return frame.groupby(list(frame.columns), sort=True, dropna=False).ngroup().to_numpy(dtype=np.int64)


def stratified(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's split: stratified by class, rows drawn at random (copies of a row may land on both sides)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    _, counts = np.unique(labels, return_counts=True)
    strat = labels if counts.min() >= 2 else None
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=strat)
    return np.sort(tr), np.sort(te)


def by_row(keys: np.ndarray, labels: np.ndarray, test_fraction: float, seed: int,
           keep_min: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Split grouped by feature row, stratified by class over the distinct rows.

    Every copy of a distinct row goes to the same side. Per class, ``round(test_fraction * groups)``
    of its distinct rows go to test, at least one when ``keep_min`` rows are still left to train on
    (so a class with two distinct rows, GAS, is tested on one it never saw), none otherwise.
    Raises :class:`LeakError` if a key is on both sides.
    """
    rng = np.random.default_rng(seed)
    test_keys: list[int] = []
    for cls in np.unique(labels):
        groups = np.unique(keys[labels == cls])
        rng.shuffle(groups)
        n = round(test_fraction * len(groups))
        n = min(max(n, 1), len(groups) - keep_min) if len(groups) > keep_min else 0
        test_keys += groups[:n].tolist()
    is_test = np.isin(keys, np.asarray(test_keys, dtype=np.int64))
    train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    check_no_shared_rows(keys, train, test)
    return train, test


def check_no_shared_rows(keys: np.ndarray, train: np.ndarray, test: np.ndarray) -> None:
    """:class:`LeakError` when a distinct feature row has a copy in training and one in test."""
    shared = np.intersect1d(keys[train], keys[test])
    if len(shared):
        raise LeakError(f"{len(shared)} distinct feature row(s) are in both training and test")


def check_not_trained_on(labels: np.ndarray, train: np.ndarray, left_out: str) -> None:
    """:class:`LeakError` when a training row carries the left-out class."""
    n = int((labels[train] == left_out).sum())
    if n:
        raise LeakError(f"{n} training row(s) carry the left-out class {left_out}")


def _draw(rows: np.ndarray, n: int, rng: np.random.Generator, keys: np.ndarray | None) -> np.ndarray:
    """``n`` of ``rows`` without replacement; with ``keys``, one copy of every distinct row first (as many
    as fit in ``n``), then further copies at random, so a capped draw still covers the distinct rows."""
    if len(rows) <= n:
        return rows
    if keys is None:
        return rng.choice(rows, size=n, replace=False)
    shuffled = rows[rng.permutation(len(rows))]
    _, first = np.unique(keys[shuffled], return_index=True)
    distinct = shuffled[first]
    if len(distinct) >= n:
        return rng.choice(distinct, size=n, replace=False)
    rest = np.setdiff1d(shuffled, distinct, assume_unique=True)
    return np.concatenate([distinct, rng.choice(rest, size=n - len(distinct), replace=False)])


def sample_per_class(idx: np.ndarray, labels: np.ndarray, cap: int, seed: int,
                     keys: np.ndarray | None = None) -> np.ndarray:
    """At most ``cap`` rows of each class among ``idx`` (covering its distinct rows first when ``keys``)."""
    rng = np.random.default_rng(seed)
    out = [_draw(idx[labels[idx] == cls], cap, rng, keys) for cls in np.unique(labels[idx])]
    return np.sort(np.concatenate(out)) if out else idx[:0]


def sample_natural(idx: np.ndarray, labels: np.ndarray, total: int, seed: int,
                   keys: np.ndarray | None = None) -> np.ndarray:
    """``total`` rows among ``idx`` keeping the classes' natural shares (at least one row of each)."""
    rng = np.random.default_rng(seed)
    if len(idx) <= total:
        return np.sort(idx)
    out: list[np.ndarray] = []
    for cls in np.unique(labels[idx]):
        rows = idx[labels[idx] == cls]
        out.append(_draw(rows, max(1, round(total * len(rows) / len(idx))), rng, keys))
    return np.sort(np.concatenate(out))


def at_least_two(idx: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``idx`` with a class's only row listed twice, so SMOTE can run (it would interpolate a row with
    itself anyway); without this one single-row class switches SMOTE off for every class."""
    extra = [idx[labels[idx] == c] for c in np.unique(labels[idx]) if (labels[idx] == c).sum() == 1]
    return np.sort(np.concatenate([idx, *extra])) if extra else idx
