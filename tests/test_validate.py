"""check-config, startup and a SIGHUP reload refuse the same bad values with the same message.

They share :func:`agent.validate.validate`; these tests feed each bad value the issue tracker
collected to all three and compare what they say.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.cli import main
from agent.config import load_config
from agent.runtime import Pipeline

REPO = Path(__file__).resolve().parent.parent
CAPTURE = REPO / "models" / "edge-iiotset-lab" / "demo" / "capture.pcap"

#: (override, what the message must say)
BAD_VALUES = [
    ("mqtt.port=-5", "mqtt.port: must be a TCP port, 1-65535, got -5"),
    ("mqtt.port=70000", "mqtt.port: must be a TCP port, 1-65535, got 70000"),
    ("runtime.prometheus_port=0", "runtime.prometheus_port: must be a TCP port"),
    ("source.backend=scappy", "source.backend: unknown capture source 'scappy'; choose one of: canbus, canlog"),
    ("model.bundle=no-such-bundle", "model.bundle: no-such-bundle: no such model bundle directory"),
    ("model.thresholds.Foo=0.5", "model.thresholds: class(es) Foo are not in bundle 'edge-iiotset-lab'"),
    ("model.thresholds.DDoS_TCP=1.5", "model.thresholds.DDoS_TCP: must be a probability between 0 and 1"),
    ("features.kind=edge-iiotset", "bundle expects feature kind 'edge-iiotset-context'"),
    ("features.kind=can-temporal", "features.kind: 'can-temporal' reads CAN frames but source.backend 'pcap'"),
    ("rules.tcp_flood.min_sources=1", "rules.tcp_flood.min_sources must be at least 2, got 1"),
    ("rules.port_scan.window_s=0", "rules.port_scan.window_s must be positive"),
    ("alerts.confirm_windows=0", "alerts.confirm_windows: must be at least 1, got 0"),
    ("alerts.severity.DDoS_TCP=7", "alerts.severity.DDoS_TCP: must be 1 (highest) to 4, got 7"),
    ("model.batch_size=0", "model.batch_size: must be at least 1, got 0"),
    ("mqtt.enabled=true", "mqtt.password_file: cannot read"),
    ("mqtt.tls.key_file=/etc/hostname", "mqtt.tls.key_file is set but mqtt.tls.cert_file is not"),
    ("profile=no-such-profile", "profile 'no-such-profile': not found"),
    ("baseline.path=/nonexistent/baseline", "baseline /nonexistent/baseline: no baseline.json there"),
]


def _first_frames(path: Path, n: int) -> bytes:
    """A valid classic pcap holding the first ``n`` frames of ``path``."""
    from agent.sources.pcapfile import PcapFileSource

    end = 24
    for i, frame in enumerate(PcapFileSource(path)):
        if i == n:
            break
        end += 16 + len(frame.data)
    return path.read_bytes()[:end]


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    """A config that starts: the bundled model by name, a short capture file, no broker."""
    capture = tmp_path / "short.pcap"
    capture.write_bytes(_first_frames(CAPTURE, 200))
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        f"source:\n  backend: pcap\n  path: {capture}\n"
        "features:\n  kind: edge-iiotset-context\n"
        "model:\n  bundle: edge-iiotset-lab\n"
        f"mqtt:\n  enabled: false\n  password_file: {tmp_path / 'no-password'}\n"
        "logging:\n  level: WARNING\n"
    )
    return path


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("edge-ids-agent: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def test_the_base_config_is_valid_and_starts(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "-q", str(config)]) == 0
    assert main(["run", "--config", str(config)]) == 0
    assert "error" not in capsys.readouterr().err


@pytest.mark.parametrize(("override", "says"), BAD_VALUES, ids=[o for o, _ in BAD_VALUES])
def test_check_config_startup_and_reload_refuse_alike(
    config: Path, override: str, says: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["check-config", "-q", str(config), "--set", override]) == 2
    checked = _error_line(capsys)
    assert says in checked
    assert main(["run", "--config", str(config), "--set", override]) == 2
    assert _error_line(capsys) == checked
    try:
        bad = load_config(config, [override])
    except Exception as exc:  # noqa: BLE001 - a value the loader refuses: a reload refuses it the same way
        assert f"edge-ids-agent: error: {exc}" == checked
        return
    pipeline = Pipeline(load_config(config))
    logger = logging.getLogger("agent.runtime.pipeline")
    logger.addHandler(caplog.handler)  # the agent's log set-up may stop records reaching the root logger
    try:
        assert not pipeline.reload(bad)
    finally:
        logger.removeHandler(caplog.handler)
    assert pipeline.counters.reloads_refused == 1
    if override.startswith("source."):  # a reload never changes the source, whatever its value
        assert "restart the agent to change the capture source" in caplog.text
        return
    assert checked.removeprefix("edge-ids-agent: error: ") in caplog.text


def test_set_errors_name_the_option_not_the_file(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(config), "--set", "mqtt.prot=5"]) == 2
    line = _error_line(capsys)
    assert line.startswith("edge-ids-agent: error: --set mqtt.prot=5: mqtt.prot: unknown key")
    assert str(config) not in line
    config.write_text(config.read_text() + "sitte: x\n")
    assert main(["check-config", str(config)]) == 2
    assert _error_line(capsys).startswith(f"edge-ids-agent: error: {config}: sitte: unknown key")


def test_learning_needs_no_credential_files(config: Path) -> None:
    """learn builds no sinks, so the broker's password file need not exist where it learns."""
    from agent.errors import DeliveryError
    from agent.validate import validate

    cfg = load_config(config, ["mqtt.enabled=true"])
    with pytest.raises(DeliveryError, match=r"mqtt\.password_file"):
        validate(cfg)
    assert validate(cfg, with_sinks=False).bundle.manifest.name == "edge-iiotset-lab"
