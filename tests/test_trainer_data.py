"""Loaders on small CSVs in the published schemas, and the leakage-safe order of preparation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.trainer_data import EDGE_TEST_CLASSES, write_cic_folder, write_edge_csv

from agent.preprocess import Preprocessor
from trainer.config import TrainerConfig, load_trainer_config
from trainer.data import EDGE_AUTHORS_DROP, EDGE_SHORTCUTS, DataError, load_dataset
from trainer.prep import make_windows, prepare

pytest.importorskip("sklearn")
pytest.importorskip("imblearn")


def test_edge_loader_normalises_messy_values(tmp_path: Path) -> None:
    cfg = TrainerConfig()
    ds = load_dataset("edge-iiotset", write_edge_csv(tmp_path / "e.csv", 200), cfg.data)
    assert not set(EDGE_AUTHORS_DROP) & set(ds.features)
    assert set(ds.frame["tcp.flags"].unique()) <= {24.0, 2.0}  # '24.0', '0x00000002', '0x0018'
    assert set(ds.frame["mqtt.conflag.cleansess"].unique()) <= {0.0, 1.0}  # 'true'
    assert ds.frame["http.content_length"].dtype == np.float64  # empty cells -> 0
    assert set(ds.frame["http.request.method"].astype(str).unique()) == {"GET", "0"}  # '0.0' -> '0'
    assert ds.report.empty_cells["http.content_length"] > 0
    assert ds.report.dropped_columns["frame.time"].startswith("dataset authors")
    assert sorted(set(ds.labels)) == sorted(EDGE_TEST_CLASSES)


def test_edge_options_shortcuts_dedupe_missing(tmp_path: Path) -> None:
    path = write_edge_csv(tmp_path / "e.csv", 200)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.concat([df, df.iloc[:10]]).to_csv(path, index=False)  # 10 exact duplicates
    cfg = load_trainer_config(None, ["data.exclude_shortcuts=true", "data.missing=drop", "data.chunk_rows=50"])
    ds = load_dataset("edge-iiotset", path, cfg.data)
    assert not set(EDGE_SHORTCUTS) & set(ds.features)
    assert ds.report.dropped_rows["missing values (data.missing=drop)"] > 0
    assert ds.report.rows_read == 210


def test_edge_schema_error_names_file(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"bad\.csv: not an Edge-IIoTset CSV"):
        load_dataset("edge-iiotset", tmp_path / "bad.csv", TrainerConfig().data)


def test_cic_binary_equals_decimal(tmp_path: Path) -> None:
    cfg = TrainerConfig()
    dec = load_dataset("ciciov2024", write_cic_folder(tmp_path, binary=False), cfg.data)
    binary = load_dataset("ciciov2024", write_cic_folder(tmp_path, binary=True), cfg.data)
    np.testing.assert_array_equal(dec.frame.to_numpy(), binary.frame.to_numpy())
    assert list(dec.frame.columns) == ["ID", *[f"DATA_{i}" for i in range(8)]]
    assert dec.groups is not None and len(set(dec.groups)) == 4


def test_feature_csv_with_labels_file(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("ID,DATA_0,DATA_1\n0x10, 1,2.0\n16,1,\n")
    (tmp_path / "labels.txt").write_text("BENIGN\nDoS\n")
    cfg = load_trainer_config(None, [f"data.labels_file={tmp_path / 'labels.txt'}", "data.dedupe=false"])
    ds = load_dataset("ciciov2024", tmp_path / "f.csv", cfg.data)
    assert ds.frame["ID"].tolist() == [16.0, 16.0] and ds.frame["DATA_1"].tolist() == [2.0, 0.0]
    assert ds.labels.tolist() == ["BENIGN", "DoS"]


@pytest.mark.parametrize("kind", ["edge-iiotset", "edge-iiotset-context"])
def test_feature_csv_of_the_features_command_names_its_kind(kind: str, tmp_path: Path) -> None:
    from agent.cli import main
    from agent.commands.demo import find_capture
    from agent.features import FEATURE_KINDS

    pcap = find_capture(Path(__file__).resolve().parent.parent / "models" / "edge-iiotset-lab")
    if pcap is None:
        pytest.skip("no demo capture (make models)")
    out = tmp_path / "rows.csv"
    assert main(["features", "--kind", kind, "--input", str(pcap), "--out", str(out)]) == 0
    n = len(pd.read_csv(out, dtype=str, keep_default_na=False))  # quoted cells may hold newlines
    (tmp_path / "labels.txt").write_text("Normal\n" * n)
    cfg = load_trainer_config(None, [f"data.labels_file={tmp_path / 'labels.txt'}"])
    ds = load_dataset("edge-iiotset", out, cfg.data)
    assert ds.feature_kind == kind
    assert ds.row_columns == list(FEATURE_KINDS.load(kind).columns)


def test_leakage_order(tmp_path: Path) -> None:
    """Scaler = train-only statistics; SMOTE adds rows to train only; val/test are the split's rows."""
    cfg = TrainerConfig()
    ds = load_dataset("edge-iiotset", write_edge_csv(tmp_path / "e.csv", 400), cfg.data)
    p = prepare(ds, cfg, "t", "0")
    s = p.split
    assert not (set(s.train) & set(s.val) or set(s.train) & set(s.test) or set(s.val) & set(s.test))
    train = ds.frame.iloc[s.train]
    for c in p.manifest.preprocessing.columns:
        if c.kind == "numeric":
            assert c.mean == pytest.approx(train[c.name].mean())
            std = train[c.name].std(ddof=0)
            assert c.scale == pytest.approx(std if std > 1e-12 else 1.0)
        else:  # vocabulary only from training values
            assert set(c.vocabulary) <= set(train[c.name].astype(str))
    # validation/test are exactly their rows through the agent's preprocessor, untouched by SMOTE
    pre = Preprocessor.from_manifest(p.manifest)
    np.testing.assert_array_equal(p.x_test[:, :, 0], pre.transform(ds.frame.iloc[s.test]))
    np.testing.assert_array_equal(p.x_val[:, :, 0], pre.transform(ds.frame.iloc[s.val]))
    assert len(p.x_test) == len(s.test) and len(p.x_val) == len(s.val)
    assert len(p.x_train) > len(s.train)  # SMOTE oversampled train
    assert p.x_train_presmote is not None and len(p.x_train_presmote) == len(s.train)
    cfg_off = load_trainer_config(None, ["smote.enabled=false"])
    assert len(prepare(ds, cfg_off, "t", "0").x_train) == len(s.train)


def test_grouped_split_keeps_groups_apart(tmp_path: Path) -> None:
    cfg = load_trainer_config(None, ["split.method=grouped", "split.test_fraction=0.25", "split.val_fraction=0.25"])
    ds = load_dataset("ciciov2024", write_cic_folder(tmp_path, n_per_file=30), cfg.data)
    ds.groups = np.array([f"{g}-{i // 10}" for i, g in enumerate(ds.groups)])
    p = prepare(ds, cfg, "t", "0")
    g = ds.groups
    assert not set(g[p.split.train]) & set(g[p.split.test])
    assert not set(g[p.split.val]) & set(g[p.split.test])


def test_windows_labelled_by_last_row() -> None:
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    w, y = make_windows(x, np.arange(10), 4, 2)
    assert w.shape == (4, 4, 2) and y.tolist() == [3, 5, 7, 9]
    np.testing.assert_array_equal(w[1], x[2:6])


def _features_csv(path: Path, extra: list[str]) -> None:
    """A two-row CSV with the edge-iiotset-context columns (as ``features`` writes them) plus ``extra``."""
    from agent.features import FEATURE_KINDS

    cols = list(FEATURE_KINDS.load("edge-iiotset-context").columns)
    header = ",".join(f'"{c}"' if "," in c else c for c in [*cols, *extra])
    row = ",".join(["0"] * len(cols) + [f"x{i}" if i else "Normal" for i in range(len(extra))])
    path.write_text(f"{header}\n{row}\n{row}\n")


def test_a_features_csv_with_one_more_column_has_it_as_its_label(tmp_path: Path) -> None:
    _features_csv(tmp_path / "f.csv", ["Attack_type"])
    cfg = TrainerConfig()
    ds = load_dataset("edge-iiotset", tmp_path / "f.csv", cfg.data)
    assert cfg.data.label_column == "Attack_type"
    assert ds.feature_kind == "edge-iiotset-context"
    assert ds.labels.tolist() == ["Normal"]  # the two equal rows are one after dedupe


@pytest.mark.parametrize("extra", [[], ["note", "label"]], ids=["no-label", "two-candidates"])
def test_a_features_csv_whose_label_cannot_be_told_names_the_option(extra: list[str], tmp_path: Path) -> None:
    _features_csv(tmp_path / "f.csv", extra)
    with pytest.raises(DataError, match=r"a features CSV \(the edge-iiotset-context columns\).*data\.label_column"):
        load_dataset("edge-iiotset", tmp_path / "f.csv", TrainerConfig().data)
