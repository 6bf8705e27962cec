"""A default bundle's report (report.json, report.md) and its demo capture (``demo/``)."""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainer.lab.replay import real_benign_check, replay_alerts, score_replay
from trainer.lab.sessions import Plan, capture_ts, generate

log = logging.getLogger("trainer.lab.default_models")
#: largest bundle directory (model, manifest, reports, demo capture)
MAX_BUNDLE_BYTES = 2 * 1024 * 1024



def add_demo(plan: Plan, bundle_dir: Path, work: Path) -> dict[str, Any]:
    """A small labelled capture from a further capture session (own seed), for ``edge-ids-agent demo``.

    Labels are stored run-length encoded (``first_frame,last_frame,label``, frames 1-based) so they
    cost a few hundred bytes instead of a line per frame; the CAN drive is cut after its second attack
    episode (a DoS and a spoofing), which keeps the bundle inside its 2 MB budget.
    """
    root = work / "demo"
    meta = generate(plan, root, seed=plan.demo_seed, scale=plan.demo_scale, sessions=1)
    sess = meta["sessions"][0]
    name = sess["name"]
    demo = bundle_dir / "demo"
    if demo.exists():
        shutil.rmtree(demo)
    demo.mkdir()
    labels = pd.read_csv(root / f"{name}.labels.csv")[plan.label_column].astype(str).to_numpy()
    # demo.py takes the first capture file in sorted order: "capture.*" sorts before "labels.csv".
    if plan.kind == "ethernet":
        target = demo / "capture.pcap"
        shutil.copyfile(root / f"{name}.pcap", target)
    else:
        target = demo / "capture.log"
        cut = float(sess["episodes"][1]["end"]) + 2.0
        lines = (root / f"{name}.log").read_text().splitlines()
        t0 = float(lines[0][1 : lines[0].index(")")])
        keep = [ln for ln in lines if float(ln[1 : ln.index(")")]) - t0 <= cut]
        target.write_text("\n".join(keep) + "\n")
        labels = labels[: len(keep)]
    write_rle_labels(demo / "labels.csv", labels)
    return {"capture": f"demo/{target.name}", "labels": "demo/labels.csv", "seed": plan.demo_seed,
            "scale": plan.demo_scale, "frames": len(labels), "counts": dict(Counter(labels.tolist()))}


def write_rle_labels(path: Path, labels: np.ndarray) -> None:
    """Per-frame labels as runs: ``first_frame,last_frame,label`` (1-based, inclusive)."""
    rows = ["first_frame,last_frame,label"]
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            rows.append(f"{start + 1},{i},{labels[start]}")
            start = i
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def read_rle_labels(path: Path) -> np.ndarray:
    """Inverse of :func:`write_rle_labels`."""
    runs = pd.read_csv(path)
    return np.repeat(runs["label"].astype(str).to_numpy(), (runs["last_frame"] - runs["first_frame"] + 1).to_numpy())


def demo_replay(plan: Plan, bundle_dir: Path) -> dict[str, Any]:
    """The demo capture through the agent, scored against its labels (included in the report)."""
    demo = bundle_dir / "demo"
    capture = next(p for p in sorted(demo.iterdir()) if p.name.startswith("capture"))
    labels = read_rle_labels(demo / "labels.csv")
    ts = capture_ts(capture, plan.backend)
    alerts, _ = replay_alerts(plan, bundle_dir, capture)
    return score_replay(alerts, ts, labels, plan.benign, plan.family)


def markdown(r: dict[str, Any]) -> str:
    """report.md: what a person reads before trusting the default model."""
    from agent.evidence import describe_floors

    wa, wt, wf = r["test_windows_argmax"], r["test_windows_thresholded"], r["test_windows_families"]
    lines = [
        f"# {r['model']}: evaluation on held-out lab capture sessions", "",
        "Lab traffic made by `" + r["data"]["generator"] + "` (seed " + str(r["data"]["seed"]) + ", scale "
        + str(r["data"]["scale"]) + "), **not** the published dataset. Trained on "
        + ", ".join(r["data"]["train_sessions"]) + "; epochs and alert thresholds chosen on "
        + ", ".join(r["data"]["validation_sessions"]) + "; evaluated once on "
        + ", ".join(r["data"]["test_sessions"]) + " (other hosts, addresses, timing, payload mixes).", "",
        f"Layout: window of {r['layout']['window']} consecutive records x {len(r['features'])} features "
        f"(one-hot widened), stride {r['layout']['stride']}, key `{r['layout']['key']}`. Window label: "
        f"{r['layout']['window_label']}.", "",
        f"Alert confirmation: an incident is announced after {r['confirm_windows']} window(s) of its class "
        + (f"within {r['confirm_span']} consecutive windows of its key" if r.get("confirm_span")
           else "within the merge gap")
        + f", the candidate (at least {r.get('min_confirm', 1)} and up to 4 windows; spans of 4k or 2k windows, or "
        "none) with the most validation attack classes detected with the right family minus false incidents, the "
        "strictest among equals. "
        "Validation replays (k / span, 0 = merge gap): " + "; ".join(
            f"{t['confirm_windows']}/{t.get('confirm_span', 0)}: {t['false_incidents']} false incidents, "
            f"{t['classes_detected_right_family']} classes right family"
            for t in r["confirm_windows_validation"]) + ".", "",
        *(["Evidence floors (a window that misses its class's floors counts as benign for it): "
           + "; ".join(f"{c}: {describe_floors(f)}" for c, f in r["evidence"].items())
           + ". Test windows whose top class a floor vetoed: "
           + (", ".join(f"{c} {n}" for c, n in r["evidence_vetoed_test_windows"].items()) or "none") + ".", ""]
          if r.get("evidence") else []),
        "## Test windows (int8 model)", "", "| metric | argmax | with the manifest thresholds |", "|---|---|---|",
        f"| accuracy | {wa['accuracy']:.4f} | {wt['accuracy']:.4f} |",
        f"| macro-F1 | {wa['f1_macro']:.4f} | {wt['f1_macro']:.4f} |",
        f"| family macro-F1 | | {wf['f1_macro']:.4f} |",
        f"| int8 agreement with float | {wa['int8_agreement']:.4f} | |",
        f"| windows | {wa['n']} | |", "",
        "| class | precision | recall | f1 | support (windows) |", "|---|---|---|---|---|",
    ]
    for c, v in wt["per_class"].items():
        lines.append(f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
    lines += ["", "Per family F1 (thresholded): " + ", ".join(f"{k} {v:.3f}" for k, v in wf["per_family_f1"].items()),
              "", "Confusion matrix (thresholded; rows true, columns predicted; order: " + ", ".join(wt["classes"])
              + ")", "", "```"]
    lines += [" ".join(f"{v:6d}" for v in row) for row in wt["confusion_matrix"]]
    lines += ["```", "", "## Test captures replayed through the agent (features, windows, int8, alert policy)", ""]
    for name, t in r["test_replay"].items():
        lines += [f"### {name}", "",
                  f"- frames {t['frames']} ({t['benign_frames']} benign); incidents {t['incidents']} "
                  f"({t['alert_records']} alert records)",
                  f"- **false alerts per 10,000 benign frames: {t['false_alerts_per_10k_benign_frames']}** "
                  f"({t['false_incidents']} incidents spanning benign frames only)",
                  f"- attack classes detected: {t['classes_detected']}/{t['classes']}, with the right family: "
                  f"{t['classes_detected_right_family']}/{t['classes']}", "",
                  "| class | frames | detected | right family | alert families |", "|---|---|---|---|---|"]
        for c, v in t["per_class"].items():
            lines.append(f"| {c} | {v['frames']} | {v['detected']} | {v['family_correct']} | "
                         f"{', '.join(v['alert_families'])} |")
        lines.append("")
    if "demo" in r:
        d = r["demo_replay"]
        lines += ["## Demo capture (`demo/`, a further capture session, seed " + str(r["demo"]["seed"]) + ")", "",
                  f"- frames {d['frames']}; incidents {d['incidents']}; false alerts per 10,000 benign frames "
                  f"{d['false_alerts_per_10k_benign_frames']}; classes detected {d['classes_detected']}/{d['classes']}"
                  f" (right family {d['classes_detected_right_family']})", ""]
    lines += [f"Re-running `make models` gives the same figures within {r['tolerance_f1_macro']} macro-F1 "
              "(seeded, deterministic ops; TensorFlow on CPU is not bit-exact across machines).", ""]
    return "\n".join(lines)


def finish(plan: Plan, result: dict[str, Any], work: Path, real_check: bool) -> dict[str, Any]:
    """Demo capture, real-benign development check, report files, size check."""
    bundle_dir: Path = result["bundle"]
    report = result["report"]
    report["demo"] = add_demo(plan, bundle_dir, work)
    report["demo_replay"] = demo_replay(plan, bundle_dir)
    if real_check:
        real = real_benign_check(plan, bundle_dir)
        if real:
            # Development check only: the captures are not the project's and are never copied here.
            log.info("%s: real benign captures: %s", plan.name, real)
            report["dev_check_real_benign"] = real
    (bundle_dir / "report.json").write_text(json.dumps(_jsonable(report), indent=1) + "\n", encoding="utf-8")
    (bundle_dir / "report.md").write_text(markdown(report), encoding="utf-8")
    size = sum(p.stat().st_size for p in bundle_dir.rglob("*") if p.is_file())
    if size > MAX_BUNDLE_BYTES:
        raise RuntimeError(f"{bundle_dir}: {size} bytes, over the {MAX_BUNDLE_BYTES} budget")
    log.info("%s: bundle %d bytes", plan.name, size)
    return report


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o

