"""The agent's view: ``can-temporal`` rows over the files' frame order, then windows of 16 frames.

What the published decimal files allow, and what they do not:

* they hold frames in capture order within each file, but **no timestamps**. The agent's extractor
  (:class:`agent.features.can_temporal.CanTemporalExtractor`, the same code) is therefore run with
  the frame index as its clock: ``dt_id`` is "frames since this id's previous frame", rates are per
  frame of a ``WINDOW_FRAMES``-frame window, not per second. A model trained on these columns cannot
  be given to the agent, whose columns are in seconds; the protocol measures what order alone carries.
* each file holds **one class only** (the attack files hold no benign frame), so a window never mixes
  benign and attack frames as a live bus does, and every id-timing column describes that file's stream.
* ``new_id`` is left out: with no timestamps its warm-up is the first frames of each file, an artefact.

Split: per file, the first 80% of its 16-frame blocks train (the last tenth of those validate), the
rest test, so no test window overlaps a training one; each file's extractor starts fresh.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from agent.features.can_temporal import CanTemporalExtractor
from agent.records import CanFrame
from trainer.data import CIC_COLUMNS, Dataset
from trainer.prep import Split

#: the shipped CAN bundle's timing columns (models/ciciov2024-lab), less new_id (see above)
WINDOW_FEATURES = ["dt_id", "dt_id_dev", "dt_id_ratio", "id_rate_hz", "hamming_bits", "changed_bytes"]
WINDOW = 16
WINDOW_FRAMES = 256.0
WARMUP_FRAMES = 256.0


def temporal_dataset(ds: Dataset) -> Dataset:
    """``ds`` (rows in file order, groups = files) as ``can-temporal`` rows in the same order."""
    if ds.groups is None:
        raise ValueError("temporal rows need the source file of every row (Dataset.groups)")
    values = ds.frame[CIC_COLUMNS].to_numpy(dtype=np.int64)
    out = np.zeros((len(ds.frame), len(WINDOW_FEATURES)), dtype=np.float64)
    cols = [*CanTemporalExtractor.columns]
    pick = [cols.index(c) for c in WINDOW_FEATURES]
    for g in pd.unique(ds.groups):
        rows = np.flatnonzero(ds.groups == g)
        ext = CanTemporalExtractor(window_s=WINDOW_FRAMES, warmup_s=WARMUP_FRAMES)
        frames = (CanFrame(float(i), int(v[0]), bytes(int(b) for b in v[1:]), 8) for i, v in enumerate(values[rows]))
        feats = np.asarray(list(ext.rows(frames)), dtype=np.float64)
        out[rows] = feats[:, pick]
    frame = pd.DataFrame(out, columns=WINDOW_FEATURES)
    return dataclasses.replace(ds, frame=frame, feature_kind="can-temporal", row_columns=list(cols), categorical=[])


def ordered_blocks(groups: np.ndarray, labels: np.ndarray, cap: int, test_cap: int | None,
                   seed: int) -> Split:
    """Row indices, in whole aligned ``WINDOW``-row blocks, of train / validation / test (see module).

    Training and validation blocks are capped per class (``cap`` and ``cap // 10``) at random; test
    blocks per class at ``test_cap`` (None: all). Every partition is a concatenation of whole blocks
    of one file each, so windows of size and stride ``WINDOW`` over it never straddle two files.
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for g in pd.unique(groups):
        rows = np.flatnonzero(groups == g)
        n_blocks = len(rows) // WINDOW
        blocks = rows[: n_blocks * WINDOW].reshape(n_blocks, WINDOW)
        n_test = max(1, round(n_blocks * 0.2))
        n_fit = n_blocks - n_test
        n_val = max(1, n_fit // 10)
        chosen = {"train": blocks[: n_fit - n_val], "val": blocks[n_fit - n_val : n_fit], "test": blocks[n_fit:]}
        caps = {"train": cap, "val": max(1, cap // 10), "test": test_cap}
        for part, b in chosen.items():
            limit = caps[part]
            if limit is not None and len(b) > limit:
                b = b[np.sort(rng.choice(len(b), size=limit, replace=False))]
            parts[part].append(b.reshape(-1))
    del labels  # one class per file: the blocks' labels are their file's
    return Split(*(np.concatenate(parts[p]) if parts[p] else np.empty(0, np.int64) for p in ("train", "val", "test")))


def shared_windows(x_train: np.ndarray, x_test: np.ndarray) -> float:
    """Share of test windows identical to some training window (before SMOTE)."""
    if not len(x_test):
        return float("nan")
    seen = {w.tobytes() for w in np.ascontiguousarray(x_train, dtype=np.float32)}
    return float(np.mean([w.tobytes() in seen for w in np.ascontiguousarray(x_test, dtype=np.float32)]))
