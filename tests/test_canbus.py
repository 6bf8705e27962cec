"""CanBusSource: live python-can buses (virtual in-process, udp_multicast across processes in a netns),
reconnect with back-off on bus errors and bus-off, prompt stop."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import can
import pytest
from can.interfaces.virtual import VirtualBus
from support.waiting import wait_for

from agent.config import SourceConfig
from agent.errors import BackendError, CaptureError
from agent.records import CanFrame
from agent.sources import SOURCES
from agent.sources.canbus import CAN_ERR_BUSOFF, CanBusSource

REPO = Path(__file__).resolve().parent.parent


def sample_messages() -> list[can.Message]:
    return [
        can.Message(arbitration_id=0x123, data=b"\x01\x02\x03", is_extended_id=False),
        can.Message(arbitration_id=0x1ABCDEF0, data=bytes(range(8)), is_extended_id=True),
        can.Message(arbitration_id=0x321, is_remote_frame=True, dlc=4, is_extended_id=False),
        can.Message(arbitration_id=0x456, data=bytes(range(20)), is_fd=True, is_extended_id=False),
        can.Message(arbitration_id=0x0004, data=bytes(8), is_error_frame=True),
        can.Message(arbitration_id=0x7FF, data=b"", is_extended_id=False),
    ]


class Collector:
    """Iterate a source in a thread, collecting frames until told to stop."""

    def __init__(self, source: CanBusSource) -> None:
        self.source = source
        self.frames: list[CanFrame] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for frame in self.source:
                self.frames.append(frame)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            self.error = exc

    def wait_for(self, n: int, timeout: float = 5.0) -> None:
        wait_for(lambda: len(self.frames) >= n or self.error is not None, timeout, step=0.01)

    def stop(self) -> float:
        t = time.monotonic()
        self.source.stop()
        self.thread.join(5)
        assert not self.thread.is_alive(), "iteration did not end after stop()"
        if self.error is not None:
            raise self.error
        return time.monotonic() - t


def test_virtual_bus_frames_pass_through_with_flags() -> None:
    source = CanBusSource.from_config(
        SourceConfig(backend="canbus", can={"interface": "virtual", "channel": "edge-ids-t1"})
    )
    collector = Collector(source)
    assert wait_for(lambda: source.connected, 5.0, step=0.01)  # the source opens its bus in its thread
    sender = can.Bus(interface="virtual", channel="edge-ids-t1")
    try:
        for m in sample_messages():
            sender.send(m)
        collector.wait_for(len(sample_messages()))
    finally:
        sender.shutdown()
    took = collector.stop()
    assert took < 1.0
    frames = collector.frames
    sent = sample_messages()
    assert len(frames) == len(sent)
    for f, m in zip(frames, sent, strict=True):
        assert f.arbitration_id == m.arbitration_id
        assert f.data == bytes(m.data)
        assert (f.is_extended, f.is_remote, f.is_fd, f.is_error) == (
            m.is_extended_id, m.is_remote_frame, m.is_fd, m.is_error_frame
        )
        assert f.channel == "edge-ids-t1"
        assert f.ts > 0
    stats = source.stats()
    assert stats["frames"] == 6
    assert (stats["data_frames"], stats["remote_frames"], stats["error_frames"], stats["fd_frames"]) == (4, 1, 1, 1)
    assert stats["reconnects"] == 0 and stats["bus_errors"] == 0


def test_stop_is_prompt_when_idle() -> None:
    source = CanBusSource({"interface": "virtual", "channel": "edge-ids-idle"}, recv_timeout_s=0.1)
    collector = Collector(source)
    assert wait_for(lambda: source.connected, 5.0, step=0.01)  # idle in recv on an open bus
    assert collector.stop() < 0.5
    source.close()


class FlakyBus(VirtualBus):
    """A virtual bus whose recv raises :class:`can.CanOperationError` after ``fail_after`` frames."""

    def __init__(self, fail_after: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fail_after = fail_after
        self.received = 0
        self.shut_down = False

    def shutdown(self) -> None:
        self.shut_down = True
        super().shutdown()

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        if self.received >= self.fail_after:
            raise can.CanOperationError("simulated controller error")
        msg, filtered = super()._recv_internal(timeout)
        if msg is not None:
            self.received += 1
        return msg, filtered


def test_bus_error_reconnects_with_backoff_and_counts() -> None:
    opened: list[float] = []
    buses: list[FlakyBus] = []

    def factory() -> can.BusABC:
        opened.append(time.monotonic())
        # the first bus fails after 2 frames, the second at once (no frame resets the back-off),
        # the third keeps working
        fail_after = {1: 2, 2: 0}.get(len(opened), 10**9)
        bus = FlakyBus(fail_after=fail_after, channel="edge-ids-flaky")
        buses.append(bus)
        return bus

    source = CanBusSource({}, reconnect_min_s=0.05, reconnect_max_s=0.2, recv_timeout_s=0.05, bus_factory=factory)
    collector = Collector(source)
    sender = can.Bus(interface="virtual", channel="edge-ids-flaky")
    try:
        deadline = time.monotonic() + 5
        i = 0
        while len(collector.frames) < 10 and time.monotonic() < deadline:
            if buses:  # only send while a reader bus is attached (virtual buses do not queue for later ones)
                sender.send(can.Message(arbitration_id=0x100 + i, data=bytes([i & 0xFF]), is_extended_id=False))
                i += 1
            time.sleep(0.01)  # traffic pacing: one frame per 10 ms, so reconnects happen mid-stream
    finally:
        sender.shutdown()
    collector.stop()
    stats = source.stats()
    assert len(collector.frames) >= 10
    assert stats["bus_errors"] == 2
    assert stats["reconnects"] == 2
    assert len(opened) == 3
    # back-off: 0.05 s after the first error, then doubled (0.1 s) as no frame came in between
    assert opened[1] - opened[0] >= 0.05
    assert opened[2] - opened[1] >= 0.1
    assert all(b.shut_down for b in buses), "every bus was shut down"


def test_open_failures_are_retried_not_fatal() -> None:
    attempts: list[float] = []
    opened: list[VirtualBus] = []

    def factory() -> can.BusABC:
        attempts.append(time.monotonic())
        if len(attempts) <= 3:
            raise can.CanInitializationError("adapter not plugged in")
        opened.append(VirtualBus(channel="edge-ids-late"))
        return opened[-1]

    source = CanBusSource({}, reconnect_min_s=0.02, reconnect_max_s=0.05, recv_timeout_s=0.05, bus_factory=factory)
    collector = Collector(source)
    assert wait_for(lambda: bool(opened), 3, step=0.01)  # a virtual bus queues what is sent once it exists
    sender = can.Bus(interface="virtual", channel="edge-ids-late")
    sender.send(can.Message(arbitration_id=0x42, data=b"\x42", is_extended_id=False))
    collector.wait_for(1)
    sender.shutdown()
    collector.stop()
    assert [f.arbitration_id for f in collector.frames] == [0x42]
    assert source.stats()["open_failures"] == 3
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.02 and gaps[2] >= 0.05  # doubled, capped at reconnect_max_s
    assert max(gaps) < 0.5


def test_bus_off_error_frame_reopens_the_bus() -> None:
    opened: list[VirtualBus] = []

    def factory() -> can.BusABC:
        bus = VirtualBus(channel="edge-ids-busoff")
        opened.append(bus)
        return bus

    source = CanBusSource({}, reconnect_min_s=0.02, reconnect_max_s=0.1, recv_timeout_s=0.05, bus_factory=factory)
    collector = Collector(source)
    assert wait_for(lambda: bool(opened), 2, step=0.01)  # a virtual bus queues what is sent once it exists
    sender = can.Bus(interface="virtual", channel="edge-ids-busoff")
    sender.send(can.Message(arbitration_id=CAN_ERR_BUSOFF, data=bytes(8), is_error_frame=True))
    collector.wait_for(1)
    assert wait_for(lambda: len(opened) >= 2, 2, step=0.01)  # the first bus is shut down before the second opens
    sender.send(can.Message(arbitration_id=0x10, data=b"\x01", is_extended_id=False))
    collector.wait_for(2)
    sender.shutdown()
    collector.stop()
    assert [f.is_error for f in collector.frames] == [True, False]
    stats = source.stats()
    assert stats["bus_off"] == 1 and stats["reconnects"] == 1 and len(opened) == 2


def test_configuration_errors_are_immediate() -> None:
    with pytest.raises(CaptureError, match="interface"):
        CanBusSource({"channel": "can0"})
    source = CanBusSource({"interface": "no-such-interface", "channel": "x"})
    with pytest.raises(BackendError, match="no-such-interface"):
        next(iter(source))
    with pytest.raises(CaptureError, match="reconnect_min_s"):
        CanBusSource({"interface": "virtual"}, reconnect_min_s=5, reconnect_max_s=1)


def test_registered_as_canbus_backend() -> None:
    assert SOURCES.load("canbus") is CanBusSource


# ------------------------------------------------------------------------------------------------
# udp_multicast across processes, inside a network namespace with loopback only
# ------------------------------------------------------------------------------------------------

GROUP = "239.74.163.77"
PORT = 43177

READER = """
import json, sys, threading, can
from agent.sources.canbus import CanBusSource
n, group, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def factory():
    bus = can.Bus(interface="udp_multicast", channel=group, port=port, fd=True)
    print("READY", flush=True)
    return bus
source = CanBusSource({"interface": "udp_multicast"}, recv_timeout_s=0.1, bus_factory=factory)
threading.Timer(30, source.stop).start()
got = []
for f in source:
    got.append([f.arbitration_id, f.data.hex(), f.is_extended, f.is_remote, f.is_fd, f.is_error])
    if len(got) >= n:
        break
source.close()
print(json.dumps({"frames": got, "stats": source.stats()}), flush=True)
import os; os._exit(0)
"""

SENDER = """
import sys, time, can
n, group, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
bus = can.Bus(interface="udp_multicast", channel=group, port=port, fd=True)
for i in range(n):
    k = i % 5
    if k == 3:
        m = can.Message(arbitration_id=0x321, is_remote_frame=True, dlc=2, is_extended_id=False)
    elif k == 4:
        m = can.Message(arbitration_id=0x18DA00F1, data=i.to_bytes(4, "big") * 4, is_fd=True, is_extended_id=True)
    else:
        m = can.Message(arbitration_id=0x100 + k, data=i.to_bytes(4, "big"), is_extended_id=False)
    bus.send(m)
    if i % 50 == 49:
        time.sleep(0.005)  # traffic pacing: bursts of 50, as a bus would carry them
bus.shutdown()
"""


@pytest.fixture
def netns(root: None) -> Iterator[str]:
    """A network namespace with loopback only and a multicast route on it (nothing leaves the host)."""
    name = f"edgeids-can-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", name, "route", "add", "224.0.0.0/4", "dev", "lo"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.mark.slow
@pytest.mark.root
def test_udp_multicast_across_processes(netns: str) -> None:
    pytest.importorskip("msgpack", reason="python-can's udp_multicast interface needs msgpack")
    n = 2000
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    reader = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c", READER, str(n), GROUP, str(PORT)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "READY", reader.stderr.read() if reader.stderr else ""
        sender = subprocess.run(
            ["ip", "netns", "exec", netns, sys.executable, "-c", SENDER, str(n), GROUP, str(PORT)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
        )
        assert sender.returncode == 0, sender.stderr
        out, err = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    result = json.loads(out.strip().splitlines()[-1])
    frames = result["frames"]
    assert len(frames) == n, f"received {len(frames)} of {n}; {err[-2000:]}"
    for i, (arbitration_id, data_hex, extended, remote, fd, error) in enumerate(frames):
        k = i % 5
        if k == 3:
            assert (arbitration_id, remote, data_hex) == (0x321, True, "")
        elif k == 4:
            assert (arbitration_id, extended, fd) == (0x18DA00F1, True, True)
            assert data_hex == i.to_bytes(4, "big").hex() * 4
        else:
            assert (arbitration_id, extended, remote, fd, error) == (0x100 + k, False, False, False, False)
            assert data_hex == i.to_bytes(4, "big").hex()
    assert result["stats"]["frames"] == n
    assert result["stats"]["bus_errors"] == 0
