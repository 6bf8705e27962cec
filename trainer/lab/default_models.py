"""The default models shipped in ``models/``: lab traffic in, int8 bundles with honest reports out.

``make models`` runs ``python -m trainer.lab.default_models [--kind ethernet|can|all] [--quick]``:

1. generate lab capture sessions with a fixed seed (:mod:`trainer.lab.sessions`);
2. compute each session's rows with the agent's own source and extractor, the rows
   ``edge-ids-agent features`` writes, and read them as the trainer reads feature CSVs;
3. train with the bundle's recipe (``trainer/recipes/<name>.yaml``) through the code path of
   ``edge-ids-trainer train`` (:func:`trainer.pipeline.train_dataset`): windows, scaling, fitting on
   the TRAIN sessions, early stopping and alert thresholds on the VALIDATION sessions, int8
   quantization and its gate, bundle writing. The lab only names which sessions are which;
4. choose the confirmation on VALIDATION replays (:mod:`trainer.lab.replay`), score the held-out TEST
   session(s) once: window metrics, then the test captures replayed through the agent's own replay
   pipeline and alert policy, so false alerts are counted as the agent raises them (incidents, not
   windows);
5. write ``models/<name>/`` (model.tflite, manifest.json, report.json, report.md) and a small ``demo/``
   capture from a further capture session that no model step has seen, for ``edge-ids-agent demo``
   (:mod:`trainer.lab.bundle_report`).

Why windows (W consecutive records x F features, stride S, one global stream per interface / one per
CAN channel): the attacks that matter on real networks are sequences. One SYN says nothing; sixteen
SYNs with no payload in a row is a flood or a scan; one CAN frame is ordinary, a burst of frames that
arrive at a fraction of their id's period is injection. A stride S > 1 means one inference per S
records, which is what keeps the agent at line rate on a gateway CPU.

Why these features and not the others: a model that sees the lab's addresses, ports, checksums, raw
sequence numbers, stream indices, topic names or absolute times learns the lab, and on a real plant
it raises alerts on whatever differs from the lab. Those columns are dropped (the recipes'
``data.exclude``); for CAN the raw arbitration id and payload bytes are dropped too, and only the
timing / rate / payload-change features of ``can-temporal`` remain, because a foreign car's ids and
signals are not the lab's. The price: on a foreign car the specific spoofed signal (GAS, RPM, SPEED,
STEERING_WHEEL) may be wrong while the family (spoofing) is right; the report gives both.

Reproducibility: seeds (Python, numpy, TensorFlow) and TensorFlow op determinism are set, and the
generator is byte-identical per seed. TensorFlow on CPU still differs across machines and thread
counts in the last bits, so re-running gives the same metrics within :data:`TOLERANCE` (macro-F1,
absolute), not bit-identical weights.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trainer.lab.bundle_report import finish
from trainer.lab.replay import choose_confirmation, family_metrics, replay_alerts, score_replay
from trainer.lab.sessions import MODELS, PLANS, RECIPES, Plan, generate, lab_dataset, load_sessions

log = logging.getLogger("trainer.lab.default_models")

#: absolute macro-F1 difference within which two runs with the same seed count as the same result
TOLERANCE = 0.02


def build(plan: Plan, work: Path, quick: bool = False) -> dict[str, Any]:
    """Generate, train with the recipe, choose confirmation, evaluate once; the bundle and its report."""
    from agent.bundle import load_bundle, write_bundle
    from agent.config import to_dict
    from agent.scorer import Scorer
    from trainer.pipeline import train_dataset
    from trainer.report import metrics

    t_start = time.perf_counter()
    cfg = copy.deepcopy(plan.config)
    if quick:  # PLANS stays as it is for a later build in the same process
        plan = dataclasses.replace(plan, scale=plan.scale / 4)
    lab = work / "lab"
    log.info("%s: generating %d capture sessions (seed %d, scale %s)", plan.name, plan.sessions, plan.seed, plan.scale)
    generate(plan, lab)
    sessions = load_sessions(plan, lab)
    # the lab's part of the split: which capture sessions validate and test (every other one trains)
    cfg.split.method = "grouped"
    cfg.split.val_groups = [sessions[i].name for i in plan.val]
    cfg.split.test_groups = [sessions[i].name for i in plan.test]
    train_ids = sorted(set(range(len(sessions))) - set(plan.val) - set(plan.test))
    if train_ids != sorted(plan.train):
        raise ValueError(f"{plan.name}: sessions {plan.train} train, but {train_ids} are neither validation nor test")
    ds = lab_dataset(plan, sessions)
    run = work / "run"
    bundle_dir = MODELS / plan.name
    # quantize_run (inside) gates int8 against float on the test windows and writes the bundle; this is the one
    # use of the test partition's windows, and nothing below feeds back into training, thresholds or confirmation.
    window_report = train_dataset(ds, run, cfg, epochs=min(cfg.train.epochs, 3) if quick else None, name=plan.name,
                                  bundle=bundle_dir)
    with np.load(run / "arrays.npz", allow_pickle=False) as z:
        y_va, x_te, y_te = z["y_val"], z["x_test"], z["y_test"]
    epochs_run = json.loads((run / "manifest.json").read_text())["metrics"]["history_epochs"]
    log.info("%s: windows val %d, test %d", plan.name, len(y_va), len(y_te))

    bundle = load_bundle(bundle_dir)
    manifest = bundle.manifest
    classes = manifest.classes
    manifest.metrics = {**manifest.metrics, "validation_sessions": cfg.split.val_groups,
                        "test_sessions": cfg.split.test_groups}

    # Confirmation: validation captures replayed through the agent under each candidate.
    def val_run(i: int) -> Callable[[list[str]], tuple[list[dict[str, Any]], np.ndarray, np.ndarray]]:
        return lambda extra: (replay_alerts(plan, bundle_dir, sessions[i].capture, extra)[0],
                              sessions[i].ts, sessions[i].labels)

    manifest.confirm_windows, manifest.confirm_span, confirm_table = choose_confirmation(
        [val_run(i) for i in plan.val], plan.benign, plan.family, min_k=cfg.alerts.min_confirm_windows)
    write_bundle(bundle_dir, manifest, bundle.model_bytes)
    log.info("%s: confirm_windows %d within %d (%s)", plan.name, manifest.confirm_windows, manifest.confirm_span,
             confirm_table)
    if (manifest.confirm_windows, manifest.confirm_span) != (cfg.alerts.confirm_windows, cfg.alerts.confirm_span):
        log.warning("%s: validation chose confirmation %d within %d; the recipe states %d within %d: update "
                    "alerts.confirm_windows and alerts.confirm_span in %s", plan.name, manifest.confirm_windows,
                    manifest.confirm_span, cfg.alerts.confirm_windows, cfg.alerts.confirm_span,
                    RECIPES / f"{plan.name}.yaml")

    # Test windows with the final thresholds (the policy's view of a window), and through the agent.
    scorer = Scorer(load_bundle(bundle_dir))
    test_proba = scorer.predict_proba(x_te)
    vetoed = dict(scorer.stats().get("evidence_vetoed", {}))
    thr = np.array([np.inf, *[manifest.thresholds[c] for c in classes[1:]]])
    over = test_proba >= thr
    alert_pred = np.where(over.any(1), np.argmax(np.where(over, test_proba, -1.0), 1), 0)
    replays = {}
    for i in plan.test:
        s = sessions[i]
        alerts, stats = replay_alerts(plan, bundle_dir, s.capture)
        replays[s.name] = score_replay(alerts, s.ts, s.labels, plan.benign, plan.family)
        replays[s.name]["replay_records_per_s"] = stats["records_per_s"]
    w = cfg.windows
    report = {
        "model": plan.name, "model_sha256": manifest.model_sha256,
        "recipe": f"trainer/recipes/{plan.name}.yaml",
        "data": {"generator": f"trainer.lab.{plan.kind}", "seed": plan.seed, "scale": plan.scale,
                 "sessions": [s.name for s in sessions],
                 "train_sessions": [sessions[i].name for i in plan.train],
                 "validation_sessions": cfg.split.val_groups,
                 "test_sessions": cfg.split.test_groups,
                 "frames_per_session": {s.name: len(s.labels) for s in sessions},
                 "note": "lab traffic from trainer.lab, not the published dataset; test sessions are "
                         "capture sessions (other hosts, addresses, timing) never used for training or "
                         "threshold selection"},
        "features": manifest.features, "excluded_features": cfg.data.exclude,
        "layout": {"input_layout": "window", "window": cfg.model.window_size, "stride": cfg.model.window_stride,
                   "key": cfg.model.window_key,
                   "window_label": f"attack class holding >= {w.min_attack_fraction:.0%} of the window's records"
                                + "".join(f"; {c}: >= {k} record(s)" for c, k in w.min_attack_records.items())},
        "model_config": to_dict(cfg.model),
        "epochs_run": epochs_run,
        "thresholds": manifest.thresholds,
        "evidence": manifest.evidence, "evidence_vetoed_test_windows": vetoed,
        "confirm_windows": manifest.confirm_windows, "confirm_span": manifest.confirm_span,
        "min_confirm": cfg.alerts.min_confirm_windows,
        "confirm_windows_validation": confirm_table,
        "test_windows_argmax": window_report,
        "test_windows_thresholded": metrics(y_te, np.eye(len(classes))[alert_pred], classes),
        "test_windows_families": family_metrics(y_te, alert_pred, classes, plan.family),
        "test_replay": replays,
        "tolerance_f1_macro": TOLERANCE,
        "build_seconds": round(time.perf_counter() - t_start, 1),
    }
    if not manifest.evidence:
        report.pop("evidence")
        report.pop("evidence_vetoed_test_windows")
    report["test_windows_thresholded"].pop("loss", None)
    return {"report": report, "bundle": bundle_dir, "sessions": sessions}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainer.lab.default_models", description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=["ethernet", "can", "all"], default="all")
    ap.add_argument("--quick", action="store_true", help="a quarter of the data and 3 epochs (smoke test)")
    ap.add_argument("--work", help="keep the lab data and run directories here (default: a temporary directory)")
    ap.add_argument("--no-real-check", action="store_true",
                    help="skip the development check on ../shared/captures (real benign captures)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    kinds = ["ethernet", "can"] if args.kind == "all" else [args.kind]
    for kind in kinds:
        plan = PLANS[kind]
        with tempfile.TemporaryDirectory(prefix=f"edge-ids-{kind}-") as tmp:
            work = Path(args.work) / kind if args.work else Path(tmp)
            work.mkdir(parents=True, exist_ok=True)
            result = build(plan, work, quick=args.quick)
            report = finish(plan, result, work, real_check=not args.no_real_check)
        t = next(iter(report["test_replay"].values()))
        print(f"{plan.name}: test windows macro-F1 {report['test_windows_argmax']['f1_macro']:.4f} (argmax), "
              f"{report['test_windows_thresholded']['f1_macro']:.4f} (thresholded), family macro-F1 "
              f"{report['test_windows_families']['f1_macro']:.4f}; replay: false alerts/10k benign "
              f"{t['false_alerts_per_10k_benign_frames']}, classes detected {t['classes_detected']}/{t['classes']} "
              f"(right family {t['classes_detected_right_family']}); {report['build_seconds']} s")
        for r in report.get("dev_check_real_benign", []):
            print(f"  real benign {r['capture']}: {r['frames']} frames, {r['alert_records']} alerts "
                  f"({r['alerts_per_10k_frames']}/10k) {r['by_class']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
