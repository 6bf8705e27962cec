"""End-to-end replay through the real pipeline with a small real int8 bundle (TensorFlow builds it)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main

REPO = Path(__file__).resolve().parent.parent


def _tiny_bundle_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("tiny_bundle", REPO / "bench" / "tiny_bundle.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def can_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tensorflow")
    from agent.features.can_temporal import CanTemporalExtractor

    out = tmp_path_factory.mktemp("bundle") / "tiny-can"
    return _tiny_bundle_module().make_bundle(  # type: ignore[no-any-return]
        out, "can-temporal", "ciciov2024", list(CanTemporalExtractor.columns), window=8, stride=4,
        key="channel", trigger="dt_id_ratio",
    )


def _candump(path: Path, n: int) -> None:
    """A candump -L log: three periodic ids, then a burst of one id (a flood a model can notice)."""
    lines = []
    t = 1_700_000_000.0
    for i in range(n):
        t += 0.001
        can_id = (0x100, 0x200, 0x300)[i % 3] if i < n * 3 // 4 else 0x000
        lines.append(f"({t:.6f}) vcan0 {can_id:03X}#{i % 256:02X}00000000000000")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.train
def test_replay_can_log_end_to_end(tmp_path: Path, can_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "bus.log"
    _candump(log, 4000)
    cfg = tmp_path / "can.yaml"
    cfg.write_text(
        f"state_dir: {tmp_path}\nfeatures:\n  kind: can-temporal\nmodel:\n  bundle: {can_bundle}\n"
        "mqtt:\n  enabled: false\nsource:\n  backend: canlog\n"
    )
    out, stats = tmp_path / "alerts.jsonl", tmp_path / "stats.json"
    rc = main(["replay", "--config", str(cfg), "--input", str(log), "--jsonl", str(out),
               "--stats-json", str(stats)])
    assert rc == 0
    s = json.loads(stats.read_text())
    assert s["records_in"] == s["records_scored"] == 4000
    assert s["dropped_queue"] == 0
    # One stream (vcan0), W=8, S=4: windows end at records 8, 12, ..., 4000.
    assert s["windows_scored"] == (4000 - 8) // 4 + 1
    alerts = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    assert len(alerts) == s["alerts_raised"]
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    for a in alerts:
        assert a["event_type"] == "alert"
        assert a["edge_ids"]["class"] == "Attack"
        assert a["can"]["iface"] == "vcan0"
    printed = capsys.readouterr().out
    assert "records in" in printed and "nothing was scored" not in printed


@pytest.mark.train
def test_replay_shorter_than_one_window_says_nothing_was_scored(tmp_path: Path, can_bundle: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "short.log"
    _candump(log, 7)  # W = 8
    cfg = tmp_path / "can.yaml"
    cfg.write_text(
        f"state_dir: {tmp_path}\nfeatures:\n  kind: can-temporal\nmodel:\n  bundle: {can_bundle}\n"
        "mqtt:\n  enabled: false\nsource:\n  backend: canlog\n"
    )
    assert main(["replay", "--config", str(cfg), "--input", str(log)]) == 0
    assert "fewer records than one model window (8): nothing was scored" in capsys.readouterr().out


@pytest.mark.train
def test_paced_replay_drops_are_counted_not_hidden(tmp_path: Path, can_bundle: Path) -> None:
    log = tmp_path / "bus.log"
    _candump(log, 1500)
    cfg = tmp_path / "can.yaml"
    cfg.write_text(
        f"state_dir: {tmp_path}\nfeatures:\n  kind: can-temporal\nmodel:\n  bundle: {can_bundle}\n"
        "mqtt:\n  enabled: false\nsource:\n  backend: canlog\n"
    )
    stats = tmp_path / "stats.json"
    rc = main(["replay", "--config", str(cfg), "--input", str(log), "--rate", "5000", "--quiet",
               "--stats-json", str(stats)])
    assert rc == 0
    s = json.loads(stats.read_text())
    assert s["records_in"] == 1500
    assert s["records_scored"] + s["dropped_queue"] == 1500
    assert s["elapsed_s"] >= 0.25  # 1500 records at 5000/s take at least 0.3 s


def test_replay_of_a_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("mqtt:\n  enabled: false\n")
    assert main(["replay", "--config", str(cfg), "--input", str(tmp_path / "nope.pcap")]) == 2
    assert "nope.pcap: no such file" in capsys.readouterr().err


def _frames_before_error(path: Path) -> tuple[int, int]:
    """(frames a reader yields before the file's error, byte offset just after the last of them)."""
    from agent.errors import CaptureError
    from agent.sources.pcapfile import PcapFileSource

    n, offset = 0, 24
    try:
        for frame in PcapFileSource(path):
            n += 1
            offset += 16 + len(frame.data)
    except CaptureError:
        return n, offset
    raise AssertionError(f"{path} was expected to end in an error")


def _incidents(path: Path) -> list[tuple[object, ...]]:
    """What an alert says, without its random id (the same input must give the same list)."""
    out = []
    for line in path.read_text().splitlines():
        a = json.loads(line)
        e = a["edge_ids"]
        out.append((a["timestamp"], e["class"], e["phase"], e["first_seen"], e["last_seen"], e["count"],
                    a.get("src_ip"), a.get("dest_ip")))
    return out


def test_a_capture_cut_short_scores_every_record_read_before_the_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pcap truncated mid-frame: the records before the cut are all scored, their alerts written,
    and the counts add up; the alerts equal those of a clean file holding exactly those records."""
    whole = (REPO / "models" / "edge-iiotset-lab" / "demo" / "capture.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole[:300_000])
    n, good_bytes = _frames_before_error(cut)
    assert n > 512  # more than one capture batch, so a lost partial batch would show
    clean = tmp_path / "clean.pcap"
    clean.write_bytes(whole[:good_bytes])
    base = ["--config", str(REPO / "configs" / "demo.yaml"), "--set", "mqtt.enabled=false",
            "--set", f"state_dir={tmp_path}", "--set", "sinks.console=false", "--set", "sinks.jsonl.path=null",
            "--set", f"model.bundle={REPO / 'models' / 'edge-iiotset-lab'}"]
    results = {}
    for name, path, want_rc in (("cut", cut, 1), ("clean", clean, 0)):
        alerts, stats = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.json"
        rc = main(["replay", *base, "--input", str(path), "--jsonl", str(alerts), "--stats-json", str(stats)])
        assert rc == want_rc
        s = json.loads(stats.read_text())
        assert s["records_in"] == n
        assert s["records_in"] == s["records_scored"] + s["records_unscored"] + s["dropped_queue"]
        assert s["dropped_queue"] == 0
        assert len(alerts.read_text().splitlines()) == s["alerts_raised"]
        results[name] = (s["records_scored"], s["windows_scored"], _incidents(alerts))
    assert results["cut"] == results["clean"]
    printed = capsys.readouterr()
    assert "the capture is corrupt or cut short" in printed.out + printed.err


def _agent(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m agent ARGS`` run from ``cwd`` with this checkout's package."""
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def test_offline_replay_of_a_production_config_from_any_directory(tmp_path: Path) -> None:
    """configs/ethernet.yaml names a broker, its password file and /var/lib paths; --offline needs none
    of them, and its bundled model is found although the working directory is not the checkout."""
    before = Path("/var/lib/edge-ids").exists()
    proc = _agent(["replay", "--offline", "--config", str(REPO / "configs" / "ethernet.yaml"),
                   "--input", str(REPO / "models" / "edge-iiotset-lab" / "demo" / "capture.pcap")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "records in" in proc.stdout
    assert " DDoS_TCP " in proc.stdout  # alerts printed on standard output
    assert Path("/var/lib/edge-ids").exists() == before
    assert list(tmp_path.iterdir()) == []


def test_offline_replay_writes_alerts_to_jsonl_not_the_console(tmp_path: Path) -> None:
    out, state = tmp_path / "alerts.jsonl", tmp_path / "state"
    proc = _agent(["replay", "--offline", "--config", str(REPO / "configs" / "can.yaml"), "--jsonl", str(out),
                   "--set", f"state_dir={state}", "--stats-json", str(tmp_path / "s.json"), "--quiet",
                   "--input", str(REPO / "models" / "ciciov2024-lab" / "demo" / "capture.log")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["alerts_raised"] == len(out.read_text().splitlines()) > 0
    assert proc.stdout == ""  # with --jsonl the alerts go to the file, not the console


def test_the_documented_replay_flags_keep_working(tmp_path: Path) -> None:
    """``replay --config configs/can.yaml --input F --jsonl OUT --set mqtt.enabled=false --set state_dir=S``."""
    out = tmp_path / "alerts.jsonl"
    rc = main(["replay", "--config", str(REPO / "configs" / "can.yaml"),
               "--input", str(REPO / "models" / "ciciov2024-lab" / "demo" / "capture.log"), "--jsonl", str(out),
               "--set", "mqtt.enabled=false", "--set", f"state_dir={tmp_path / 'S'}", "--quiet"])
    assert rc == 0
    classes = {json.loads(line)["edge_ids"]["class"] for line in out.read_text().splitlines()}
    assert classes == {"DoS", "SPOOFING"}


def test_offline_keeps_what_set_gives_and_turns_the_rest_off() -> None:
    from agent.commands.replay import offline_config
    from agent.config import load_config

    sets = ["state_dir=/srv/state"]
    cfg = offline_config(load_config(REPO / "configs" / "ethernet.yaml", sets), sets, "/tmp/scratch", None)
    assert (cfg.state_dir, cfg.mqtt.enabled, cfg.sinks.jsonl.path, cfg.sinks.console) == (
        "/srv/state", False, None, True)
    cfg = offline_config(load_config(REPO / "configs" / "ethernet.yaml"), [], "/tmp/scratch", "out.jsonl")
    assert (cfg.state_dir, cfg.sinks.console) == ("/tmp/scratch", False)
