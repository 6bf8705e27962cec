"""Helpers for the live end-to-end tests: the agent as a real process, namespaces, veth pairs, senders.

Everything made here is torn down by context managers, whatever the test did: namespaces are
deleted (which also removes the veth end inside them), the near veth end is deleted, and agent and
sender processes are killed if still running.

Why :func:`entered`: the CAN tests run the broker, the agent, the sender and the subscriber inside a
namespace that has loopback only (nothing can leave it). Processes get there with ``ip netns exec``;
the test's own MQTT subscriber (a paho thread) and the broker it starts get there by switching the
calling thread's network namespace with ``setns(2)`` for as long as they are being created: a
socket, a thread or a child process keeps the namespace it was created in.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "agent" / "alerts" / "eve-alert.schema.json"
CLONE_NEWNET = 0x40000000


def ip(*args: str) -> None:
    """``ip ARGS`` (iproute2), raising with its stderr on failure."""
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


def short_tag() -> str:
    return uuid.uuid4().hex[:7]


@contextmanager
def netns(name: str, multicast_on_lo: bool = False) -> Iterator[str]:
    """A network namespace with loopback up (and a multicast route on it); deleted on exit."""
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        if multicast_on_lo:
            ip("-n", name, "route", "add", "224.0.0.0/4", "dev", "lo")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20, check=False)


@contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the calling thread inside namespace ``name`` until the block ends (see module docstring)."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name}")
        try:
            yield
        finally:
            if libc.setns(home, CLONE_NEWNET) != 0:  # pragma: no cover - would leave the runner astray
                raise OSError(ctypes.get_errno(), "setns back to the original namespace")
    finally:
        os.close(target)
        os.close(home)


# --------------------------------------------------------------------------------------------------
# Ethernet: a veth pair, frames sent from inside the namespace

ETH_SENDER = r"""
import socket, sys, time
iface, path, rate, duration = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
frames = [bytes.fromhex(line) for line in open(path).read().split()]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
t0 = time.monotonic()
n = 0
while True:
    for f in frames:
        if rate > 0:
            d = t0 + n / rate - time.monotonic()
            if d > 0:
                time.sleep(d)
        s.send(f)
        n += 1
    if duration <= 0 or time.monotonic() - t0 >= duration:
        break
print(n, flush=True)
"""


@dataclass
class VethPair:
    """``host`` stays in our namespace (the agent captures on it); ``peer`` sits inside ``netns``."""

    host: str
    peer: str
    netns: str
    workdir: Path

    def _cmd(self, frames: list[bytes], rate: float, duration: float) -> list[str]:
        path = self.workdir / f"frames-{short_tag()}.hex"
        path.write_text("\n".join(f.hex() for f in frames) + "\n")
        return ["ip", "netns", "exec", self.netns, sys.executable, "-c", ETH_SENDER, self.peer, str(path),
                str(rate), str(duration)]

    def send(self, frames: list[bytes], rate: float = 0.0) -> int:
        """Send ``frames`` once, in order, paced at ``rate`` frames/s (0: as fast as possible)."""
        proc = subprocess.run(self._cmd(frames, rate, 0.0), capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"sender failed: {proc.stderr[-2000:]}")
        return int(proc.stdout.split()[-1])

    def flags(self) -> int:
        """The near end's interface flags (``IFF_PROMISC`` and friends)."""
        return int(Path(f"/sys/class/net/{self.host}/flags").read_text(), 16)

    def send_loop(self, frames: list[bytes], rate: float, duration: float) -> subprocess.Popen[str]:
        """Send ``frames`` over and over at ``rate`` for ``duration`` seconds, in the background."""
        return subprocess.Popen(self._cmd(frames, rate, duration), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


@contextmanager
def veth_pair(workdir: Path) -> Iterator[VethPair]:
    """A veth pair with its far end in a fresh namespace, both ends up, IPv6 off (no chatter)."""
    tag = short_tag()
    pair = VethPair(host=f"eleh{tag}", peer=f"elep{tag}", netns=f"edgeids-live-{tag}", workdir=workdir)
    with netns(pair.netns):
        try:
            ip("link", "add", pair.host, "type", "veth", "peer", "name", pair.peer)
            ip("link", "set", pair.peer, "netns", pair.netns)
            for cmd in (
                ["sysctl", "-qw", f"net.ipv6.conf.{pair.host}.disable_ipv6=1"],
                ["ip", "netns", "exec", pair.netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
            ):
                subprocess.run(cmd, check=False, capture_output=True, timeout=20)
            ip("link", "set", pair.host, "up")
            ip("-n", pair.netns, "link", "set", pair.peer, "up")
            yield pair
        finally:
            subprocess.run(["ip", "link", "del", pair.host], capture_output=True, timeout=20, check=False)


# --------------------------------------------------------------------------------------------------
# The agent as a process


@dataclass
class Agent:
    """``python -m agent run --config <workdir>/agent.yaml``, optionally inside a namespace."""

    cfg: dict[str, Any]
    workdir: Path
    netns: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.workdir / "agent.yaml"

    @property
    def jsonl_path(self) -> Path:
        return Path(self.cfg["sinks"]["jsonl"]["path"])

    def write_config(self, cfg: dict[str, Any] | None = None, text: str | None = None) -> None:
        """Write the config (a dict, or raw text for a deliberately broken one) atomically."""
        if cfg is not None:
            self.cfg = cfg
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text if text is not None else yaml.safe_dump(self.cfg, sort_keys=False))
        tmp.replace(self.config_path)

    def start(self) -> Agent:
        self.write_config()
        self.runs += 1
        log = self.workdir / f"agent-{self.runs}.log"
        self.logs.append(log)
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", "agent", "run", "--config", str(self.config_path)],
                cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def terminate(self, timeout: float = 10.0) -> tuple[int, float]:
        """SIGTERM; returns (exit status, seconds until the process was gone)."""
        assert self.proc is not None
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"agent ignored SIGTERM for {timeout}s; log:\n{self.log_text()}") from None
        return rc, time.monotonic() - t0

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log_text(self, last: int = 6000) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())[-last:]

    def jsonl_alerts(self) -> list[dict[str, Any]]:
        return read_jsonl(self.jsonl_path)


@contextmanager
def running(agent: Agent) -> Iterator[Agent]:
    """Start ``agent``; kill it on the way out if the test left it running."""
    try:
        yield agent.start()
    finally:
        agent.kill()


def base_config(
    workdir: Path, bundle: Path, mqtt_port: int, gateway: str, **sections: dict[str, Any]
) -> dict[str, Any]:
    """A config for a live test: local broker, fast health and reconnects, JSONL copy of every alert."""
    cfg: dict[str, Any] = {
        "site": "lab",
        "gateway_id": gateway,
        "state_dir": str(workdir / "state"),
        "model": {"bundle": str(bundle), "max_wait_ms": 20},
        "alerts": {"realert_interval_s": 60, "merge_gap_s": 1.0},
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "health_interval_s": 0.5,
                 "reconnect_min_s": 0.1, "reconnect_max_s": 1.0},
        "sinks": {"jsonl": {"path": str(workdir / "alerts.jsonl")}},
        "logging": {"level": "INFO", "json": True},
    }
    for name, values in sections.items():
        cfg[name] = {**cfg.get(name, {}), **values}
    return cfg


# --------------------------------------------------------------------------------------------------
# MQTT views


def status(sub: Any) -> str | None:
    """The last status payload a subscriber saw (retained or live)."""
    payloads = sub.payloads("/status")
    return payloads[-1].decode() if payloads else None


def healths(sub: Any) -> list[dict[str, Any]]:
    return [json.loads(p) for p in sub.payloads("/health")]


def wait_online(sub: Any, agent: Agent, timeout: float = 30.0) -> None:
    """Wait for the agent's retained ``online`` status, failing early (with its log) if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status(sub) == "online":
            return
        if not agent.alive():
            rc = agent.proc.returncode if agent.proc else None
            raise AssertionError(f"agent exited with {rc}:\n{agent.log_text()}")
        sub.wait(lambda s: status(s) == "online", timeout=0.2)
    raise AssertionError(f"no 'online' status within {timeout}s; log:\n{agent.log_text()}")


def schema_validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_valid_alerts(alerts: list[dict[str, Any]]) -> None:
    """Every alert matches the published alert schema (the first violation named otherwise)."""
    validator = schema_validator()
    for a in alerts:
        errors = sorted(validator.iter_errors(a), key=str)
        assert not errors, f"alert {a.get('alert_id')} violates the schema: {errors[0].message}\n{a}"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The alerts a JSONL sink wrote so far (none while the file does not exist)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def summary(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Short form of alerts for assertion messages: class, score, phase, count and the key fields."""
    out = []
    for a in alerts:
        e = a.get("edge_ids", {})
        where = a.get("can") or tuple(a.get(k) for k in ("src_ip", "src_port", "dest_ip", "dest_port", "proto"))
        out.append((e.get("class"), round(float(e.get("score", 0)), 3), e.get("phase"), e.get("count"), where))
    return out
