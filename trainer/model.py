"""The hybrid ResNet-1D + BiGRU + multi-head self-attention classifier, and its conversion to TFLite.

Record layout: the F preprocessed features of one record form a length-F sequence of one channel
(the paper's formulation). Window layout: W consecutive records form a length-W sequence of F
channels (temporal detection, what the agent's windows feed). Every block can be switched off for
ablations. The GRU is built with ``unroll=True`` because LiteRT has no fused GRU kernel: an unrolled
GRU converts to plain fully-connected and elementwise ops, which also quantize to int8.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from trainer.config import ModelConfig

log = logging.getLogger(__name__)


def build_model(input_shape: tuple[int, int], n_classes: int, m: ModelConfig, learning_rate: float = 1e-3) -> Any:
    """A compiled Keras model for inputs ``(length, channels)``."""
    import keras
    from keras import layers

    inp = keras.Input(shape=input_shape, name="features")
    x = layers.Conv1D(m.filters, m.kernel_size, padding="same", name="stem_conv")(inp)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for b in range(m.res_blocks):
        y = layers.Conv1D(m.filters, m.kernel_size, padding="same", name=f"res{b}_conv1")(x)
        y = layers.BatchNormalization(name=f"res{b}_bn1")(y)
        y = layers.Activation("relu", name=f"res{b}_relu1")(y)
        y = layers.Conv1D(m.filters, m.kernel_size, padding="same", name=f"res{b}_conv2")(y)
        y = layers.BatchNormalization(name=f"res{b}_bn2")(y)
        if m.use_residual:
            y = layers.Add(name=f"res{b}_add")([x, y])
        x = layers.Activation("relu", name=f"res{b}_out")(y)
        # Halve long sequences after each block: keeps the unrolled GRU short enough for edge latency.
        if x.shape[1] is not None and x.shape[1] >= 8:
            x = layers.MaxPooling1D(2, name=f"res{b}_pool")(x)
    if m.seq_pool > 1 and x.shape[1] is not None and x.shape[1] >= 2 * m.seq_pool:
        # Latency knob: each unrolled GRU step is a serial chain of small int8 ops; fewer steps, same weights.
        x = layers.MaxPooling1D(m.seq_pool, name="seq_pool")(x)
    if m.use_gru:
        x = layers.Bidirectional(
            layers.GRU(m.gru_units, return_sequences=True, unroll=True, reset_after=True), name="bigru"
        )(x)
    if m.use_attention:
        att = layers.MultiHeadAttention(num_heads=m.heads, key_dim=m.key_dim, dropout=0.0, name="mha")(x, x)
        x = layers.LayerNormalization(name="mha_norm")(layers.Add(name="mha_add")([x, att]))
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    for i, units in enumerate(m.dense_units):
        x = layers.Dense(units, activation="relu", name=f"dense{i}")(x)
        x = layers.Dropout(m.dropout, name=f"dropout{i}")(x)
    out = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(inp, out, name="resnet_bigru_mha")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def set_seeds(seed: int) -> None:
    """Python, numpy and TensorFlow seeds (results are repeatable on CPU up to thread scheduling)."""
    import keras

    keras.utils.set_random_seed(seed)


def to_tflite(model: Any, mode: str, representative: np.ndarray | None = None) -> bytes:
    """Convert via ``model.export()`` and ``TFLiteConverter.from_saved_model``.

    :param mode: ``float32``, ``float16`` (weights), ``dynamic`` (int8 weights, float activations) or
        ``int8`` (full integer: int8 input and output, calibrated on ``representative``).
    """
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        export_dir = str(Path(tmp) / "saved_model")
        model.export(export_dir, verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(export_dir)
        if mode == "float16":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.target_spec.supported_types = [tf.float16]
        elif mode == "dynamic":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        elif mode == "int8":
            if representative is None or not len(representative):
                raise ValueError("int8 quantization needs a representative set from the training partition")
            rep = representative.astype(np.float32)

            def gen() -> Iterator[list[np.ndarray]]:
                for i in range(len(rep)):
                    yield [rep[i : i + 1]]

            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = gen
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
        elif mode != "float32":
            raise ValueError(f"unknown quantization mode {mode!r}")
        data: bytes = conv.convert()
    return data


def litert_interpreter(model_bytes: bytes, threads: int = 1) -> Any:
    """A LiteRT interpreter: ``ai_edge_litert`` (what the agent runs on gateways), else TensorFlow's.

    Why not simply ``tf.lite.Interpreter``: its bundled XNNPACK delegate (TensorFlow 2.21) computes
    the int8 attention block of this model wrongly -- the same int8 model agreed with float on 81%
    of test predictions under it and on 98.75% under ``ai_edge_litert`` or TensorFlow's built-in
    kernels. The gate must measure the runtime the agent uses, so TensorFlow's interpreter is only
    a fallback, and then without its default delegates.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        interp = tf.lite.Interpreter(
            model_content=model_bytes, num_threads=threads,
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    else:
        interp = Interpreter(model_content=model_bytes, num_threads=threads)
    interp.allocate_tensors()
    return interp


class TFLiteRunner:
    """The trainer's own LiteRT runner, independent of ``agent.scorer``'s code.

    Kept separate on purpose: the round-trip test compares the agent's scorer with this path (same
    runtime, see :func:`litert_interpreter`, different quantize/batching code).
    """

    def __init__(self, model_bytes: bytes, threads: int = 1):
        self.interp = litert_interpreter(model_bytes, threads)
        self.inp = self.interp.get_input_details()[0]
        self.out = self.interp.get_output_details()[0]
        self.size = int(self.inp["shape"][0])

    def quant_params(self) -> dict[str, Any]:
        """Input/output dtype, scale and zero point, as the manifest's ``quantization`` records them."""
        (si, zi), (so, zo) = self.inp["quantization"], self.out["quantization"]
        return {"input_dtype": np.dtype(self.inp["dtype"]).name, "input_scale": float(si),
                "input_zero_point": int(zi), "output_dtype": np.dtype(self.out["dtype"]).name,
                "output_scale": float(so), "output_zero_point": int(zo)}

    def _prep(self, x: np.ndarray) -> np.ndarray:
        dt = np.dtype(self.inp["dtype"])
        if dt.kind in "iu":
            s, z = self.inp["quantization"]
            info = np.iinfo(dt)
            return np.clip(np.round(x / s + z), info.min, info.max).astype(dt)
        return x.astype(dt)

    def _post(self, y: np.ndarray) -> np.ndarray:
        if np.dtype(self.out["dtype"]).kind in "iu":
            s, z = self.out["quantization"]
            return ((y.astype(np.float32) - z) * s).astype(np.float32)
        return y.astype(np.float32)

    def predict_proba(self, x: np.ndarray, batch: int = 256) -> np.ndarray:
        outs = []
        for i in range(0, len(x), batch):
            chunk = self._prep(x[i : i + batch])
            if len(chunk) != self.size:
                self.interp.resize_tensor_input(self.inp["index"], [len(chunk), *chunk.shape[1:]])
                self.interp.allocate_tensors()
                self.size = len(chunk)
            self.interp.set_tensor(self.inp["index"], chunk)
            self.interp.invoke()
            outs.append(self._post(self.interp.get_tensor(self.out["index"])))
        return np.concatenate(outs) if outs else np.empty((0, int(self.out["shape"][-1])), np.float32)


def time_per_instance(fn: Callable[[np.ndarray], Any], x: np.ndarray, batch: int, budget_s: float = 2.0) -> float:
    """Median-free but warmed-up wall time per instance in microseconds (batch 1 or batched)."""
    import time

    if not len(x):
        return float("nan")
    fn(x[:batch])
    n = 0
    t0 = time.perf_counter()
    while True:
        for i in range(0, len(x), batch):
            fn(x[i : i + batch])
            n += len(x[i : i + batch])
            if time.perf_counter() - t0 > budget_s:
                return (time.perf_counter() - t0) / n * 1e6
        if n >= len(x) and time.perf_counter() - t0 > budget_s / 4:
            return (time.perf_counter() - t0) / n * 1e6
