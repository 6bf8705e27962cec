"""A throw-away MQTT broker on a free loopback port, for the demo and the benchmarks.

Mosquitto when it is installed (what plants run), else amqtt from the ``demo`` extra, so
``make demo`` works on a machine with nothing but Python. Bound to 127.0.0.1 and anonymous: it
exists for the life of one command and never listens beyond the host.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from agent.errors import DeliveryError


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_path() -> str | None:
    """The mosquitto binary (often in /usr/sbin, outside a user's PATH), or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


class LocalBroker:
    """``with LocalBroker() as b: ... b.port``: starts the broker and waits until it accepts clients."""

    def __init__(self, port: int | None = None, prefer: str = "mosquitto"):
        self.port = port or free_port()
        self.prefer = prefer
        self.kind = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="edge-ids-broker-"))

    def start(self, timeout_s: float = 10.0) -> LocalBroker:
        mosq = mosquitto_path() if self.prefer == "mosquitto" else None
        if mosq:
            conf = self._dir / "mosquitto.conf"
            conf.write_text(
                f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "log_dest none\nmax_queued_messages 100000\n"
            )
            cmd = [mosq, "-c", str(conf)]
            self.kind = "mosquitto"
        else:
            try:
                import amqtt  # noqa: F401 - only checking that it is installed
            except ImportError:
                raise DeliveryError(
                    "no MQTT broker for the demo: install mosquitto (apt install mosquitto) or amqtt "
                    "(pip install 'edge-ids[demo]')"
                ) from None
            conf = self._dir / "amqtt.yaml"
            conf.write_text(
                "listeners:\n  default:\n    type: tcp\n"
                f"    bind: 127.0.0.1:{self.port}\n"
                "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n"
            )
            cmd = [sys.executable, "-c", "from amqtt.scripts.broker_script import main; main()", "-c", str(conf)]
            self.kind = "amqtt"
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise DeliveryError(f"{self.kind} broker exited at start (status {self._proc.returncode})")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise DeliveryError(f"{self.kind} broker did not listen on 127.0.0.1:{self.port} within {timeout_s:.0f} s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
