"""The lab's capture sessions for the default models: which sessions, how their rows are extracted.

A :class:`Plan` holds only what is particular to the lab (generator seed and scale, which capture
sessions train, validate and test, the demo capture); how the model is made is its recipe
(``trainer/recipes/<name>.yaml``), the config ``edge-ids-trainer train --config`` reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainer.config import TrainerConfig, load_trainer_config
from trainer.data import Dataset

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
#: the recipes of the shipped bundles, one per bundle name
RECIPES = Path(__file__).resolve().parents[1] / "recipes"

ETH_FAMILY = {
    "DDoS_HTTP": "DoS/DDoS", "DDoS_ICMP": "DoS/DDoS", "DDoS_TCP": "DoS/DDoS", "DDoS_UDP": "DoS/DDoS",
    "Port_Scanning": "information gathering", "Fingerprinting": "information gathering",
    "Vulnerability_scanner": "information gathering", "MITM": "MITM",
    "XSS": "injection", "SQL_injection": "injection", "Uploading": "injection",
    "Backdoor": "malware", "Password": "malware", "Ransomware": "malware",
}
#: The CAN model is trained on CICIoV2024's ``category`` (BENIGN, DoS, SPOOFING), not ``specific_class``:
#: without the car's own ids, which signal was forged (GAS, RPM, SPEED, STEERING_WHEEL) is not in the
#: features, and a model asked to guess it splits near-evenly between them (ties that int8 rounding
#: flips). The specific classes stay in the demo labels and the lab CSVs.
CAN_FAMILY = {"DoS": "DoS", "SPOOFING": "spoofing"}



@dataclass(frozen=True)
class Plan:
    """The lab side of one default model: data generation, the capture sessions' roles, the demo capture."""

    kind: str                       # ethernet | can
    name: str                       # bundle directory, manifest name, and recipe file name
    dataset: str                    # edge-iiotset | ciciov2024 (train --dataset)
    seed: int
    scale: float
    sessions: int
    train: list[int]
    val: list[int]
    test: list[int]
    demo_seed: int
    demo_scale: float
    #: Ethernet sessions with plant-floor traffic (``generate --plant-floor``)
    plant_floor: bool = False

    @cached_property
    def config(self) -> TrainerConfig:
        """The bundle's recipe (``trainer/recipes/<name>.yaml``), validated by the trainer's schema."""
        return load_trainer_config(RECIPES / f"{self.name}.yaml")

    @property
    def feature_kind(self) -> str:
        """The agent feature kind the recipe reads."""
        kind = self.config.data.feature_kind
        if kind is None:
            raise ValueError(f"{RECIPES / (self.name + '.yaml')}: data.feature_kind is not set")
        return kind

    @property
    def backend(self) -> str:
        """The agent source that reads this plan's captures."""
        return "pcap" if self.kind == "ethernet" else "canlog"

    @property
    def family(self) -> dict[str, str]:
        """Each attack class's family (what an operator acts on)."""
        return ETH_FAMILY if self.kind == "ethernet" else CAN_FAMILY

    @property
    def benign(self) -> str:
        """The benign class of the lab's labels."""
        return "Normal" if self.kind == "ethernet" else "BENIGN"

    @property
    def label_column(self) -> str:
        """The column of the lab's ``<capture>.labels.csv`` the model is trained on."""
        return "Attack_type" if self.kind == "ethernet" else "category"


PLANS = {
    "ethernet": Plan(kind="ethernet", name="edge-iiotset-lab", dataset="edge-iiotset", seed=20240611, scale=0.3,
                     sessions=10, train=[0, 1, 2, 3, 4, 5, 6], val=[7, 8], test=[9], demo_seed=7005, demo_scale=0.04),
    "can": Plan(kind="can", name="ciciov2024-lab", dataset="ciciov2024", seed=20240612, scale=0.25, sessions=6,
                train=[0, 1, 2, 3], val=[4], test=[5], demo_seed=7002, demo_scale=0.02),
}



@dataclass
class Session:
    """One capture session's extractor rows (in capture order), labels, timestamps and capture file."""

    name: str
    rows: pd.DataFrame
    labels: np.ndarray
    ts: np.ndarray
    capture: Path
    #: rows the model scores (see :func:`extract_rows`); ``rows``, ``labels`` and ``ts`` keep every
    #: frame, so replays are scored against the whole capture
    scored: np.ndarray


def generate(plan: Plan, out: Path, seed: int | None = None, scale: float | None = None,
             sessions: int | None = None) -> dict[str, Any]:
    """Run the lab generator (deterministic per seed)."""
    if plan.kind == "ethernet":
        from trainer.lab.ethernet.session import write_sessions
        # no published-schema CSVs: the model's rows come from the captures (extract_rows)
        return write_sessions(out, seed or plan.seed, scale or plan.scale, sessions or plan.sessions,
                              published_csv=False, plant_floor=plan.plant_floor)
    from trainer.lab.can import write_sessions as write_can
    return write_can(out, seed or plan.seed, scale or plan.scale, sessions or plan.sessions)


def capture_ts(path: Path, backend: str) -> np.ndarray:
    """Record timestamps as the agent's own source reads them (the clock alerts are stamped with)."""
    from agent.config import load_config
    from agent.sources import SOURCES

    cfg = load_config(None, [f"source.backend={backend}", f"source.path={path}", "mqtt.enabled=false"])
    src = SOURCES.load(backend).from_config(cfg.source)
    try:
        return np.fromiter((float(r.ts) for r in src), dtype=np.float64)
    finally:
        src.close()


def extract_rows(path: Path, plan: Plan, records: str | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """One capture's extractor rows (the columns ``edge-ids-agent features`` writes), computed by the
    agent's own source and extractor, their timestamps (from the rows' alert contexts: one pass over
    the capture), and which of them the model scores (``records``, default the recipe's
    ``model.window_records``: the filter the agent applies)."""
    from agent.config import load_config
    from agent.features import FEATURE_KINDS, record_filter
    from agent.sources import SOURCES

    backend = plan.backend
    cfg = load_config(None, [f"features.kind={plan.feature_kind}", f"source.backend={backend}",
                             f"source.path={path}", "mqtt.enabled=false"])
    ext = FEATURE_KINDS.load(plan.feature_kind).from_config(cfg.features)
    src = SOURCES.load(backend).from_config(cfg.source)
    ts_at = list(ext.context_fields).index("ts")
    keep = record_filter(records or plan.config.model.window_records)
    rows, ts, scored = [], [], []
    try:
        for row, ctx in ext.rows_with_context(src):
            rows.append(row)
            ts.append(float(ctx[ts_at]))
            scored.append(keep is None or keep(row))
    finally:
        src.close()
    columns = list(ext.columns)
    # Ethernet rows hold text and numbers; CAN rows are numbers
    raw = (pd.DataFrame(rows, columns=columns, dtype=object) if plan.kind == "ethernet"
           else pd.DataFrame(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(columns)), columns=columns))
    return raw, np.asarray(ts, dtype=np.float64), np.asarray(scored, dtype=bool)


def load_sessions(plan: Plan, root: Path) -> list[Session]:
    """Feature rows of every capture session the generator wrote under ``root``."""
    meta = json.loads((root / "sessions.json").read_text())
    out: list[Session] = []
    for s in meta["sessions"]:
        name = s["name"]
        capture = root / (f"{name}.pcap" if plan.kind == "ethernet" else f"{name}.log")
        rows, ts, scored = extract_rows(capture, plan)
        labels = pd.read_csv(root / f"{name}.labels.csv")[plan.label_column].astype(str).to_numpy()
        if not (len(rows) == len(labels) == len(ts)):
            raise RuntimeError(f"{name}: {len(rows)} feature rows, {len(labels)} labels, {len(ts)} timestamps")
        out.append(Session(name, rows, np.asarray(labels, dtype=str), ts, capture, scored))
    return out


def lab_dataset(plan: Plan, sessions: list[Session]) -> Dataset:
    """The scored rows of every session as the trainer's :class:`~trainer.data.Dataset`, grouped by
    session, built by the loader of feature CSVs (:func:`trainer.data.rows_dataset`) under the recipe's
    ``data`` section: the rows ``train`` would read from ``edge-ids-agent features`` CSVs."""
    from trainer.data import LoadReport, rows_dataset

    raw = pd.concat([s.rows[s.scored] for s in sessions], ignore_index=True)
    labels = np.concatenate([s.labels[s.scored] for s in sessions])
    groups = np.concatenate([np.full(int(s.scored.sum()), s.name) for s in sessions])
    report = LoadReport(files=[str(s.capture) for s in sessions], rows_read=len(raw))
    return rows_dataset(raw, labels, groups, plan.config.data, plan.dataset, plan.feature_kind, report)

