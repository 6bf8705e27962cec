"""The bundle contract: verified load, refusal of tampered/incompatible bundles, shared preprocessing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from agent.bundle import ColumnSpec, Manifest, Preprocessing, load_bundle, write_bundle
from agent.errors import BundleError
from agent.preprocess import Preprocessor, canonical_str


def _manifest() -> Manifest:
    return Manifest(
        name="t", dataset="edge-iiotset", feature_kind="edge-iiotset", features=["a", "b"],
        preprocessing=Preprocessing([ColumnSpec("a", "numeric", 1.0, 2.0),
                                     ColumnSpec("b", "onehot", vocabulary=["0", "24", "GET"])]),
        input_layout="record", input_shape=[4, 1], classes=["Normal", "X"], benign_class="Normal",
        row_columns=["z", "a", "b"], thresholds={"X": 0.5})


def test_write_and_load_round_trip(tmp_path: Path) -> None:
    b = write_bundle(tmp_path / "b", _manifest(), b"model-bytes")
    again = load_bundle(tmp_path / "b", feature_kind="edge-iiotset")
    assert again.manifest == b.manifest and again.model_bytes == b"model-bytes"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left behind


def test_written_bundle_is_readable_by_other_users(tmp_path: Path) -> None:
    """The systemd unit runs the agent as its own user: a bundle must not keep mkdtemp's 0700."""
    mask = os.umask(0o022)
    try:
        write_bundle(tmp_path / "b", _manifest(), b"model-bytes")
    finally:
        os.umask(mask)
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o755
    for name in ("model.tflite", "manifest.json"):
        assert (tmp_path / "b" / name).stat().st_mode & 0o777 == 0o644


def test_tampered_model_refused(tmp_path: Path) -> None:
    write_bundle(tmp_path / "b", _manifest(), b"model-bytes")
    (tmp_path / "b" / "model.tflite").write_bytes(b"model-bytez")
    with pytest.raises(BundleError, match=r"model\.tflite: sha256 .* does not match"):
        load_bundle(tmp_path / "b")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(schema_version=99), "schema_version 99"),
        (lambda d: d.update(feature_kind="nope"), "feature_kind"),
        (lambda d: d.update(benign_class="Y"), "benign_class"),
        (lambda d: d.update(surprise=1), "surprise: unknown key"),
        (lambda d: d.update(input_shape=[5, 1]), "input_shape"),
    ],
)
def test_incompatible_manifest_refused(tmp_path: Path, edit, message: str) -> None:
    write_bundle(tmp_path / "b", _manifest(), b"m")
    path = tmp_path / "b" / "manifest.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match=message) as err:
        load_bundle(tmp_path / "b")
    assert "manifest.json" in str(err.value)


def test_wrong_feature_kind_refused(tmp_path: Path) -> None:
    write_bundle(tmp_path / "b", _manifest(), b"m")
    with pytest.raises(BundleError, match=r"features\.kind=.ciciov2024."):
        load_bundle(tmp_path / "b", feature_kind="ciciov2024")


def test_invalid_json_names_line(tmp_path: Path) -> None:
    write_bundle(tmp_path / "b", _manifest(), b"m")
    (tmp_path / "b" / "manifest.json").write_text('{\n  "name": \n}')
    with pytest.raises(BundleError, match="line 3"):
        load_bundle(tmp_path / "b")


def test_preprocessor_encodings() -> None:
    p = Preprocessor.from_manifest(_manifest())
    x = p.transform([[0, "3", " 24.0"], [1, "0x10", "GET"], [2, "", None], [3, "true", "POST"]])
    expected = np.array([[1, 0, 1, 0], [7.5, 0, 0, 1], [-0.5, 1, 0, 0], [0, 0, 0, 0]], dtype=np.float32)
    np.testing.assert_allclose(x, expected)
    assert p.stats["unknown_category"] == 1
    # dict rows and column mappings give the same numbers as list rows
    d = p.transform([{"a": "3", "b": "0x18"}])
    np.testing.assert_allclose(d, [[1, 0, 1, 0]])
    np.testing.assert_allclose(p.transform({"a": np.array([3.0]), "b": np.array([24.0])}), d)
    assert p.to_model_input(x).shape == (4, 4, 1)


@pytest.mark.parametrize(("raw", "key"), [("24.0", "24"), (" 0x18 ", "24"), (24.0, "24"), ("", "0"), (None, "0"),
                                          (float("nan"), "0"), ("True", "1"), ("a,b", "a"), ("GET ", "GET")])
def test_canonical_str(raw, key: str) -> None:
    assert canonical_str(raw) == key


@pytest.mark.train
def test_scorer_tensorflow_fallback_matches_litert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With only TensorFlow installed the scorer still loads (its real module path) and, without
    TensorFlow's default delegates, gives LiteRT's int8 answers for a model with attention. The two
    runtimes' kernels round intermediate tensors differently, and an unrolled GRU plus attention
    carries those one-step differences to the output: over seeds 0-7 the largest gap was 1-3 output
    steps with a mean under 0.4 step. So the bound is 4 steps at most and half a step on average,
    on a seeded model; a wrong scale, zero point or delegate gives gaps of tens of steps."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("ai_edge_litert")
    import agent.scorer as scorer_mod
    from agent.bundle import Quantization
    from trainer.config import ModelConfig
    from trainer.model import TFLiteRunner, build_model, set_seeds, to_tflite

    set_seeds(0)
    model = build_model((16, 1), 3, ModelConfig(filters=8, gru_units=8, key_dim=8, heads=2))
    x = np.random.default_rng(0).normal(size=(64, 16, 1)).astype(np.float32)
    q = to_tflite(model, "int8", x)
    manifest = Manifest(
        name="t", dataset="edge-iiotset", feature_kind="edge-iiotset", features=[f"f{i}" for i in range(16)],
        preprocessing=Preprocessing([ColumnSpec(f"f{i}", "numeric") for i in range(16)]), input_layout="record",
        input_shape=[16, 1], classes=["Normal", "A", "B"], benign_class="Normal",
        quantization=Quantization(mode="int8", **TFLiteRunner(q).quant_params()))  # type: ignore[arg-type]
    bundle = write_bundle(tmp_path / "b", manifest, q)
    litert = scorer_mod.Scorer(load_bundle(bundle.path)).predict_proba(x)
    monkeypatch.setattr(scorer_mod, "_CANDIDATES", scorer_mod._CANDIDATES[-1:])
    fallback = scorer_mod.Scorer(load_bundle(bundle.path))
    assert fallback.runtime.startswith("tensorflow")
    gap_steps = np.abs(fallback.predict_proba(x) - litert) / manifest.quantization.output_scale
    assert gap_steps.max() <= 4 + 1e-3
    assert gap_steps.mean() <= 0.5
