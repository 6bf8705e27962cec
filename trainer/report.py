"""Evaluation reports: metrics with stable keys (documented in docs/bundle.md), markdown, PNGs.

Stable keys: ``accuracy``, ``loss``, ``f1_macro``, ``f1_weighted``, ``precision_macro``,
``recall_macro``, ``precision_weighted``, ``recall_weighted``, ``per_class`` (class ->
``precision``, ``recall``, ``f1``, ``fpr``, ``support``), ``confusion_matrix`` (rows = true class,
columns = predicted, in ``classes`` order), ``classes``, ``n``, ``latency_us_per_instance``
(``keras``, ``tflite_float``, ``tflite_int8`` -> ``batch1``, ``batched``), ``int8_agreement``,
``model_size_bytes``; CICIoV2024 adds ``dedup`` (the same metrics on the deduplicated test set).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def metrics(y_true: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Classification metrics of probabilities ``proba`` against integer labels ``y_true``."""
    from sklearn.metrics import confusion_matrix, log_loss, precision_recall_fscore_support

    k = len(classes)
    labels = list(range(k))
    y_pred = np.argmax(proba, axis=1)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    pm, rm, fm, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    pw, rw, fw, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="weighted",
                                                    zero_division=0)
    clipped = np.clip(proba, 1e-7, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    loss = float(log_loss(y_true, clipped, labels=labels)) if len(y_true) else float("nan")
    total = cm.sum()
    per_class = {}
    for i, c in enumerate(classes):
        fp = cm[:, i].sum() - cm[i, i]
        tn = total - cm[i, :].sum() - cm[:, i].sum() + cm[i, i]
        per_class[c] = {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                        "fpr": float(fp / (fp + tn)) if fp + tn else 0.0, "support": int(s[i])}
    return {
        "n": len(y_true), "accuracy": float((y_pred == y_true).mean()) if len(y_true) else float("nan"),
        "loss": loss, "f1_macro": float(fm), "f1_weighted": float(fw), "precision_macro": float(pm),
        "recall_macro": float(rm), "precision_weighted": float(pw), "recall_weighted": float(rw),
        "per_class": per_class, "confusion_matrix": cm.tolist(), "classes": list(classes),
    }


def dedup_mask(x: np.ndarray) -> np.ndarray:
    """First occurrence of each distinct input row (CICIoV2024 is dominated by exact duplicates)."""
    flat = np.ascontiguousarray(x.reshape(len(x), -1))
    _, first = np.unique(flat, axis=0, return_index=True)
    mask = np.zeros(len(x), dtype=bool)
    mask[first] = True
    return mask


def plot_confusion(cm: list[list[int]], classes: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = np.asarray(cm, dtype=float)
    norm = a / np.maximum(a.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(classes), 0.8 + 0.5 * len(classes)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if a[i, j]:
                ax.text(j, i, str(int(a[i, j])), ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_curves(history: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + key in history:
                ax.plot(history[prefix + key], style, label=("validation " if prefix else "train ") + key)
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(report: dict[str, Any], out_json: Path, title: str) -> None:
    """``report.json`` + ``report.md`` beside it + ``confusion_matrix.png``."""
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plot_confusion(report["confusion_matrix"], report["classes"], out_json.with_name("confusion_matrix.png"), title)
    out_json.with_suffix(".md").write_text(markdown(report, title), encoding="utf-8")


def per_class_rows(per_class: dict[str, dict[str, Any]]) -> list[str]:
    """One Markdown table row per class: precision, recall, F1, FPR, support."""
    return [f"| {c} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | {v['fpr']:.5f} | {v['support']} |"
            for c, v in per_class.items()]


def markdown(r: dict[str, Any], title: str) -> str:
    lines = [f"# {title}", "", f"Test rows: {r['n']}", "", "| metric | value |", "|---|---|"]
    for k in ("accuracy", "loss", "precision_macro", "recall_macro", "f1_macro", "f1_weighted"):
        lines.append(f"| {k} | {r[k]:.4f} |")
    if "int8_agreement" in r:
        lines.append(f"| int8_agreement | {r['int8_agreement']:.4f} |")
    if "model_size_bytes" in r:
        lines.append(f"| model_size_bytes | {r['model_size_bytes']} |")
    lat = r.get("latency_us_per_instance")
    if lat:
        lines += ["", "Latency, µs per instance (paper: 100 µs)", "", "| model | batch 1 | batched |", "|---|---|---|"]
        for k, v in lat.items():
            lines.append(f"| {k} | {v.get('batch1', float('nan')):.1f} | {v.get('batched', float('nan')):.1f} |")
    lines += ["", "| class | precision | recall | f1 | fpr | support |", "|---|---|---|---|---|---|",
              *per_class_rows(r["per_class"])]
    if "dedup" in r:
        d = r["dedup"]
        lines += ["", f"Deduplicated test set: {d['n']} rows, accuracy {d['accuracy']:.4f}, "
                      f"macro-F1 {d['f1_macro']:.4f}"]
    return "\n".join(lines) + "\n"
