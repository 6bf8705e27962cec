"""The honest partitions: no feature row on both sides, no left-out class in training (checked in code)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.real_data import real_dataset

from trainer.config import DataConfig
from trainer.data import load_dataset
from trainer.reproduce import splits


def _toy() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    base = {"A": [[1, 2], [1, 3], [4, 4], [5, 6]], "B": [[9, 9], [8, 8]], "C": [[7, 7], [7, 8], [7, 9]]}
    rows, labels = [], []
    for cls, distinct in base.items():
        for r in distinct:
            for _ in range(int(rng.integers(1, 30))):
                rows.append(r)
                labels.append(cls)
    return pd.DataFrame(rows, columns=["x", "y"]), np.array(labels)


def test_by_row_keeps_every_copy_on_one_side_and_tests_every_class() -> None:
    frame, labels = _toy()
    keys = splits.row_keys(frame)
    assert len(np.unique(keys)) == 9
    train, test = splits.by_row(keys, labels, 0.2, seed=1)
    assert not set(keys[train]) & set(keys[test])
    assert set(labels[test]) == {"A", "B", "C"}  # a class of two distinct rows still gets one in test
    assert len(train) + len(test) == len(labels)


def test_shared_row_and_left_out_class_are_refused() -> None:
    frame, labels = _toy()
    keys = splits.row_keys(frame)
    train, test = splits.stratified(labels, 0.3, seed=0)
    with pytest.raises(splits.LeakError, match="in both training and test"):
        splits.check_no_shared_rows(keys, train, test)  # the paper's split shares copies
    with pytest.raises(splits.LeakError, match="left-out class B"):
        splits.check_not_trained_on(labels, train, "B")
    splits.check_not_trained_on(labels, np.flatnonzero(labels != "B"), "B")


def test_sampling_caps_classes_and_keeps_natural_shares() -> None:
    labels = np.array(["a"] * 900 + ["b"] * 90 + ["c"] * 10)
    idx = np.arange(len(labels))
    capped = splits.sample_per_class(idx, labels, 50, seed=0)
    assert {c: int((labels[capped] == c).sum()) for c in "abc"} == {"a": 50, "b": 50, "c": 10}
    natural = splits.sample_natural(idx, labels, 100, seed=0)
    assert {c: int((labels[natural] == c).sum()) for c in "abc"} == {"a": 90, "b": 9, "c": 1}


@pytest.mark.slow
def test_real_ciciov2024_grouped_split_shares_no_feature_row() -> None:
    ds = load_dataset("ciciov2024", real_dataset("ciciov2024"), DataConfig())
    keys = splits.row_keys(ds.frame)
    distinct = {c: len(np.unique(keys[ds.labels == c])) for c in np.unique(ds.labels)}
    assert distinct == {"BENIGN": 3547, "DoS": 21, "GAS": 2, "RPM": 10, "SPEED": 5, "STEERING_WHEEL": 3}
    train, test = splits.by_row(keys, ds.labels, 0.2, seed=42)
    assert np.intersect1d(keys[train], keys[test]).size == 0
    assert set(ds.labels[test]) == set(distinct)  # every class is tested on rows it never saw
    paper_train, paper_test = splits.stratified(ds.labels, 0.2, seed=42)
    with pytest.raises(splits.LeakError):
        splits.check_no_shared_rows(keys, paper_train, paper_test)


def test_capped_draw_covers_every_distinct_row_first() -> None:
    keys = np.array([0] * 500 + [1] * 5 + [2, 3])  # one frequent row, three rare ones
    labels = np.array(["a"] * len(keys))
    drawn = splits.sample_per_class(np.arange(len(keys)), labels, 20, seed=0, keys=keys)
    assert len(drawn) == 20 and set(keys[drawn]) == {0, 1, 2, 3}
    assert len(set(drawn.tolist())) == 20  # no row drawn twice
    plain = splits.sample_per_class(np.arange(len(keys)), labels, 20, seed=0)
    assert len(plain) == 20
