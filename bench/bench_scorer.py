"""Per-instance latency of an int8 model of the paper's size through the agent's scorer.

Builds the hybrid model with the default hyperparameters (the paper's size) for the record layout
of Edge-IIoTset after the authors' recipe (F features as a length-F sequence), quantizes it to int8
with a representative set, writes a bundle, loads it with agent.bundle and times agent.scorer at
batch 1 and batched. Weights are untrained: latency does not depend on their values. Printed beside
the paper's 0.0001 s/instance (100 us). Targets: <= 100 us/instance batched, <= 1 ms at batch 1.

    .venv/bin/python bench/bench_scorer.py [--features 96] [--batch 256] [--threads 1,2] [--seq-pool 1]

``--seq-pool 2`` (the default, model.seq_pool) max-pools the 24-step sequence to 12 before the BiGRU and attention (same
parameter count); the interpreter threads are reported one line each.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

PAPER_US = 100.0


def timed(fn, x: np.ndarray, batch: int, seconds: float = 3.0) -> float:
    fn(x[:batch])
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for i in range(0, len(x), batch):
            fn(x[i : i + batch])
            n += len(x[i : i + batch])
    return (time.perf_counter() - t0) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=int, default=96, help="preprocessed features per record")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", default="1,2", help="comma-separated interpreter thread counts")
    ap.add_argument("--seq-pool", type=int, help="model.seq_pool (pooling before the GRU); default: config's")
    args = ap.parse_args()

    from agent.bundle import ColumnSpec, Manifest, Preprocessing, Quantization, load_bundle, write_bundle
    from agent.scorer import Scorer
    from trainer.config import ModelConfig
    from trainer.model import TFLiteRunner, build_model, set_seeds, to_tflite

    set_seeds(0)
    f = args.features
    classes = ["Normal", *[f"Attack{i}" for i in range(14)]]
    m = ModelConfig() if args.seq_pool is None else ModelConfig(seq_pool=args.seq_pool)
    model = build_model((f, 1), len(classes), m)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2048, f, 1)).astype(np.float32)
    q = to_tflite(model, "int8", x[:200])
    runner = TFLiteRunner(q)
    manifest = Manifest(
        name="bench", dataset="edge-iiotset", feature_kind="edge-iiotset", features=[f"f{i}" for i in range(f)],
        preprocessing=Preprocessing([ColumnSpec(f"f{i}", "numeric") for i in range(f)]), input_layout="record",
        input_shape=[f, 1], classes=classes, benign_class="Normal",
        quantization=Quantization(mode="int8", **runner.quant_params()))  # type: ignore[arg-type]
    threads = [int(t) for t in args.threads.split(",")]
    results: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        write_bundle(Path(tmp) / "b", manifest, q)
        for t in threads:
            scorer = Scorer(load_bundle(Path(tmp) / "b"), threads=t)
            results.append((t, timed(scorer.predict_proba, x[:256], 1), timed(scorer.predict_proba, x, args.batch)))
    params = model.count_params()
    print(f"model: ResNet-1D x{m.res_blocks} ({m.filters} filters) + BiGRU({m.gru_units}) + MHA({m.heads} heads), "
          f"{params} parameters, int8 {len(q)} bytes, input {f}x1, seq_pool {m.seq_pool}, "
          f"GRU/attention steps {model.get_layer('bigru').output.shape[1]}")
    print(f"{'path':<34}{'us/instance':>12}{'paper (100 us)':>16}{'target':>10}{'ok':>5}")
    ok = True
    for t, b1, bb in results:
        for name, v, target in ((f"agent scorer, batch 1, {t} thr", b1, 1000.0),
                                (f"agent scorer, batch {args.batch}, {t} thr", bb, 100.0)):
            print(f"{name:<34}{v:>12.1f}{v / PAPER_US:>15.2f}x{target:>10.0f}{'yes' if v <= target else 'NO':>5}")
            ok = ok and v <= target
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
