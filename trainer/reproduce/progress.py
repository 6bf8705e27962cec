"""Progress with an ETA on standard error, for work that runs for half an hour on two cores.

Why weighted units: the run is a known plan (load, then so many model fits of so many epochs, each
followed by an evaluation), so elapsed time per unit done predicts the rest better than a per-step
guess. Each step names its unit count up front; the ETA is ``elapsed / done * remaining``.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 60}m{s % 60:02d}s"


class Progress:
    """Counts units of a planned run and prints ``[reproduce 12%, 3m10s, ETA 21m05s] what`` lines."""

    def __init__(self, total_units: float, out: TextIO | None = None, enabled: bool = True) -> None:
        self.total = max(total_units, 1e-9)
        self.done = 0.0
        self.t0 = time.perf_counter()
        self.out = out if out is not None else sys.stderr
        self.enabled = enabled

    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (``None`` before any unit is done)."""
        if self.done <= 0:
            return None
        elapsed = time.perf_counter() - self.t0
        return elapsed / self.done * max(self.total - self.done, 0.0)

    def note(self, what: str) -> None:
        """Print a line with the current share, elapsed time and ETA."""
        if not self.enabled:
            return
        eta = self.eta_s()
        elapsed = time.perf_counter() - self.t0
        share = min(self.done / self.total, 1.0)
        eta_text = "ETA ?" if eta is None else f"ETA {_clock(eta)}"
        print(f"[reproduce {share:4.0%}, {_clock(elapsed)}, {eta_text}] {what}", file=self.out, flush=True)

    def advance(self, units: float, what: str) -> None:
        """Count ``units`` as done and print ``what``."""
        self.done += units
        self.note(what)

    def keras_callback(self, label: str, epochs: int, units_per_epoch: float) -> Any:
        """A Keras callback that advances ``units_per_epoch`` after every epoch of ``label``."""
        import keras

        progress = self

        class _Epochs(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                logs = logs or {}
                loss, val = logs.get("loss", float("nan")), logs.get("val_loss", float("nan"))
                progress.advance(units_per_epoch, f"{label}: epoch {epoch + 1}/{epochs}, loss {loss:.4f}, "
                                 f"val_loss {val:.4f}")

        return _Epochs()
