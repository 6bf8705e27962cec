"""Which dissector reads a conversation's payload: port tables that each protocol module fills in.

As scapy's ``bind_layers`` and tshark's ``tcp.port`` / ``udp.port`` tables, a protocol module declares
the ports it owns with :func:`register_tcp` or :func:`register_udp`; the TCP and UDP dissectors look
a conversation's two ports up in :data:`TCP_APPS` / :data:`UDP_APPS` and hand the payload to what they
find. When both ports are registered, the application with the lower ``rank`` wins (TCP: MQTT, then
Modbus, then HTTP, then DNS; UDP: DNS, then SSDP), and for the same application the lower port.
A TCP conversation on no registered port is offered to :data:`TCP_HEURISTICS` (tshark's heuristic
dissectors), in order, until one recognises a payload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: ``stream(state, row, data, stream, direction, fin, key, ts)``: a TCP direction's reassembled
#: bytes (``fin``: the segment carries a FIN); returns the incomplete rest to keep for the next segment
TcpStreamDissector = Callable[[Any, list[Any], bytes, Any, int, int, tuple[Any, ...], float], bytes]
#: ``cut(state, row, payload, stream)``: a segment cut short by the snapshot length
TcpCutDissector = Callable[[Any, list[Any], bytes, Any], None]
#: ``quoted(state, row, payload, tls, ts)``: TCP payload quoted by an ICMP error (no stream state)
TcpQuotedDissector = Callable[[Any, list[Any], bytes, bool, float], None]
#: ``fin(state, row, stream, direction)``: a FIN without payload (a body that runs to the end ends)
TcpFinDissector = Callable[[Any, list[Any], Any, int], None]
#: ``datagram(state, row, data, start, end, conversation key, port, ts, track)``: one UDP payload,
#: ``data[start:end]``, on the registered ``port``; ``track`` off when quoted by an ICMP error
UdpDissector = Callable[[Any, list[Any], bytes, int, int, tuple[Any, ...], int, float, bool], None]


@dataclass(slots=True, eq=False)
class TcpApp:
    """An application protocol over TCP: its ``app_proto`` name, its rank, and its dissectors."""

    name: str
    rank: int
    stream: TcpStreamDissector
    cut: TcpCutDissector | None = None
    quoted: TcpQuotedDissector | None = None
    fin: TcpFinDissector | None = None


@dataclass(slots=True, eq=False)
class UdpApp:
    """An application protocol over UDP: its ``app_proto`` name, its rank, and its dissector."""

    name: str
    rank: int
    datagram: UdpDissector


def _nothing(*_: Any) -> bytes:
    return b""


#: a TCP conversation on no registered port (its payload may still be recognised by a heuristic)
NO_APP = TcpApp("", 1 << 30, _nothing)
TCP_APPS: dict[int, TcpApp] = {}
UDP_APPS: dict[int, UdpApp] = {}
#: (test of a payload, application) tried in order on TCP conversations of :data:`NO_APP`
TCP_HEURISTICS: list[tuple[Callable[[bytes], bool], TcpApp]] = []


def register_tcp(app: TcpApp, ports: Any) -> None:
    """Give TCP ``ports`` to ``app``; a port given twice is a programming error."""
    for port in ports:
        if port in TCP_APPS and TCP_APPS[port] is not app:
            raise ValueError(f"TCP port {port} is registered to {TCP_APPS[port].name} already")
        TCP_APPS[port] = app


def register_udp(app: UdpApp, ports: Any) -> None:
    """Give UDP ``ports`` to ``app``; a port given twice is a programming error."""
    for port in ports:
        if port in UDP_APPS and UDP_APPS[port] is not app:
            raise ValueError(f"UDP port {port} is registered to {UDP_APPS[port].name} already")
        UDP_APPS[port] = app


def tcp_app(lo: int, hi: int) -> TcpApp | None:
    """The application registered on the lower or the higher port of a TCP conversation (see the ranks)."""
    a = TCP_APPS.get(lo)
    b = TCP_APPS.get(hi)
    if a is not None and (b is None or a.rank <= b.rank):
        return a
    return b
