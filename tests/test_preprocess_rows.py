"""The preprocessor's path for the extractor's list rows gives exactly what its general path gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.bundle import load_bundle
from agent.config import FeaturesConfig, SourceConfig
from agent.features import FEATURE_KINDS
from agent.preprocess import Preprocessor
from agent.sources import SOURCES

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.mark.parametrize("bundle,kind,backend,capture", [
    ("edge-iiotset-lab", "edge-iiotset-context", "pcap", "capture.pcap"),
    ("ciciov2024-lab", "can-temporal", "canlog", "capture.log"),
])
def test_list_rows_encode_as_the_general_path(bundle: str, kind: str, backend: str, capture: str) -> None:
    manifest = load_bundle(MODELS / bundle, feature_kind=kind).manifest
    extractor = FEATURE_KINDS.load(kind).from_config(FeaturesConfig(kind=kind))
    path = MODELS / bundle / "demo" / capture
    source = SOURCES.load(backend).from_config(SourceConfig(backend=backend, path=str(path)))
    rows = [row for row, _ in extractor.rows_with_context(iter(source))]
    fast, general, probe = (Preprocessor(manifest, extractor.columns) for _ in range(3))
    listed = 0
    for lo in range(0, len(rows), 512):
        batch = rows[lo:lo + 512]
        listed += probe._list_rows(batch) is not None  # the list path takes it (not the general one)
        assert np.array_equal(fast.transform(batch), general.transform(tuple(batch)))  # a tuple takes the general path
    assert listed >= len(rows) // 512
    assert fast.stats == general.stats


def test_a_value_needing_the_project_encoding_takes_the_general_path() -> None:
    manifest = load_bundle(MODELS / "ciciov2024-lab", feature_kind="can-temporal").manifest
    columns = FEATURE_KINDS.load("can-temporal").columns
    pp = Preprocessor(manifest, columns)
    row = [0] * len(columns)
    hexed = list(row)
    hexed[list(columns).index("dt_id")] = "0x10"  # 16 under the project encoding, no float
    plain = list(row)
    plain[list(columns).index("dt_id")] = 16
    assert np.array_equal(pp.transform([hexed]), pp.transform([plain]))


def test_list_rows_read_none_bools_nan_and_number_strings_as_the_general_path() -> None:
    manifest = load_bundle(MODELS / "edge-iiotset-lab", feature_kind="edge-iiotset-context").manifest
    columns = FEATURE_KINDS.load("edge-iiotset-context").columns
    pp = Preprocessor(manifest, columns)
    numeric = [c.name for c in manifest.preprocessing.columns if c.kind == "numeric"][:4]
    rows = []
    for odd in (None, True, float("nan"), "2.5", " 7 ", b"3"):
        row: list[object] = [0] * len(columns)
        for name in numeric:
            row[list(columns).index(name)] = odd
        rows.append(row)
    assert pp._list_rows(rows) is not None
    assert np.array_equal(pp.transform(rows), pp.transform(tuple(rows)))


def test_list_rows_encode_one_hot_values_as_the_general_path_when_remembered_and_after() -> None:
    manifest = load_bundle(MODELS / "edge-iiotset-lab", feature_kind="edge-iiotset-context").manifest
    columns = list(FEATURE_KINDS.load("edge-iiotset-context").columns)
    onehot = [c.name for c in manifest.preprocessing.columns if c.kind == "onehot"]
    assert onehot
    odd: list[object] = ["GET", "POST", " get ", "GET\x00", "BREW", "", 0, 0.0, False, True, None, float("nan"),
                         "nan", 1e20, 10**20, "0x1", -0.0]
    rows = []
    for value in odd:
        row: list[object] = [0] * len(columns)
        for name in onehot:
            row[columns.index(name)] = value
        rows.append(row)
    fast, general, probe = (Preprocessor(manifest, columns) for _ in range(3))
    for _ in range(2):  # learned, then remembered
        assert probe._list_rows(rows) is not None
        assert np.array_equal(fast.transform(rows), general.transform(tuple(rows)))
    many = [list(rows[0]) for _ in range(1500)]  # more values than are remembered: it starts over
    for i, row in enumerate(many):
        row[columns.index(onehot[0])] = f"M{i}"
    assert np.array_equal(fast.transform(many + rows), general.transform(tuple(many + rows)))
    assert fast.stats == general.stats
