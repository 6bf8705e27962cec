"""``edge-ids-trainer reproduce --quick`` end to end on small files in the published schema."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from support.trainer_data import write_cic_folder

from trainer.cli import main

pytest.importorskip("tensorflow")
pytest.importorskip("imblearn")


def _captures(root: Path) -> Path:
    """A clean candump log of a made-up car under ``can-site/learn`` (the transfer protocol's input)."""
    log = root / "can-site" / "learn" / "car" / "drive.log"
    log.parent.mkdir(parents=True)
    lines = []
    for i in range(400):
        can_id, data = [(0x1EB, "0134"), (0x2A0, "00FF10203040"), (0x3C1, "1122334455667788")][i % 3]
        lines.append(f"({1717547947.0 + i * 0.005:.6f}) can0 {can_id:03X}#{data}")
    log.write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.slow
def test_reproduce_quick_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_cic_folder(tmp_path / "cic", 160)
    with zipfile.ZipFile(folder / "decimal_benign.csv.zip", "w") as zf:
        zf.write(folder / "decimal_benign.csv", "decimal_benign.csv")
        zf.writestr("__MACOSX/._decimal_benign.csv", b"")
    (folder / "decimal_benign.csv").unlink()
    out = tmp_path / "results"
    rc = main(["reproduce", "--dataset", "ciciov2024", "--data", str(folder), "--out", str(out), "--quick",
               "--captures", str(_captures(tmp_path / "captures"))])
    assert rc == 0
    err = capsys.readouterr().err
    assert "ETA" in err and "epoch 1/" in err
    md = (out / "ciciov2024.md").read_text()
    for heading in ("## Table II", "## Table III", "## Honest protocols", "### 3. Leave one attack class out",
                    "### 4. The agent's view", "### 5. Transfer to other cars", "## Choices made"):
        assert heading in md
    assert "99.99%" in md and "not given here" in md and "quick subsample" in md
    for png in ("confusion_paper", "confusion_dedup", "confusion_grouped", "confusion_windows", "leave_one_out",
                "curves_paper_and_variants", "curves_honest"):
        assert (out / "ciciov2024" / f"{png}.png").stat().st_size > 1000
    assert not list(out.rglob("*.tflite"))  # models never land beside the report
    res = json.loads((out / "ciciov2024.json").read_text())
    assert set(res["leave_one_out"]) == {"DoS", "GAS", "RPM"}
    for cls, r in res["leave_one_out"].items():
        assert cls not in r["int8"]["classes"]  # the left-out class is not even an output
        assert r["held_out_rows"] > 0 and 0.0 <= r["flagged_int8"] <= 1.0
    assert res["grouped"]["test_rows_seen_in_training"] == 0.0
    assert res["dedup"]["test_rows_seen_in_training"] == 0.0
    assert res["paper_protocol"]["test_rows_seen_in_training"] > 0.0  # DoS rows are all one row, copied
    assert res["transfer"]["logs"][0]["frames"] == 400
    assert 0.0 <= res["paper_protocol"]["int8_agreement"] <= 1.0


def test_reproduce_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["reproduce", "--dataset", "ciciov2024", "--data", str(tmp_path / "nope"), "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "nope: no such file or directory" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "decimal_DoS.csv").write_text("a,b\n1,2\n")
    rc = main(["reproduce", "--dataset", "ciciov2024", "--data", str(bad), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "Traceback" not in err
    assert "decimal_DoS.csv: not a CICIoV2024 CSV" in err.splitlines()[-1]
