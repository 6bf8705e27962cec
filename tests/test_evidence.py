"""Evidence floors: a class stands only in windows where some record reaches its floor, in every
layout, for every consumer of a bundle; bad floors are refused naming their key."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.bundle import ColumnSpec, Manifest, Preprocessing, Window, load_bundle, parse_manifest, to_dict
from agent.config import load_config
from agent.errors import BundleError
from agent.evidence import EvidenceGate, describe_floors, merged_floors
from agent.preprocess import Preprocessor

REPO = Path(__file__).resolve().parent.parent
CLASSES = ["Normal", "Flood", "Scan"]
#: 100 frames/s as ctx.dst_rate (log2(1 + r))
RATE_100 = math.log2(101)


def _manifest(layout: str = "window", evidence: dict[str, dict[str, float]] | None = None) -> Manifest:
    cols = [ColumnSpec("tcp.len", "numeric", 0.0, 100.0), ColumnSpec("ctx.dst_rate", "numeric", 5.0, 2.0),
            ColumnSpec("http.request.method", "onehot", vocabulary=["GET", "POST"])]
    return Manifest(
        name="t", dataset="edge-iiotset", feature_kind="edge-iiotset-context",
        features=[c.name for c in cols], preprocessing=Preprocessing(cols), input_layout=layout,  # type: ignore[arg-type]
        input_shape=[4, 4] if layout == "window" else [4, 1], classes=CLASSES, benign_class="Normal",
        window=Window(4 if layout == "window" else 1, 2), thresholds={"Flood": 0.5, "Scan": 0.5},
        evidence={"Flood": {"ctx.dst_rate": RATE_100}} if evidence is None else evidence)


def _windows(rates: list[list[float]]) -> tuple[np.ndarray, Preprocessor]:
    """Window-layout inputs whose records have these ctx.dst_rate values (raw), as the agent makes them."""
    pre = Preprocessor.from_manifest(_manifest())
    x = np.stack([pre.transform([{"tcp.len": 60, "ctx.dst_rate": r, "http.request.method": ""} for r in w])
                  for w in rates])
    return x, pre


def test_a_window_below_its_class_floor_counts_as_benign_for_that_class_only() -> None:
    """Only the floored class moves to benign, and only where no record reaches the floor; a record
    exactly at the floor passes; the other classes keep their probability; probabilities still sum to 1."""
    x, _ = _windows([[2.0, 3.0, 4.0, 5.0],          # 30 frames/s at most: no flood
                     [2.0, RATE_100, 1.0, 0.0],     # one record exactly at the floor
                     [9.0, 9.5, 10.0, 9.0]])        # ~1,000 frames/s
    probs = np.array([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1]], dtype=np.float32)
    gate = EvidenceGate(_manifest())
    out = gate.apply(x, probs.copy())
    assert out[0].tolist() == pytest.approx([0.9, 0.0, 0.1])
    assert out[1].tolist() == pytest.approx(probs[1].tolist())
    assert out[2].tolist() == pytest.approx(probs[2].tolist())
    assert out.sum(axis=1) == pytest.approx([1.0, 1.0, 1.0])
    assert gate.stats() == {"Flood": 1}


def test_a_veto_is_counted_only_where_the_class_was_the_models_answer() -> None:
    """A floored class that was not the top class loses its (small) probability uncounted: the counter
    says how many answers the floor changed."""
    x, _ = _windows([[1.0, 1.0, 1.0, 1.0]] * 2)
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], dtype=np.float32)
    gate = EvidenceGate(_manifest())
    out = gate.apply(x, probs.copy())
    assert out[:, 1].tolist() == [0.0, 0.0]
    assert out[1].argmax() == 2  # the scan still alerts
    assert gate.stats() == {"Flood": 0}


def test_the_record_layout_checks_its_one_record() -> None:
    m = _manifest("record")
    pre = Preprocessor.from_manifest(m)
    rows = [{"tcp.len": 0, "ctx.dst_rate": r, "http.request.method": "GET"} for r in (3.0, 8.0)]
    x = pre.to_model_input(pre.transform(rows))
    out = EvidenceGate(m).apply(x, np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32))
    assert out.tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def test_several_floors_of_one_class_must_all_be_reached() -> None:
    m = _manifest(evidence={"Flood": {"ctx.dst_rate": RATE_100, "tcp.len": 40.0}})
    x, _ = _windows([[9.0] * 4])  # tcp.len 60 and a fast rate: both reached
    probs = np.array([[0.0, 1.0, 0.0]], dtype=np.float32)
    assert EvidenceGate(m).apply(x, probs.copy())[0, 1] == 1.0
    m.evidence["Flood"]["tcp.len"] = 61.0
    assert EvidenceGate(m).apply(x, probs.copy())[0, 1] == 0.0


def test_config_floors_replace_the_bundles_per_class_and_an_empty_mapping_removes_them() -> None:
    m = _manifest(evidence={"Flood": {"ctx.dst_rate": RATE_100}, "Scan": {"tcp.len": 1.0}})
    assert merged_floors(m, {}) == {"Flood": [{"ctx.dst_rate": RATE_100}], "Scan": [{"tcp.len": 1.0}]}
    assert merged_floors(m, {"Flood": {"tcp.len": 10.0}}) == {"Flood": [{"tcp.len": 10.0}], "Scan": [{"tcp.len": 1.0}]}
    assert merged_floors(m, {"Flood": {}}) == {"Scan": [{"tcp.len": 1.0}]}
    assert merged_floors(m, {"Flood": [], "Scan": [{"tcp.len": 2.0}, {"ctx.dst_rate": 1.0}]}) == {
        "Scan": [{"tcp.len": 2.0}, {"ctx.dst_rate": 1.0}]}
    cfg = load_config(None, ["model.evidence={Flood: {}}"])
    assert not EvidenceGate(m, merged_floors(m, cfg.model.evidence)).floors.get("Flood")


def test_a_list_of_floor_sets_lets_a_window_stand_on_any_one_of_them() -> None:
    """Scan stands where a record reaches 100 frames/s, or where one has 50 payload bytes and another
    20 frames/s (both of the second set); a window meeting neither is benign for it."""
    m = _manifest(evidence={"Scan": [{"ctx.dst_rate": RATE_100}, {"tcp.len": 50.0, "ctx.dst_rate": 4.4}]})
    pre = Preprocessor.from_manifest(m)
    def window(lens: list[int], rates: list[float]) -> np.ndarray:
        return pre.transform([{"tcp.len": n, "ctx.dst_rate": r, "http.request.method": ""}
                              for n, r in zip(lens, rates, strict=True)])
    x = np.stack([window([0] * 4, [1.0, 7.0, 1.0, 1.0]),   # the first set
                  window([0, 60, 0, 0], [1.0, 1.0, 5.0, 1.0]),  # the second, from two records
                  window([0, 60, 0, 0], [1.0, 1.0, 4.0, 1.0]),  # the second's rate missed
                  window([0] * 4, [5.0] * 4)])                # the second's length missed
    probs = np.tile(np.array([[0.1, 0.1, 0.8]], dtype=np.float32), (4, 1))
    gate = EvidenceGate(m)
    out = gate.apply(x, probs.copy())
    assert out[:, 2].tolist() == pytest.approx([0.8, 0.8, 0.0, 0.0])
    assert gate.stats() == {"Scan": 2}
    # one set given as a list of one is the same floor as the set itself
    single = EvidenceGate(_manifest(evidence={"Flood": [{"ctx.dst_rate": RATE_100}]}))
    x2, _ = _windows([[2.0, 3.0, 4.0, 5.0], [9.0] * 4])
    p2 = np.array([[0.1, 0.8, 0.1]] * 2, dtype=np.float32)
    assert np.array_equal(single.apply(x2, p2.copy()), EvidenceGate(_manifest()).apply(x2, p2.copy()))


def test_floors_are_described_as_a_reader_says_them() -> None:
    assert describe_floors({"ctx.dst_rate": 6.658}) == "ctx.dst_rate >= 6.658"
    assert describe_floors([{"ctx.src_endpoints": 4.0}, {"tcp.connection.rst": 1.0, "tcp.len": 0.0}]) == (
        "ctx.src_endpoints >= 4, or tcp.connection.rst >= 1 and tcp.len >= 0")


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        ({"Ghost": {"ctx.dst_rate": 1.0}}, r"evidence\.Ghost: not a class of bundle 't'"),
        ({"Normal": {"ctx.dst_rate": 1.0}}, r"evidence\.Normal: the benign class cannot"),
        ({"Flood": {"ctx.nope": 1.0}}, r"evidence\.Flood\.ctx\.nope: not a numeric feature column"),
        ({"Flood": {"http.request.method": 1.0}}, r"evidence\.Flood\.http\.request\.method: not a numeric"),
        ({"Flood": {"ctx.dst_rate": math.inf}}, r"evidence\.Flood\.ctx\.dst_rate: must be a finite number"),
        ({"Flood": [{"tcp.len": 1.0}, {"ctx.nope": 1.0}]}, r"evidence\.Flood\[1\]\.ctx\.nope: not a numeric"),
        ({"Flood": [{"tcp.len": 1.0}, {}]}, r"evidence\.Flood\[1\]: an empty set of floors lets every window pass"),
    ],
)
def test_bad_floors_in_a_manifest_are_refused_naming_the_key(evidence: dict[str, Any],
                                                              message: str) -> None:
    data = to_dict(_manifest(evidence={}))
    data["evidence"] = evidence
    with pytest.raises(BundleError, match=r"^manifest\.json: " + message):
        parse_manifest(data, "manifest.json")


def test_a_floor_of_the_wrong_type_is_refused_naming_the_key() -> None:
    data = to_dict(_manifest(evidence={}))
    data["evidence"] = {"Flood": [{"tcp.len": "x"}]}
    with pytest.raises(BundleError, match=r"manifest\.json: evidence\.Flood: expected dict\[str, float\] \| list"):
        parse_manifest(data, "manifest.json")


def test_bad_floors_in_the_config_are_refused_at_start_naming_the_key(tmp_path: Path) -> None:
    from agent.runtime.counters import Counters
    from agent.runtime.pipeline import build_scoring

    cfg = load_config(None, ["model.evidence={DDoS_UDP: {ctx.dst_rat: 6.0}}", "mqtt.enabled=false",
                             f"model.bundle={REPO / 'models' / 'edge-iiotset-lab'}",
                             "features.kind=edge-iiotset-context", f"state_dir={tmp_path}"])
    with pytest.raises(BundleError, match=r"model\.evidence\.DDoS_UDP\.ctx\.dst_rat: not a numeric feature column"):
        build_scoring(cfg, None, Counters())
    cfg = load_config(None, ["model.evidence={DDoS_UDP: [{ctx.dst_rate: 6.0}, {ctx.dst_rat: 6.0}]}",
                             "mqtt.enabled=false", f"model.bundle={REPO / 'models' / 'edge-iiotset-lab'}",
                             "features.kind=edge-iiotset-context", f"state_dir={tmp_path}"])
    with pytest.raises(BundleError, match=r"model\.evidence\.DDoS_UDP\[1\]\.ctx\.dst_rat: not a numeric"):
        build_scoring(cfg, None, Counters())


def test_the_shipped_ethernet_bundle_floors_the_floods_and_the_scorer_applies_them() -> None:
    """The floods the shipped bundle names need 100 frames/s to one address. Through the agent's
    scorer, windows of a quiet segment (a few frames a second) never alert as a flood, whatever the
    model says, and the same windows at a flood's rate are scored by the model alone."""
    from agent.features.host_context import HostContextExtractor
    from agent.scorer import Scorer

    bundle = load_bundle(REPO / "models" / "edge-iiotset-lab")
    m = bundle.manifest
    floods = ("DDoS_ICMP", "DDoS_TCP", "DDoS_UDP")
    assert {c: m.evidence[c]["ctx.dst_rate"] for c in floods} == dict.fromkeys(floods, round(RATE_100, 3))
    pre = Preprocessor.from_manifest(m, list(HostContextExtractor().columns))
    at = m.features.index("ctx.dst_rate")
    spec = m.preprocessing.columns[at]
    rate = sum(c.width for c in m.preprocessing.columns[:at])  # its offset in the input (one-hots widen)
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 1.5, size=(512, *m.input_shape)).astype(np.float32)  # what the model calls anything
    x[:256, :, rate] = (3.0 - spec.mean) / spec.scale  # 7 frames/s
    x[256:, :, rate] = (9.0 - spec.mean) / spec.scale  # 500 frames/s
    gated = Scorer(bundle)
    others = {c: f for c, f in m.evidence.items() if c not in floods}  # floors on other classes, kept in both
    bare = Scorer(bundle, evidence=others)
    p, q = gated.predict_proba(x), bare.predict_proba(x)
    idx = [m.classes.index(c) for c in floods]
    assert (p[:256][:, idx] == 0).all()
    assert (q[:256][:, idx] > 0).any()  # the model alone names floods there
    assert np.array_equal(p[256:], q[256:])
    top = q[:256].argmax(axis=1)
    vetoed = gated.stats()["evidence_vetoed"]
    assert {c: vetoed[c] for c in floods} == {c: int((top == i).sum()) for c, i in zip(floods, idx, strict=True)}
    assert {c: vetoed[c] for c in others} == bare.stats().get("evidence_vetoed", {})
    one = pre.transform([dict.fromkeys(m.features, 0) | {"ctx.dst_rate": 3.0}])[0]
    assert one[rate] == pytest.approx(x[0, 0, rate])  # the offset is the preprocessor's
    # an ICMP flood needs an ICMP message too: the same fast windows without one never name it
    icmp = m.features.index("icmp.checksum")
    at = sum(c.width for c in m.preprocessing.columns[:icmp])
    quiet = x[256:].copy()
    quiet[:, :, at] = (0.0 - m.preprocessing.columns[icmp].mean) / m.preprocessing.columns[icmp].scale
    ci = m.classes.index("DDoS_ICMP")
    assert (Scorer(bundle, evidence=others).predict_proba(quiet)[:, ci] > 0).any()
    assert (gated.predict_proba(quiet)[:, ci] == 0).all()
