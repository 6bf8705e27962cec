"""Config loading: typed validation, key paths in errors, overrides, generated reference rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main
from agent.config import AgentConfig, describe, load_config
from agent.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "agent.yaml"
    p.write_text(text)
    return p


def test_defaults_without_file() -> None:
    cfg = load_config(None)
    assert isinstance(cfg, AgentConfig)
    assert cfg.mqtt.qos == 1
    assert cfg.mqtt.tls.insecure is False


def test_nested_values_are_typed(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "mqtt:\n  port: 8883\n  tls:\n    enabled: true\nmodel:\n  max_wait_ms: 5\n"))
    assert cfg.mqtt.port == 8883
    assert cfg.mqtt.tls.enabled is True
    assert cfg.model.max_wait_ms == 5.0 and isinstance(cfg.model.max_wait_ms, float)


def test_unknown_key_names_path_and_file(tmp_path: Path) -> None:
    p = write(tmp_path, "mqtt:\n  tls:\n    ca_fiel: /x\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert str(p) in msg and "mqtt.tls.ca_fiel" in msg and "ca_file" in msg


def test_wrong_type_names_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mqtt\.port: expected an integer"):
        load_config(write(tmp_path, "mqtt:\n  port: eighty\n"))
    with pytest.raises(ConfigError, match=r"mqtt\.qos: expected one of"):
        load_config(write(tmp_path, "mqtt:\n  qos: 3\n"))
    with pytest.raises(ConfigError, match=r"alerts: expected a mapping"):
        load_config(write(tmp_path, "alerts: 5\n"))


def test_bad_yaml_names_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"agent\.yaml: line \d+: invalid YAML"):
        load_config(write(tmp_path, "site: a\nmqtt: [unclosed\n"))


def test_overrides(tmp_path: Path) -> None:
    p = write(tmp_path, "mqtt:\n  port: 1883\n")
    cfg = load_config(p, ["mqtt.port=8883", "site=plant-7", "mqtt.tls.enabled=true", "model.thresholds.DDoS_TCP=0.9"])
    assert (cfg.mqtt.port, cfg.site, cfg.mqtt.tls.enabled) == (8883, "plant-7", True)
    assert cfg.model.thresholds == {"DDoS_TCP": 0.9}
    with pytest.raises(ConfigError, match=r"mqtt\.prot"):
        load_config(p, ["mqtt.prot=5"])
    with pytest.raises(ConfigError, match=r"expected dotted\.key=value"):
        load_config(p, ["mqtt.port"])


def test_profile_base_is_overridden_by_file(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "model:\n  threads: 2\n"), base={"model": {"threads": 4, "batch_size": 8}})
    assert (cfg.model.threads, cfg.model.batch_size) == (2, 8)


def test_every_key_documented() -> None:
    rows = describe()
    assert len(rows) > 50
    missing = [key for key, _tp, _default, text in rows if not text]
    assert missing == []


def test_check_config_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "site: plant\n")
    assert main(["check-config", str(good), "-q"]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("sitte: plant\n")
    assert main(["check-config", str(bad)]) == 2
    assert "sitte: unknown key" in capsys.readouterr().err
