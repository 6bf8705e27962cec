"""Train, evaluate once on test, quantize, write bundles: the steps behind the commands.

Run directory layout (``train --out RUN_DIR``)::

    config.json         the validated trainer config
    data_report.json    what the loader read and dropped, class counts, split sizes, SMOTE counts
    model.keras         the trained Keras model (full precision; never shipped to gateways)
    arrays.npz          val/test inputs and labels and the representative set (no pickles)
    manifest.json       the manifest of the float model, before quantization
    curves.png          training curves
    report.json/.md     final test evaluation (+ confusion_matrix.png)
    bundle/             the int8 bundle for the agent (model.tflite + manifest.json)
    test_predictions.npy  the int8 bundle's predicted class index per test input
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from agent.bundle import MANIFEST_FILE, Bundle, Quantization, parse_manifest, write_bundle
from agent.config import to_dict
from agent.errors import EdgeIdsError
from trainer import __version__
from trainer.config import TrainerConfig
from trainer.data import Dataset, load_dataset, summary
from trainer.policy import set_thresholds
from trainer.prep import Prepared, prepare
from trainer.report import dedup_mask, metrics, plot_curves, write_report

log = logging.getLogger(__name__)


class QuantizationGateError(EdgeIdsError):
    """The quantized model disagrees with the float model beyond the configured tolerance."""


def fit(prep: Prepared, cfg: TrainerConfig, epochs: int | None = None,
        callbacks: list[Any] | None = None) -> tuple[Any, dict[str, list[float]]]:
    """Train with early stopping on validation; returns the model (best weights) and its history.

    :param callbacks: further Keras callbacks (progress reporting).
    """
    import keras

    from trainer.model import build_model, set_seeds

    set_seeds(cfg.train.seed)
    if cfg.train.deterministic:
        set_determinism()
    model = build_model(tuple(prep.x_train.shape[1:]), len(prep.classes), cfg.model, cfg.train.learning_rate)
    class_weight = None
    if cfg.train.class_weights:
        class_weight = class_weights(prep.y_train, len(prep.classes), cfg.train.class_weight_power)
    cb = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.train.patience, restore_best_weights=True),
          *(callbacks or [])]
    if cfg.train.reduce_lr_patience > 0:
        cb.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5,
                                                    patience=cfg.train.reduce_lr_patience))
    hist = model.fit(prep.x_train, prep.y_train, validation_data=(prep.x_val, prep.y_val),
                     epochs=epochs or cfg.train.epochs, batch_size=cfg.train.batch_size, class_weight=class_weight,
                     callbacks=cb, verbose=cfg.train.verbose, shuffle=True)
    return model, {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def class_weights(y: np.ndarray, n_classes: int, power: float) -> dict[int, float]:
    """``(inverse class frequency) ** power``, normalised to a mean weight of 1 per training example.

    Why a power: full inverse weighting (1) makes the model eager to call rare attack classes, which
    is what produces false alerts on unfamiliar benign traffic; none lets rare classes vanish.
    """
    counts = np.bincount(y, minlength=n_classes).astype(float)
    w = (counts.sum() / np.maximum(counts, 1)) ** power
    w = w / w[y].mean()
    return {i: float(v) for i, v in enumerate(w)}


def set_determinism() -> None:
    """TensorFlow op determinism (cheap at the lab's model sizes), so a re-run lands on the same figures."""
    import tensorflow as tf

    try:
        tf.config.experimental.enable_op_determinism()
    except (AttributeError, RuntimeError) as exc:  # older TF, or already initialised
        log.warning("op determinism not enabled: %s", exc)


def representative(x_train: np.ndarray, n: int, seed: int, y_train: np.ndarray | None = None) -> np.ndarray:
    """Calibration rows drawn from the training partition before SMOTE (never validation or test).

    Stratified when labels are given: up to ``n / classes`` rows of every class, the rest filled at
    random, so that a rare attack class (0.1% of Edge-IIoTset) still sets the int8 ranges of the
    activations it drives; SMOTE's synthetic rows are not used since the agent never sees them.
    """
    rng = np.random.default_rng(seed)
    n = min(n, len(x_train))
    if y_train is None or len(y_train) != len(x_train):
        return x_train[np.sort(rng.choice(len(x_train), size=n, replace=False))]
    classes = np.unique(y_train)
    per = max(1, n // max(1, len(classes)))
    take: list[int] = []
    for c in classes:
        idx = np.flatnonzero(y_train == c)
        take += rng.choice(idx, size=min(per, len(idx)), replace=False).tolist()
    rest = np.setdiff1d(np.arange(len(x_train)), take)
    if len(take) < n and len(rest):
        take += rng.choice(rest, size=min(n - len(take), len(rest)), replace=False).tolist()
    return x_train[np.sort(np.asarray(take[:n], dtype=np.int64))]


def representative_sets(x_train: np.ndarray, n: int, seed: int, y_train: np.ndarray | None,
                        sets: int) -> dict[str, Any]:
    """``sets`` calibration sets (:func:`representative` with seeds ``seed``, ``seed + 1``, ...) as the
    arrays a run stores: ``x_rep``, ``x_rep_1``, ... (see :func:`quantize_run`)."""
    return {("x_rep" if i == 0 else f"x_rep_{i}"): representative(x_train, n, seed + i, y_train)
            for i in range(max(1, sets))}


def calibration_sets(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """A run's calibration sets in order (``x_rep``, ``x_rep_1``, ...)."""
    out = [arrays["x_rep"]]
    while f"x_rep_{len(out)}" in arrays:
        out.append(arrays[f"x_rep_{len(out)}"])
    return out


def train_run(dataset: str, data: str, out: str | Path, cfg: TrainerConfig, epochs: int | None = None,
              name: str | None = None, quantize: bool = True) -> dict[str, Any]:
    """Load -> split -> fit on train -> SMOTE train -> train -> quantize -> evaluate on test once."""
    return train_dataset(load_dataset(dataset, data, cfg.data), out, cfg, epochs,
                         name or f"{dataset}-{cfg.model.layout}", quantize)


def train_dataset(ds: Dataset, out: str | Path, cfg: TrainerConfig, epochs: int | None = None, name: str = "model",
                  quantize: bool = True, bundle: Path | None = None) -> dict[str, Any]:
    """:func:`train_run` on rows already loaded (``make models`` extracts its lab captures' rows in memory);
    the bundle goes to ``bundle`` (default ``<out>/bundle``) with its thresholds set on validation."""
    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps(to_dict(cfg), indent=2) + "\n", encoding="utf-8")
    prep = prepare(ds, cfg, name, __version__)
    info = summary(ds)
    info["split"] = {k: len(getattr(prep.split, k)) for k in ("train", "val", "test")}
    info["smote"] = prep.smote
    (run / "data_report.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    model, history = fit(prep, cfg, epochs)
    plot_curves(history, run / "curves.png")
    model.save(run / "model.keras")
    x_cal, y_cal = prep.x_train, prep.y_train  # calibrate on real rows: before SMOTE where it ran
    if prep.x_train_presmote is not None and prep.y_train_presmote is not None:
        x_cal, y_cal = prep.x_train_presmote, prep.y_train_presmote
    reps = representative_sets(x_cal, cfg.quantize.representative_samples, cfg.train.seed, y_cal,
                               cfg.quantize.calibration_sets)
    np.savez_compressed(run / "arrays.npz", x_val=prep.x_val, y_val=prep.y_val, x_test=prep.x_test,
                        y_test=prep.y_test, **reps)
    prep.manifest.metrics = {"history_epochs": len(history.get("loss", []))}
    (run / MANIFEST_FILE).write_text(prep.manifest.to_json(), encoding="utf-8")
    if not quantize:
        return {}
    bundle = bundle or run / "bundle"
    report = quantize_run(run, "int8", bundle, cfg, model=model)
    set_thresholds(bundle, prep.x_val, prep.y_val, cfg)
    return report


def load_run(run: Path) -> tuple[Any, dict[str, np.ndarray], Any]:
    import keras

    if not (run / "model.keras").is_file():
        raise EdgeIdsError(f"{run}: not a run directory (no model.keras); create one with edge-ids-trainer train")
    model = keras.models.load_model(run / "model.keras")
    with np.load(run / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    manifest = parse_manifest(json.loads((run / MANIFEST_FILE).read_text(encoding="utf-8")), str(run / MANIFEST_FILE))
    return model, arrays, manifest


def _calibrated(model: Any, mode: str, arrays: dict[str, np.ndarray], float_runner: Any,
                classes: list[str]) -> tuple[bytes, dict[str, Any]]:
    """The quantized model from the run's calibration set whose model tracks float best on VALIDATION
    (highest macro-F1, then agreement with float), and each candidate's figures (empty with one set).

    Why choose: post-training quantization fixes every activation range from the calibration rows, and
    which training rows those are moves near-tie windows of rare classes either way (one flipped
    window of a class with a few dozen test windows costs several macro-F1 points). Choosing among a
    few draws on validation, never on test, keeps the test partition a gate and nothing else.
    """
    from trainer.model import TFLiteRunner, to_tflite

    sets = calibration_sets(arrays)
    x_val, y_val = arrays.get("x_val"), arrays.get("y_val")
    if len(sets) == 1 or x_val is None or y_val is None or not len(x_val):
        return to_tflite(model, mode, sets[0]), {}
    float_pred = float_runner.predict_proba(x_val).argmax(1)
    models, table = [], []
    for i, rep in enumerate(sets):
        q_bytes = to_tflite(model, mode, rep)
        proba = TFLiteRunner(q_bytes).predict_proba(x_val)
        row = {"f1_macro": metrics(y_val, proba, classes)["f1_macro"],
               "agreement": float((proba.argmax(1) == float_pred).mean())}
        log.info("calibration set %d: validation macro-F1 %.4f, agreement with float %.4f", i, row["f1_macro"],
                 row["agreement"])
        models.append(q_bytes)
        table.append(row)
    chosen = max(range(len(table)), key=lambda j: (table[j]["f1_macro"], table[j]["agreement"]))
    return models[chosen], {"validation": table, "chosen": chosen}


def quantize_run(run: Path, mode: str, out: Path, cfg: TrainerConfig, model: Any = None) -> dict[str, Any]:
    """Convert the run's model, gate it against float on the test set, write the bundle and the report.

    This is the single place the test partition is scored; it raises :class:`QuantizationGateError`
    (after writing the report, so the numbers can be inspected) when the gate fails.
    """
    from trainer.model import TFLiteRunner, time_per_instance, to_tflite

    run = Path(run)
    loaded_model, arrays, manifest = load_run(run)
    model = model or loaded_model
    x_test, y_test = arrays["x_test"], arrays["y_test"]
    classes = manifest.classes
    keras_proba = model.predict(x_test, batch_size=256, verbose=0)
    float_bytes = to_tflite(model, "float32")
    float_runner = TFLiteRunner(float_bytes)
    q_bytes, calibration = ((float_bytes, {}) if mode == "float32"
                            else _calibrated(model, mode, arrays, float_runner, classes))
    q_runner = TFLiteRunner(q_bytes)
    float_proba = float_runner.predict_proba(x_test)
    q_proba = q_runner.predict_proba(x_test)
    report = metrics(y_test, q_proba, classes)
    float_metrics = metrics(y_test, float_proba, classes)
    agreement = float((q_proba.argmax(1) == float_proba.argmax(1)).mean()) if len(x_test) else float("nan")
    sample = x_test[:512]
    keras_fn = model.predict_on_batch
    report["latency_us_per_instance"] = {
        "keras": {"batch1": time_per_instance(keras_fn, sample[:64], 1, 1.0),
                  "batched": time_per_instance(keras_fn, sample, 256, 1.0)},
        "tflite_float": {"batch1": time_per_instance(float_runner.predict_proba, sample[:128], 1, 1.0),
                         "batched": time_per_instance(float_runner.predict_proba, sample, 256, 1.0)},
        f"tflite_{mode}": {"batch1": time_per_instance(q_runner.predict_proba, sample[:128], 1, 1.0),
                           "batched": time_per_instance(q_runner.predict_proba, sample, 256, 1.0)},
    }
    report["quantization_mode"] = mode
    if calibration:
        report["calibration_sets"] = calibration
    report[f"{mode}_agreement" if mode != "int8" else "int8_agreement"] = agreement
    report["float"] = {k: float_metrics[k] for k in ("accuracy", "loss", "f1_macro")}
    report["keras_accuracy"] = float((keras_proba.argmax(1) == y_test).mean()) if len(y_test) else float("nan")
    report["model_size_bytes"] = len(q_bytes)
    report["model_size_float_bytes"] = len(float_bytes)
    if manifest.dataset == "ciciov2024" and len(x_test):
        mask = dedup_mask(x_test)
        report["dedup"] = {k: v for k, v in metrics(y_test[mask], q_proba[mask], classes).items()}
    f1_drop = float_metrics["f1_macro"] - report["f1_macro"]
    report["f1_macro_drop"] = f1_drop
    qp = q_runner.quant_params()
    manifest.quantization = Quantization(mode=mode if mode != "float32" else "float32", **qp)  # type: ignore[arg-type]
    manifest.metrics = {k: report[k] for k in ("accuracy", "loss", "f1_macro", "f1_weighted", "precision_macro",
                                               "recall_macro", "n")}
    manifest.metrics["int8_agreement" if mode == "int8" else f"{mode}_agreement"] = agreement
    write_report(report, run / "report.json", f"{manifest.name}: test set ({mode})")
    gate = cfg.quantize
    if mode in ("int8", "dynamic", "float16") and len(x_test) and (
            agreement < gate.min_agreement or f1_drop > gate.max_f1_drop):
        raise QuantizationGateError(
            f"{run / 'report.json'}: {mode} model agrees with float on {agreement:.2%} of test predictions "
            f"(need >= {gate.min_agreement:.0%}) or macro-F1 dropped {f1_drop * 100:.2f} points (max "
            f"{gate.max_f1_drop * 100:.2f}); no bundle written. Try more representative_samples or train longer"
        )
    bundle: Bundle = write_bundle(out, manifest, q_bytes)
    np.save(run / "test_predictions.npy", q_proba.argmax(1))
    log.info("bundle written to %s", bundle.path)
    return report
