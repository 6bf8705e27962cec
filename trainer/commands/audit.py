"""``edge-ids-trainer audit``: a leakage screen that names the fields a model could cheat with.

Why: on Edge-IIoTset a linear model reaches 100% through a handful of fields (dns.qry.name.len,
mqtt.topic, ...) that identify the capture, not the attack. Before believing a high accuracy, ask
how far ONE field gets on its own. Everything is fitted on the training partition and scored on
validation (the test partition is not touched), with the same split as ``train``:

* per field: a depth-limited decision tree on that field alone (validation accuracy) and the largest
  absolute correlation between the field (one-hot for text fields) and a one-vs-rest class indicator;
* a linear probe (logistic regression on every preprocessed feature), then the same probe with the
  flagged fields removed: the drop says how much of the score the flagged fields carried.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainer.commands._common import add_config_arguments, config_from

HELP = "leakage screen: single-field accuracy, label correlation, linear probe with and without flagged fields"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=["edge-iiotset", "ciciov2024"])
    parser.add_argument("--data", required=True, help="published CSV, dataset folder, or agent feature CSV")
    parser.add_argument("--report", required=True, help="report JSON to write (markdown beside it)")
    parser.add_argument("--max-accuracy", type=float, default=0.95,
                        help="flag a field whose single-field validation accuracy reaches this")
    parser.add_argument("--max-correlation", type=float, default=0.9,
                        help="flag a field whose |correlation| with a class indicator reaches this")
    parser.add_argument("--depth", type=int, default=4, help="depth of the single-field trees")
    add_config_arguments(parser)


def _encode(train: pd.Series, other: pd.Series, categorical: bool, max_vocab: int = 64) -> tuple[np.ndarray,
                                                                                                 np.ndarray]:
    """One field -> 2-D matrices for train and another partition (one-hot top values for text)."""
    if not categorical:
        return (train.to_numpy(dtype=np.float64)[:, None], other.to_numpy(dtype=np.float64)[:, None])
    vocab = train.astype(str).value_counts().index[:max_vocab].tolist()
    tr, ot = train.astype(str).to_numpy(), other.astype(str).to_numpy()
    return (np.stack([tr == v for v in vocab], 1).astype(np.float64),
            np.stack([ot == v for v in vocab], 1).astype(np.float64))


def _max_corr(x: np.ndarray, y: np.ndarray, n_classes: int) -> float:
    """Largest |Pearson r| between any column of ``x`` and any one-vs-rest class indicator."""
    best = 0.0
    ind = np.stack([(y == k).astype(np.float64) for k in range(n_classes)], 1)
    xc, ic = x - x.mean(0), ind - ind.mean(0)
    xs, is_ = np.sqrt((xc**2).sum(0)), np.sqrt((ic**2).sum(0))
    ok_x, ok_i = xs > 1e-12, is_ > 1e-12
    if ok_x.any() and ok_i.any():
        r = (xc[:, ok_x].T @ ic[:, ok_i]) / np.outer(xs[ok_x], is_[ok_i])
        best = float(np.abs(r).max())
    return best


def audit(dataset: str, data: str | Path, cfg: Any, max_accuracy: float = 0.95, max_correlation: float = 0.9,
          depth: int = 4) -> dict[str, Any]:
    """The audit report (see the module docstring); validation scores only."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.tree import DecisionTreeClassifier

    from agent.bundle import Preprocessing
    from agent.preprocess import Preprocessor
    from trainer.data import EDGE_ONEHOT, EDGE_SHORTCUTS, DataError, load_dataset
    from trainer.prep import fit_preprocessing, split_indices

    ds = load_dataset(dataset, data, cfg.data)
    load = {"rows_read": ds.report.rows_read, "rows_kept": len(ds.labels), "dropped_rows": ds.report.dropped_rows,
            "column_shifted_rows": ds.report.column_shifted_rows, "column_shifted": cfg.data.shifted_rows}
    if len(set(ds.labels.tolist())) < 2:
        dropped = "; ".join(f"{n} dropped: {why}" for why, n in ds.report.dropped_rows.items())
        raise DataError(f"{data}: the audit compares classes, and only {', '.join(sorted(set(ds.labels.tolist())))} "
                        f"is left of {ds.report.rows_read} rows read" + (f" ({dropped})" if dropped else ""))
    split = split_indices(ds.labels, cfg, ds.groups if cfg.split.method == "grouped" else None)
    classes = sorted(set(ds.labels.tolist()))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[v] for v in ds.labels], dtype=np.int64)
    y_tr, y_va = y[split.train], y[split.val]
    tr, va = ds.frame.iloc[split.train], ds.frame.iloc[split.val]
    categorical = {c for c in ds.frame.columns if c in ds.categorical or c in EDGE_ONEHOT
                   or not pd.api.types.is_numeric_dtype(ds.frame[c])}
    majority = float((y_va == np.bincount(y_tr, minlength=len(classes)).argmax()).mean())
    fields: list[dict[str, Any]] = []
    for col in ds.frame.columns:
        xt, xv = _encode(tr[col], va[col], col in categorical)
        tree = DecisionTreeClassifier(max_depth=depth, random_state=cfg.split.seed).fit(xt, y_tr)
        acc = float((tree.predict(xv) == y_va).mean()) if len(y_va) else float("nan")
        corr = _max_corr(xt, y_tr, len(classes))
        is_flagged = acc >= max_accuracy or corr >= max_correlation
        fields.append({"field": col, "kind": "text" if col in categorical else "numeric",
                       "single_accuracy": acc, "max_abs_correlation": corr, "flagged": is_flagged,
                       "known_shortcut": col in EDGE_SHORTCUTS})
    fields.sort(key=lambda f: (-f["single_accuracy"], -f["max_abs_correlation"]))
    flagged = [f["field"] for f in fields if f["flagged"]]

    def probe(columns: list[str]) -> dict[str, float]:
        if not columns:
            return {"accuracy": majority, "f1_macro": float("nan"), "features": 0}
        prep: Preprocessing = fit_preprocessing(tr[columns], [c for c in columns if c in categorical],
                                                cfg.data.max_vocabulary)
        from agent.bundle import Manifest

        m = Manifest(name="audit", dataset=ds.dataset, feature_kind=ds.feature_kind, features=columns,
                     preprocessing=prep, input_layout="record", input_shape=[sum(c.width for c in prep.columns), 1],
                     classes=classes, benign_class=classes[0])
        pre = Preprocessor.from_manifest(m)
        lr = LogisticRegression(max_iter=500).fit(pre.transform(tr[columns]), y_tr)
        pred = lr.predict(pre.transform(va[columns]))
        return {"accuracy": float((pred == y_va).mean()),
                "f1_macro": float(f1_score(y_va, pred, average="macro", zero_division=0)),
                "features": len(columns)}

    all_cols = list(ds.frame.columns)
    return {
        "dataset": ds.dataset, "data": str(data), "classes": classes, "load": load,
        "split": {k: len(getattr(split, k)) for k in ("train", "val", "test")}, "scored_on": "validation",
        "majority_accuracy": majority,
        "thresholds": {"single_accuracy": max_accuracy, "max_abs_correlation": max_correlation, "tree_depth": depth},
        "flagged": flagged, "fields": fields,
        "linear_probe": {"all": probe(all_cols), "without_flagged": probe([c for c in all_cols if c not in flagged])},
    }


def markdown(r: dict[str, Any]) -> str:
    """Human summary: flagged fields first, then the probe, then the top of the per-field table."""
    lp = r["linear_probe"]
    lines = [f"# Leakage audit: {r['data']}", "",
             f"Scored on validation ({r['split']['val']} rows; majority class {r['majority_accuracy']:.4f}).", "",
             f"Rows read {r['load']['rows_read']}, kept {r['load']['rows_kept']}.", "",
             *[f"- dropped {n}: {why}" for why, n in r["load"]["dropped_rows"].items()],
             *[f"- column-shifted rows ({r['load']['column_shifted']}): {n} in {f}"
               for f, n in r["load"]["column_shifted_rows"].items()], "",
             "Flagged shortcut fields: " + (", ".join(f"`{f}`" for f in r["flagged"]) or "none"), "",
             "| linear probe | accuracy | macro-F1 | features |", "|---|---|---|---|"]
    for k in ("all", "without_flagged"):
        lines.append(f"| {k} | {lp[k]['accuracy']:.4f} | {lp[k]['f1_macro']:.4f} | {lp[k]['features']} |")
    lines += ["", "| field | kind | single-field accuracy | max abs corr | flagged | known shortcut |",
              "|---|---|---|---|---|---|"]
    for f in r["fields"][:30]:
        lines.append(f"| {f['field']} | {f['kind']} | {f['single_accuracy']:.4f} | {f['max_abs_correlation']:.3f} | "
                     f"{'yes' if f['flagged'] else ''} | {'yes' if f['known_shortcut'] else ''} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    report = audit(args.dataset, args.data, config_from(args), args.max_accuracy, args.max_correlation, args.depth)
    out = Path(args.report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    lp = report["linear_probe"]
    print(f"{out}: flagged {', '.join(report['flagged']) or 'nothing'}; linear probe {lp['all']['accuracy']:.4f} "
          f"-> {lp['without_flagged']['accuracy']:.4f} without them")
    return 0
