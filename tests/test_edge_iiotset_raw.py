"""Edge-IIoTset's raw per-attack CSVs (``Attack traffic/*.csv``): the MITM file's column shift is found,
counted and dropped (or kept on request), and ``audit`` runs on such files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from support.real_data import real_dataset
from support.trainer_data import write_edge_csv

from trainer.cli import main
from trainer.config import load_trainer_config
from trainer.data import DataError, load_dataset

pytest.importorskip("sklearn")


def _attack_folder(root: Path, shifted: int) -> Path:
    """Two per-attack files; the first ``shifted`` rows of MITM.csv hold a bare number in frame.time."""
    folder = root / "Attack traffic"
    folder.mkdir(parents=True)
    for name, cls, seed in (("MITM.csv", "MITM", 1), ("Port_Scanning.csv", "Port_Scanning", 2)):
        df = pd.read_csv(write_edge_csv(root / f"src-{seed}.csv", 120, seed), dtype=str, keep_default_na=False)
        df["Attack_type"] = cls
        df["Attack_label"] = "1"
        df["tcp.ack"] = [str(i) for i in range(len(df))]  # no duplicates, so only the shift drops rows
        if cls == "MITM":
            df.loc[: shifted - 1, "frame.time"] = ["0.0", "6.0"] * (shifted // 2) + ["0.0"] * (shifted % 2)
        df.to_csv(folder / name, index=False)
    return folder


def test_shifted_rows_are_counted_and_dropped_or_kept(tmp_path: Path) -> None:
    folder = _attack_folder(tmp_path, 25)
    ds = load_dataset("edge-iiotset", folder, load_trainer_config().data)
    assert ds.report.column_shifted_rows == {"MITM.csv": 25}
    assert [n for why, n in ds.report.dropped_rows.items() if "column-shifted" in why] == [25]
    assert (ds.labels == "MITM").sum() == 95
    kept = load_dataset("edge-iiotset", folder, load_trainer_config(None, ["data.shifted_rows=keep"]).data)
    assert kept.report.column_shifted_rows == {"MITM.csv": 25} and (kept.labels == "MITM").sum() == 120


def test_audit_runs_on_raw_attack_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "audit" / "audit.json"
    assert main(["audit", "--dataset", "edge-iiotset", "--data", str(_attack_folder(tmp_path, 10)),
                 "--report", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["load"]["column_shifted_rows"] == {"MITM.csv": 10} and r["classes"] == ["MITM", "Port_Scanning"]
    assert "column-shifted rows (drop): 10 in MITM.csv" in report.with_suffix(".md").read_text()


def test_real_raw_files_every_mitm_row_is_shifted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = real_dataset("edge-iiotset")
    cfg = load_trainer_config().data
    ds = load_dataset("edge-iiotset", folder, cfg)
    assert ds.report.rows_read == 1229 + 1001
    assert ds.report.column_shifted_rows == {"MITM_attack.csv": 1229}
    assert set(ds.labels) == {"OS_Fingerprinting"}
    with pytest.raises(DataError, match=r"MITM_attack\.csv: no row kept of 1229 read \(1229 MITM_attack\.csv: "
                                        r"column-shifted"):
        load_dataset("edge-iiotset", folder / "MITM_attack.csv", load_trainer_config().data)
    # the audit says why it cannot compare classes, in one line ...
    assert main(["audit", "--dataset", "edge-iiotset", "--data", str(folder), "--report",
                 str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "only OS_Fingerprinting is left of 2230 rows read (1229 dropped" in err[-1]
    # ... and with the shifted rows kept, it audits the defect itself
    report = tmp_path / "b" / "audit.json"
    assert main(["audit", "--dataset", "edge-iiotset", "--data", str(folder), "--report", str(report),
                 "--set", "data.shifted_rows=keep"]) == 0
    r = json.loads(report.read_text())
    assert r["classes"] == ["MITM", "OS_Fingerprinting"]
    assert r["load"]["column_shifted_rows"] == {"MITM_attack.csv": 1229}
