"""Train and evaluate one protocol: the trainer's own preparation, fit and int8 conversion.

Why one function for every protocol: the protocols differ only in which rows train and which test;
the model, SMOTE, quantization and figures must be the same code, or the comparison says nothing.
The int8 model is written as a bundle and scored through :class:`agent.scorer.Scorer`, as the agent
runs it; the float model runs under the same LiteRT runtime (:class:`trainer.model.TFLiteRunner`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainer.config import TrainerConfig
from trainer.data import Dataset
from trainer.prep import Prepared, Split
from trainer.reproduce.progress import Progress


@dataclass(frozen=True)
class Budget:
    """How much of the data each model sees: the run's one lever on time (stated in the report)."""

    per_class: int            #: training rows drawn per class before SMOTE (SMOTE fills classes up to it)
    val_per_class: int        #: validation rows per class (early stopping, learning curves)
    epochs: int               #: most epochs of the paper's protocol and the honest ones
    variant_epochs: int       #: most epochs of each Table III variant
    loo_epochs: int           #: most epochs of each leave-one-class-out model
    windows_per_class: int    #: training windows per class (the agent's view)
    test_per_class: int | None  #: cap on test rows per class (None: every test row)
    latency_s: float          #: time budget of each latency measurement
    max_logs: int | None      #: most vehicle logs replayed (None: all)
    patience: int = 3         #: early stopping on validation loss, best weights restored


FULL = Budget(per_class=10_000, val_per_class=1_000, epochs=6, variant_epochs=4, loo_epochs=3,
              windows_per_class=4_000, test_per_class=None, latency_s=1.0, max_logs=None, patience=2)
QUICK = Budget(per_class=300, val_per_class=60, epochs=2, variant_epochs=1, loo_epochs=1, windows_per_class=60,
               test_per_class=400, latency_s=0.05, max_logs=1, patience=1)


def subset(ds: Dataset, mask: np.ndarray) -> Dataset:
    """The rows of ``ds`` where ``mask`` holds (labels, groups and frame together)."""
    return dataclasses.replace(ds, frame=ds.frame[mask].reset_index(drop=True), labels=ds.labels[mask],
                               groups=None if ds.groups is None else ds.groups[mask])


@dataclass
class Trained:
    """A fitted protocol: its preparation, history, float and int8 runners, and figures."""

    prep: Prepared
    history: dict[str, list[float]]
    float_runner: Any
    scorer: Any
    result: dict[str, Any]

    def score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Float and int8 class probabilities of model inputs ``x``."""
        return self.float_runner.predict_proba(x), self.scorer.predict_proba(x)


def train_and_evaluate(name: str, ds: Dataset, split: Split, cfg: TrainerConfig, epochs: int, work: Path,
                       progress: Progress, latency_s: float) -> Trained:
    """Prepare (fit on train, SMOTE on train), fit, convert, score the test partition float and int8."""
    from trainer import __version__
    from trainer.pipeline import fit

    prep = prepare_split(ds, cfg, name, split, __version__)
    progress.note(f"{name}: training on {len(prep.y_train)} rows "
                  f"({len(prep.y_train_presmote) if prep.y_train_presmote is not None else len(prep.y_train)} "
                  f"before SMOTE), validation {len(prep.y_val)}, test {len(prep.y_test)}")
    model, history = fit(prep, cfg, epochs, [progress.keras_callback(name, epochs, 1.0)])
    done = len(history.get("loss", []))
    if done < epochs:
        progress.advance(epochs - done, f"{name}: early stop after {done} epochs")
    trained = convert(name, model, prep, cfg, work, history, latency_s)
    progress.advance(1.0, f"{name}: test accuracy float {trained.result['float']['accuracy']:.4f}, "
                          f"int8 {trained.result['int8']['accuracy']:.4f}")
    return trained


def prepare_split(ds: Dataset, cfg: TrainerConfig, name: str, split: Split, version: str) -> Prepared:
    """:func:`trainer.prep.prepare` on a caller's split (one preparation for every protocol)."""
    from trainer.prep import prepare

    return prepare(ds, cfg, f"reproduce-{name}", version, split)


def convert(name: str, model: Any, prep: Prepared, cfg: TrainerConfig, work: Path, history: dict[str, list[float]],
            latency_s: float) -> Trained:
    """Float and int8 LiteRT models, the int8 one as a bundle; figures on the test partition."""
    from agent.bundle import Quantization, write_bundle
    from agent.scorer import Scorer
    from trainer.model import TFLiteRunner, time_per_instance, to_tflite
    from trainer.pipeline import representative
    from trainer.report import metrics

    x_cal = prep.x_train_presmote if prep.x_train_presmote is not None else prep.x_train
    y_cal = prep.y_train_presmote if prep.y_train_presmote is not None else prep.y_train
    rep = representative(x_cal, cfg.quantize.representative_samples, cfg.train.seed, y_cal)
    float_runner = TFLiteRunner(to_tflite(model, "float32"))
    q_bytes = to_tflite(model, "int8", rep)
    prep.manifest.quantization = Quantization(mode="int8", **TFLiteRunner(q_bytes).quant_params())
    bundle = write_bundle(work / name / "bundle", prep.manifest, q_bytes)
    scorer = Scorer(bundle)
    x, y = prep.x_test, prep.y_test
    pf, pq = float_runner.predict_proba(x), scorer.predict_proba(x)
    sample = x[:2048]
    latency = {
        "tflite_float": {"batch1": time_per_instance(float_runner.predict_proba, sample[:128], 1, latency_s),
                         "batched": time_per_instance(float_runner.predict_proba, sample, 256, latency_s)},
        "tflite_int8": {"batch1": time_per_instance(scorer.predict_proba, sample[:128], 1, latency_s),
                        "batched": time_per_instance(scorer.predict_proba, sample, 256, latency_s)},
    }
    result: dict[str, Any] = {
        "protocol": name,
        "train_rows": len(prep.y_train),
        "train_rows_before_smote": len(prep.y_train_presmote) if prep.y_train_presmote is not None else None,
        "val_rows": len(prep.y_val), "smote": prep.smote, "epochs_run": len(history.get("loss", [])),
        "parameters": int(model.count_params()),
        "float": metrics(y, pf, prep.classes), "int8": metrics(y, pq, prep.classes),
        "int8_agreement": float((pf.argmax(1) == pq.argmax(1)).mean()) if len(y) else float("nan"),
        "latency_us_per_instance": latency, "model_size_bytes": len(q_bytes), "history": history,
    }
    return Trained(prep, history, float_runner, scorer, result)
