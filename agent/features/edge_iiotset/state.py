"""What the dissectors share: struct layouts, the per-conversation state tshark keeps, and the
tables that hold it (bounded: the oldest entry is evicted beyond the configured size or after the
idle timeout, and evictions are counted, so a spoofed-source flood cannot grow memory without limit).
"""

from __future__ import annotations

import struct
from typing import Any

from agent.config import FeaturesConfig
from agent.features.edge_iiotset.ports import TcpApp
from agent.lru import LruTable

U16 = struct.Struct("!H")
U32 = struct.Struct("!I")
U16LE = struct.Struct("<H")
IPV4 = struct.Struct("!BBHHHBBH4s4s")
TCP = struct.Struct("!HHIIBBHHH")
UDP = struct.Struct("!HHHH")
ARP = struct.Struct("!HHBBH")
DNS = struct.Struct("!HHHHHH")
MBAP = struct.Struct("!HHHB")
u16 = U16.unpack_from
u32 = U32.unpack_from
#: most bytes held per direction while a PDU spread over TCP segments is reassembled
MAX_REASSEMBLY = 1 << 20


class FlowContext:
    """The alert context of the frame being dissected (:data:`agent.features.ETHERNET_CONTEXT` less
    ``ts``): filled in by the dissectors as they go, read by ``rows_with_context``.

    Addresses are kept as the dissectors find them (IPv6 as 16 raw bytes, the link source as raw
    bytes): they are formatted only when a caller asks for the context."""

    __slots__ = ("app_proto", "dest_ip", "dest_port", "flow_id", "hw_src", "icmp_type", "proto", "src_ip",
                 "src_port")

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Back to "nothing known", before the next frame."""
        self.src_ip: Any = None
        self.src_port = 0
        self.dest_ip: Any = None
        self.dest_port = 0
        self.proto: str | None = None
        self.app_proto: str | None = None
        self.flow_id = 0
        self.hw_src: bytes | None = None
        self.icmp_type: int | None = None


class HttpWait:
    """An HTTP message whose headers arrived and whose body has not: its first :data:`MAX_REASSEMBLY`
    bytes are kept and the rest only counted."""

    __slots__ = ("body", "cl", "head", "is_resp", "left", "tls")

    def __init__(self, head: bytes, body: bytes, left: int, is_resp: bool, cl: int, tls: bool) -> None:
        self.head = head
        self.body = bytearray(body[:MAX_REASSEMBLY])
        self.left = left  # body bytes still to come; -1: until the connection ends (no Content-Length)
        self.is_resp = is_resp
        self.cl = cl
        self.tls = tls


#: what a stream keeps per direction before it keeps anything (never written to: replaced by a list)
NONE_PAIR: tuple[None, None] = (None, None)


class TcpStream:
    """What tshark remembers per TCP conversation that the columns depend on.

    Why one slot per direction (``base0``/``base1``, ``nxt0``/``nxt1``) rather than a list of two: a
    spoofed SYN flood makes one stream a frame, tens of thousands at once, and two lists were a
    third of a stream's memory."""

    __slots__ = ("app", "base0", "base1", "buf", "closed", "flow_id", "head", "http_wait", "last", "mqtt_ver",
                 "nxt0", "nxt1")

    def __init__(self, flow_id: int, now: float):
        #: base sequence number per direction (0: the key's first endpoint sends); None until seen
        self.base0: int | None = None
        self.base1: int | None = None
        self.last = now
        self.app: TcpApp | None = None  # None: not decided yet (the first segment with a payload decides)
        #: reassembly buffer and a message waiting for its body, per direction: the shared empty pair
        #: until a first one is kept (most streams never keep one, and a SYN flood makes a stream a frame)
        self.buf: list[bytearray | None] | tuple[None, None] = NONE_PAIR
        #: next expected absolute sequence number per direction (-1: none yet)
        self.nxt0 = -1
        self.nxt1 = -1
        self.mqtt_ver = 0
        self.http_wait: list[HttpWait | None] | tuple[None, None] = NONE_PAIR
        self.flow_id = flow_id
        self.closed = False
        self.head = b""  # method of the last HTTP request: HEAD and CONNECT responses have no body


#: the ``features`` section's defaults: an extractor built without a config holds what they allow
_DEFAULTS = FeaturesConfig()
#: IPv4/IPv6 packets whose fragments are being collected at once (oldest dropped beyond)
MAX_FRAGMENTED = 1024
#: seconds a fragmented packet waits for its missing fragments
FRAGMENT_TIMEOUT_S = 60.0


class DissectorState:
    """The tables and counters the protocol modules' dissectors work on, for one capture in order."""

    def __init__(
        self,
        max_tcp_streams: int = _DEFAULTS.max_tcp_streams,
        max_udp_streams: int = _DEFAULTS.max_udp_streams,
        max_dns_transactions: int = _DEFAULTS.max_dns_transactions,
        stream_idle_timeout_s: float = _DEFAULTS.stream_idle_timeout_s,
    ):
        self.max_tcp = max(1, int(max_tcp_streams))
        self.max_udp = max(1, int(max_udp_streams))
        self.max_dns = max(1, int(max_dns_transactions))
        self.idle = float(stream_idle_timeout_s)
        self.tcp_streams: LruTable[bytes, TcpStream] = LruTable(self.max_tcp)
        # UDP conversation key -> [stream index, last ts, flow id]
        self.udp_streams: LruTable[tuple[Any, ...], list[Any]] = LruTable(self.max_udp)
        self.udp_next = 0
        # SNMP conversations tshark opened: (client addr, client port, agent addr, SNMP port), and of
        # those still waiting for their first datagram (any agent port): (client, port, agent) -> key
        self.snmp_convs: LruTable[tuple[bytes, int, bytes, int], None] = LruTable(self.max_udp)
        self.snmp_wild: dict[tuple[bytes, int, bytes], tuple[bytes, int, bytes, int]] = {}
        # (conversation key, id) -> [request frame, request ts, answered]
        self.dns_transactions: LruTable[tuple[Any, ...], list[Any]] = LruTable(self.max_dns)
        # IPv4 fragment reassembly: (src, dst, id, proto) -> [ts, {offset: bytes}, total or -1]
        self.fragments: LruTable[tuple[Any, ...], list[Any]] = LruTable(MAX_FRAGMENTED)
        self.flow_next = 1
        self.frame_no = 0
        self.ctx = FlowContext()
        #: frames seen, malformed ones, and frames of no IP (each table counts its own evictions)
        self.counters = {"frames": 0, "malformed": 0, "non_ip": 0}

