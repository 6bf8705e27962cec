"""The pipeline's mechanics with small fake stages: bounded queue, back-pressure, signals, reload.

The fakes stand in for the model and the alert policy (whose own tests live beside them); the
threads, queue, counters, signal handling and reload logic under test are the real ones. Signal
tests run the agent's supervisor in a child process (this file, run as a script) and send it real
SIGTERM / SIGHUP.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.waiting import wait_for

from agent.config import AgentConfig, load_config
from agent.features import CAN_CONTEXT
from agent.records import CanFrame
from agent.runtime import Counters, Pacer, Pipeline, Scoring, serve
from agent.windows import Windower

CLASSES = ["Benign", "Attack"]


class FakeSource:
    """``n`` CAN frames (``None`` = endless), optionally paced; every 10th is an 'attack' (data 0xff)."""

    def __init__(self, n: int | None, rate: float | None = None):
        self.n = n
        self.rate = rate
        self.closed = False

    def __iter__(self) -> Iterator[CanFrame]:
        i = 0
        t0 = time.monotonic()
        while (self.n is None or i < self.n) and not self.closed:
            if self.rate:
                delay = t0 + i / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield CanFrame(1000.0 + i * 1e-3, 0x100, b"\xff" if i % 10 == 9 else b"\x00", 1, channel="vcan0")
            i += 1

    def stats(self) -> dict[str, int]:
        return {"kernel_dropped": 0}

    def close(self) -> None:
        self.closed = True


class FakeExtractor:
    columns = ("first_byte",)
    context_fields = CAN_CONTEXT

    def rows_with_context(self, records: Any) -> Iterator[tuple[list[float], tuple[Any, ...]]]:
        for r in records:
            yield [r.data[0] / 255.0], (r.ts, r.channel, r.arbitration_id)

    def stats(self) -> dict[str, int]:
        return {"malformed": 0}


class FakePreprocessor:
    def transform(self, rows: list[list[float]]) -> np.ndarray:
        return np.asarray(rows, dtype=np.float32)


class FakeScorer:
    """P(Attack) = the feature; ``delay_s`` per call makes scoring slower than capture."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self.delay_s:
            time.sleep(self.delay_s)
        p = x[:, 0, 0]
        return np.stack([1 - p, p], axis=1).astype(np.float32)


class FakePolicy:
    """Holds alerts until ``flush`` (as a merging policy does), so a lost flush loses alerts."""

    def __init__(self, tag: str = "v1"):
        self.tag = tag
        self.pending: list[dict[str, Any]] = []
        self.observed = 0
        self.ticks = 0

    def observe(self, key: Any, probs: np.ndarray, first_ts: float, last_ts: float, context: dict,
                index: int = -1) -> list[dict]:
        self.observed += 1
        self.pending.append({"alert_id": f"{self.tag}-{last_ts:.3f}", "key": key, "score": float(probs[1]),
                             "arbitration_id": context["arbitration_id"]})
        return []

    def flush(self, now: float | None = None) -> list[dict[str, Any]]:
        if now is not None:  # a periodic tick: incidents are still open
            self.ticks += 1
            return []
        out, self.pending = self.pending, []
        return out

    def stats(self) -> dict[str, int]:
        return {"observed": self.observed, "ticks": self.ticks}


class ListSink:
    def __init__(self, path: str | None = None):
        self.alerts: list[dict[str, Any]] = []
        self.path = path
        self.closed = False

    def emit(self, alert: dict[str, Any]) -> None:
        self.alerts.append(alert)
        if self.path:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(alert) + "\n")

    def flush(self, timeout_s: float) -> bool:
        return True

    def stats(self) -> dict[str, int]:
        return {"published": len(self.alerts)}

    def close(self) -> None:
        self.closed = True


def fake_scoring_factory(delay_s: float = 0.0, sink_path: str | None = None):  # type: ignore[no-untyped-def]
    """A scoring factory like ``build_scoring``: refuses configs whose bundle is 'bad'."""

    def factory(cfg: AgentConfig, previous: Scoring | None, counters: Counters) -> Scoring:
        if cfg.model.bundle.endswith("bad"):
            raise FileNotFoundError(f"{cfg.model.bundle}: model bundle directory not found")
        sinks = previous.sinks if previous is not None else [ListSink(sink_path)]
        return Scoring(
            cfg=cfg,
            extractor=FakeExtractor(),
            preprocessor=FakePreprocessor(),
            windower=Windower("record", 1, context_fields=CAN_CONTEXT),
            scorer=FakeScorer(delay_s),
            policy=FakePolicy(Path(cfg.model.bundle).name),
            sinks=sinks,
            classes=CLASSES,
            benign_class="Benign",
            thresholds={"Attack": 0.9},
            model_name=Path(cfg.model.bundle).name,
            context_fields=CAN_CONTEXT,
        )

    return factory


def _cfg(*overrides: str) -> AgentConfig:
    return load_config(None, ["model.bundle=v1", "model.max_wait_ms=5", *overrides])


# ------------------------------------------------------------------------------------------------


def test_slow_scorer_drops_at_the_queue_and_counts_every_record() -> None:
    n = 30_000
    cfg = _cfg("runtime.queue_size=256")  # at most 256 records may wait between capture and scoring
    src = FakeSource(n)
    depths: list[int] = []
    pipe = Pipeline(cfg, mode="drop", source_factory=lambda c: src,
                    scoring_factory=fake_scoring_factory(delay_s=0.002),
                    on_iteration=lambda: depths.append(pipe.counters.enqueued - pipe.counters.dequeued))
    pipe.start()
    assert pipe.wait(60)
    assert pipe.finish()
    c = pipe.counters.snapshot()
    assert c["records_in"] == n
    assert c["dropped_queue"] > 0
    # Nothing vanishes: every record was either scored or dropped and counted.
    assert c["records_scored"] + c["dropped_queue"] == n
    assert max(depths) <= c["queue_capacity"] == 256
    assert c["windows_scored"] == c["records_scored"]


def test_replay_back_pressure_loses_nothing() -> None:
    n = 20_000
    cfg = _cfg("runtime.queue_size=256")
    pipe = Pipeline(cfg, mode="block", source_factory=lambda c: FakeSource(n),
                    scoring_factory=fake_scoring_factory(delay_s=0.001))
    pipe.start()
    assert pipe.wait(60)
    pipe.finish()
    c = pipe.counters.snapshot()
    assert c["dropped_queue"] == 0
    assert c["records_scored"] == c["records_in"] == n
    sink = pipe.scoring.sinks[0]  # type: ignore[union-attr]
    assert len(sink.alerts) == n // 10  # every attack frame, delivered by the final policy flush
    assert sink.closed


def test_replayed_file_holds_few_batches_and_live_capture_the_configured_queue() -> None:
    from agent.runtime.pipeline import CAPTURE_BATCH, REPLAY_QUEUE_BATCHES

    cfg = _cfg()  # runtime.queue_size as shipped: 65,536 records
    block = Pipeline(cfg, mode="block", source_factory=lambda c: FakeSource(1), scoring_factory=fake_scoring_factory())
    live = Pipeline(cfg, mode="drop", source_factory=lambda c: FakeSource(1), scoring_factory=fake_scoring_factory())
    assert block.counters.queue_capacity == REPLAY_QUEUE_BATCHES * CAPTURE_BATCH < cfg.runtime.queue_size
    assert live.counters.queue_capacity == cfg.runtime.queue_size


def test_paced_replay_keeps_the_rate() -> None:
    pacer = Pacer(rate=2000)
    t0 = time.monotonic()
    for i in range(400):
        pacer(CanFrame(float(i), 1, b"", 0))
    assert 0.17 < time.monotonic() - t0 < 0.6


def test_partial_batch_on_a_quiet_source_is_scored_promptly() -> None:
    cfg = _cfg("model.max_wait_ms=20")
    pipe = Pipeline(cfg, source_factory=lambda c: FakeSource(None, rate=20),
                    scoring_factory=fake_scoring_factory())
    pipe.start()
    try:
        # 20 frames/s would never fill a batch: the scoring side takes stale partial batches.
        assert wait_for(lambda: pipe.counters.records_scored >= 5, 0.5, step=0.01)
    finally:
        assert pipe.stop(2.0)


def _scoring_loop_turns(pipe: Pipeline, turns: int = 2) -> None:
    """Wait until the scoring loop has scored ``turns`` more batches: the second one began after the
    call, so the loop went round (and past its swap point) at least once."""
    for _ in range(turns):
        before = pipe.counters.records_scored
        assert wait_for(lambda b=before: pipe.counters.records_scored > b, 5.0, step=0.01), "the scoring loop stalled"


def test_reload_in_process_swaps_and_refuses_bad() -> None:
    pipe = Pipeline(_cfg(), source_factory=lambda c: FakeSource(None, rate=2000),
                    scoring_factory=fake_scoring_factory())
    pipe.start()
    try:
        first = pipe.scoring
        assert not pipe.reload(_cfg("model.bundle=models/bad"))
        _scoring_loop_turns(pipe)  # a swap, had the refusal left one pending, happens at the loop's turn
        assert pipe.scoring is first
        assert pipe.reload(_cfg("model.bundle=v2"))
        wait_for(lambda: pipe.scoring is not first, 2.0, step=0.01)
        assert pipe.scoring is not None and pipe.scoring.model_name == "v2"
        assert pipe.scoring.sinks is first.sinks  # same sink settings: the sink (and its outbox) is kept
        # the old policy's pending alerts were flushed to the sink at the swap
        assert any(a["alert_id"].startswith("v1-") for a in first.sinks[0].alerts)
    finally:
        pipe.stop(2.0)
    c = pipe.counters.snapshot()
    assert (c["reloads"], c["reloads_refused"]) == (1, 1)


def test_prometheus_endpoint_serves_counters() -> None:
    pipe = Pipeline(_cfg("runtime.prometheus_port=0"), source_factory=lambda c: FakeSource(None, rate=1000),
                    scoring_factory=fake_scoring_factory())
    pipe.start()
    try:
        port = pipe.metrics_port  # bound (and listening) once start() returns
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        pipe.stop(2.0)
    assert "edge_ids_records_in " in body
    assert "edge_ids_rss_mb " in body


# ------------------------------------------------------------------------------------------------
# signals, in a child process running serve()


#: records the child scores before it says BUSY (the SIGTERM test wants a good stretch of traffic behind it)
BUSY_RECORDS = 600


def _child(cfg_path: str, sink_path: str, stats_path: str) -> int:
    def load() -> AgentConfig:
        return load_config(cfg_path)

    def busy() -> None:  # tells the test once a good stretch of traffic is scored
        if not said and pipe.counters.records_scored >= BUSY_RECORDS:
            said.append(True)
            print("BUSY", flush=True)

    said: list[bool] = []
    pipe = Pipeline(load(), source_factory=lambda c: FakeSource(None, rate=2000),
                    scoring_factory=fake_scoring_factory(sink_path=sink_path),
                    on_ready=lambda: print("READY", flush=True), on_iteration=busy)
    rc = serve(pipe, load)
    Path(stats_path).write_text(json.dumps({**pipe.counters.snapshot(), "model": pipe.scoring.model_name}))  # type: ignore[union-attr]
    return rc


def _start_child(
    tmp_path: Path, bundle: str = "v1", env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], Path, Path, Path]:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"model:\n  bundle: {bundle}\n  max_wait_ms: 5\n")
    sink, stats = tmp_path / "alerts.jsonl", tmp_path / "stats.json"
    proc = subprocess.Popen([sys.executable, __file__, str(cfg), str(sink), str(stats)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent, env=env)
    line = _read_line(proc)
    assert line.strip() == "READY", proc.stderr.read() if proc.stderr else ""
    return proc, cfg, sink, stats


def _read_line(proc: subprocess.Popen[str], timeout: float = 20.0) -> str:
    """The child's next stdout line ("" when it ended or said nothing within ``timeout``)."""
    got: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: got.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    return got[0] if got else ""


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    """A Unix datagram socket standing in for systemd's notify socket (``$NOTIFY_SOCKET``)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(10.0)
    try:
        yield sock
    finally:
        sock.close()


def _await_reload_done(sock: socket.socket) -> None:
    """Wait for the agent's ``RELOADING=1`` and the ``READY=1`` that ends it (as systemd does on SIGHUP)."""
    states = ""
    while "RELOADING=1" not in states:
        states = sock.recv(4096).decode()
    while "READY=1" not in states:
        states = sock.recv(4096).decode()


def test_sigterm_flushes_pending_alerts_and_exits_0_within_5s(tmp_path: Path) -> None:
    proc, _, sink, stats = _start_child(tmp_path)
    assert _read_line(proc).strip() == "BUSY", proc.stderr.read() if proc.stderr else ""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(10)
    elapsed = time.monotonic() - t0
    assert rc == 0, proc.stderr.read() if proc.stderr else ""
    assert elapsed < 5.0
    s = json.loads(stats.read_text())
    alerts = [json.loads(line) for line in sink.read_text().splitlines()]
    # every attack frame scored became an alert, including those only the final flush released
    assert len(alerts) == s["policy"]["observed"] > 0
    assert s["records_scored"] > 500


def test_sighup_with_bad_config_keeps_the_old_one_then_good_one_applies(
    tmp_path: Path, notify_socket: socket.socket
) -> None:
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.getsockname()}
    proc, cfg, _, stats = _start_child(tmp_path, env=env)
    try:
        cfg.write_text("model:\n  bundel: typo\n")  # unknown key
        proc.send_signal(signal.SIGHUP)
        _await_reload_done(notify_socket)
        cfg.write_text("model:\n  bundle: models/bad\n")  # valid YAML, bundle fails to load
        proc.send_signal(signal.SIGHUP)
        _await_reload_done(notify_socket)
        assert proc.poll() is None  # still running on the old config
        cfg.write_text("model:\n  bundle: v2\n  max_wait_ms: 5\n")
        proc.send_signal(signal.SIGHUP)
        _await_reload_done(notify_socket)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(10)
    err = proc.stderr.read() if proc.stderr else ""
    assert rc == 0, err
    s = json.loads(stats.read_text())
    assert s["reloads_refused"] == 2
    assert s["reloads"] == 1
    assert s["model"] == "v2"
    assert "bundel: unknown key" in err
    assert "models/bad" in err


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:4]))


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    os.environ.pop("WATCHDOG_USEC", None)


def test_a_batch_of_several_streams_is_seen_by_the_policy_in_data_time_order() -> None:
    """Two CAN channels under attack for two minutes, in batches that span a minute each: one
    incident per channel. A batch's windows come grouped by channel; fed to the policy that way its
    data clock would run to a batch's end on one channel and back to its start on the other, and
    stepping back ends every open incident (each channel's attack would be split at each batch)."""
    from agent.alerts.policy import AlertPolicy
    from agent.config import AlertsConfig

    cfg = _cfg()
    policy = AlertPolicy(AlertsConfig(merge_gap_s=5.0, rate_limit_per_min=0), CLASSES, "Benign", {"Attack": 0.9},
                         {}, "lab", "ab" * 32, "gw1")
    sink = ListSink()
    pipe = Pipeline(cfg, source_factory=lambda c: FakeSource(0), scoring_factory=fake_scoring_factory())
    pipe.scoring = Scoring(cfg=cfg, extractor=FakeExtractor(), preprocessor=FakePreprocessor(),
                           windower=Windower("window", 1, size=2, key="channel", context_fields=CAN_CONTEXT),
                           scorer=FakeScorer(), policy=policy, sinks=[sink], classes=CLASSES, benign_class="Benign",
                           thresholds={"Attack": 0.9}, model_name="lab", context_fields=CAN_CONTEXT)
    frames = [CanFrame(1000.0 + t, 0x100, b"\xff", 1, channel=ch) for t in range(120) for ch in ("can0", "can1")]
    pipe.process(frames[:120])
    pipe.process(frames[120:])
    pipe.finish()  # flushes the policy into the sink
    starts = [a for a in sink.alerts if a["edge_ids"]["phase"] == "start"]
    assert sorted(a["can"]["iface"] for a in starts) == ["can0", "can1"]
    assert policy.stats()["clock_steps_back"] == 0
    ends = [a["edge_ids"]["count"] for a in sink.alerts if a["edge_ids"]["phase"] == "end"]
    assert ends == [119, 119]  # every window of a channel (2-record windows, stride 1) in its one incident
