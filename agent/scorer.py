"""Score model inputs with the bundle's LiteRT model: float32 in, class probabilities out.

The interpreter comes from ``ai_edge_litert`` (the LiteRT wheel), else ``tflite_runtime`` (older
boards), else TensorFlow's bundled interpreter -- imported only as the last resort, because the
agent must run on gateways where TensorFlow is not installed and must not pay its import time.

For a full-integer (int8) model the scorer quantizes inputs and dequantizes outputs with the
scale/zero point read from the model's own tensor details (the manifest repeats them for readers,
the model is the authority). Batches are scored by resizing the input tensor (cached per size, so a
steady batch size costs one resize); a model whose batch dimension cannot be resized is scored row by
row. Batch 1 has its own interpreter so that the low-latency path never pays for a resize.

Inputs that carry nothing (for Ethernet kinds, a window of frames without any Edge-IIoTset field:
see :meth:`agent.preprocess.Preprocessor.blank_input`) are answered benign at probability 1 without
running the model, and counted (``blank_inputs``). Every user of a bundle (the agent, the lab
build's thresholds and replays, ``evaluate``) scores through this class, so all of them apply it;
only the trainer's ``quantize_run`` (the int8-against-float gate and the test-window figures it
reports) runs the models bare, to compare the models alone. The bundle's evidence floors
(:mod:`agent.evidence`) are applied here for the same reason.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from agent.bundle import Bundle
from agent.errors import ScoringError
from agent.evidence import EvidenceGate, Floors
from agent.preprocess import Preprocessor

_CANDIDATES = (
    ("ai_edge_litert.interpreter", "Interpreter"),
    ("tflite_runtime.interpreter", "Interpreter"),
    # The module itself: ``import tensorflow.lite`` yields a package without ``Interpreter`` (the
    # public ``tf.lite`` name is an API alias built on ``import tensorflow``).
    ("tensorflow.lite.python.interpreter", "Interpreter"),
)


def load_interpreter_class() -> Any:
    """The first available LiteRT ``Interpreter`` class; :class:`ScoringError` naming packages if none."""
    tried = []
    for module_name, attr in _CANDIDATES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            tried.append(f"{module_name} ({exc.name or exc})")
            continue
        cls = getattr(module, attr, None)
        if cls is not None:
            return cls
        tried.append(f"{module_name} (no {attr})")
    raise ScoringError(
        "no LiteRT interpreter is installed; install one of: 'pip install ai-edge-litert' "
        "(x86_64/aarch64), 'pip install tflite-runtime' (older ARM boards) or tensorflow. Tried: "
        + "; ".join(tried)
    )


def _tf_builtin_resolver() -> Any:
    """TensorFlow's op resolver without default delegates (only reached on the TensorFlow fallback)."""
    from tensorflow.lite.python.interpreter import OpResolverType  # already imported: it is the fallback

    return OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES


class Scorer:
    """Class probabilities for preprocessed model inputs.

    :param bundle: a bundle from :func:`agent.bundle.load_bundle` (its hash already verified).
    :param threads: interpreter threads (``model.threads`` in the agent config).
    :param max_batch: largest batch given to the interpreter at once; larger inputs are chunked.
    :param evidence: evidence floors per class (:func:`agent.evidence.merged_floors`); ``None``: the
        bundle's.
    """

    def __init__(self, bundle: Bundle, threads: int = 1, max_batch: int = 1024, evidence: Floors | None = None):
        self.bundle = bundle
        self.classes = list(bundle.manifest.classes)
        self.input_shape: tuple[int, ...] = tuple(bundle.manifest.input_shape)
        self.threads = threads
        self.max_batch = max(1, int(max_batch))
        self._cls = load_interpreter_class()
        self._one = self._new_interpreter()
        inp = self._one.get_input_details()
        out = self._one.get_output_details()
        if len(inp) != 1 or len(out) != 1:
            raise ScoringError(f"{bundle.path}: model must have one input and one output tensor")
        self._in, self._out = inp[0], out[0]
        model_shape = tuple(int(d) for d in self._in["shape"][1:])
        if model_shape != self.input_shape:
            raise ScoringError(
                f"{bundle.path}: model input shape {model_shape} differs from manifest input_shape "
                f"{self.input_shape}"
            )
        n_out = int(self._out["shape"][-1])
        if n_out != len(self.classes):
            raise ScoringError(
                f"{bundle.path}: model has {n_out} outputs but the manifest lists {len(self.classes)} classes"
            )
        self.input_dtype = np.dtype(self._in["dtype"])
        self.output_dtype = np.dtype(self._out["dtype"])
        self._in_scale, self._in_zp = self._qparams(self._in)
        self._out_scale, self._out_zp = self._qparams(self._out)
        if int(self._in["shape"][0]) != 1:
            self._one.resize_tensor_input(self._in["index"], [1, *self.input_shape])
            self._one.allocate_tensors()
        self._batch: Any = None
        self._batch_size = 0
        self._resizable = True
        self.benign_index = self.classes.index(bundle.manifest.benign_class)
        self.blank_input = Preprocessor.from_manifest(bundle.manifest).blank_input()
        """The input answered benign without the model (``None``: none is)."""
        self._blank_inputs = 0
        self.evidence = EvidenceGate(bundle.manifest, evidence)

    @property
    def runtime(self) -> str:
        """The module of the TFLite interpreter in use (``ai_edge_litert``, ``tflite_runtime`` or ``tensorflow``)."""
        return str(self._cls.__module__)

    def stats(self) -> dict[str, Any]:
        """Inputs answered benign because they carry nothing (see the module docstring), and windows
        whose top class an evidence floor vetoed (when the bundle or config sets floors)."""
        out: dict[str, Any] = {"blank_inputs": self._blank_inputs}
        if self.evidence:
            out["evidence_vetoed"] = self.evidence.stats()
        return out

    def _new_interpreter(self) -> Any:
        kwargs: dict[str, Any] = {}
        if self._cls.__module__.startswith("tensorflow"):
            # TensorFlow's bundled XNNPACK delegate miscomputes int8 attention models (81% agreement
            # with float where LiteRT gives 98.75%); its built-in kernels are correct.
            kwargs["experimental_op_resolver_type"] = _tf_builtin_resolver()
        try:
            interp = self._cls(model_content=self.bundle.model_bytes, num_threads=self.threads, **kwargs)
            interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ScoringError(f"{self.bundle.path}: LiteRT cannot load the model: {exc}") from exc
        return interp

    @staticmethod
    def _qparams(detail: dict[str, Any]) -> tuple[float, int]:
        scale, zp = detail.get("quantization", (0.0, 0))
        return float(scale), int(zp)

    @property
    def quantized(self) -> bool:
        """True when the model takes integer input (int8 full-integer, or int16 activations)."""
        return self.input_dtype.kind in "iu"

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """float32 inputs -> the model's input dtype (affine int8 quantization when quantized)."""
        if not self.quantized:
            return np.ascontiguousarray(x, dtype=self.input_dtype)
        info = np.iinfo(self.input_dtype)
        q = np.rint(x / self._in_scale + self._in_zp)
        return np.clip(q, info.min, info.max).astype(self.input_dtype)

    def dequantize_output(self, y: np.ndarray) -> np.ndarray:
        if self.output_dtype.kind in "iu" and self._out_scale > 0:
            return ((y.astype(np.float32) - self._out_zp) * self._out_scale).astype(np.float32)
        return y.astype(np.float32, copy=False)

    def _run(self, interp: Any, xq: np.ndarray) -> np.ndarray:
        interp.set_tensor(self._in["index"], xq)
        interp.invoke()
        out: np.ndarray = interp.get_tensor(self._out["index"])
        return out

    def _batch_interpreter(self, n: int) -> Any:
        if self._batch is None:
            self._batch = self._new_interpreter()
        if n != self._batch_size:
            self._batch.resize_tensor_input(self._in["index"], [n, *self.input_shape])
            self._batch.allocate_tensors()
            self._batch_size = n
        return self._batch

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """``(N, *input_shape)`` float32 -> ``(N, C)`` float32 class probabilities (blank inputs:
        the benign class at 1, see the module docstring)."""
        x = np.asarray(x, dtype=np.float32)
        if x.shape[1:] != self.input_shape:
            raise ScoringError(f"input shape {x.shape[1:]} does not match the model's {self.input_shape}")
        return self.evidence.apply(x, self._proba(x))

    def _proba(self, x: np.ndarray) -> np.ndarray:
        """The model's answer for ``x``, blank inputs answered benign without it (a floor moves
        nothing there: the benign class holds all of a blank input's probability)."""
        n = x.shape[0]
        if self.blank_input is None or n == 0:
            return self._model_proba(x)
        blank = (x == self.blank_input).reshape(n, -1).all(axis=1)
        if not blank.any():
            return self._model_proba(x)
        self._blank_inputs += int(np.count_nonzero(blank))
        out = np.zeros((n, len(self.classes)), dtype=np.float32)
        out[:, self.benign_index] = 1.0
        rest = np.flatnonzero(~blank)
        if len(rest):
            out[rest] = self._model_proba(x[rest])
        return out

    def _model_proba(self, x: np.ndarray) -> np.ndarray:
        """What the model answers for ``x`` (shape already checked)."""
        n = x.shape[0]
        xq = self.quantize_input(x)
        if n == 1:
            return self.dequantize_output(self._run(self._one, xq)).copy()
        out = np.empty((n, len(self.classes)), dtype=np.float32)
        for start in range(0, n, self.max_batch):
            chunk = xq[start : start + self.max_batch]
            if self._resizable:
                try:
                    interp = self._batch_interpreter(len(chunk))
                except (ValueError, RuntimeError):
                    self._resizable = False
                else:
                    out[start : start + len(chunk)] = self.dequantize_output(self._run(interp, chunk))
                    continue
            for i in range(len(chunk)):
                out[start + i] = self.dequantize_output(self._run(self._one, chunk[i : i + 1]))[0]
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Index of the most probable class per input."""
        return np.argmax(self.predict_proba(x), axis=1)
