"""The golden files under tests/data/: where they are, and what a comparison with them leaves out.

tests/data/make_golden.py writes them (and says when regenerating them is legitimate);
tests/test_golden.py compares the agent with them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data"

#: alert fields that differ from one run to the next (ids drawn at random, the wall-clock emit time)
ALERT_IGNORED = ("alert_id", "timestamp", "flow_id", "incident_id")
#: the creation time written into the golden baseline (the real one is the wall clock's)
GOLDEN_CREATED = "2000-01-01T00:00:00+00:00"


def without_ignored(alert: dict[str, Any]) -> dict[str, Any]:
    """``alert`` without the fields of :data:`ALERT_IGNORED` (at the top and in ``edge_ids``)."""
    out = {k: v for k, v in alert.items() if k not in ALERT_IGNORED}
    out["edge_ids"] = {k: v for k, v in alert["edge_ids"].items() if k not in ALERT_IGNORED}
    return out


def golden_baseline(baseline: Any) -> Any:
    """``baseline`` with what differs from run to run or from checkout to checkout fixed: its
    creation time (:data:`GOLDEN_CREATED`) and its inputs (file names, not paths)."""
    baseline.created = GOLDEN_CREATED
    baseline.learned["inputs"] = [Path(p).name for p in baseline.learned["inputs"]]
    return baseline


def tshark_fields(tshark: str, pcap: Path) -> str:
    """tshark's ``-T fields`` text for the 61 Edge-IIoTset columns, header line first (UTC, first
    occurrence of each field), as the reference CSVs were made."""
    from agent.features.edge_iiotset import COLUMNS

    cmd = [tshark, "-r", str(pcap), "-T", "fields", "-E", "header=y", "-E", "separator=/t", "-E", "quote=n",
           "-E", "occurrence=f"]
    for c in COLUMNS:
        cmd += ["-e", c]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "TZ": "UTC"},
                          encoding="utf-8", errors="replace").stdout


def encoded_rows(fields_text: str) -> list[list[Any]]:
    """The rows of tshark's ``-T fields`` text (with its header line), encoded the project's way."""
    from agent.features.edge_iiotset import COLUMNS, encode_tshark

    header, *lines = fields_text.split("\n")[:-1]
    assert header.split("\t") == list(COLUMNS), "the header line is not the 61 columns in order"
    rows = []
    for line in lines:
        cells = line.split("\t")
        cells += [""] * (len(COLUMNS) - len(cells))
        rows.append([encode_tshark(c, v) for c, v in zip(COLUMNS, cells, strict=False)])
    return rows


def same(a: Any, b: Any) -> bool:
    """Cell equality; time deltas are compared to the microsecond (the Frame timestamp's precision)."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) < 1.5e-6
    return bool(a == b)


def differing_cells(ours: list[list[Any]], ref: list[list[Any]]) -> list[tuple[int, str, Any, Any]]:
    """Every differing cell as (frame number, column, ours, the reference's)."""
    from agent.features.edge_iiotset import COLUMNS

    assert len(ours) == len(ref), f"{len(ours)} rows, the reference has {len(ref)}"
    return [(i, c, a[j], b[j]) for i, (a, b) in enumerate(zip(ours, ref, strict=True), 1)
            for j, c in enumerate(COLUMNS) if not same(a[j], b[j])]
