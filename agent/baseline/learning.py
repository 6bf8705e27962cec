"""Learning a baseline from the rows the agent makes: by ``edge-ids-agent learn`` and while commissioning.

Why one class for both: the daemon learning on site for ``baseline.commission_s`` and an engineer
learning from captures must make the same baseline from the same traffic. Besides the site's
content (:mod:`agent.baseline.can`, :mod:`agent.baseline.ethernet`), it keeps the highest score the
model gave each attack class on the learned traffic: a class the site's normal traffic drives to a
score gets its threshold raised above it (``baseline.calibrate_model``), so the model keeps naming
the attacks it knows without naming the site's normal. The score kept is the one the alert policy
would act on: an incident needs ``confirm`` windows of a class within ``span`` windows of a key, so
per key and class it is the ``confirm``-th highest score of any ``span`` windows in a row, the
lowest threshold at which the learned traffic would have raised an incident.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from agent.baseline import Baseline, family_of, new_learner

#: a threshold above every probability: the class cannot alert on this site
MUTED = 1.01


class BaselineLearning:
    """A learner for one feature kind plus the model's highest score per class on the learned traffic."""

    def __init__(self, feature_kind: str, columns: Sequence[str], source: Mapping[str, Any]) -> None:
        self.feature_kind = feature_kind
        self.family = family_of(feature_kind)
        self.learner = new_learner(feature_kind, columns)
        self.source = {k: v for k, v in source.items() if k in ("backend", "interface", "can", "path")}
        self.inputs: list[str] = []
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.windows = 0
        self._classes: list[str] = []
        self._benign: str | None = None
        self._top: np.ndarray | None = None
        self._recent: dict[Hashable, deque[np.ndarray]] = {}

    def start_input(self, name: str) -> None:
        """A new capture or log begins (timing is not carried across the join)."""
        self.inputs.append(name)
        self.learner.segment()
        self._recent.clear()

    def feed(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> None:
        """Learn from one batch of rows."""
        if not rows:
            return
        self.learner.feed(rows, contexts)
        first, last = float(contexts[0][0]), float(contexts[-1][0])
        self.first_ts = first if self.first_ts is None else min(self.first_ts, first)
        self.last_ts = last if self.last_ts is None else max(self.last_ts, last)

    def scores(self, classes: Sequence[str], benign: str, probs: np.ndarray, keys: Sequence[Hashable],
               confirm: int, span: int) -> None:
        """Note the model's class probabilities for one batch of windows (``keys``: their stream keys)
        under the alert policy's confirmation (``confirm`` windows within ``span``)."""
        if not len(probs):
            return
        if self._top is None:
            self._classes, self._benign = list(classes), benign
            self._top = np.zeros(len(classes), dtype=np.float64)
        confirm = max(1, confirm)
        span = max(confirm, span)
        for key, p in zip(keys, probs, strict=True):
            recent = self._recent.get(key)
            if recent is None:
                if len(self._recent) >= 65536:
                    self._recent.pop(next(iter(self._recent)))
                recent = self._recent[key] = deque(maxlen=span)
            recent.append(p)
            if len(recent) >= confirm:
                stack = np.stack(recent)
                kth = -np.partition(-stack, confirm - 1, axis=0)[confirm - 1]
                np.maximum(self._top, kth, out=self._top)
        self.windows += len(probs)

    def seconds(self) -> float:
        """Data time learned so far (all inputs)."""
        return float(getattr(self.learner, "seconds", 0.0)) or (
            0.0 if self.first_ts is None or self.last_ts is None else self.last_ts - self.first_ts)

    def thresholds(self, shipped: Mapping[str, float], margin: float) -> tuple[dict[str, float], list[str]]:
        """Per class: :data:`MUTED` where the learned traffic would have raised an incident of it (the
        model cannot tell that class from this site's normal, so the baseline's detectors speak for
        it), a threshold ``margin`` above the learned score where that came within ``margin`` of the
        shipped one; with a note for each change."""
        out: dict[str, float] = {}
        notes: list[str] = []
        if self._top is None:
            return out, notes
        for cls, top in zip(self._classes, self._top.tolist(), strict=True):
            if cls == self._benign:
                continue
            current = float(shipped.get(cls, 0.5))
            if top + margin <= current:
                continue
            if top >= current or top + margin >= 1.0:
                out[cls] = MUTED
                notes.append(f"model class {cls}: the learned traffic reached {top:.3f} (threshold {current:.3f}) "
                             "and would have raised it, so the model does not name it on this site; the "
                             "baseline's detectors and the rules still do")
            else:
                out[cls] = math.ceil(round((top + margin) * 1000, 3)) / 1000
                notes.append(f"model class {cls}: threshold {current:.3f} -> {out[cls]:.3f} (learned traffic "
                             f"reached {top:.3f})")
        return out, notes

    def finish(self, baseline_cfg: Any, shipped_thresholds: Mapping[str, float]) -> Baseline:
        """The learned baseline (content, calibrated thresholds, notes for the reviewer)."""
        min_frames = int(getattr(baseline_cfg.can, "min_frames", 20))
        content, notes = (self.learner.finish(min_frames) if self.family == "can" else self.learner.finish())
        thresholds: dict[str, float] = {}
        if baseline_cfg.calibrate_model:
            thresholds, more = self.thresholds(shipped_thresholds, baseline_cfg.calibration_margin)
            notes.extend(more)
        learned = dict(self.learner.learned())
        learned.update({"inputs": self.inputs, "windows_scored": self.windows})
        if self.first_ts is not None and self.last_ts is not None:
            learned.update({"first_ts": self.first_ts, "last_ts": self.last_ts})
        return Baseline(self.family, self.feature_kind, self.source, learned, content, thresholds, notes)
