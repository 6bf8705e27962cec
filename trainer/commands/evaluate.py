"""``edge-ids-trainer evaluate``: score a data file with a bundle through the agent's own code path."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from trainer.commands._common import add_config_arguments, config_from

HELP = "evaluate a model bundle on a data file (published CSV or feature CSV) and write a report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", required=True, help="bundle directory")
    parser.add_argument("--data", required=True, help="labelled data the bundle has not been trained on")
    parser.add_argument("--report", required=True, help="report JSON to write (markdown and PNG beside it)")
    parser.add_argument("--threads", type=int, default=1)
    add_config_arguments(parser)


def evaluate_bundle(bundle_dir: str | Path, data: str | Path, cfg: Any, threads: int = 1) -> dict[str, Any]:
    """Load rows, preprocess and score exactly as the agent does (agent.preprocess + agent.scorer)."""
    from agent.bundle import load_bundle
    from agent.preprocess import Preprocessor
    from agent.scorer import Scorer
    from trainer.data import DataError, load_dataset
    from trainer.model import time_per_instance
    from trainer.prep import make_windows
    from trainer.report import dedup_mask, metrics

    bundle = load_bundle(bundle_dir)
    m = bundle.manifest
    cfg.data.dedupe = False  # score what the file holds; dedup figures are reported separately
    ds = load_dataset(m.dataset, data, cfg.data, m.feature_kind)
    missing = [c for c in m.features if c not in ds.frame.columns]
    if missing:
        raise DataError(f"{data}: lacks the bundle's feature column(s) {', '.join(missing[:5])}")
    pre = Preprocessor.from_manifest(m)
    x = pre.transform(ds.frame[m.features])
    index = {c: i for i, c in enumerate(m.classes)}
    unknown = sorted(set(ds.labels.tolist()) - set(index))
    if unknown:
        raise DataError(f"{data}: labels not among the bundle's classes: {', '.join(unknown[:5])}")
    y = np.array([index[v] for v in ds.labels], dtype=np.int64)
    if m.input_layout == "window":
        x, y = make_windows(x, y, m.window.size, m.window.stride)
    else:
        x = pre.to_model_input(x)
    scorer = Scorer(bundle, threads=threads)
    proba = scorer.predict_proba(x)
    report = metrics(y, proba, m.classes)
    report["model_size_bytes"] = len(bundle.model_bytes)
    report["model_sha256"] = m.model_sha256
    report["latency_us_per_instance"] = {f"tflite_{m.quantization.mode}": {
        "batch1": time_per_instance(scorer.predict_proba, x[:128], 1, 1.0),
        "batched": time_per_instance(scorer.predict_proba, x[:2048], 256, 1.0)}}
    if m.dataset == "ciciov2024" and len(x):
        mask = dedup_mask(x)
        report["dedup"] = metrics(y[mask], proba[mask], m.classes)
    report["predictions"] = proba.argmax(1).tolist()
    return report


def run(args: argparse.Namespace) -> int:
    from trainer.report import write_report

    report = evaluate_bundle(args.bundle, args.data, config_from(args), args.threads)
    write_report(report, Path(args.report), f"{args.bundle} on {args.data}")
    print(f"{args.report}: accuracy {report['accuracy']:.4f}, macro-F1 {report['f1_macro']:.4f} "
          f"on {report['n']} inputs")
    return 0
