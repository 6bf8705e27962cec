"""``edge-ids-trainer ablate``: the paper's Table III protocol plus the ablations it did not run.

Every variant is the base config plus a few ``--set``-style overrides, trained with the same seed on
the same split (the data is loaded and split once; preparation is redone only when a variant
changes SMOTE). Validation picks the best variant (macro-F1); the test partition is scored once per
variant, for reporting only -- selection never looks at it. Variants may change ``model.*``,
``train.*`` and ``smote.*``; data and split keys are refused so the comparison stays on one split.

The default grid: heads 2/4/8 and dropout 0.1/0.3/0.5 (Table III), SMOTE off (Table III's model
10), without attention / GRU / residual blocks, and without the pooling before the GRU.
``--grid FILE`` replaces it (YAML or JSON: ``{name: [key=value, ...]}``); ``--only a,b`` keeps a subset.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from trainer.commands._common import add_config_arguments, config_from

HELP = "train model variants (Table III: heads, dropout, SMOTE; no attention/GRU/residual) into one table"

DEFAULT_GRID: dict[str, list[str]] = {
    "base": [],
    "heads2": ["model.heads=2"],
    "heads8": ["model.heads=8"],
    "dropout0.1": ["model.dropout=0.1"],
    "dropout0.5": ["model.dropout=0.5"],
    "no_smote": ["smote.enabled=false"],
    "no_attention": ["model.use_attention=false"],
    "no_gru": ["model.use_gru=false"],
    "no_residual": ["model.use_residual=false"],
    "seq_pool1": ["model.seq_pool=1"],  # what the latency pooling before the GRU costs, if anything
}
ALLOWED_PREFIXES = ("model.", "train.", "smote.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=["edge-iiotset", "ciciov2024"])
    parser.add_argument("--data", required=True, help="published CSV, dataset folder, or agent feature CSV")
    parser.add_argument("--out", required=True, help="directory for ablation.json and ablation.md")
    parser.add_argument("--epochs", type=int, help="override train.epochs for every variant")
    parser.add_argument("--grid", help="YAML/JSON file {variant: [key=value, ...]} replacing the default grid")
    parser.add_argument("--only", help="comma-separated variant names to run")
    add_config_arguments(parser)


def load_grid(path: str | None, only: str | None) -> dict[str, list[str]]:
    """The variants to run; refuses keys that would change the data or the split."""
    from agent.config import read_yaml
    from trainer.data import DataError

    grid: dict[str, list[str]] = dict(DEFAULT_GRID)
    if path:
        raw = read_yaml(path)
        if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
            raise DataError(f"{path}: the grid must map variant names to lists of key=value overrides")
        grid = {str(k): [str(s) for s in v] for k, v in raw.items()}
    if only:
        names = [n.strip() for n in only.split(",") if n.strip()]
        unknown = [n for n in names if n not in grid]
        if unknown:
            raise DataError(f"--only: unknown variant(s) {', '.join(unknown)}; known: {', '.join(grid)}")
        grid = {n: grid[n] for n in names}
    for name, overrides in grid.items():
        bad = [o for o in overrides if not o.startswith(ALLOWED_PREFIXES)]
        if bad:
            raise DataError(f"variant {name}: {', '.join(bad)} -- variants may only set model.*, train.*, smote.* "
                            "(one split for every variant)")
    return grid


def ablate(dataset: str, data: str | Path, config: str | None, base_overrides: list[str],
           grid: dict[str, list[str]], epochs: int | None = None) -> dict[str, Any]:
    """Train every variant; returns the table (validation for selection, test once for reporting)."""
    from agent.config import to_dict
    from trainer import __version__
    from trainer.config import load_trainer_config
    from trainer.data import load_dataset
    from trainer.pipeline import fit
    from trainer.prep import Prepared, prepare
    from trainer.report import metrics

    base = load_trainer_config(config, base_overrides)
    ds = load_dataset(dataset, data, base.data)
    cache: dict[str, Prepared] = {}
    rows: list[dict[str, Any]] = []
    for name, overrides in grid.items():
        cfg = load_trainer_config(config, [*base_overrides, *overrides])
        key = json.dumps([to_dict(cfg.smote), cfg.model.layout, cfg.model.window_size, cfg.model.window_stride])
        if key not in cache:
            cache[key] = prepare(ds, cfg, f"{dataset}-ablation", __version__)
        prep = cache[key]
        t0 = time.perf_counter()
        model, history = fit(prep, cfg, epochs)
        seconds = time.perf_counter() - t0
        val = metrics(prep.y_val, model.predict(prep.x_val, batch_size=256, verbose=0), prep.classes)
        test = metrics(prep.y_test, model.predict(prep.x_test, batch_size=256, verbose=0), prep.classes)
        rows.append({
            "variant": name, "overrides": overrides, "parameters": int(model.count_params()),
            "epochs": len(history.get("loss", [])), "train_seconds": seconds,
            "val": {k: val[k] for k in ("accuracy", "loss", "f1_macro")},
            "test": {k: test[k] for k in ("accuracy", "loss", "f1_macro", "f1_weighted", "precision_macro",
                                          "recall_macro")},
            "test_max_fpr": max((v["fpr"] for c, v in test["per_class"].items() if c != prep.classes[0]),
                                default=0.0),
        })
    best = max(rows, key=lambda r: (np.nan_to_num(r["val"]["f1_macro"], nan=-1.0), -r["val"]["loss"]))
    return {"dataset": dataset, "data": str(data), "seed": base.train.seed, "split_seed": base.split.seed,
            "selected_by": "validation f1_macro", "selected": best["variant"], "variants": rows}


def markdown(r: dict[str, Any]) -> str:
    """One table: validation (selection) beside test (reported once)."""
    lines = [f"# Ablation: {r['data']}", "",
             f"Same split (seed {r['split_seed']}) and training seed ({r['seed']}) for every variant. "
             f"Selected on {r['selected_by']}: **{r['selected']}**. Test figures are reported, never used to choose.",
             "", "| variant | overrides | params | epochs | val acc | val macro-F1 | test acc | test loss | "
                 "test macro-F1 |", "|---|---|---|---|---|---|---|---|---|"]
    for v in r["variants"]:
        mark = " *" if v["variant"] == r["selected"] else ""
        lines.append(f"| {v['variant']}{mark} | {' '.join(v['overrides']) or '-'} | {v['parameters']} | "
                     f"{v['epochs']} | {v['val']['accuracy']:.4f} | {v['val']['f1_macro']:.4f} | "
                     f"{v['test']['accuracy']:.4f} | {v['test']['loss']:.4f} | {v['test']['f1_macro']:.4f} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    config_from(args)  # validates the base config and sets up logging
    grid = load_grid(args.grid, args.only)
    report = ablate(args.dataset, args.data, args.config, args.overrides, grid, args.epochs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "ablation.md").write_text(markdown(report), encoding="utf-8")
    print(f"{out / 'ablation.md'}: {len(report['variants'])} variants, selected {report['selected']} on validation")
    return 0
