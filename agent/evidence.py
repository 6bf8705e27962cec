"""Evidence floors: a class the model names needs the measurement that defines it.

Why: a window classifier answers for every window, including traffic it never saw in training, and
there it can name a class whose defining property is plainly absent. A denial of service is volume;
the lab model, shown syslog from a dozen devices or a burst of mDNS at a few frames a second, named
UDP and ICMP floods. The context columns measure that property directly (``ctx.dst_rate`` is the
frame rate to a record's destination address; its largest value in a window is the rate to the
busiest destination there), so a bundle can state, per class, the least value
some record of a window must reach for the class to stand: ``{"DDoS_UDP": {"ctx.dst_rate": 6.66}}``
(``log2(1 + 100)``: 100 frames/s to one address). Snort's and Suricata's flood rules carry the same
kind of floor (``detection_filter``, ``threshold``); here it vetoes the model instead of firing alone.

What a veto does: the class's probability for that window is moved to the benign class, so the
window can still alert for another class that reaches its threshold, and every consumer of a bundle
(the agent, the lab build's thresholds and replays, ``evaluate``) sees the same probabilities,
because :class:`agent.scorer.Scorer` applies the floors. Vetoes are counted per class
(``evidence_vetoed`` in the scorer's stats and the agent's health).

Some classes are defined by either of two measurements, so a class's evidence may also be a list of
sets of floors, of which a window must meet one: ``{"Port_Scanning": [{"ctx.src_endpoints": 4},
{"tcp.connection.rst": 1}]}``. A scan tries many endpoints; but FIN, NULL, Xmas and ACK probes open
no connection, so :mod:`agent.features.host_context` does not count them as attempts, and what shows
them instead is the closed ports' resets (Snort's sfPortscan counts exactly those negative replies).

Floors are in the raw units of the column (before scaling): each is turned into the scaled value
once, by the bundle's own :class:`~agent.preprocess.Preprocessor`, so a window costs one ``max``
over its records per floored column. Only numeric feature columns
can carry a floor, and only a non-benign class can have one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from agent.bundle import Manifest, check_evidence, floor_sets
from agent.config import EvidenceSpec
from agent.preprocess import Preprocessor

#: per class: per numeric feature column, the least value (raw units) some record must reach; or a
#: list of such sets, one of which suffices
Floors = Mapping[str, EvidenceSpec]


def merged_floors(manifest: Manifest, overrides: Floors) -> dict[str, list[dict[str, float]]]:
    """The bundle's floors with a config's on top, per class as the sets of which one must be met: a
    class named in ``overrides`` takes its floors from there only (``{}`` removes the bundle's for
    that class). ``overrides`` are checked against the bundle first, errors naming ``model.evidence``."""
    check_evidence(manifest, overrides, "model.evidence")
    floors = {**manifest.evidence, **overrides}
    return {c: sets for c, spec in floors.items() if (sets := floor_sets(spec))}


def describe_floors(spec: EvidenceSpec) -> str:
    """A class's floors as a reader says them: ``ctx.src_endpoints >= 4, or tcp.connection.rst >= 1``."""
    return ", or ".join(" and ".join(f"{col} >= {v:g}" for col, v in s.items()) for s in floor_sets(spec))


class EvidenceGate:
    """Applies per-class evidence floors to class probabilities (see the module docstring)."""

    def __init__(self, manifest: Manifest, floors: Floors | None = None) -> None:
        floors = manifest.evidence if floors is None else floors
        check_evidence(manifest, floors, "evidence")
        self.classes = list(manifest.classes)
        self.benign_index = self.classes.index(manifest.benign_class)
        self.floors = {c: sets for c, spec in floors.items() if (sets := floor_sets(spec))}
        self.record_layout = manifest.input_layout == "record"
        pre = Preprocessor.from_manifest(manifest)
        # every floored column once: a batch's window peaks are taken over these in one pass, however
        # many classes floor the same column (the three floods all floor ctx.dst_rate)
        columns = list(dict.fromkeys(c for sets in self.floors.values() for f in sets for c in f))
        self._offsets = np.array([pre.offset(c) for c in columns], dtype=np.intp)
        # per class index: per set of floors, its columns' places among the peaks and the scaled floors
        self._checks: list[tuple[int, list[tuple[np.ndarray, np.ndarray]]]] = []
        for cls, sets in self.floors.items():
            alternatives = []
            for f in sets:
                scaled = pre.transform([dict.fromkeys(manifest.features, 0) | f])[0]
                alternatives.append((np.array([columns.index(c) for c in f], dtype=np.intp),
                                     scaled[[pre.offset(c) for c in f]]))
            self._checks.append((self.classes.index(cls), alternatives))
        self.vetoed = dict.fromkeys(self.floors, 0)

    def __bool__(self) -> bool:
        return bool(self._checks)

    def apply(self, x: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """Move the probability of each class whose floors ``x`` misses to the benign class (in place).

        :param x: preprocessed inputs, ``(N, W, F)`` (window layout) or ``(N, F, 1)`` (record layout).
        :param probs: ``(N, C)`` class probabilities for ``x``.
        """
        if not self._checks or len(probs) == 0:
            return probs
        top = probs.argmax(axis=1)  # the model's answers, before any floor moved a probability
        peaks = x[:, self._offsets, 0] if self.record_layout else x[:, :, self._offsets].max(axis=1)
        for ci, alternatives in self._checks:
            missed = np.ones(len(probs), dtype=bool)
            for places, scaled in alternatives:
                # a tolerance of float32 rounding: a record exactly at the floor passes
                missed &= (peaks[:, places] < scaled - 1e-5).any(axis=1)
            if missed.any():
                # counted where the class was the model's answer: the windows the floor changed
                self.vetoed[self.classes[ci]] += int(np.count_nonzero(missed & (top == ci)))
                probs[missed, self.benign_index] += probs[missed, ci]
                probs[missed, ci] = 0.0
        return probs

    def stats(self) -> dict[str, int]:
        """Windows whose top class a floor vetoed, per class (classes with floors only)."""
        return dict(self.vetoed)


__all__ = ["EvidenceGate", "Floors", "describe_floors", "merged_floors"]
