"""Live capture through pyshark (dumpcap + tshark), the alternative to the scapy backend.

Why offer it: on gateways where an integrator already runs Wireshark's dumpcap with its capture
privileges (the ``wireshark`` group), the agent can capture without CAP_NET_RAW of its own, and
dumpcap's ring buffer copes with some NICs better than a plain packet socket. The cost is speed:
tshark dissects every frame into JSON before we take its raw bytes back (``-x``), so this backend
handles hundreds to a few thousand frames/s, not the scapy backend's line rate. Choose it with
``source.backend: pyshark``.

pyshark's ``LiveCapture`` starts dumpcap without a way to pass promiscuous mode, snap length or
buffer size, so a small subclass adds ``-p``, ``-s`` and ``-B`` to dumpcap's command line.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from typing import Any

from pyshark.capture.live_capture import LiveCapture
from pyshark.tshark.output_parser.tshark_json import TsharkJsonParser

from agent.errors import BackendError, CaptureError
from agent.records import Frame
from agent.sources import live_ethernet_options

log = logging.getLogger(__name__)

#: pcap LINKTYPE_* by the name tshark gives the frame's encapsulation (frame.protocols' first item)
_LINKTYPE_BY_PROTO = {"eth": 1, "sll": 113, "raw": 101, "ip": 101, "ipv6": 101, "null": 0, "loop": 0}


class _PromptJsonParser(TsharkJsonParser):
    """pyshark's JSON parser, but a packet is complete when its closing brace arrives.

    Why: tshark writes the ``,`` after a packet only when the next packet begins, and pyshark waits
    for that separator, so on a quiet link the last frame (often the interesting one) would sit in
    the pipe until more traffic came. tshark pretty-prints with two-space indentation, so a line
    that is exactly ``  }`` closes a top-level packet object and nothing else.
    """

    def _extract_packet_from_data(self, data: bytes, got_first_packet: bool = True) -> tuple[Any, bytes]:
        packet, rest = super()._extract_packet_from_data(data, got_first_packet=got_first_packet)
        if packet is not None:
            return packet, rest
        body = data.rstrip()
        if body.endswith(b"\n  }"):
            start = 0 if got_first_packet else data.find(b"{")
            if start != -1:
                return data[start : len(body)].strip().strip(b","), data[len(body) :]
        return None, data


class _DumpcapLiveCapture(LiveCapture):
    """pyshark's LiveCapture with dumpcap's promiscuous, snaplen and buffer options exposed."""

    def __init__(self, *args: Any, promiscuous: bool, snaplen: int, buffer_size_mb: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._edge_promiscuous = promiscuous
        self._edge_snaplen = snaplen
        self._edge_buffer_mb = buffer_size_mb

    def _setup_tshark_output_parser(self) -> TsharkJsonParser:
        return _PromptJsonParser(self._get_tshark_version())

    def _get_dumpcap_parameters(self) -> list[str]:
        params: list[str] = list(super()._get_dumpcap_parameters())
        # dumpcap options must precede "-w -" (the last two); order among them does not matter
        extra = ["-s", str(self._edge_snaplen), "-B", str(max(1, self._edge_buffer_mb))]
        if not self._edge_promiscuous:
            extra.append("-p")
        return params[:-2] + extra + params[-2:]


class PysharkLiveSource:
    """Frames captured by dumpcap and handed over by tshark with their raw bytes and timestamps.

    The tshark pipeline is started on first iteration, in the iterating thread (pyshark's asyncio
    loop belongs to the thread that created it). :meth:`stop` ends a running iteration from any
    thread by stopping dumpcap: tshark then drains what it has and sees end of input.
    """

    def __init__(
        self,
        interface: str,
        bpf_filter: str | None = None,
        promiscuous: bool = False,
        buffer_size_mb: int = 8,
        snaplen: int = 65535,
        tshark_path: str | None = None,
    ) -> None:
        if not interface:
            raise CaptureError("live capture needs source.interface (e.g. eth0)")
        tshark = tshark_path or shutil.which("tshark")
        search = os.pathsep.join([os.path.dirname(tshark or ""), os.environ.get("PATH", "")])
        if tshark is None or shutil.which("dumpcap", path=search) is None:
            raise BackendError(
                "capture source 'pyshark' needs tshark and dumpcap on PATH (apt install tshark); "
                "or use source.backend: scapy"
            )
        self.interface = interface
        self.bpf_filter = bpf_filter
        self.promiscuous = promiscuous
        self.buffer_size_mb = buffer_size_mb
        self.snaplen = snaplen
        self.tshark_path = tshark
        self._capture: _DumpcapLiveCapture | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._frames = 0
        self._bytes = 0
        self._truncated = 0
        self._malformed = 0

    @classmethod
    def from_config(cls, cfg: Any) -> PysharkLiveSource:
        """Build from a :class:`agent.config.SourceConfig`."""
        return cls(**live_ethernet_options(cfg))

    def _open(self) -> _DumpcapLiveCapture:
        try:
            return _DumpcapLiveCapture(
                interface=self.interface,
                bpf_filter=self.bpf_filter,
                use_json=True,
                include_raw=True,
                tshark_path=self.tshark_path,
                promiscuous=self.promiscuous,
                snaplen=self.snaplen,
                buffer_size_mb=self.buffer_size_mb,
            )
        except Exception as exc:  # pyshark raises bare Exception subclasses of its own
            raise CaptureError(f"{self.interface}: cannot start tshark capture: {exc}") from exc

    def __iter__(self) -> Iterator[Frame]:
        if self._stop.is_set():
            return
        capture = self._open()
        with self._lock:
            self._capture = capture
        if self._stop.is_set():  # stop() raced with start-up
            self._kill_processes()
        try:
            for pkt in capture.sniff_continuously():
                frame = self._to_frame(pkt)
                if frame is None:
                    continue
                yield frame
                if self._stop.is_set():
                    break
        except Exception as exc:  # pyshark/tshark failures surface as plain Exceptions
            if not self._stop.is_set():
                raise CaptureError(f"{self.interface}: tshark capture failed: {exc}") from exc
            log.debug("%s: tshark ended while stopping: %s", self.interface, exc)
        finally:
            self._close_capture(capture)

    def _to_frame(self, pkt: Any) -> Frame | None:
        try:
            data = bytes.fromhex(pkt.frame_raw.value)
            ts = float(pkt.sniff_timestamp)
            wirelen = int(pkt.length)
            protocols = str(pkt.frame_info.protocols).split(":")
        except (AttributeError, ValueError, TypeError) as exc:
            self._malformed += 1
            log.debug("%s: tshark record without raw bytes or timestamp: %s", self.interface, exc)
            return None
        self._frames += 1
        self._bytes += wirelen
        if wirelen > len(data):
            self._truncated += 1
        linktype = _LINKTYPE_BY_PROTO.get(protocols[0], 1)
        return Frame(ts, data, linktype, wirelen)

    def _kill_processes(self) -> None:
        """Stop dumpcap first (tshark then flushes and exits), then anything still running."""
        with self._lock:
            capture = self._capture
        if capture is None:
            return
        procs = list(getattr(capture, "_running_processes", ()))
        # dumpcap was started first; pyshark names neither, so stop each process we started
        for proc in sorted(procs, key=lambda p: p.pid):
            if proc.returncode is None:
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    log.debug("%s: pid %d already gone", self.interface, proc.pid)

    def _close_capture(self, capture: _DumpcapLiveCapture) -> None:
        try:
            capture.close()
        except Exception as exc:  # noqa: BLE001 - tshark killed on purpose may "crash" on its way out
            log.debug("%s: closing tshark: %s", self.interface, exc)
            # pyshark keeps a process whose exit status it objects to, and its __del__ would close it
            # again and raise the same error where no one can catch it; every process has ended here
            running = getattr(capture, "_running_processes", None)
            if running is not None:
                running.clear()
        with self._lock:
            self._capture = None

    def stats(self) -> dict[str, int]:
        """Frames/bytes yielded, truncated by snaplen, and tshark records without raw bytes.

        Kernel drops are not available from dumpcap while it runs (it reports them at exit only).
        """
        return {
            "frames": self._frames,
            "bytes": self._bytes,
            "truncated": self._truncated,
            "malformed": self._malformed,
        }

    def stop(self) -> None:
        """End a running iteration promptly (thread-safe)."""
        self._stop.set()
        self._kill_processes()

    def close(self) -> None:
        """Stop capturing. Idempotent."""
        self.stop()

    def __enter__(self) -> PysharkLiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
