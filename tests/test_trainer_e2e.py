"""End to end on small data: load, split, SMOTE, train, quantize int8, evaluate, load in the agent.

The round trip: the agent (agent.bundle + agent.preprocess + agent.scorer, on LiteRT) scores the
raw test rows and must predict exactly what the trainer's own evaluation of the same bundle
(TensorFlow's interpreter on the trainer's arrays) predicted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.trainer_data import write_edge_csv

pytest.importorskip("tensorflow")

# Tiny model (2 cores shared), every block of the paper's architecture on, attention included: the
# int8 gate is measured with LiteRT, the agent's runtime (see trainer.model.litert_interpreter).
SMALL = [
    "model.filters=8", "model.res_blocks=1", "model.gru_units=8", "model.heads=2", "model.key_dim=8",
    "model.dense_units=[16]", "model.dropout=0.0", "model.use_attention=true", "train.batch_size=32",
    "train.learning_rate=0.01", "train.verbose=0", "quantize.representative_samples=100",
]


@pytest.mark.train
@pytest.mark.slow
def test_train_quantize_round_trip(tmp_path: Path) -> None:
    from agent.bundle import load_bundle
    from agent.preprocess import Preprocessor
    from agent.scorer import Scorer
    from trainer.config import load_trainer_config
    from trainer.data import load_dataset
    from trainer.pipeline import train_run

    data = write_edge_csv(tmp_path / "edge.csv", 800)
    cfg = load_trainer_config(None, [*SMALL, "quantize.calibration_sets=2"])
    run = tmp_path / "run"
    report = train_run("edge-iiotset", str(data), run, cfg, epochs=8)
    # two calibration draws, compared on validation; the bundle below holds the one chosen
    cal = report["calibration_sets"]
    assert len(cal["validation"]) == 2
    assert cal["chosen"] == max((0, 1), key=lambda j: (cal["validation"][j]["f1_macro"],
                                                       cal["validation"][j]["agreement"]))
    with np.load(run / "arrays.npz") as arrays:
        assert not np.array_equal(arrays["x_rep"], arrays["x_rep_1"])
    for key in ("accuracy", "loss", "f1_macro", "f1_weighted", "precision_macro", "recall_macro", "per_class",
                "confusion_matrix", "classes", "latency_us_per_instance", "int8_agreement", "model_size_bytes"):
        assert key in report
    assert set(report["latency_us_per_instance"]) == {"keras", "tflite_float", "tflite_int8"}
    assert report["int8_agreement"] >= 0.99
    assert report["float"]["accuracy"] > 0.9  # a trained model, so agreement is not that of a constant
    assert (run / "report.md").is_file() and (run / "confusion_matrix.png").is_file() and (run / "curves.png").is_file()
    assert json.loads((run / "report.json").read_text())["n"] == report["n"]

    bundle = load_bundle(run / "bundle", feature_kind="edge-iiotset")
    assert bundle.manifest.quantization.mode == "int8"
    # Rebuild the raw test rows exactly as the trainer split them, then score them the agent's way.
    ds = load_dataset("edge-iiotset", str(data), cfg.data)
    from trainer.prep import split_indices

    test_rows = split_indices(ds.labels, cfg).test
    raw = ds.frame.iloc[test_rows]
    scorer = Scorer(bundle)
    pre = Preprocessor.from_manifest(bundle.manifest)
    agent_pred = scorer.predict(pre.to_model_input(pre.transform(raw)))
    trainer_pred = np.load(run / "test_predictions.npy")
    np.testing.assert_array_equal(agent_pred, trainer_pred)
    # batch-1 path agrees with the batched path
    one = np.array([scorer.predict(pre.to_model_input(pre.transform(raw.iloc[i : i + 1])))[0] for i in range(5)])
    np.testing.assert_array_equal(one, agent_pred[:5])

    # evaluate command on the same file through the agent's code path
    from trainer.cli import main

    assert main(["evaluate", "--bundle", str(run / "bundle"), "--data", str(data),
                 "--report", str(tmp_path / "eval" / "r.json")]) == 0
    ev = json.loads((tmp_path / "eval" / "r.json").read_text())
    assert ev["classes"] == bundle.manifest.classes


@pytest.mark.train
@pytest.mark.slow
def test_gate_fails_loudly(tmp_path: Path) -> None:
    from trainer.config import load_trainer_config
    from trainer.pipeline import QuantizationGateError, train_run

    data = write_edge_csv(tmp_path / "edge.csv", 200)
    cfg = load_trainer_config(None, [*SMALL, "quantize.min_agreement=1.01"])
    with pytest.raises(QuantizationGateError, match="agrees with float"):
        train_run("edge-iiotset", str(data), tmp_path / "run", cfg, epochs=1)
    assert not (tmp_path / "run" / "bundle").exists()
