"""The reproduction's Markdown report and pictures (confusion matrices, learning curves).

Why generated: every figure in ``docs/results/ciciov2024.md`` comes from one run of the command,
so the document is rebuilt, never edited; pictures are kept small (Agg backend, low dpi).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from trainer.report import per_class_rows, plot_confusion

NOT_GIVEN = "not given here"


def _pct(v: float | None, digits: int = 2) -> str:
    return NOT_GIVEN if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.{digits}f}%"


def _num(v: float | None, fmt: str = ".4f") -> str:
    return NOT_GIVEN if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def macro_fpr(m: dict[str, Any]) -> float:
    """Mean over classes of each class's false-positive rate (the paper does not say which average it used)."""
    return float(np.mean([v["fpr"] for v in m["per_class"].values()]))


def _lat(r: dict[str, Any], kind: str, mode: str) -> str:
    return f"{r['latency_us_per_instance'][kind][mode]:.1f}"


def plot_histories(histories: dict[str, dict[str, list[float]]], path: Path, title: str) -> None:
    """Training and validation loss per epoch of several models in one small picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i % 10}"
        for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
            if key in h:
                ax.plot(range(1, len(h[key]) + 1), h[key], "-", color=color, label=f"{name}")
            if "val_" + key in h:
                ax.plot(range(1, len(h["val_" + key]) + 1), h["val_" + key], "--", color=color)
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_title(f"{key} (solid: train, dashed: validation)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_yscale("log")
    axes[1].legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write(results: dict[str, Any], out: Path, command: str) -> Path:
    """``out/ciciov2024.md``, ``out/ciciov2024.json`` and ``out/ciciov2024/*.png``; the Markdown path."""
    pics = out / "ciciov2024"
    pics.mkdir(parents=True, exist_ok=True)
    protocols = _protocols(results)
    for name, r in protocols.items():
        plot_confusion(r["int8"]["confusion_matrix"], r["int8"]["classes"], pics / f"confusion_{name}.png",
                       f"{name} (int8, test)")
    plot_histories({"paper": results["paper_protocol"]["history"],
                    **{k: v["history"] for k, v in results["variants"].items() if k in _variant_keys(results)}},
                   pics / "curves_paper_and_variants.png", "Paper's split: base model and Table III variants")
    plot_histories({k: protocols[k]["history"] for k in ("dedup", "grouped", "windows") if k in protocols}
                   | {f"without {c}": r["history"] for c, r in results["leave_one_out"].items()},
                   pics / "curves_honest.png", "Honest protocols")
    _loo_matrix(results, pics / "leave_one_out.png")
    slim = json.loads(json.dumps(results, default=float))
    (out / "ciciov2024.json").write_text(json.dumps(slim, indent=1) + "\n", encoding="utf-8")
    md = out / "ciciov2024.md"
    md.write_text(markdown(results, command), encoding="utf-8")
    return md


def _variant_keys(results: dict[str, Any]) -> list[str]:
    return [k for k in results["variants"] if not k.startswith("base")]


def _protocols(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"paper": results["paper_protocol"], "dedup": results["dedup"], "grouped": results["grouped"],
            "windows": results["windows"]}


def _loo_matrix(results: dict[str, Any], path: Path) -> None:
    """Left-out class (rows) against what the model trained without it called it (int8)."""
    loo = results["leave_one_out"]
    if not loo:
        return
    cols = sorted({c for r in loo.values() for c in r["called_int8"]} | {"BENIGN"})
    cols = ["BENIGN", *[c for c in cols if c != "BENIGN"]]
    rows = list(loo)
    cm = [[int(loo[r]["called_int8"].get(c, 0)) for c in cols] for r in rows]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = np.asarray(cm, dtype=float)
    norm = a / np.maximum(a.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    ax.imshow(norm, cmap="Oranges", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), [f"left out: {r}" for r in rows], fontsize=7)
    for i in range(len(rows)):
        for j in range(len(cols)):
            if a[i, j]:
                ax.text(j, i, f"{norm[i, j]:.0%}", ha="center", va="center", fontsize=6)
    ax.set_xlabel("called (int8)", fontsize=8)
    ax.set_title("Each attack class, by a model never trained on it", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _row(name: str, r: dict[str, Any], key: str = "int8") -> str:
    m = r[key]
    agreement = _pct(r["int8_agreement"]) if key == "int8" else "-"
    return (f"| {name} | {m['n']} | {_pct(m['accuracy'], 3)} | {_num(m['loss'])} | {_pct(m['precision_macro'])} | "
            f"{_pct(m['recall_macro'])} | {_pct(m['f1_macro'])} | {_pct(macro_fpr(m), 3)} | {agreement} | "
            f"{_lat(r, 'tflite_float', 'batch1')} / {_lat(r, 'tflite_float', 'batched')} | "
            f"{_lat(r, 'tflite_int8', 'batch1')} / {_lat(r, 'tflite_int8', 'batched')} |")


_HEAD = ("| model | test inputs | accuracy | loss | precision | recall | F1 | FPR | int8 = float | "
         "float µs/inst. (batch 1 / 256) | int8 µs/inst. (batch 1 / 256) |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|")


def _per_class(r: dict[str, Any]) -> list[str]:
    return ["| class | precision | recall | F1 | FPR | support |", "|---|---|---|---|---|---|",
            *per_class_rows(r["int8"]["per_class"])]


def markdown(res: dict[str, Any], command: str) -> str:
    """The report (see the module docstring)."""
    b = res["budget"]
    p = res["paper"]["ciciov2024"]
    e = res["paper"]["edge-iiotset"]
    pp = res["paper_protocol"]
    L: list[str] = [
        "# CICIoV2024: the paper's protocol, then honest ones",
        "",
        f"Generated by `{command}` in {res['wall_seconds'] / 60:.1f} min on {res['machine']['cpus']} CPUs "
        f"({res['machine']['platform']}); {'**quick subsample, not the full run**' if res['quick'] else 'full run'}. "
        "Paper: Gueriani, Kheddar, Mazari, *Hybrid ResNet-1D-BiGRU with Multi-Head Attention for Cyberattack "
        "Detection in IIoT*. Data: CICIoV2024 decimal files (Neto et al., 2024), not part of this project.",
        "",
        *_summary(res),
        "## Data as loaded",
        "",
        "| class | rows | distinct feature rows (ID, DATA_0..7) |",
        "|---|---|---|",
        *[f"| {c} | {n} | {res['distinct_rows'][c]} |" for c, n in sorted(res["class_counts"].items())],
        "",
        f"Distinct attack rows carrying two labels: {res['conflicting_distinct_rows']}.",
        "",
        "## Table II: the paper's protocol",
        "",
        "80/20 split stratified by class over all rows (copies of a row fall on both sides), SMOTE on the "
        "training part only, the hybrid ResNet-1D + BiGRU + multi-head attention model of `trainer/model.py`. "
        f"{_pct(pp['test_rows_seen_in_training'], 2)} of the test rows have an exact copy in the training "
        "partition.",
        "",
        _HEAD,
        f"| paper (reported) | {NOT_GIVEN} | {_pct(p['accuracy'])} | {_num(p['loss'])} | {_pct(p['precision'])} | "
        f"{_pct(p['recall'])} | {_pct(p['f1'])} | {_pct(p['fpr'])} | {NOT_GIVEN} | "
        f"{_num(p['seconds_per_instance'] and p['seconds_per_instance'] * 1e6, '.0f')} (batch {NOT_GIVEN}) | "
        f"{NOT_GIVEN} |",
        _row("ours, float", pp, "float"),
        _row("ours, int8 (agent's runtime)", pp),
        "",
        f"For reference the paper reports on Edge-IIoTset {_pct(e['accuracy'])} accuracy, loss {_num(e['loss'])}, "
        f"F1 {_pct(e['f1'])}, FPR {_pct(e['fpr'], 3)} and {_num(e['seconds_per_instance'], '.4f')} s per instance "
        "(not reproduced here: the full Edge-IIoTset is not available). Precision, recall, F1 and FPR are "
        "macro averages over the six classes (the paper does not say which average it used); FPR per class is "
        "false positives / (false positives + true negatives).",
        "",
        "Per class, int8:",
        "",
        *_per_class(pp),
        "",
        "![confusion, paper's protocol](ciciov2024/confusion_paper.png)",
        "",
        "## Table III: variants on the same split",
        "",
        f"Each variant changes one setting of the base model; epochs at most {b['variant_epochs']} (base: "
        f"{b['epochs']}). The paper's Table III figures for CICIoV2024: {NOT_GIVEN} (its only figure "
        "known here is Edge-IIoTset without SMOTE: 96.97% accuracy, loss 0.0873).",
        "",
        "| variant | epochs | params | accuracy (int8) | loss | macro-F1 | int8 = float | "
        "int8 µs/inst. (batch 1 / 256) | paper |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["variants"].items():
        L.append(f"| {name} | {r['epochs_run']} | {r['parameters']} | {_pct(r['int8']['accuracy'], 3)} | "
                 f"{_num(r['int8']['loss'])} | {_pct(r['int8']['f1_macro'])} | {_pct(r['int8_agreement'])} | "
                 f"{_lat(r, 'tflite_int8', 'batch1')} / {_lat(r, 'tflite_int8', 'batched')} | "
                 f"{'99.99% (Table II)' if name.startswith('base') else NOT_GIVEN} |")
    L += ["", "![learning curves](ciciov2024/curves_paper_and_variants.png)", ""]
    L += _honest(res)
    L += _choices(res)
    return "\n".join(L) + "\n"


def summary_rows(res: dict[str, Any]) -> list[str]:
    """The headline table (int8 as the agent runs it): one line per protocol, as measured."""
    loo = res["leave_one_out"]
    flagged = ", ".join(f"{c} {_pct(r['flagged_int8'], 1)}" for c, r in loo.items())
    lines = ["| protocol | accuracy | macro-F1 | test rows seen in training |", "|---|---|---|---|",
             f"| paper (reported) | {_pct(res['paper']['ciciov2024']['accuracy'])} | "
             f"{_pct(res['paper']['ciciov2024']['f1'])} | {NOT_GIVEN} |"]
    for name, key, seen in (("paper's protocol, ours", "paper_protocol", "test_rows_seen_in_training"),
                            ("1. deduplicated first", "dedup", "test_rows_seen_in_training"),
                            ("2. split grouped by feature row", "grouped", "test_rows_seen_in_training"),
                            ("3. attack class never trained on", "", ""),
                            ("4. windows of can-temporal rows", "windows", "test_windows_seen_in_training")):
        if not key:
            lines.append(f"| {name}: share flagged as an attack | {flagged} | | none of its rows |")
            continue
        r = res[key]
        lines.append(f"| {name} | {_pct(r['int8']['accuracy'], 2)} | {_pct(r['int8']['f1_macro'], 2)} | "
                     f"{_pct(r.get(seen))} |")
    tr = res["transfer"]
    if "skipped" not in tr:
        lines.append(f"| 5. other cars' clean logs, through the agent | {tr['incidents']} false incidents in "
                     f"{tr['seconds'] / 60:.1f} min: {tr['incidents_per_hour']:.0f} per hour | | |")
    return lines


def _summary(res: dict[str, Any]) -> list[str]:
    return ["## Summary (int8 model, as the agent runs it)", "", *summary_rows(res), ""]


def _honest(res: dict[str, Any]) -> list[str]:
    dd, gr, wi = res["dedup"], res["grouped"], res["windows"]
    L = [
        "## Honest protocols",
        "",
        "1. **dedup**: duplicates (features + label) removed before anything else, then split by row as in 2.",
        "2. **grouped**: all rows kept, split grouped by distinct feature row: every copy of a row is on one side "
        "(checked in code: a shared row stops the run). Per class a fifth of its distinct rows go to test, at "
        "least one when it has two or more.",
        "3. **leave one out**: each attack class in turn never reaches training or validation (checked), and is "
        "not even an output of the model; the other classes are split as in the paper's protocol. Then every row "
        "of the left-out class is scored: flagged = called any non-benign class.",
        "4. **windows**: the agent's view, windows of 16 consecutive frames of `can-temporal` columns (see below).",
        "5. **transfer**: the paper-protocol int8 model replayed through the agent on other cars' clean logs.",
        "",
        _HEAD,
        _row("paper's protocol", res["paper_protocol"]),
        _row("1. dedup", dd),
        _row("2. grouped by feature row", gr),
        _row("4. windows (agent's view)", wi),
        "",
        "Test rows with an exact copy in training: paper's protocol "
        f"{_pct(res['paper_protocol']['test_rows_seen_in_training'])}, "
        f"dedup {_pct(dd['test_rows_seen_in_training'])}, grouped {_pct(gr['test_rows_seen_in_training'])}; "
        f"test windows identical to a training window: {_pct(wi['test_windows_seen_in_training'])}.",
        "",
        f"Distinct rows per class, dedup: train {dd['distinct_rows']['train']}, test {dd['distinct_rows']['test']}. "
        f"Grouped: train {gr['distinct_rows']['train']} (of {gr['distinct_rows']['train_partition']} in the "
        f"training part), test {gr['distinct_rows']['test']}.",
        "",
    ]
    for name, r in (("dedup", dd), ("grouped", gr)):
        sm = r["smote"].get("skipped")
        L += [f"Per class, {name} (int8){f'; SMOTE skipped: {sm}' if sm else ''}:", "", *_per_class(r), "",
              f"![confusion, {name}](ciciov2024/confusion_{name}.png)", ""]
    L += ["### 3. Leave one attack class out", "",
          "| left out | its rows scored | flagged as an attack (float) | flagged (int8) | called (int8) | "
          "benign flagged (int8) | accuracy on the other classes (int8) |", "|---|---|---|---|---|---|---|"]
    for c, r in res["leave_one_out"].items():
        called = ", ".join(f"{k} {v / r['held_out_rows']:.1%}" for k, v in r["called_int8"].items())
        L.append(f"| {c} | {r['held_out_rows']} | {_pct(r['flagged_float'])} | {_pct(r['flagged_int8'])} | {called} | "
                 f"{_pct(r['benign_flagged_int8'], 3)} | {_pct(r['int8']['accuracy'], 3)} |")
    L += ["", "![leave one out](ciciov2024/leave_one_out.png)", "", "### 4. The agent's view: windows", "",
          "The decimal files keep frames in capture order within each file but publish **no timestamps**, and "
          "each file holds one class only (no attack file contains a benign frame). What could be done honestly: "
          "run the agent's own `can-temporal` extractor over each file in order with the **frame index as its "
          "clock** (so `dt_id` counts frames since the id's previous frame and rates are per frame of a 256-frame "
          "window), feed windows of 16 consecutive frames (the shipped CAN bundle's shape) of its columns "
          f"{', '.join(wi['features'])}, and split each file in time (first 80% of its 16-frame blocks train, "
          "the last 20% test). What could not: seconds-based timing (the agent's columns are in seconds, so this "
          "model cannot be given to the agent), and windows mixing attack and benign frames as on a live bus: "
          "every attack file is a stream of one or two ids, which these columns expose at once. A high figure "
          "here would say the files differ, not that the attacks are detected on a shared bus. `new_id` is left out "
          "(its warm-up would be each file's first frames).", "", *_per_class(wi), "",
          "![confusion, windows](ciciov2024/confusion_windows.png)", "", "### 5. Transfer to other cars", ""]
    tr = res["transfer"]
    if "skipped" in tr:
        L += [f"Skipped: {tr['skipped']}.", ""]
    else:
        L += ["The paper-protocol int8 model as a bundle (`features.kind: ciciov2024`, record layout, thresholds "
              "0.5, no baseline), replayed with `edge-ids-agent replay`'s own code on clean logs of two other cars "
              "(camaro, civic8th: `can-site` learn and test logs) and one Vector ASC file. No attack is in these "
              "logs: every incident is a false one. An incident is what the agent announces: one per class and "
              "attacker/victim from its start to its end (`edge-ids-agent replay --help`), so a class that keeps "
              "firing through a log counts once there.", "",
              "| log | frames | seconds | incidents | by class |", "|---|---|---|---|---|"]
        for r in tr["logs"]:
            L.append(f"| {r['log']} | {r['frames']} | {r['seconds']:.1f} | {r['incidents']} | "
                     f"{', '.join(f'{k} {v}' for k, v in r['incidents_by_class'].items()) or '-'} |")
        L += ["", f"**{tr['incidents']} false incidents in {tr['seconds'] / 60:.1f} min of driving: "
                  f"{tr['incidents_per_hour']:.0f} per hour.**", ""]
    L += ["![learning curves, honest protocols](ciciov2024/curves_honest.png)", ""]
    return L


def _test_cap(cap: int | None) -> str:
    return "every test row" if cap is None else f"at most {cap} rows per class"


def _choices(res: dict[str, Any]) -> list[str]:
    b = res["budget"]
    pp = res["paper_protocol"]
    return [
        "## Choices made (the paper does not give them, or time required them)",
        "",
        "- Architecture: the trainer's hybrid model with its defaults (`trainer/config.py`): stem Conv1D 64, two "
        "residual blocks (kernel 3) with max-pooling, BiGRU 64 units per direction, 4 attention heads (key dim "
        "32), dense 128, dropout 0.3, Adam 1e-3, batch 256. The paper's filters, units, key dim, learning rate, "
        f"batch size and epochs: {NOT_GIVEN}.",
        "- Input: the nine columns ID, DATA_0..7, standardised with mean and deviation fitted on the training "
        "part, as a length-9 sequence of one channel (record layout). Target: `specific_class` (6 classes).",
        f"- Split: 80/20 stratified, seed {res['seed']}; validation for early stopping (patience {b['patience']}, best "
        "weights restored) and learning curves is a stratified tenth of the training part, never the test part.",
        f"- Budget: each model trains on at most {b['per_class']:,} rows per class from the training part: one "
        "copy of every distinct feature row first, then further copies at random; SMOTE fills the smaller "
        f"classes up to that; {b['epochs']} epochs at most "
        f"({b['variant_epochs']} per Table III variant, {b['loo_epochs']} per leave-one-out model). The drawn rows "
        f"hold {pp['distinct_train_rows_sampled']} distinct feature rows, of the "
        f"{pp.get('distinct_fit_rows', '?')} in the part that fits the model (the training partition less its "
        f"validation tenth; the whole partition holds {pp['distinct_train_rows_partition']}). Test: "
        f"{_test_cap(b['test_per_class'])}.",
        f"- Without SMOTE (Table III): {b['per_class'] * len(res['class_counts']):,} training rows in the classes' "
        "natural shares.",
        "- SMOTE: imbalanced-learn, 5 neighbours (fewer for tiny classes). In dedup a class may keep a single "
        "training row (GAS has two distinct rows: one trains, one tests); that row is listed twice so SMOTE "
        "can run (it can only copy it), rather than SMOTE being switched off for every class.",
        "- int8: full-integer post-training quantization calibrated on 500 training rows (before SMOTE, "
        "stratified), scored through the agent's `Scorer` under ai-edge-litert; float: the same model as a "
        "float LiteRT model under the same runtime. Latency: warmed-up wall time per instance, one thread, "
        "batch 1 and batch 256, float and int8 measured in the same run; the paper's 0.00014 s is 140 µs.",
        "- Transfer logs: `can/eldominio_camaro_engineon.log` and `can/eldominio_civic8th_40mph.trc` are the same "
        "drives as `can-site/learn/*/engineon.log` and `40mph.log`, so they are replayed once.",
        "",
    ]
