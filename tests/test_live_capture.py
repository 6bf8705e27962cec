"""Live capture for real: a veth pair whose far end sits in a network namespace.

Frames are crafted here with scapy, sent from inside the namespace through a raw packet socket
(``ip netns exec``), and captured on the near end by each backend. Checks: byte-identical frames,
kernel timestamps within the sending window, BPF filtering, snaplen truncation, promiscuous mode on
and off, kernel drop counters, and a prompt stop. Needs root (CI runs as root).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from support.live_agent import VethPair, veth_pair

from agent.config import SourceConfig
from agent.records import Frame
from agent.sources import SOURCES

pytestmark = [pytest.mark.root]

#: destination MAC used for test frames; the marker makes our frames easy to pick out
DST_MAC = "02:00:00:00:00:02"
SRC_MAC = "02:00:00:00:00:01"
IFF_PROMISC = 0x100


@pytest.fixture
def veth(root: None, tmp_path: Path) -> Iterator[VethPair]:
    with ExitStack() as stack:
        try:
            pair = stack.enter_context(veth_pair(tmp_path))
        except RuntimeError as exc:
            pytest.skip(f"cannot create veth/netns ({exc})")
        yield pair


def udp_frames(count: int, dport: int = 5000, size: int = 64, tag: bytes = b"EDGEIDS") -> list[bytes]:
    """Distinct Ethernet/IPv4/UDP frames carrying ``tag`` and a sequence number."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    frames = []
    for i in range(count):
        payload = tag + i.to_bytes(4, "big")
        payload += bytes(range(256)) * (max(0, size - len(payload)) // 256 + 1)
        pkt = Ether(src=SRC_MAC, dst=DST_MAC) / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(
            sport=40000 + i % 1000, dport=dport
        ) / payload[:size]
        frames.append(bytes(pkt))
    return frames


class Collector:
    """Iterates a source in a thread, keeping frames whose bytes contain ``tag``."""

    def __init__(self, source: Any, tag: bytes = b"EDGEIDS") -> None:
        self.source = source
        self.tag = tag
        self.frames: list[Frame] = []
        self.others = 0
        self.error: Exception | None = None
        self.end = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for frame in self.source:
                if END_TAG in frame.data:
                    self.end.set()
                elif self.tag in frame.data:
                    self.frames.append(frame)
                else:
                    self.others += 1
        except Exception as exc:  # noqa: BLE001 - re-raised in the test thread by wait_for/finish
            self.error = exc

    def wait_for(self, predicate: Callable[[list[Frame]], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.error is not None:
                raise self.error
            if predicate(self.frames):
                return True
            time.sleep(0.02)
        return False

    def wait_end(self, timeout: float = 10.0) -> bool:
        """Wait for the end marker (:func:`end_frame`): every frame sent before it has been seen by then."""
        if not self.end.wait(timeout) and self.error is not None:
            raise self.error
        return self.end.is_set()

    def finish(self, timeout: float = 5.0) -> float:
        """Stop the source; return how long the iteration took to end."""
        start = time.monotonic()
        self.source.stop()
        self.thread.join(timeout)
        elapsed = time.monotonic() - start
        assert not self.thread.is_alive(), "iteration did not end after stop()"
        if self.error is not None:
            raise self.error
        return elapsed


#: marks the end frame: sent after a test's frames (to UDP port 5000, which every filter here
#: passes); frames arrive in order on a veth, so once it is seen, every frame sent before it has been
#: (the collector counts it apart)
END_TAG = b"EDGEEND"


def end_frame() -> list[bytes]:
    return udp_frames(1, tag=END_TAG)


def open_source(backend: str, veth: VethPair, **overrides: Any) -> Any:
    cfg = SourceConfig(backend=backend, interface=veth.host, **overrides)
    return SOURCES.load(backend).from_config(cfg)


def warm_up(veth: VethPair, collector: Collector, timeout: float = 30.0) -> None:
    """Send probe frames until the capture sees one (dumpcap/tshark take a while to start)."""
    deadline = time.monotonic() + timeout
    probe = udp_frames(1, tag=b"PROBE")
    while time.monotonic() < deadline:
        before = collector.others
        veth.send(probe)
        if collector.wait_for(lambda _f, n=before: collector.others > n, timeout=1.0):
            return
    raise AssertionError(f"capture on {veth.host} never saw a probe frame")


def assert_same_frames(sent: list[bytes], got: list[Frame], t0: float, t1: float) -> None:
    assert [f.data for f in got] == sent
    assert all(f.wirelen == len(f.data) for f in got)
    assert all(f.linktype == 1 for f in got)
    stamps = [f.ts for f in got]
    assert stamps == sorted(stamps), "timestamps go backwards"
    assert t0 - 0.5 <= stamps[0] and stamps[-1] <= t1 + 0.5, (t0, stamps[0], stamps[-1], t1)


# --------------------------------------------------------------------------------------------------
# scapy backend
# --------------------------------------------------------------------------------------------------


def test_scapy_frames_arrive_byte_identical(veth: VethPair) -> None:
    sent = udp_frames(50, size=200) + udp_frames(5, size=1400)
    source = open_source("scapy", veth)
    try:
        collector = Collector(source)
        t0 = time.time()
        veth.send(sent)
        t1 = time.time()
        assert collector.wait_for(lambda f: len(f) >= len(sent)), f"got {len(collector.frames)}/{len(sent)}"
        collector.finish()
        assert_same_frames(sent, collector.frames, t0, t1)
        stats = source.stats()
        assert stats["frames"] == len(sent) + collector.others
        assert stats["kernel_drops"] == 0
        assert stats["kernel_packets"] >= len(sent)
    finally:
        source.close()


def test_scapy_bpf_filter(veth: VethPair) -> None:
    wanted = udp_frames(20, dport=5000)
    unwanted = udp_frames(20, dport=6000)
    source = open_source("scapy", veth, bpf_filter="udp dst port 5000")
    try:
        collector = Collector(source)
        mixed = [f for pair in zip(wanted, unwanted, strict=True) for f in pair]
        veth.send(mixed + end_frame())  # once the end frame is in, so is any wrongly passed frame
        assert collector.wait_for(lambda f: len(f) >= len(wanted))
        assert collector.wait_end()
        collector.finish()
        assert [f.data for f in collector.frames] == wanted
        assert collector.others == 0
        assert source.stats()["kernel_packets"] == len(wanted) + 1  # and the end frame
    finally:
        source.close()


def test_scapy_snaplen_truncates_but_keeps_wire_length(veth: VethPair) -> None:
    sent = udp_frames(10, size=500)
    source = open_source("scapy", veth, snaplen=96, bpf_filter="udp")
    try:
        collector = Collector(source)
        veth.send(sent)
        assert collector.wait_for(lambda f: len(f) >= len(sent))
        collector.finish()
        assert [f.data for f in collector.frames] == [s[:96] for s in sent]
        assert [f.wirelen for f in collector.frames] == [len(s) for s in sent]
        assert source.stats()["truncated"] == len(sent)
    finally:
        source.close()


@pytest.mark.parametrize("promiscuous", [True, False])
def test_scapy_promiscuous_switch(veth: VethPair, promiscuous: bool) -> None:
    assert not veth.flags() & IFF_PROMISC
    source = open_source("scapy", veth, promiscuous=promiscuous)
    try:
        assert bool(veth.flags() & IFF_PROMISC) is promiscuous
    finally:
        source.close()
    assert not veth.flags() & IFF_PROMISC, "promiscuous mode left on after close()"


def test_scapy_kernel_drops_are_counted(veth: VethPair) -> None:
    # 1 MiB of socket buffer against ~6 MB sent while nobody reads: the kernel must drop some
    sent = udp_frames(4000, size=1400)
    source = open_source("scapy", veth, buffer_size_mb=1, bpf_filter="udp dst port 5000")
    try:
        veth.send(sent)
        stats = source.stats()
        assert stats["kernel_packets"] == len(sent)
        assert stats["kernel_drops"] > 0
        collector = Collector(source)
        queued = stats["kernel_packets"] - stats["kernel_drops"]
        assert collector.wait_for(lambda f: len(f) >= queued)
        veth.send(end_frame())  # after the queued frames: any frame more than those is in by then
        assert collector.wait_end()
        collector.finish()
        # every frame that passed the filter was either delivered or counted as dropped
        assert len(collector.frames) == queued
        assert source.stats()["kernel_drops"] == stats["kernel_drops"]
        got = [f.data for f in collector.frames]
        assert got == [s for s in sent if s in set(got)]  # what arrived is in order
    finally:
        source.close()


def test_scapy_stop_is_prompt_without_traffic(veth: VethPair) -> None:
    source = open_source("scapy", veth)
    try:
        collector = Collector(source)
        time.sleep(0.3)  # the behaviour under test: idle, blocked in its read, when stop() comes
        assert collector.finish() < 0.5
    finally:
        source.close()


def test_scapy_missing_interface_is_a_clear_error(root: None) -> None:
    from agent.errors import CaptureError

    with pytest.raises(CaptureError, match="nonexistent0"):
        SOURCES.load("scapy").from_config(SourceConfig(backend="scapy", interface="nonexistent0"))


# --------------------------------------------------------------------------------------------------
# pyshark backend
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def pyshark_ok(tshark: str) -> None:
    pytest.importorskip("pyshark", reason="the 'shark' extra (pyshark) is not installed")


@pytest.mark.tshark
def test_pyshark_frames_arrive_byte_identical(veth: VethPair, pyshark_ok: None) -> None:
    sent = udp_frames(20, size=300)
    source = open_source("pyshark", veth, bpf_filter="udp")
    try:
        collector = Collector(source)
        warm_up(veth, collector)
        t0 = time.time()
        veth.send(sent)
        t1 = time.time()
        assert collector.wait_for(lambda f: len(f) >= len(sent), timeout=20), len(collector.frames)
        assert collector.finish() < 3.0
        assert_same_frames(sent, collector.frames, t0, t1)
        assert source.stats()["frames"] >= len(sent)
    finally:
        source.close()


@pytest.mark.tshark
def test_pyshark_bpf_filter_and_promiscuous_off(veth: VethPair, pyshark_ok: None) -> None:
    wanted = udp_frames(10, dport=5000)
    unwanted = udp_frames(10, dport=6000)
    source = open_source("pyshark", veth, bpf_filter="udp dst port 5000", promiscuous=False)
    try:
        collector = Collector(source)
        warm_up(veth, collector)  # probes go to port 5000 too, but are counted apart: a late one is harmless
        assert not veth.flags() & IFF_PROMISC, "dumpcap put the interface in promiscuous mode despite -p"
        start = len(collector.frames)
        veth.send([f for pair in zip(wanted, unwanted, strict=True) for f in pair])
        veth.send(end_frame())  # after the mixed frames: any wrongly passed one is in by then
        assert collector.wait_for(lambda f: len(f) >= start + len(wanted), timeout=20)
        assert collector.wait_end(timeout=20)
        collector.finish()
        assert [f.data for f in collector.frames[start:]] == wanted
    finally:
        source.close()


@pytest.mark.tshark
def test_pyshark_promiscuous_on(veth: VethPair, pyshark_ok: None) -> None:
    source = open_source("pyshark", veth, promiscuous=True)
    try:
        collector = Collector(source)
        warm_up(veth, collector)
        assert veth.flags() & IFF_PROMISC
        collector.finish()
    finally:
        source.close()


def test_pyshark_without_tshark_is_a_backend_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("pyshark")
    from agent.errors import BackendError

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackendError, match="apt install tshark"):
        SOURCES.load("pyshark").from_config(SourceConfig(backend="pyshark", interface="eth0"))


def test_registry_names_missing_pyshark(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.errors import BackendError

    monkeypatch.setitem(sys.modules, "pyshark", None)  # import pyshark -> ImportError
    monkeypatch.delitem(sys.modules, "agent.sources.pyshark_live", raising=False)
    monkeypatch.delitem(sys.modules, "pyshark.capture.live_capture", raising=False)
    monkeypatch.setitem(sys.modules, "pyshark.capture.live_capture", None)
    with pytest.raises(BackendError, match="shark"):
        SOURCES.load("pyshark")

