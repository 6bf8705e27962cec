"""``ablate`` on tiny data: two variants, one epoch, one table; grid validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.trainer_data import write_edge_csv

TINY = ["model.filters=4", "model.res_blocks=1", "model.gru_units=4", "model.heads=2", "model.key_dim=4",
        "model.dense_units=[8]", "train.batch_size=64", "train.verbose=0"]


@pytest.mark.train
@pytest.mark.slow
def test_ablate_two_variants(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from trainer.cli import main

    data = write_edge_csv(tmp_path / "edge.csv", 200)
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"base": [], "no_attention": ["model.use_attention=false"]}))
    args = ["ablate", "--dataset", "edge-iiotset", "--data", str(data), "--out", str(tmp_path / "abl"),
            "--epochs", "1", "--grid", str(grid)]
    for s in TINY:
        args += ["--set", s]
    assert main(args) == 0
    r = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    assert [v["variant"] for v in r["variants"]] == ["base", "no_attention"]
    base, noatt = r["variants"]
    assert noatt["parameters"] < base["parameters"]
    assert r["selected"] in ("base", "no_attention") and r["selected_by"] == "validation f1_macro"
    for v in r["variants"]:
        assert v["epochs"] == 1 and 0.0 <= v["val"]["accuracy"] <= 1.0 and 0.0 <= v["test"]["accuracy"] <= 1.0
    assert "| no_attention" in (tmp_path / "abl" / "ablation.md").read_text()


def test_grid_refuses_split_changes(tmp_path: Path) -> None:
    from trainer.commands.ablate import DEFAULT_GRID, load_grid
    from trainer.data import DataError

    assert set(load_grid(None, "heads2,no_gru")) == {"heads2", "no_gru"}
    assert {"heads2", "heads8", "no_smote", "no_attention", "no_gru", "no_residual"} <= set(DEFAULT_GRID)
    bad = tmp_path / "g.yaml"
    bad.write_text("x: ['split.seed=1']\n")
    with pytest.raises(DataError, match="one split"):
        load_grid(str(bad), None)
    with pytest.raises(DataError, match="unknown variant"):
        load_grid(None, "nope")
