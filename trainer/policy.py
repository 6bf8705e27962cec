"""The alert policy a bundle carries: per-class thresholds chosen on validation, evidence floors, confirmation.

Why after quantization: the thresholds are set on what the agent will run, the int8 bundle scored by
the agent's own :class:`agent.scorer.Scorer` (evidence floors applied), on VALIDATION windows only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from trainer.config import ThresholdConfig, TrainerConfig

log = logging.getLogger(__name__)


def choose_thresholds(proba: np.ndarray, y: np.ndarray, classes: list[str], cfg: ThresholdConfig) -> dict[str, float]:
    """Per-class alert thresholds from validation windows (class 0 is benign).

    With method ``validation``, a class's threshold sits just above the highest probability any benign
    validation window gave it (so no benign validation window alerts), at least ``floor`` and at most
    ``ceiling`` (so a class the model confuses with benign traffic can still alert when it is sure).
    """
    if cfg.method == "fixed":
        return {c: cfg.fixed for c in classes[1:]}
    benign = proba[y == 0]
    out = {}
    for i, c in enumerate(classes):
        if i == 0:
            continue
        top = float(benign[:, i].max()) if len(benign) else 0.0
        out[c] = round(float(min(cfg.ceiling, max(cfg.floor, top + cfg.margin))), 3)
    return out


def set_thresholds(bundle_dir: Path, x_val: np.ndarray, y_val: np.ndarray, cfg: TrainerConfig) -> dict[str, float]:
    """Score validation with the written bundle through the agent's scorer, write its thresholds back."""
    from agent.bundle import load_bundle, write_bundle
    from agent.scorer import Scorer

    bundle = load_bundle(bundle_dir)
    manifest = bundle.manifest
    if cfg.thresholds.method == "fixed":  # prepare() wrote them
        return manifest.thresholds
    proba = Scorer(bundle).predict_proba(x_val)
    manifest.thresholds = choose_thresholds(proba, y_val, manifest.classes, cfg.thresholds)
    write_bundle(bundle_dir, manifest, bundle.model_bytes)
    log.info("%s: thresholds %s", manifest.name, manifest.thresholds)
    return manifest.thresholds
