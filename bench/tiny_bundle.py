"""A small real int8 bundle for tests and benchmarks, without waiting for the default models.

Builds a tiny Keras model over a feature kind's columns (window layout), fits it for a moment on
synthetic rows (label: an "attack" when a chosen feature is high), converts it to a full-integer
int8 TFLite model and writes a bundle with :func:`agent.bundle.write_bundle`. Needs TensorFlow
(the ``train`` extra); the agent itself never imports it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from agent.bundle import ColumnSpec, Manifest, Preprocessing, Quantization, Window, write_bundle


def make_bundle(
    out_dir: str | os.PathLike[str],
    feature_kind: str,
    dataset: str,
    columns: list[str],
    window: int = 8,
    stride: int = 8,
    key: str = "global",
    trigger: str | None = None,
) -> Path:
    """Write a window-layout int8 bundle for ``columns`` to ``out_dir``; returns its path.

    :param trigger: the column whose high value the model learns as "Attack" (default: the first).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    n_feat = len(columns)
    t_idx = columns.index(trigger) if trigger else 0
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2048, window, n_feat)).astype(np.float32)
    y = (x[:, :, t_idx].mean(axis=1) > 0.3).astype(np.int64)
    model = tf.keras.Sequential([
        tf.keras.layers.Input((window, n_feat)),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=128, verbose=0)

    def representative():  # type: ignore[no-untyped-def]
        for i in range(0, 256, 16):
            yield [x[i : i + 1]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    tflite = conv.convert()
    from trainer.model import litert_interpreter  # the agent's runtime; tf.lite.Interpreter is deprecated

    interp = litert_interpreter(tflite)
    i_s, i_z = interp.get_input_details()[0]["quantization"]
    o_s, o_z = interp.get_output_details()[0]["quantization"]
    manifest = Manifest(
        name=f"tiny-{feature_kind}",
        dataset=dataset,
        feature_kind=feature_kind,
        features=list(columns),
        row_columns=list(columns),
        preprocessing=Preprocessing([ColumnSpec(c, "numeric", 0.0, 1.0) for c in columns]),
        input_layout="window",
        input_shape=[window, n_feat],
        window=Window(window, stride, key),  # type: ignore[arg-type]
        classes=["Benign", "Attack"],
        benign_class="Benign",
        thresholds={"Attack": 0.5},
        quantization=Quantization("int8", "int8", float(i_s), int(i_z), "int8", float(o_s), int(o_z)),
    )
    write_bundle(out_dir, manifest, tflite)
    return Path(out_dir)


def columns_of(feature_kind: str) -> list[str]:
    """The row columns of a registered feature kind (what its extractor emits)."""
    from agent.features import FEATURE_KINDS

    return list(FEATURE_KINDS.load(feature_kind).columns)


def default_or_tiny_bundle(name: str, tmp: Path, feature_kind: str, window: int, stride: int, key: str
                           ) -> tuple[Path, Any]:
    """The shipped ``models/<name>`` when built, else a tiny bundle in ``tmp``; with the agent config
    the replay benchmarks score it under (the bundle's own feature kind, no MQTT, batches of 256)."""
    import json

    from agent.config import load_config

    lab = Path(__file__).resolve().parent.parent / "models" / name
    bundle = lab if (lab / "manifest.json").is_file() else ensure_bundle(tmp / "bundle", feature_kind, window,
                                                                         stride, key)
    kind = json.loads((bundle / "manifest.json").read_text())["feature_kind"]
    cfg = load_config(None, [f"state_dir={tmp}", f"features.kind={kind}", f"model.bundle={bundle}",
                             "mqtt.enabled=false", "model.batch_size=256", "logging.level=WARNING"])
    return bundle, cfg


def ensure_bundle(out_dir: Path, feature_kind: str, window: int = 8, stride: int = 8, key: str = "global") -> Path:
    """Build the bundle in a child process (so TensorFlow never enters the measured process)."""
    import subprocess
    import sys

    if (out_dir / "manifest.json").is_file():
        return out_dir
    subprocess.run(
        [sys.executable, __file__, str(out_dir), feature_kind, str(window), str(stride), key],
        check=True,
    )
    return out_dir


if __name__ == "__main__":
    import sys

    out, kind, w, s, k = sys.argv[1:6]
    dataset = "ciciov2024" if kind in ("ciciov2024", "can-temporal") else "edge-iiotset"
    cols = columns_of(kind)
    make_bundle(out, kind, dataset, cols, int(w), int(s), k, trigger=cols[-1])
