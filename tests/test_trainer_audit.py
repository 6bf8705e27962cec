"""The leakage audit names a planted shortcut field and leaves a pure-noise field alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.trainer_data import write_edge_shortcut_csv

pytest.importorskip("sklearn")


def test_audit_names_planted_shortcut(tmp_path: Path) -> None:
    from trainer.cli import main

    data = write_edge_shortcut_csv(tmp_path / "edge.csv", 600, shortcut="mqtt.topic", noise="tcp.checksum")
    out = tmp_path / "audit" / "audit.json"
    assert main(["audit", "--dataset", "edge-iiotset", "--data", str(data), "--report", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["flagged"] == ["mqtt.topic"]
    fields = {f["field"]: f for f in r["fields"]}
    assert fields["mqtt.topic"]["single_accuracy"] > 0.99 and fields["mqtt.topic"]["known_shortcut"]
    assert not fields["tcp.checksum"]["flagged"] and fields["tcp.checksum"]["single_accuracy"] < 0.5
    probe = r["linear_probe"]
    assert probe["all"]["accuracy"] > 0.99  # the shortcut carries the score...
    assert probe["without_flagged"]["accuracy"] < probe["all"]["accuracy"] - 0.1  # ...and leaves with it
    assert "`mqtt.topic`" in out.with_suffix(".md").read_text()


def test_audit_numeric_shortcut(tmp_path: Path) -> None:
    from trainer.commands.audit import audit
    from trainer.config import load_trainer_config

    data = write_edge_shortcut_csv(tmp_path / "edge.csv", 400, seed=1, shortcut="tcp.seq", noise="mbtcp.trans_id")
    r = audit("edge-iiotset", data, load_trainer_config())
    assert r["flagged"] == ["tcp.seq"]
    assert "mbtcp.trans_id" not in r["flagged"]
