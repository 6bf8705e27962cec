"""Every shipped config and profile loads, and docs/configuration.md matches the schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.commands.config_docs import render
from agent.config import describe, load_config
from agent.profiles import load_profile

REPO = Path(__file__).resolve().parent.parent
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
PROFILES = sorted((REPO / "firmware_profiles").glob("*.yaml"))
DOCS = REPO / "docs" / "configuration.md"


def test_expected_configs_are_shipped() -> None:
    assert {p.stem for p in CONFIGS} >= {"ethernet", "can", "demo", "fleet-example"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_config_loads(path: Path) -> None:
    cfg = load_config(path)
    # found from the config's own directory: the bundled model of that name
    assert Path(cfg.model.bundle).parent == REPO / "models"
    assert Path(cfg.model.bundle).name in ("edge-iiotset-lab", "ciciov2024-lab")
    # the feature kind the default bundle was trained on (its manifest says so; the agent checks it)
    expected_kind = json.loads((Path(cfg.model.bundle) / "manifest.json").read_text())["feature_kind"]
    assert cfg.features.kind == expected_kind
    if cfg.profile:
        load_profile(cfg.profile)  # names a shipped profile
    if cfg.source.backend in ("scapy", "pyshark"):
        assert cfg.source.interface
    # production configs name credential files of the gateway; the rest must pass as it is
    files = [f for f in (cfg.mqtt.password_file, cfg.mqtt.tls.ca_file) if f]
    if cfg.mqtt.enabled and any(not Path(f).is_file() for f in files):
        assert main(["check-config", "-q", str(path)]) == 2
        assert main(["check-config", "-q", str(path), "--set", "mqtt.enabled=false"]) == 0
    else:
        assert main(["check-config", "-q", str(path)]) == 0


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_shipped_profile_loads_as_config_base(path: Path) -> None:
    load_config(None, [f"profile={path}"])


def test_can_config_on_its_profile() -> None:
    cfg = load_config(REPO / "configs" / "can.yaml")
    assert cfg.source.backend == "canbus"
    assert cfg.source.can["bitrate"] == 500000  # from imx8-telematics
    assert cfg.source.can["channel"] == "can0"
    assert cfg.model.threads == 1


def test_docs_are_generated_from_the_schema() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is out of date: run edge-ids-agent config-docs --out docs/configuration.md"
    )


def test_docs_list_every_key() -> None:
    text = render()
    for key, _tp, _default, doc in describe():
        assert f"`{key}`" in text
        assert doc, f"{key} has no doc"


def test_config_docs_check_detects_drift(tmp_path: Path) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text(render().replace("`mqtt.port`", "`mqtt.prot`"))
    assert main(["config-docs", "--check", str(stale)]) == 1
    assert main(["config-docs", "--check", str(DOCS)]) == 0
