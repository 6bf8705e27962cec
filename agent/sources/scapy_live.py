"""Live Ethernet capture on an AF_PACKET socket opened by scapy, read as raw bytes.

Why this split: scapy does what is fiddly and well tested there (binding the socket, compiling a
tcpdump-syntax BPF filter with libpcap and attaching it before the first packet is queued,
promiscuous membership), while the hot path stays ours: one ``recvmsg`` per frame on the
non-blocking socket, the kernel's receive timestamp from ``SO_TIMESTAMPNS`` and the VLAN tag the
NIC stripped (``PACKET_AUXDATA``) put back, as libpcap does, so features see what tshark would.
Nothing is dissected with scapy per frame (its dissection runs at ~5k frames/s; this loop is bound
by the kernel and the consumer).

Kernel drops (frames the socket buffer could not hold) come from ``PACKET_STATISTICS``; that
getsockopt resets the kernel's counters, so they are accumulated here.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

from agent.errors import BackendError, CaptureError
from agent.records import Frame
from agent.sources import live_ethernet_options

SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_STATISTICS = 6
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
ETH_P_8021Q = 0x8100

#: struct tpacket_auxdata: status, len, snaplen, mac, net, vlan_tci, vlan_tpid
_AUXDATA = struct.Struct("=IIIHHHH")
_TIMESPEC = struct.Struct("=qq")
_TPACKET_STATS = struct.Struct("=II")
_ANC_SIZE = socket.CMSG_SPACE(_AUXDATA.size) + socket.CMSG_SPACE(_TIMESPEC.size) + 64

#: ARPHRD_* of the interface -> pcap LINKTYPE_* of what SOCK_RAW delivers on it.
_LINKTYPE_BY_ARPHRD = {
    1: 1,  # ARPHRD_ETHER
    772: 1,  # ARPHRD_LOOPBACK carries Ethernet headers on Linux
    0xFFFE: 101,  # ARPHRD_NONE (tun): raw IP
    512: 101,  # ARPHRD_PPP: the kernel hands over the network header
}

#: how long a blocked read waits before looking at the stop flag again (stop() also wakes it at once)
POLL_INTERVAL_S = 0.5

log = logging.getLogger(__name__)


class ScapyLiveSource:
    """Frames from a network interface, with kernel timestamps and kernel drop counters.

    :param interface: interface name (``eth0``).
    :param bpf_filter: tcpdump-syntax filter, compiled by libpcap through scapy; ``None`` = all.
    :param promiscuous: receive frames for other hosts too (a packet-socket membership: the kernel
        drops it when the socket closes, so a crash never leaves the interface promiscuous).
    :param buffer_size_mb: socket receive buffer; a larger one absorbs bursts instead of dropping.
    :param snaplen: bytes kept per frame; ``Frame.wirelen`` still gives the length on the wire.
    """

    def __init__(
        self,
        interface: str,
        bpf_filter: str | None = None,
        promiscuous: bool = False,
        buffer_size_mb: int = 8,
        snaplen: int = 65535,
    ) -> None:
        if not interface:
            raise CaptureError("live capture needs source.interface (e.g. eth0)")
        if snaplen <= 0:
            raise CaptureError(f"source.snaplen must be positive, got {snaplen}")
        try:
            import scapy.layers.l2  # noqa: F401 - registers Ethernet, so scapy knows the link type
            from scapy.arch.linux import L2ListenSocket
            from scapy.error import Scapy_Exception
        except ImportError as exc:  # pragma: no cover - scapy is a runtime dependency
            raise BackendError(f"capture source 'scapy' needs scapy (pip install scapy): {exc}") from exc
        self.interface = interface
        self.snaplen = snaplen
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._iter_thread: int | None = None
        self._closed = False
        self._kernel_packets = 0
        self._kernel_drops = 0
        self._frames = 0
        self._bytes = 0
        self._truncated = 0
        try:
            self._scapy_sock = L2ListenSocket(iface=interface, promisc=promiscuous, filter=bpf_filter)
        except PermissionError as exc:
            raise CaptureError(
                f"{interface}: cannot open a packet socket: {exc.strerror}; run as root or grant "
                "CAP_NET_RAW (AmbientCapabilities=CAP_NET_RAW in the systemd unit)"
            ) from exc
        except OSError as exc:
            raise CaptureError(f"{interface}: cannot capture: {exc.strerror or exc}") from exc
        except Scapy_Exception as exc:
            raise CaptureError(f"{interface}: cannot set capture filter {bpf_filter!r}: {exc}") from exc
        except ValueError as exc:  # scapy: "Interface 'x' not found !"
            raise CaptureError(f"{interface}: no such network interface ({exc})") from exc
        self._sock: socket.socket = self._scapy_sock.ins
        self.buffer_bytes = self._set_buffer(buffer_size_mb * 1024 * 1024)
        if self.buffer_bytes < buffer_size_mb * 1024 * 1024:
            log.warning(
                "%s: socket buffer is %d KiB, not the %d MiB asked for: raise net.core.rmem_max "
                "(sysctl) or grant CAP_NET_ADMIN",
                interface, self.buffer_bytes // 1024, buffer_size_mb,
            )
        self._sock.setblocking(False)
        hatype = self._sock.getsockname()[3]
        self.linktype = _LINKTYPE_BY_ARPHRD.get(hatype, 1)
        self._wake_r, self._wake_w = os.pipe()
        # packets counted before the filter was attached are not ours to report
        self._read_kernel_stats()
        self._kernel_packets = self._kernel_drops = 0

    @classmethod
    def from_config(cls, cfg: Any) -> ScapyLiveSource:
        """Build from a :class:`agent.config.SourceConfig`."""
        return cls(**live_ethernet_options(cfg))

    def _set_buffer(self, size: int) -> int:
        """Ask for ``size`` bytes of receive buffer; beyond net.core.rmem_max only with CAP_NET_ADMIN.

        :returns: what the kernel granted (it doubles the request for bookkeeping).
        """
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
        except OSError:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        return int(self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))

    def _read_kernel_stats(self) -> None:
        raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _TPACKET_STATS.size)
        packets, drops = _TPACKET_STATS.unpack(raw)
        with self._lock:
            # tp_packets already includes tp_drops; both reset on every read
            self._kernel_packets += packets
            self._kernel_drops += drops

    def __iter__(self) -> Iterator[Frame]:
        sock = self._sock
        recvmsg = sock.recvmsg
        fd = sock.fileno()
        snaplen = self.snaplen
        linktype = self.linktype
        wake = self._wake_r
        stop = self._stop
        auxdata_unpack = _AUXDATA.unpack_from
        timespec_unpack = _TIMESPEC.unpack
        truncated = 0
        frames = 0
        nbytes = 0
        self._idle.clear()
        self._iter_thread = threading.get_ident()
        try:
            while not stop.is_set():
                try:
                    data, ancdata, _flags, _addr = recvmsg(snaplen, _ANC_SIZE)
                except BlockingIOError:
                    self._frames += frames
                    self._bytes += nbytes
                    self._truncated += truncated
                    frames = nbytes = truncated = 0
                    ready, _, _ = select.select([fd, wake], [], [], POLL_INTERVAL_S)
                    if wake in ready:
                        break
                    continue
                except InterruptedError:
                    continue
                except OSError as exc:
                    if self._closed or exc.errno in (errno.EBADF, errno.ENETDOWN):
                        if exc.errno == errno.ENETDOWN:
                            raise CaptureError(f"{self.interface}: interface went down") from exc
                        break
                    raise CaptureError(f"{self.interface}: capture failed: {exc.strerror or exc}") from exc
                ts = 0.0
                wirelen = len(data)
                for level, kind, value in ancdata:
                    if level == SOL_PACKET and kind == PACKET_AUXDATA:
                        status, tp_len, _snap, _mac, _net, tci, tpid = auxdata_unpack(value)
                        wirelen = tp_len
                        if tci or status & TP_STATUS_VLAN_VALID:
                            if not status & TP_STATUS_VLAN_TPID_VALID:
                                tpid = ETH_P_8021Q
                            # the NIC/driver stripped the 802.1Q tag: put it back, as libpcap does
                            data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
                            wirelen += 4
                            if len(data) > snaplen:
                                data = data[:snaplen]
                    elif level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        sec, nsec = timespec_unpack(value[: _TIMESPEC.size])
                        ts = sec + nsec * 1e-9
                if wirelen > len(data):
                    truncated += 1
                frames += 1
                nbytes += wirelen
                yield Frame(ts, data, linktype, wirelen)
        finally:
            self._frames += frames
            self._bytes += nbytes
            self._truncated += truncated
            self._iter_thread = None
            self._idle.set()

    def stats(self) -> dict[str, int]:
        """Counters since open: frames/bytes yielded, truncated by snaplen, and the kernel's view.

        ``kernel_packets`` counts frames that passed the BPF filter (including dropped ones);
        ``kernel_drops`` those lost because the socket buffer was full.
        """
        if not self._closed:
            try:
                self._read_kernel_stats()
            except OSError as exc:  # closed under us by close(): the accumulated numbers stand
                log.debug("%s: PACKET_STATISTICS unavailable: %s", self.interface, exc)
        return {
            "frames": self._frames,
            "bytes": self._bytes,
            "truncated": self._truncated,
            "kernel_packets": self._kernel_packets,
            "kernel_drops": self._kernel_drops,
        }

    def stop(self) -> None:
        """Make a running iteration end promptly (thread-safe); the socket stays open for stats()."""
        self._stop.set()
        if not self._closed:
            os.write(self._wake_w, b"x")

    def close(self) -> None:
        """Stop, restore the interface's promiscuity and release the socket. Idempotent."""
        if self._closed:
            return
        self.stop()
        if self._iter_thread is not None and self._iter_thread != threading.get_ident():
            # another thread is iterating: let it leave select() before the socket goes away
            self._idle.wait(POLL_INTERVAL_S * 4)
        try:
            self._read_kernel_stats()
        except OSError as exc:  # final counters are a courtesy; closing must not fail on them
            log.debug("%s: final PACKET_STATISTICS unavailable: %s", self.interface, exc)
        self._closed = True
        self._scapy_sock.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def __enter__(self) -> ScapyLiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
