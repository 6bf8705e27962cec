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

from support.waiting import wait_for


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
        import pwd

        # Run as whoever runs the tests (mosquitto started as root would switch to its own user and
        # lose access to the test's files).
        lines = [f"user {pwd.getpwuid(os.getuid()).pw_name}", f"listener {self.port} 127.0.0.1"]
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

    def log_size(self) -> int:
        """How many characters the broker's log holds now (a mark for :meth:`wait_logged`)."""
        return len(self.log.read_text(errors="replace")) if self.log.exists() else 0

    def wait_logged(self, text: str, since: int = 0, timeout: float = 10.0) -> bool:
        """Wait until the broker logs ``text`` after the mark ``since`` (``log_type all`` logs every
        packet, subscription and database save)."""
        return wait_for(lambda: self.log.exists() and text in self.log.read_text(errors="replace")[since:], timeout)

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


@pytest.fixture(name="broker_factory")
def broker_factory_fixture(mosquitto_bin: str, tmp_path: Path) -> Iterator[object]:
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


@pytest.fixture(name="broker")
def broker_fixture(broker_factory: object) -> Broker:
    """A plain anonymous broker on a free loopback port."""
    return broker_factory()  # type: ignore[operator,no-any-return]


class Subscriber:
    """A paho client that records every message; reconnects on its own (like a real dashboard).

    ``persistent=True`` keeps a broker-side session (clean_session false, QoS 1), so messages
    published while it is away, or before it is back after a broker restart, are queued for it.
    """

    def __init__(self, port: int, topic: str = "edge-ids/#", client_id: str | None = None,
                 persistent: bool = False, tls: dict[str, str] | None = None, host: str = "127.0.0.1"):
        import ssl
        import threading

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes, bool]] = []
        self._cv = threading.Condition()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"sub-{os.getpid()}-{id(self)}",
            clean_session=not persistent,
        )
        if tls:
            ctx = ssl.create_default_context(cafile=tls["ca"])
            ctx.load_cert_chain(tls["cert"], tls["key"])
            self.client.tls_set_context(ctx)
        self.client.reconnect_delay_set(0.05, 0.3)  # type: ignore[arg-type]

        def on_connect(c: mqtt.Client, u: object, f: object, rc: object, p: object) -> None:
            c.subscribe(topic, qos=1)

        def on_subscribe(c: mqtt.Client, u: object, mid: int, rcs: object, p: object) -> None:
            self.subscribed.set()

        def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
            with self._cv:
                self.messages.append((m.topic, m.payload, bool(m.retain)))
                self._cv.notify_all()

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect_async(host, port, keepalive=5)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError("subscriber did not subscribe within 10 s")

    def alerts(self) -> list[dict]:
        """Alert records received, in arrival order (duplicates kept)."""
        import json

        with self._cv:
            return [json.loads(p) for t, p, _ in self.messages if "/alert/" in t]

    def alert_ids(self) -> list[str]:
        """Alert ids in first-arrival order, duplicates removed (delivery is at least once)."""
        return list(dict.fromkeys(a["alert_id"] for a in self.alerts()))

    def payloads(self, suffix: str) -> list[bytes]:
        with self._cv:
            return [p for t, p, _ in self.messages if t.endswith(suffix)]

    def wait(self, predicate: object, timeout: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` is true (re-checked on every message)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while not predicate(self):  # type: ignore[operator]
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.1))
        return True

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
