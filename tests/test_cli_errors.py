"""Every command, given bad input, says what is wrong in one clear line and exits non-zero.

Missing, truncated and wrong-format files, a config that does not fit its input, and bad values:
none of them may end in a traceback. Most cases run in-process (an exception escaping ``main``
fails the test by itself); a few run ``python -m agent`` to see exactly what a user sees.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main

REPO = Path(__file__).resolve().parent.parent
PCAP = REPO / "models" / "edge-iiotset-lab" / "demo" / "capture.pcap"
CANLOG = REPO / "models" / "ciciov2024-lab" / "demo" / "capture.log"
ETH = str(REPO / "configs" / "ethernet.yaml")
CAN = str(REPO / "configs" / "can.yaml")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Bad inputs on disk: a text file named .pcap, a truncated pcap, a garbage CAN log, bad YAML."""
    d = tmp_path_factory.mktemp("bad")
    (d / "text.pcap").write_text("hello, this is not a capture\n")
    (d / "cut.pcap").write_bytes(PCAP.read_bytes()[:300_000])
    (d / "empty.pcap").write_bytes(b"")
    (d / "garbage.log").write_text("this is no candump line\n")
    (d / "notes.md").write_text("# notes\n")
    (d / "bad.yaml").write_text("mqtt: [unclosed\n")
    (d / "list.yaml").write_text("- a\n- b\n")
    return {p.name.replace(".", "_"): str(p) for p in d.iterdir()} | {"dir": str(d), "missing": str(d / "missing.pcap")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


OFFLINE = ["--set", "mqtt.enabled=false", "--set", "sinks.jsonl.path=null"]

#: (id, argv with {name} placeholders for ``files``, what the one-line message must contain)
CASES: list[tuple[str, list[str], str]] = [
    ("replay-missing-input", ["replay", "-c", ETH, *OFFLINE, "--input", "{missing}"], "missing.pcap: no such file"),
    ("replay-missing-config", ["replay", "-c", "{dir}/nope.yaml", "--input", str(PCAP)], "cannot read config"),
    ("replay-bad-yaml", ["replay", "-c", "{bad_yaml}", "--input", str(PCAP)], "invalid YAML"),
    ("replay-yaml-not-a-mapping", ["replay", "-c", "{list_yaml}", "--input", str(PCAP)], "top level must be a mapping"),
    ("replay-text-named-pcap", ["replay", "-c", ETH, *OFFLINE, "--input", "{text_pcap}"],
     "not a pcap or pcapng file"),
    ("replay-empty-pcap", ["replay", "-c", ETH, *OFFLINE, "--input", "{empty_pcap}"], "not a pcap or pcapng file"),
    ("replay-garbage-canlog", ["replay", "-c", CAN, *OFFLINE, "--input", "{garbage_log}"],
     "garbage.log:1: malformed candump record"),
    ("replay-unknown-log-format", ["replay", "-c", CAN, *OFFLINE, "--input", "{notes_md}"],
     "unknown CAN log format '.md'"),
    ("replay-canlog-with-ethernet-config", ["replay", "-c", ETH, *OFFLINE, "--input", str(CANLOG)],
     f"is a CAN log (not a pcap/pcapng capture), but {ETH} sets features.kind 'edge-iiotset-context'"),
    ("replay-pcap-with-can-config", ["replay", "-c", CAN, *OFFLINE, "--input", str(PCAP)],
     f"is an Ethernet capture, but {CAN} sets features.kind 'can-temporal'"),
    ("replay-set-typo", ["replay", "-c", ETH, "--set", "mqtt.prot=5", "--input", str(PCAP)],
     "--set mqtt.prot=5: mqtt.prot: unknown key"),
    ("replay-set-bad-type", ["replay", "-c", ETH, "--set", "mqtt.port=abc", "--input", str(PCAP)],
     "--set mqtt.port=abc: mqtt.port: expected an integer"),
    ("replay-bad-port", ["replay", "-c", ETH, *OFFLINE, "--set", "mqtt.port=70000", "--input", str(PCAP)],
     "mqtt.port: must be a TCP port"),
    ("replay-production-password-file", ["replay", "-c", ETH, "--input", str(PCAP)], "mqtt.password_file: cannot read"),
    ("replay-zero-rate", ["replay", "-c", ETH, *OFFLINE, "--input", str(PCAP), "--rate", "0"],
     "argument --rate: must be above 0"),
    ("run-missing-config", ["run", "-c", "{dir}/nope.yaml"], "cannot read config"),
    ("run-unknown-backend", ["run", "-c", ETH, *OFFLINE, "--set", "source.backend=scappy"],
     "unknown capture source 'scappy'"),
    ("run-can-backend-ethernet-kind", ["run", "-c", ETH, *OFFLINE, "--set", "source.backend=canbus"],
     "reads Ethernet frames but source.backend 'canbus' yields CAN frames"),
    ("run-missing-bundle", ["run", "-c", ETH, *OFFLINE, "--set", "model.bundle=/nonexistent/bundle"],
     "no such model bundle directory"),
    ("features-missing-input", ["features", "--kind", "edge-iiotset", "--input", "{missing}", "--out", "-"],
     "missing.pcap: no such file"),
    ("features-text-named-pcap", ["features", "--kind", "edge-iiotset", "--input", "{text_pcap}", "--out", "-"],
     "not a pcap or pcapng file"),
    ("features-pcap-as-can", ["features", "--kind", "can-temporal", "--input", str(PCAP), "--out", "-"],
     "is an Ethernet capture, but --kind can-temporal reads CAN logs"),
    ("features-canlog-as-ethernet", ["features", "--kind", "edge-iiotset", "--input", str(CANLOG), "--out", "-"],
     "is a CAN log (not a pcap/pcapng capture), but --kind edge-iiotset reads captures"),
    ("features-unwritable-out", ["features", "--kind", "edge-iiotset", "--input", str(PCAP), "--out",
                                 "/nonexistent/dir/out.csv"], "--out /nonexistent/dir/out.csv: cannot write"),
    ("features-bad-set", ["features", "--kind", "edge-iiotset", "--input", str(PCAP), "--out", "-",
                          "--set", "features.max_hosts=lots"], "--set features.max_hosts=lots"),
    ("check-config-missing", ["check-config", "{dir}/nope.yaml"], "cannot read config"),
    ("check-config-a-capture", ["check-config", str(PCAP)], "invalid YAML"),
    ("check-config-bad-value", ["check-config", ETH, *OFFLINE, "--set", "alerts.confirm_windows=0"],
     "alerts.confirm_windows: must be at least 1"),
    ("tail-bad-port", ["tail", "-c", ETH, "--set", "mqtt.port=-5", "--timeout", "1"], "mqtt.port: must be a TCP port"),
    ("profile-unknown", ["profile", "show", "no-such-profile"], "profile 'no-such-profile': not found"),
    ("demo-no-models", ["demo", "--models", "{dir}"], "the demo needs the default models"),
    ("install-service-unknown-example", ["install-service", "--example", "nope", "--dry-run", "--root", "{dir}/r"],
     "configs/nope.yaml: not found"),
    ("install-service-root-is-a-file", ["install-service", "--root", "{notes_md}"], "Not a directory"),
    ("learn-canlog-with-ethernet-config", ["learn", "-c", ETH, *OFFLINE, "--input", str(CANLOG), "--out", "{dir}/b"],
     "is a CAN log (not a pcap/pcapng capture)"),
    ("learn-text-named-pcap", ["learn", "-c", ETH, *OFFLINE, "--input", "{text_pcap}", "--out", "{dir}/b"],
     "not a pcap or pcapng file"),
    ("baseline-show-missing", ["baseline", "show", "{dir}/no-baseline"], "no baseline.json there"),
    ("replay-missing-baseline", ["replay", "-c", ETH, *OFFLINE, "--baseline", "{dir}/nb", "--input", str(PCAP)],
     "--baseline"),
    ("config-docs-missing", ["config-docs", "--check", "{dir}/nope.md"], "nope.md is out of date: run"),
]


@pytest.mark.parametrize(("argv", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clear_line(
    files: dict[str, str], argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.format(**files) for a in argv]
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse refusing an argument
        rc = exc.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    assert rc not in (0, None), out + err
    assert "Traceback" not in out + err
    assert says in out + err


def test_replay_of_a_truncated_capture_says_so_and_fails(files: dict[str, str], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["replay", "-c", ETH, *OFFLINE, "--set", f"state_dir={tmp_path}", "--input", files["cut_pcap"]])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "Traceback" not in out + err
    assert "the capture is corrupt or cut short" in err
    assert "the input stopped early" in out


def test_tail_that_never_reaches_its_broker_fails(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["tail", "-c", ETH, "--set", "mqtt.host=127.0.0.1", "--set", f"mqtt.port={_free_port()}",
               "--set", "mqtt.tls.enabled=false", "--set", "mqtt.username=null", "--timeout", "1.5"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "never reached the broker at 127.0.0.1" in err


@pytest.mark.parametrize(("argv", "says"), [
    (["replay", "-c", ETH, *OFFLINE, "--input", str(CANLOG)], "is a CAN log (not a pcap/pcapng capture)"),
    (["replay", "-c", CAN, *OFFLINE, "--input", str(PCAP)], "is an Ethernet capture"),
    (["run", "-c", ETH, *OFFLINE, "--set", "mqtt.port=-5"], "mqtt.port: must be a TCP port"),
], ids=["canlog-ethernet-config", "pcap-can-config", "run-negative-port"])
def test_python_m_agent_prints_no_traceback(tmp_path: Path, argv: list[str], says: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "agent", *argv], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "edge-ids-agent: error: " in proc.stderr and says in proc.stderr
