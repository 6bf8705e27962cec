"""The shipped bundles' recipes (``trainer/recipes/*.yaml``): valid trainer configs, and what
``edge-ids-trainer train --config <recipe>`` makes of lab rows written by ``edge-ids-agent features``.

Why: ``make models`` trains through the same code path as ``train``; these tests keep the recipes
loadable by the trainer's schema, and show that a user's feature CSVs reach the trainer as the very
rows the lab build trains on, and come out as a bundle laid out as the recipe says.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from trainer.lab.sessions import PLANS, RECIPES

RECIPE_FILES = sorted(RECIPES.glob("*.yaml"))


def test_every_default_bundle_has_a_recipe_and_every_recipe_a_bundle() -> None:
    assert {p.stem for p in RECIPE_FILES} == {plan.name for plan in PLANS.values()}


@pytest.mark.parametrize("path", RECIPE_FILES, ids=[p.stem for p in RECIPE_FILES])
def test_recipe_validates_and_names_only_columns_its_feature_kind_has(path: Path) -> None:
    from agent.features import FEATURE_KINDS
    from trainer.config import load_trainer_config

    cfg = load_trainer_config(path)
    assert cfg.data.feature_kind in FEATURE_KINDS.names()
    columns = set(FEATURE_KINDS.load(cfg.data.feature_kind).columns)
    assert set(cfg.data.exclude) <= columns
    assert cfg.model.layout == "window" and cfg.windows.label == "content"
    assert cfg.thresholds.method == "validation"
    assert cfg.alerts.confirm_windows >= cfg.alerts.min_confirm_windows
    kept = columns - set(cfg.data.exclude)
    for cls, spec in cfg.alerts.evidence.items():
        for floors in spec if isinstance(spec, list) else [spec]:
            assert set(floors) <= kept, f"{cls}: a floor on a column the model does not read"


def test_a_recipe_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    from agent.errors import ConfigError
    from trainer.config import load_trainer_config

    bad = tmp_path / "bad.yaml"
    bad.write_text((RECIPES / "ciciov2024-lab.yaml").read_text() + "windows_size: 8\n")
    with pytest.raises(ConfigError, match="windows_size"):
        load_trainer_config(bad)


def _lab_feature_csvs(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A small CAN lab (3 drives) and its ``edge-ids-agent features`` CSVs, each with the drive's
    ``category`` labels and a ``capture`` column appended, as a user labels their own captures."""
    from agent.cli import main as agent_main
    from trainer.lab.can import write_sessions

    lab = tmp_path / "lab"
    meta = write_sessions(lab, seed=99, scale=0.06, sessions=3)
    rows = tmp_path / "rows"
    rows.mkdir()
    for s in meta["sessions"]:
        name = s["name"]
        out = rows / f"{name}.csv"
        assert agent_main(["features", "--kind", "can-temporal", "--input", str(lab / f"{name}.log"),
                           "--out", str(out)]) == 0
        with open(lab / f"{name}.labels.csv", newline="") as fh:
            labels = [r["category"] for r in csv.DictReader(fh)]
        lines = out.read_text().splitlines()
        assert len(lines) == len(labels) + 1
        out.write_text("\n".join([lines[0] + ",category,capture",
                                  *(f"{ln},{lab_},{name}" for ln, lab_ in zip(lines[1:], labels, strict=True))]) + "\n")
    return lab, [rows / f"{s['name']}.csv" for s in meta["sessions"]]


def test_feature_csvs_reach_the_trainer_as_the_rows_the_lab_build_trains_on(tmp_path: Path) -> None:
    """The lab build reads its captures in memory (:func:`trainer.lab.sessions.lab_dataset`); a user
    reads the same captures' feature CSVs with ``train``'s loader: same columns, values, labels, groups."""
    import dataclasses

    from trainer.data import load_dataset
    from trainer.lab.sessions import lab_dataset, load_sessions

    lab, files = _lab_feature_csvs(tmp_path)
    plan = dataclasses.replace(PLANS["can"], sessions=3)
    ours = lab_dataset(plan, load_sessions(plan, lab))
    cfg = dataclasses.replace(plan.config.data, label_column="category", group_column="capture")
    theirs = load_dataset("ciciov2024", str(files[0].parent), cfg)
    assert list(theirs.frame.columns) == list(ours.frame.columns)
    assert "ID" not in theirs.frame.columns and "dt_id" in theirs.frame.columns
    np.testing.assert_array_equal(theirs.frame.to_numpy(), ours.frame.to_numpy())
    np.testing.assert_array_equal(theirs.labels, ours.labels)
    assert theirs.groups is not None and ours.groups is not None
    np.testing.assert_array_equal(theirs.groups, ours.groups)
    assert theirs.feature_kind == ours.feature_kind == "can-temporal"


@pytest.mark.train
@pytest.mark.slow
def test_train_with_the_can_recipe_writes_a_bundle_laid_out_as_the_recipe_says(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from agent.bundle import load_bundle
    from trainer.cli import main
    from trainer.config import load_trainer_config

    _, files = _lab_feature_csvs(tmp_path)
    recipe_path = RECIPES / "ciciov2024-lab.yaml"
    recipe = load_trainer_config(recipe_path)
    run = tmp_path / "run"
    # two epochs on a small lab say nothing of quality: the int8 gate is opened so the layout is what is checked
    assert main(["train", "--dataset", "ciciov2024", "--data", str(files[0].parent), "--out", str(run),
                 "--config", str(recipe_path), "--epochs", "2", "--name", "can-recipe",
                 "--set", "data.label_column=category", "--set", "data.group_column=capture",
                 "--set", f"split.val_groups=[{files[1].stem}]", "--set", f"split.test_groups=[{files[2].stem}]",
                 "--set", "quantize.min_agreement=0.0", "--set", "quantize.max_f1_drop=1.0",
                 "--set", "quantize.representative_samples=500", "--set", "train.verbose=0"]) == 0
    m = load_bundle(run / "bundle", feature_kind="can-temporal").manifest
    r = recipe.model
    assert (m.input_layout, m.window.size, m.window.stride, m.window.key, m.window.records) == (
        r.layout, r.window_size, r.window_stride, r.window_key, r.window_records)
    assert m.input_shape == [r.window_size, len(m.features)]
    assert not set(recipe.data.exclude) & set(m.features)
    assert m.classes == ["BENIGN", "DoS", "SPOOFING"]
    assert m.quantization.mode == "int8"
    t = recipe.thresholds
    assert m.thresholds.keys() == {"DoS", "SPOOFING"}
    assert all(t.floor <= v <= t.ceiling for v in m.thresholds.values())
    assert (m.confirm_windows, m.confirm_span) == (recipe.alerts.confirm_windows, recipe.alerts.confirm_span)
    # the same columns, in the same order, as the shipped bundle built from this recipe
    shipped = load_bundle(RECIPES.parents[1] / "models" / "ciciov2024-lab").manifest
    assert [c.name for c in m.preprocessing.columns] == [c.name for c in shipped.preprocessing.columns]
