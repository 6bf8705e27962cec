"""Window F1 of a lab capture as the agent classes each window, against the lab's window labels.

The lab report's window metrics are the model's alone; the agent also applies the rules that read
content (``rules.web_attack`` explains and vouches for windows, see ``pipeline.explained``). This
replays one labelled lab capture through the shipped config's scoring, batch by batch as ``replay``
does, takes each window's class after thresholds, evidence floors and (unless ``--model-only``) the
rules' explanations, and scores it against the label the trainer gives that window (the attack class
holding >= 25% of its records; one forged ARP reply for MITM).

    .venv/bin/python bench/lab_windows_agent.py CAPTURE.pcap [--model-only] [--set KEY=VALUE ...]

``CAPTURE.labels.csv`` beside it holds the per-frame labels (``edge-ids-trainer generate`` writes both;
the shipped bundle's test session is capture09 of ``--seed 20240611 --scale 0.3 --sessions 10``).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score

from agent.commands.replay import replay_config
from agent.config import load_config
from agent.runtime.counters import Counters
from agent.runtime.pipeline import build_scoring, explained, open_source
from trainer.prep import content_windows

REPO = Path(__file__).resolve().parent.parent


def window_classes(pcap: Path, model_only: bool, overrides: list[str]) -> tuple[list[str], list[int],
                                                                               list[tuple[int, int]]]:
    """Classes, the indices of the records the model scored, and (window ordinal, class) per window."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = replay_config(load_config(str(REPO / "configs" / "ethernet.yaml"),
                                        ["mqtt.enabled=false", f"state_dir={tmp}", "logging.level=WARNING",
                                         *overrides]),
                            str(pcap))
        sc = build_scoring(cfg, None, Counters(None), with_sinks=False)
        classes = list(sc.classes)
        thr = np.array([np.inf] + [sc.thresholds.get(c, 0.5) for c in classes[1:]])
        records = iter(open_source(cfg))
        kept: list[int] = []
        out: list[tuple[int, int]] = []
        pos = 0
        while batch := list(itertools.islice(records, 512)):
            rows, ctxs = map(list, zip(*sc.extractor.rows_with_context(batch), strict=True))
            for rule in sc.rules:
                rule.scan(rows, ctxs)
            keep = range(len(rows)) if sc.keep is None else [i for i, r in enumerate(rows) if sc.keep(r)]
            kept += [pos + i for i in keep]
            pos += len(rows)
            wb = sc.windower.push(sc.preprocessor.transform([rows[i] for i in keep]), [ctxs[i] for i in keep])
            if not len(wb):
                continue
            probs = sc.scorer.predict_proba(wb.inputs)
            if not model_only:
                explained(sc, wb, probs)
            over = probs >= thr
            best = np.argmax(np.where(over, probs, -1.0), axis=1)
            out += [(int(k), int(c) if o else 0) for k, c, o in zip(wb.index, best, over.any(1), strict=True)]
    return classes, kept, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture", type=Path)
    ap.add_argument("--model-only", action="store_true", help="the model's classes, no rule explaining them")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a key of configs/ethernet.yaml (repeatable)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    labels = pd.read_csv(args.capture.with_suffix(".labels.csv"))["Attack_type"].astype(str).to_numpy()
    classes, kept, got = window_classes(args.capture, args.model_only, args.overrides)
    y = np.array([classes.index(v) for v in labels[kept]])
    _, truth = content_windows(np.zeros((len(y), 1), np.float32), y, len(classes), 16, 8, 0.25,
                               {classes.index("MITM"): 1})
    pred = np.zeros(len(truth), np.int64)
    for k, c in got:
        if k < len(pred):
            pred[k] = c
    f1 = f1_score(truth, pred, labels=range(len(classes)), average=None, zero_division=0)
    cm = confusion_matrix(truth, pred, labels=range(len(classes)))
    print(f"{args.capture.name}: {len(truth):,} windows, {'model only' if args.model_only else 'through the agent'}")
    for i, c in enumerate(classes):
        wrong = {classes[j]: int(v) for j, v in enumerate(cm[i]) if v and j != i}
        print(f"{c:<24}{f1[i]:7.3f}{int((truth == i).sum()):7d}  {wrong if wrong else ''}")
    print(f"{'macro-F1':<24}{f1.mean():7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
