"""A real Mosquitto for tests: started on a free loopback port from a generated config file.

Why not a mock: the delivery guarantees (PUBACK, retained status, last will, TLS, refused
credentials) are the broker's behaviour; only a real broker shows that the agent handles them.
The broker can be killed (SIGKILL) and started again on the same port, as a crashed or restarted
broker would be.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """One Mosquitto process on ``127.0.0.1:port`` with ``extra`` config lines for its listener."""

    def __init__(self, binary: str, workdir: Path, extra: str = "", port: int | None = None, persistence: bool = False):
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.extra = extra
        self.persistence = persistence
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = workdir / f"mosquitto-{self.port}.conf"
        self.log = workdir / f"mosquitto-{self.port}.log"

    def write_conf(self) -> None:
        lines = [f"listener {self.port} 127.0.0.1"]
        if "allow_anonymous" not in self.extra:
            lines.append("allow_anonymous true")
        lines.append(self.extra)
        if self.persistence:
            lines += ["persistence true", f"persistence_location {self.workdir}/", "autosave_interval 1"]
        else:
            lines.append("persistence false")
        lines += [f"log_dest file {self.log}", "log_type all"]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, timeout_s: float = 10.0) -> Broker:
        self.write_conf()
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = self.log.read_text() if self.log.exists() else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err}\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout_s}s")

    def kill(self) -> None:
        """SIGKILL: the broker vanishes without saying goodbye to anyone."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self, kill: bool = True) -> Broker:
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start()


@pytest.fixture
def broker_factory(mosquitto_bin: str, tmp_path: Path) -> Iterator[object]:
    """``broker_factory(extra="", persistence=False, start=True) -> Broker``; every broker is stopped
    at the end of the test."""
    made: list[Broker] = []

    def make(extra: str = "", persistence: bool = False, start: bool = True, port: int | None = None) -> Broker:
        d = tmp_path / f"broker{len(made)}"
        d.mkdir()
        b = Broker(mosquitto_bin, d, extra=extra, port=port, persistence=persistence)
        made.append(b)
        return b.start() if start else b

    yield make
    for b in made:
        b.stop()


@pytest.fixture
def broker(broker_factory: object) -> Broker:
    """A plain anonymous broker on a free loopback port."""
    return broker_factory()  # type: ignore[operator,no-any-return]
