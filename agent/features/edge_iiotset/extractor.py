"""Frames -> the 61 Edge-IIoTset columns, with the values ``tshark -T fields -E occurrence=f`` gives.

Why hand-written dissectors: the agent must keep up with a gateway's traffic on one core, at a
multiple of tshark's speed. Each layer is parsed with precompiled :class:`struct.Struct` objects on
the frame's bytes, stops as soon as the remaining columns cannot be filled, and formats strings only
for fields that are present. A row starts as a copy of a template of zeros (the project's "absent").

State that tshark keeps per conversation (relative TCP sequence numbers, UDP stream indices and time
deltas, DNS transactions, the reassembly of MQTT/Modbus/HTTP PDUs split over TCP segments) is kept in
bounded tables: the oldest entry is evicted beyond the configured size or after the idle timeout, and
evictions are counted, so a spoofed-source flood cannot grow memory without limit.

Known differences from tshark are listed in ``agent/features/edge_iiotset/__init__.py``.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from agent.features import ETHERNET_CONTEXT
from agent.features.edge_iiotset.columns import COLUMNS, INDEX
from agent.records import Frame

# column indices (module constants: LOAD_GLOBAL of an int is cheaper than a dict lookup)
C_TIME = INDEX["frame.time"]
C_IP_SRC = INDEX["ip.src_host"]
C_IP_DST = INDEX["ip.dst_host"]
C_ARP_DST = INDEX["arp.dst.proto_ipv4"]
C_ARP_OP = INDEX["arp.opcode"]
C_ARP_HWSIZE = INDEX["arp.hw.size"]
C_ARP_SRC = INDEX["arp.src.proto_ipv4"]
C_ICMP_CSUM = INDEX["icmp.checksum"]
C_ICMP_SEQLE = INDEX["icmp.seq_le"]
C_ICMP_TX = INDEX["icmp.transmit_timestamp"]
C_ICMP_UNUSED = INDEX["icmp.unused"]
C_HTTP_DATA = INDEX["http.file_data"]
C_HTTP_CL = INDEX["http.content_length"]
C_HTTP_QUERY = INDEX["http.request.uri.query"]
C_HTTP_METHOD = INDEX["http.request.method"]
C_HTTP_REFERER = INDEX["http.referer"]
C_HTTP_URI = INDEX["http.request.full_uri"]
C_HTTP_VERSION = INDEX["http.request.version"]
C_HTTP_RESPONSE = INDEX["http.response"]
C_HTTP_TLS = INDEX["http.tls_port"]
C_TCP_ACK = INDEX["tcp.ack"]
C_TCP_ACKRAW = INDEX["tcp.ack_raw"]
C_TCP_CSUM = INDEX["tcp.checksum"]
C_TCP_FIN = INDEX["tcp.connection.fin"]
C_TCP_RST = INDEX["tcp.connection.rst"]
C_TCP_SYN = INDEX["tcp.connection.syn"]
C_TCP_SYNACK = INDEX["tcp.connection.synack"]
C_TCP_DPORT = INDEX["tcp.dstport"]
C_TCP_FLAGS = INDEX["tcp.flags"]
C_TCP_FACK = INDEX["tcp.flags.ack"]
C_TCP_LEN = INDEX["tcp.len"]
C_TCP_OPTS = INDEX["tcp.options"]
C_TCP_PAYLOAD = INDEX["tcp.payload"]
C_TCP_SEQ = INDEX["tcp.seq"]
C_TCP_SPORT = INDEX["tcp.srcport"]
C_UDP_PORT = INDEX["udp.port"]
C_UDP_STREAM = INDEX["udp.stream"]
C_UDP_DELTA = INDEX["udp.time_delta"]
C_DNS_NAME = INDEX["dns.qry.name"]
C_DNS_NAMELEN = INDEX["dns.qry.name.len"]
C_DNS_QU = INDEX["dns.qry.qu"]
C_DNS_TYPE = INDEX["dns.qry.type"]
C_DNS_RETX = INDEX["dns.retransmission"]
C_DNS_RETXREQ = INDEX["dns.retransmit_request"]
C_DNS_RETXIN = INDEX["dns.retransmit_request_in"]
C_MQTT_CONACK = INDEX["mqtt.conack.flags"]
C_MQTT_CLEAN = INDEX["mqtt.conflag.cleansess"]
C_MQTT_CONFLAGS = INDEX["mqtt.conflags"]
C_MQTT_HDR = INDEX["mqtt.hdrflags"]
C_MQTT_LEN = INDEX["mqtt.len"]
C_MQTT_MSG = INDEX["mqtt.msg"]
C_MQTT_TYPE = INDEX["mqtt.msgtype"]
C_MQTT_PROTOLEN = INDEX["mqtt.proto_len"]
C_MQTT_PROTONAME = INDEX["mqtt.protoname"]
C_MQTT_TOPIC = INDEX["mqtt.topic"]
C_MQTT_TOPICLEN = INDEX["mqtt.topic_len"]
C_MQTT_VER = INDEX["mqtt.ver"]
C_MB_LEN = INDEX["mbtcp.len"]
C_MB_TID = INDEX["mbtcp.trans_id"]
C_MB_UNIT = INDEX["mbtcp.unit_id"]

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

#: TCP ports tshark gives to the HTTP dissector by default (http.tcp.port)
HTTP_TCP_PORTS = frozenset({80, 631, 1900, 2710, 2869, 3128, 3132, 3689, 5985, 8080, 8088, 11371})
#: UDP ports that carry HTTP-formatted messages (SSDP)
HTTP_UDP_PORTS = frozenset({1900})
MQTT_PORT = 1883
MODBUS_PORT = 502
#: DNS-format UDP ports: 53 DNS, 5353 mDNS, 5355 LLMNR
DNS_UDP_PORTS = frozenset({53, 5353, 5355})
#: UDP ports of tshark's SNMP dissector (agent, trap): it opens a conversation of its own, see _snmp_seen
SNMP_UDP_PORTS = frozenset({161, 162})
#: request methods tshark's HTTP dissector recognises at the start of a request line
HTTP_METHODS = frozenset(
    m.encode()
    for m in [
        "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH", "PROPFIND",
        "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "M-SEARCH", "NOTIFY", "SUBSCRIBE",
        "UNSUBSCRIBE", "CCM_POST", "CCM_GET", "RPC_CONNECT", "RPC_IN_DATA", "RPC_OUT_DATA", "REPORT",
        "CHECKOUT", "CHECKIN", "VERSION-CONTROL", "UNCHECKOUT", "MKWORKSPACE", "UPDATE", "LABEL", "MERGE",
        "BASELINE-CONTROL", "MKACTIVITY", "ORDERPATCH", "ACL", "MKREDIRECTREF", "UPDATEREDIRECTREF", "BIND",
        "UNBIND", "REBIND", "POLL", "BMOVE", "BDELETE", "BPROPFIND", "BPROPPATCH", "BCOPY", "X-MS-ENUMATTS",
        "PUTDIR", "MKCALENDAR",
    ]
)
#: DNS retransmission window (tshark's dns.retransmission_timer default), seconds
DNS_RETRANSMISSION_TIMER = 5.0
#: most bytes held per direction while a PDU spread over TCP segments is reassembled
MAX_REASSEMBLY = 1 << 20
#: control characters tshark's ``-T fields`` writes as escapes (others, and the backslash, stay as they are)
_ESCAPES = str.maketrans({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def tshark_text(data: bytes) -> str:
    """Bytes as tshark's ``-T fields`` prints a string field: up to the first NUL (tshark keeps these
    fields as C strings, so a binary body ends there), with \\b, \\t, \\n, \\f and \\r escaped.

    tshark 4.0 decodes these fields as ASCII: every byte above 0x7F becomes one U+FFFD.
    """
    nul = data.find(b"\0")
    text = (data if nul < 0 else data[:nul]).decode("ascii", "replace")
    return text if text.isprintable() else text.translate(_ESCAPES)


def format_frame_time(ts: float) -> str:
    """``frame.time`` as tshark prints it in UTC: ``Mar 25, 2020 22:05:35.383730000 UTC``."""
    us = round(ts * 1_000_000)
    sec, frac = divmod(us, 1_000_000)
    try:
        tm = time.gmtime(sec)
    except (OverflowError, OSError, ValueError):
        return f"{sec}.{frac:06d}000"
    return (
        f"{_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d}, {tm.tm_year} "
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}.{frac:06d}000 UTC"
    )


def ipv6_text(b: bytes) -> str:
    """RFC 5952 text of a 16-byte IPv6 address (the form tshark and the alerts use)."""
    import ipaddress

    return str(ipaddress.IPv6Address(b))


class _HttpWait:
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


class _TcpStream:
    """What tshark remembers per TCP conversation that the columns depend on."""

    __slots__ = ("app", "base", "based", "buf", "closed", "flow_id", "head", "http_wait", "last", "mqtt_ver", "nxt")

    def __init__(self, flow_id: int, now: float):
        self.base = [0, 0]  # base sequence number per direction (0: the key's first endpoint sends)
        self.based = [False, False]
        self.last = now
        self.app: str | None = None
        self.buf: list[bytearray | None] = [None, None]  # reassembly buffer per direction
        self.nxt = [-1, -1]  # next expected absolute sequence number per direction
        self.mqtt_ver = 0
        self.http_wait: list[_HttpWait | None] = [None, None]  # a message waiting for its body, per direction
        self.flow_id = flow_id
        self.closed = False
        self.head = b""  # method of the last HTTP request: HEAD and CONNECT responses have no body


class EdgeIIoTsetExtractor:
    """Frames -> rows of the 61 Edge-IIoTset columns (see the package docstring for the encoding)."""

    columns = COLUMNS
    context_fields = ETHERNET_CONTEXT
    #: columns whose text always holds a comma (``frame.time``: "Mar 25, 2020 ..."), so CSV always
    #: quotes them; lets the features command render rows without csv.writer's per-cell work
    csv_quoted_columns = (0,)

    def __init__(
        self,
        max_tcp_streams: int = 65536,
        max_udp_streams: int = 65536,
        max_dns_transactions: int = 65536,
        stream_idle_timeout_s: float = 300.0,
    ):
        self.max_tcp = max(1, int(max_tcp_streams))
        self.max_udp = max(1, int(max_udp_streams))
        self.max_dns = max(1, int(max_dns_transactions))
        self.idle = float(stream_idle_timeout_s)
        self._template: list[Any] = [0] * len(COLUMNS)
        self._tcp: OrderedDict[tuple[Any, ...], _TcpStream] = OrderedDict()
        # UDP conversation key -> [stream index, last ts]
        self._udp: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()
        self._udp_next = 0
        # SNMP conversations tshark opened: (client addr, client port, agent addr, SNMP port), and of
        # those still waiting for their first datagram (any agent port): (client, port, agent) -> key
        self._snmp_convs: OrderedDict[tuple[bytes, int, bytes, int], None] = OrderedDict()
        self._snmp_wild: dict[tuple[bytes, int, bytes], tuple[bytes, int, bytes, int]] = {}
        # (conversation key, id) -> [request frame, request ts, answered]
        self._dns: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()
        # IPv4 fragment reassembly: (src, dst, id, proto) -> [ts, {offset: bytes}, total or -1]
        self._frags: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()
        self._flow_next = 1
        self._frame_no = 0
        self._last_sec = -1
        self._time_prefix = ""
        self._ctx: list[Any] = [None] * 9
        self.counters = {
            "frames": 0,
            "malformed": 0,
            "tcp_evicted": 0,
            "udp_evicted": 0,
            "dns_evicted": 0,
            "fragments_evicted": 0,
            "non_ip": 0,
        }

    @classmethod
    def from_config(cls, features_config: Any) -> EdgeIIoTsetExtractor:
        """Build from :class:`agent.config.FeaturesConfig` (stream/transaction limits, idle timeout)."""
        return cls(
            max_tcp_streams=getattr(features_config, "max_tcp_streams", 65536),
            max_udp_streams=getattr(features_config, "max_udp_streams", 65536),
            max_dns_transactions=getattr(features_config, "max_dns_transactions", 65536),
            stream_idle_timeout_s=getattr(features_config, "stream_idle_timeout_s", 300.0),
        )

    # -- protocol ------------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """Counters: frames, malformed frames, evictions per table, current table sizes."""
        out = dict(self.counters)
        out["tcp_streams"] = len(self._tcp)
        out["udp_streams"] = len(self._udp)
        out["dns_transactions"] = len(self._dns)
        return out

    def row(self, record: Frame) -> list[Any]:
        """The 61 values of one frame (frames must be given in capture order)."""
        return self._row(record)

    def rows(self, records: Iterable[Frame]) -> Iterator[list[Any]]:
        """Rows of ``records``, in order."""
        f = self._row
        for rec in records:
            yield f(rec)

    def rows_with_context(self, records: Iterable[Frame]) -> Iterator[tuple[list[Any], tuple[Any, ...]]]:
        """Rows with the alert context ``(ts, src_ip, src_port, dest_ip, dest_port, proto, app_proto, flow_id,
        hw_src, icmp_type)``."""
        f = self._row
        ctx = self._ctx
        for rec in records:
            ctx[:] = (None, 0, None, 0, None, None, 0, None, None)
            row = f(rec)
            if ctx[0].__class__ is bytes:  # IPv6 addresses are kept raw on the hot path
                ctx[0] = ipv6_text(ctx[0])
                ctx[2] = ipv6_text(ctx[2])
            yield row, (rec.ts, *ctx)

    # -- the hot path --------------------------------------------------------------------------
    def _row(self, frame: Frame) -> list[Any]:
        r = self._template[:]
        self._frame_no += 1
        self.counters["frames"] += 1
        ts, data, lt, _wire = frame
        # frame.time: the date part is cached per second
        us = round(ts * 1_000_000)
        sec, frac = divmod(us, 1_000_000)
        if sec != self._last_sec:
            self._last_sec = sec
            try:
                tm = time.gmtime(sec)
                self._time_prefix = (
                    f"{_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d}, {tm.tm_year} "
                    f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}."
                )
            except (OverflowError, OSError, ValueError):
                self._time_prefix = f"{sec}."
        r[C_TIME] = f"{self._time_prefix}{frac:06d}000 UTC"
        try:
            self._link(r, data, lt, ts)
        except (IndexError, struct.error, ValueError):
            self.counters["malformed"] += 1
        return r

    def _link(self, r: list[Any], d: bytes, lt: int, ts: float) -> None:
        n = len(d)
        if lt == 1:  # Ethernet, with any number of 802.1Q / 802.1ad / QinQ tags
            if n < 14:
                self.counters["malformed"] += 1
                return
            et = (d[12] << 8) | d[13]
            off = 14
            self._ctx[7] = d[6:12]  # raw: formatted only where a finding names it
            while et == 0x8100 or et == 0x88A8 or et == 0x9100:
                if n < off + 4:
                    self.counters["malformed"] += 1
                    return
                et = (d[off + 2] << 8) | d[off + 3]
                off += 4
        elif lt == 113:  # Linux cooked v1
            if n < 16:
                self.counters["malformed"] += 1
                return
            et = (d[14] << 8) | d[15]
            off = 16
        elif lt == 276:  # Linux cooked v2
            if n < 20:
                self.counters["malformed"] += 1
                return
            et = (d[0] << 8) | d[1]
            off = 20
        elif lt == 0 or lt == 108:  # BSD NULL (host order) / OpenBSD LOOP (network order)
            if n < 4:
                self.counters["malformed"] += 1
                return
            fam = struct.unpack_from("!I" if (lt == 108 or d[0] == 0) else "<I", d, 0)[0]
            off = 4
            if fam == 2:
                et = 0x0800
            elif fam in (10, 24, 28, 30):
                et = 0x86DD
            else:
                self.counters["non_ip"] += 1
                return
        elif lt == 101 or lt == 12 or lt == 14 or lt == 228 or lt == 229:  # raw IP
            if n < 1:
                self.counters["malformed"] += 1
                return
            v = d[0] >> 4
            off = 0
            if lt == 228 or (lt != 229 and v == 4):
                et = 0x0800
            elif lt == 229 or v == 6:
                et = 0x86DD
            else:
                self.counters["malformed"] += 1
                return
        else:
            self.counters["non_ip"] += 1
            return
        if et == 0x0800:
            self._ipv4(r, d, off, ts)
        elif et == 0x86DD:
            self._ipv6(r, d, off, ts)
        elif et == 0x0806:
            self._arp(r, d, off)
        elif et == 0x8864 or et == 0x8847 or et == 0x8848:
            self._shim(r, d, off, et, ts)
        else:
            self.counters["non_ip"] += 1

    def _shim(self, r: list[Any], d: bytes, off: int, et: int, ts: float) -> None:
        """PPPoE sessions and MPLS label stacks: tshark dissects the IP packet they carry."""
        n = len(d)
        if et == 0x8864:  # PPPoE session: 6-byte header, then the PPP protocol number
            if n < off + 8:
                self.counters["malformed"] += 1
                return
            ppp = u16(d, off + 6)[0]
            off += 8
            if ppp == 0x0021:
                self._ipv4(r, d, off, ts)
            elif ppp == 0x0057:
                self._ipv6(r, d, off, ts)
            else:
                self.counters["non_ip"] += 1
            return
        while True:  # MPLS: labels up to the bottom-of-stack bit, then IP guessed by its version
            if n < off + 4:
                self.counters["malformed"] += 1
                return
            bottom = d[off + 2] & 1
            off += 4
            if bottom:
                break
        v = d[off] >> 4 if n > off else 0
        if v == 4:
            self._ipv4(r, d, off, ts)
        elif v == 6:
            self._ipv6(r, d, off, ts)
        else:
            self.counters["non_ip"] += 1

    def _arp(self, r: list[Any], d: bytes, off: int) -> None:
        if len(d) < off + 8:
            self.counters["malformed"] += 1
            return
        _hrd, pro, hln, pln, op = ARP.unpack_from(d, off)
        r[C_ARP_HWSIZE] = hln
        r[C_ARP_OP] = op
        if hln == 6 and len(d) >= off + 14:
            self._ctx[7] = d[off + 8 : off + 14]  # the address a host caches for the sender
        if pro == 0x0800 and pln == 4:
            sp = off + 8 + hln
            tp = sp + 4 + hln
            if len(d) >= sp + 4:
                r[C_ARP_SRC] = f"{d[sp]}.{d[sp + 1]}.{d[sp + 2]}.{d[sp + 3]}"
            if len(d) >= tp + 4:
                r[C_ARP_DST] = f"{d[tp]}.{d[tp + 1]}.{d[tp + 2]}.{d[tp + 3]}"
            else:
                self.counters["malformed"] += 1

    def _ipv4(self, r: list[Any], d: bytes, off: int, ts: float) -> None:
        n = len(d)
        if n < off + 20:
            self.counters["malformed"] += 1
            return
        vihl, _tos, tot, ipid, frag, _ttl, proto, _csum, src, dst = IPV4.unpack_from(d, off)
        ihl = (vihl & 15) * 4
        if vihl >> 4 != 4 or ihl < 20:
            self.counters["malformed"] += 1
            return
        r[C_IP_SRC] = f"{src[0]}.{src[1]}.{src[2]}.{src[3]}"
        r[C_IP_DST] = f"{dst[0]}.{dst[1]}.{dst[2]}.{dst[3]}"
        if tot < ihl:
            self.counters["malformed"] += 1
            return
        ctx = self._ctx
        ctx[0] = r[C_IP_SRC]
        ctx[2] = r[C_IP_DST]
        start = off + ihl
        end = off + tot
        if frag & 0x3FFF:  # a fragment: transport is dissected once all fragments are in
            payload = self._defragment(d, start, min(end, n), src, dst, ipid, proto, frag, ts)
            if payload is None:
                ctx[4] = "IPv4"
                return
            d = payload
            start = 0
            end = len(payload)
            n = end
        self._transport(r, d, start, end, n, proto, src, dst, ts)

    def _defragment(
        self, d: bytes, start: int, stop: int, src: bytes, dst: bytes, ipid: Any, proto: int, frag: int, ts: float
    ) -> bytes | None:
        """Collect one fragment; the reassembled payload once every fragment is in, else None.

        ``frag`` is in IPv4's layout (MF bit 0x2000, offset in 8-byte units); IPv6 fragment
        headers are converted to it by the caller, so both versions share one bounded table.
        """
        key = (src, dst, ipid, proto)
        tab = self._frags
        ent = tab.get(key)
        if ent is None:
            ent = tab[key] = [ts, {}, -1]
            while len(tab) > 1024 or (tab and ts - next(iter(tab.values()))[0] > 60.0):
                tab.popitem(last=False)
                self.counters["fragments_evicted"] += 1
        offset = (frag & 0x1FFF) * 8
        ent[1][offset] = d[start:stop]
        if not frag & 0x2000:
            ent[2] = offset + (stop - start)
        total = ent[2]
        if total < 0:
            return None
        have = 0
        parts = ent[1]
        for o in sorted(parts):
            if o > have:
                return None
            have = max(have, o + len(parts[o]))
        if have < total:
            return None
        buf = bytearray(total)
        for o in sorted(parts):
            buf[o:o + len(parts[o])] = parts[o]
        del tab[key]
        return bytes(buf[:total])

    def _ipv6(self, r: list[Any], d: bytes, off: int, ts: float) -> None:
        n = len(d)
        if n < off + 40:
            self.counters["malformed"] += 1
            return
        plen = u16(d, off + 4)[0]
        nh = d[off + 6]
        src = d[off + 8:off + 24]
        dst = d[off + 24:off + 40]
        ctx = self._ctx
        ctx[0] = src  # raw: formatted only when a caller asks for the context (rows_with_context)
        ctx[2] = dst
        start = off + 40
        end = start + plen
        while nh in (0, 43, 60, 44, 51):
            if n < start + 8:
                self.counters["malformed"] += 1
                return
            if nh == 44:  # fragment header: transport is dissected once all fragments are in
                fo = u16(d, start + 2)[0]
                nh = d[start]
                start += 8
                if fo & 0xFFF9:  # not an atomic fragment (offset 0, no more fragments)
                    ident = d[start - 4:start]
                    frag = ((fo >> 3) & 0x1FFF) | (0x2000 if fo & 1 else 0)
                    payload = self._defragment(d, start, min(end, n), src, dst, ident, nh, frag, ts)
                    if payload is None:
                        ctx[4] = "IPv6"
                        return
                    d = payload
                    start = 0
                    end = n = len(payload)
                    break
                continue
            hl = (d[start + 1] + 2) * 4 if nh == 51 else (d[start + 1] + 1) * 8
            nh = d[start]
            start += hl
        self._transport(r, d, start, end, n, nh, src, dst, ts)

    def _transport(
        self, r: list[Any], d: bytes, start: int, end: int, n: int, proto: int, src: bytes, dst: bytes, ts: float
    ) -> None:
        if proto == 6:
            self._tcp_seg(r, d, start, end, n, src, dst, ts)
        elif proto == 17:
            self._udp_dgram(r, d, start, end, n, src, dst, ts)
        elif proto == 1:
            self._icmp(r, d, start, end, n, ts)
        elif proto == 58:
            self._ctx[4] = "IPv6-ICMP"
            if n > start:
                self._ctx[8] = d[start]
            # errors (unreachable, too big, time exceeded, parameter problem) quote the packet
            if n >= start + 48 and 1 <= d[start] <= 4:
                self._quoted(r, d, start + 8, min(end, n), ts)
        elif proto == 4 or proto == 41 or proto == 47:
            self._tunnel(r, d, start, min(end, n), proto, ts)
        else:
            self._ctx[4] = str(proto)

    def _tunnel(self, r: list[Any], d: bytes, start: int, end: int, proto: int, ts: float) -> None:
        """IP-in-IP, IPv6-in-IP and GRE: tshark dissects the inner packet as any other.

        The outer header's fields come first, so with ``occurrence=f`` they win: the inner
        addresses are kept only where the outer header had none (IPv4 inside IPv6).
        """
        inner = d[:end]
        if proto == 47:  # GRE: flags, protocol, then checksum/key/sequence when flagged
            if end < start + 4:
                self.counters["malformed"] += 1
                return
            flags = d[start]
            et = u16(d, start + 2)[0]
            off = start + 4 + (4 if flags & 0x80 else 0) + (4 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
            if flags & 0x07 or d[start + 1] & 0x07:  # only GRE version 0 without routing carries IP
                return
            if et == 0x6558:  # transparent Ethernet bridging
                if end < off + 14:
                    self.counters["malformed"] += 1
                    return
                et = u16(d, off + 12)[0]
                off += 14
        else:
            et = 0x0800 if proto == 4 else 0x86DD
            off = start
        saved = (r[C_IP_SRC], r[C_IP_DST])
        if et == 0x0800:
            self._ipv4(r, inner, off, ts)
        elif et == 0x86DD:
            self._ipv6(r, inner, off, ts)
        elif et == 0x0806:
            self._arp(r, inner, off)
        if saved[0] != 0:
            r[C_IP_SRC], r[C_IP_DST] = saved

    def _icmp(self, r: list[Any], d: bytes, start: int, end: int, n: int, ts: float) -> None:
        self._ctx[4] = "ICMP"
        if n < start + 4:
            self.counters["malformed"] += 1
            return
        typ = self._ctx[8] = d[start]
        code = d[start + 1]
        r[C_ICMP_CSUM] = u16(d, start + 2)[0]
        if typ == 0 or typ == 8 or 13 <= typ <= 18:  # echo, timestamp, information, address mask
            if n >= start + 8:
                r[C_ICMP_SEQLE] = U16LE.unpack_from(d, start + 6)[0]
            if (typ == 13 or typ == 14) and n >= start + 20:
                r[C_ICMP_TX] = u32(d, start + 16)[0]
        elif typ == 3 or typ == 11 or typ == 4 or typ == 5 or typ == 12:
            if typ == 3 and code == 4:  # fragmentation needed: 2 unused bytes, then the next-hop MTU
                if n >= start + 6:
                    r[C_ICMP_UNUSED] = d[start + 4:start + 6].hex()
            elif typ == 3 or typ == 11:
                if n >= start + 8:
                    r[C_ICMP_UNUSED] = d[start + 4:start + 8].hex()
            elif typ == 12 and n >= start + 8:  # parameter problem: pointer, then 3 unused bytes
                r[C_ICMP_UNUSED] = d[start + 5:start + 8].hex()
            self._quoted(r, d, start + 8, min(end, n), ts)

    # -- the packet quoted by an ICMP error --------------------------------------------------------
    def _quoted(self, r: list[Any], d: bytes, p: int, end: int, ts: float) -> None:
        """The IP header and transport header an ICMP error quotes, the way tshark shows them.

        tshark dissects the quoted packet with its usual dissectors, flagged as "in an error
        packet": its TCP/UDP/ICMP/application fields appear in the row (after the outer ones, so
        ``occurrence=f`` keeps the outer ICMP checksum), but it takes part in no conversation
        state: TCP numbers stay absolute and ``tcp.len`` is not shown, a UDP conversation gets its
        stream index (created if new) but its time delta is neither shown nor advanced, and DNS
        transactions are not tracked. Nothing is reassembled.
        """
        if end - p < 20:
            return
        v = d[p] >> 4
        if v == 4:
            ihl = (d[p] & 15) * 4
            if ihl < 20 or end < p + ihl:
                return
            tot = u16(d, p + 2)[0]
            if u16(d, p + 6)[0] & 0x3FFF:  # a fragment: tshark would wait for the rest, so no transport
                return
            proto = d[p + 9]
            src = d[p + 12:p + 16]
            dst = d[p + 16:p + 20]
            start = p + ihl
            if tot >= ihl:
                end = min(end, p + tot)
        elif v == 6:
            if end < p + 40:
                return
            proto = d[p + 6]
            src = d[p + 8:p + 24]
            dst = d[p + 24:p + 40]
            start = p + 40
            end = min(end, start + u16(d, p + 4)[0])
            while proto in (0, 43, 60, 51):
                if end < start + 8:
                    return
                hl = (d[start + 1] + 2) * 4 if proto == 51 else (d[start + 1] + 1) * 8
                proto = d[start]
                start += hl
            if proto == 44:
                if end < start + 8 or u16(d, start + 2)[0] & 0xFFF8:
                    return
                proto = d[start]
                start += 8
        else:
            return
        avail = end - start
        if proto == 17:
            if avail < 8:
                return
            sport, dport, ulen, _csum = UDP.unpack_from(d, start)
            r[C_UDP_PORT] = sport
            if ulen < 8:
                return
            key: tuple[Any, ...] = (
                (src, sport, dst, dport) if (src, sport) <= (dst, dport) else (dst, dport, src, sport)
            )
            ent = self._udp.get(key)
            if ent is None:
                ent = self._udp[key] = [self._udp_next, ts, self._flow_next]
                self._udp_next += 1
                self._flow_next += 1
                self._evict_udp(ts)
            r[C_UDP_STREAM] = ent[0]
            pstart = start + 8
            pend = min(end, start + ulen)
            if pend <= pstart:
                return
            lo = sport if sport < dport else dport
            hi = dport if sport < dport else sport
            if lo in DNS_UDP_PORTS or hi in DNS_UDP_PORTS:
                port = lo if lo in DNS_UDP_PORTS else hi
                self._dns_msg(r, d, pstart, pend, key, port == 5353, ts, False)
            elif lo in HTTP_UDP_PORTS or hi in HTTP_UDP_PORTS:
                self._http_once(r, d[pstart:pend])
        elif proto == 6:
            if avail < 4:
                return
            sport, dport = struct.unpack_from("!HH", d, start)
            r[C_TCP_SPORT] = sport
            r[C_TCP_DPORT] = dport
            if avail < 8:
                return
            r[C_TCP_SEQ] = u32(d, start + 4)[0]
            if avail < 20:
                return
            _sp, _dp, _seq, ack, offb, flagb, _win, csum, _urg = TCP.unpack_from(d, start)
            hl = (offb >> 4) * 4
            r[C_TCP_FLAGS] = ((offb & 1) << 8) | flagb
            r[C_TCP_CSUM] = csum
            r[C_TCP_ACKRAW] = ack
            r[C_TCP_ACK] = ack  # shown whatever the flags, as it is in the quoted header
            if flagb & 0x10:
                r[C_TCP_FACK] = 1
            if flagb & 0x02:
                r[C_TCP_SYNACK if flagb & 0x10 else C_TCP_SYN] = 1
            if flagb & 0x01:
                r[C_TCP_FIN] = 1
            if flagb & 0x04:
                r[C_TCP_RST] = 1
            if hl < 20:
                return
            if hl > 20:
                r[C_TCP_OPTS] = d[start + 20:min(start + hl, end)].hex()
            payload = d[start + hl:end]
            if not payload:
                return
            r[C_TCP_PAYLOAD] = payload.hex()
            lo = sport if sport < dport else dport
            hi = dport if sport < dport else sport
            if lo == MQTT_PORT or hi == MQTT_PORT:
                self._mqtt(r, payload, _TcpStream(0, ts), True)
            elif lo == MODBUS_PORT or hi == MODBUS_PORT:
                self._modbus(r, payload)
            elif lo in HTTP_TCP_PORTS or hi in HTTP_TCP_PORTS or _http_heuristic(payload):
                self._http_once(r, payload, lo == 443 or hi == 443, True)
            # DNS over TCP inside an error packet: tshark shows no DNS fields
        elif proto == 1 and v == 4:
            if avail < 4:
                return
            typ = d[start]
            if (typ == 0 or typ == 8 or 13 <= typ <= 18) and avail >= 8:
                r[C_ICMP_SEQLE] = U16LE.unpack_from(d, start + 6)[0]
                if (typ == 13 or typ == 14) and avail >= 20:
                    r[C_ICMP_TX] = u32(d, start + 16)[0]

    # -- UDP -----------------------------------------------------------------------------------
    def _udp_dgram(
        self, r: list[Any], d: bytes, start: int, end: int, n: int, src: bytes, dst: bytes, ts: float
    ) -> None:
        ctx = self._ctx
        ctx[4] = "UDP"
        if n < start + 8:
            self.counters["malformed"] += 1
            return
        sport, dport, ulen, _csum = UDP.unpack_from(d, start)
        r[C_UDP_PORT] = sport
        ctx[1] = sport
        ctx[3] = dport
        if ulen < 8:  # a bad length: tshark stops before the conversation (no stream index)
            self.counters["malformed"] += 1
            return
        if (src, sport) <= (dst, dport):
            key: tuple[Any, ...] = (src, sport, dst, dport)
        else:
            key = (dst, dport, src, sport)
        tab = self._udp
        wild = self._snmp_wild
        if wild:
            for end_points in ((src, sport, dst), (dst, dport, src)):
                if end_points in wild:
                    del wild[end_points]
                    tab.pop(key, None)  # from here on tshark finds the SNMP conversation: a new stream
                    break
        ent = tab.get(key)
        if ent is None:
            ent = tab[key] = [self._udp_next, ts, self._flow_next]
            self._udp_next += 1
            self._flow_next += 1
            self._evict_udp(ts)
            r[C_UDP_STREAM] = ent[0]
            if ulen > 8:
                r[C_UDP_DELTA] = 0.0
        else:
            tab.move_to_end(key)
            r[C_UDP_STREAM] = ent[0]
            if ulen > 8:  # tshark times only datagrams with a payload (and from their creation)
                r[C_UDP_DELTA] = round(ts - ent[1], 6)
                ent[1] = ts
        ctx[6] = ent[2]
        pstart = start + 8
        pend = min(end, start + ulen if ulen >= 8 else end, n)
        lo = sport if sport < dport else dport
        hi = dport if sport < dport else sport
        if lo in DNS_UDP_PORTS or hi in DNS_UDP_PORTS:
            port = lo if lo in DNS_UDP_PORTS else hi
            ctx[5] = "dns"
            self._dns_msg(r, d, pstart, pend, key, port == 5353, ts)
        elif lo in HTTP_UDP_PORTS or hi in HTTP_UDP_PORTS:
            ctx[5] = "http"
            self._http_once(r, d[pstart:pend])
        elif (lo in SNMP_UDP_PORTS or hi in SNMP_UDP_PORTS) and _is_snmp(d, pstart, pend):
            self._snmp_seen(src, sport, dst, dport)

    def _snmp_seen(self, src: bytes, sport: int, dst: bytes, dport: int) -> None:
        """tshark's SNMP dissector, on a message, opens a conversation from the client's address and
        port to the agent's address with any port (agents may answer from another port), unless it
        opened one for that SNMP port before. UDP finds it for the next datagram between them, in either
        direction, and gives it a stream index of its own: a poll's reply (or its next request) starts
        a new ``udp.stream``, which that address pair keeps from then on."""
        key = (src, sport, dst, dport) if dport in SNMP_UDP_PORTS else (dst, dport, src, sport)
        convs = self._snmp_convs
        if key in convs:
            return
        convs[key] = None
        self._snmp_wild[key[:3]] = key
        if len(convs) > self.max_udp:
            old = convs.popitem(last=False)[0]
            if self._snmp_wild.get(old[:3]) == old:
                del self._snmp_wild[old[:3]]

    def _evict_udp(self, ts: float) -> None:
        tab = self._udp
        idle = self.idle
        # idle entries are dropped only under pressure (half full): tshark itself forgets nothing
        pressure = len(tab) * 2 >= self.max_udp
        while len(tab) > self.max_udp or (pressure and tab and ts - next(iter(tab.values()))[1] > idle):
            tab.popitem(last=False)
            self.counters["udp_evicted"] += 1

    # -- DNS -----------------------------------------------------------------------------------
    def _dns_msg(
        self, r: list[Any], d: bytes, start: int, end: int, conv: Any, mdns: bool, ts: float, track: bool = True
    ) -> None:
        """One DNS message; ``track`` off for messages quoted by ICMP errors (tshark skips them).

        Several messages can share a frame (DNS over TCP): each one's question fields are kept
        only where no earlier message set them (``occurrence=f``), but every query is tracked.
        """
        if end - start < 12:
            self.counters["malformed"] += 1
            return
        ident, flags, qd, _an, _ns, _ar = DNS.unpack_from(d, start)
        if qd and r[C_DNS_NAME] == 0:
            pos = start + 12
            labels = []
            total = 0
            while True:
                if pos >= end:
                    self.counters["malformed"] += 1
                    return
                ln = d[pos]
                if ln == 0:
                    pos += 1
                    break
                if ln >= 0xC0:  # compression pointer inside a question (rare, but legal)
                    if pos + 1 >= end:
                        self.counters["malformed"] += 1
                        return
                    target = start + (((ln & 0x3F) << 8) | d[pos + 1])
                    name_rest = self._dns_name_at(d, target, end, start)
                    if name_rest is None:
                        self.counters["malformed"] += 1
                        return
                    labels.append(name_rest)
                    pos += 2
                    break
                if pos + 1 + ln > end:
                    self.counters["malformed"] += 1
                    return
                labels.append(_dns_label(d[pos + 1:pos + 1 + ln]))
                total += ln
                pos += 1 + ln
            name = ".".join(labels) if labels else "<Root>"
            r[C_DNS_NAME] = name
            r[C_DNS_NAMELEN] = len(name)
            if pos + 2 <= end:
                r[C_DNS_TYPE] = u16(d, pos)[0]
            if mdns and pos + 4 <= end:
                r[C_DNS_QU] = u16(d, pos + 2)[0] >> 15
        if not track:
            return
        # retransmission tracking, per conversation and transaction id
        key = (conv, ident)
        tab = self._dns
        ent = tab.get(key)
        if not flags & 0x8000:  # query
            if ent is not None and not ent[2] and ts - ent[1] < DNS_RETRANSMISSION_TIMER:
                r[C_DNS_RETX] = 1
                r[C_DNS_RETXREQ] = 1
                if r[C_DNS_RETXIN] == 0:
                    r[C_DNS_RETXIN] = ent[0]
            else:
                tab[key] = [self._frame_no, ts, False]
                tab.move_to_end(key)
                while len(tab) > self.max_dns or (tab and ts - next(iter(tab.values()))[1] > self.idle):
                    tab.popitem(last=False)
                    self.counters["dns_evicted"] += 1
        elif ent is not None:
            if ent[2] and ent[2] != self._frame_no:
                r[C_DNS_RETX] = 1
            else:
                ent[2] = self._frame_no

    def _dns_name_at(self, d: bytes, pos: int, end: int, base: int) -> str | None:
        labels: list[str] = []
        hops = 0
        while pos < end:
            ln = d[pos]
            if ln == 0:
                return ".".join(labels) if labels else "<Root>"
            if ln >= 0xC0:
                hops += 1
                if hops > 16 or pos + 1 >= end:
                    return None
                pos = base + (((ln & 0x3F) << 8) | d[pos + 1])
                continue
            if pos + 1 + ln > end:
                return None
            labels.append(_dns_label(d[pos + 1:pos + 1 + ln]))
            pos += 1 + ln
        return None

    # -- TCP -----------------------------------------------------------------------------------
    def _tcp_seg(self, r: list[Any], d: bytes, start: int, end: int, n: int, src: bytes, dst: bytes, ts: float) -> None:
        ctx = self._ctx
        ctx[4] = "TCP"
        if n < start + 20:
            self.counters["malformed"] += 1
            if n >= start + 4:
                r[C_TCP_SPORT], r[C_TCP_DPORT] = struct.unpack_from("!HH", d, start)
            return
        sport, dport, seq, ack, offb, flagb, _win, csum, _urg = TCP.unpack_from(d, start)
        ctx[1] = sport
        ctx[3] = dport
        flags = ((offb & 1) << 8) | flagb
        hl = (offb >> 4) * 4
        r[C_TCP_SPORT] = sport
        r[C_TCP_DPORT] = dport
        r[C_TCP_FLAGS] = flags
        r[C_TCP_CSUM] = csum
        r[C_TCP_ACKRAW] = ack
        r[C_TCP_ACK] = ack  # made relative below when the ACK flag is set, as tshark does
        r[C_TCP_FACK] = 1 if flagb & 0x10 else 0
        if hl < 20:
            self.counters["malformed"] += 1
            return
        plen = end - start - hl
        if plen < 0:
            self.counters["malformed"] += 1
            plen = 0
        r[C_TCP_LEN] = plen
        if hl > 20:
            r[C_TCP_OPTS] = d[start + 20:min(start + hl, n)].hex()
        syn = flagb & 0x02
        if syn:
            if flagb & 0x10:
                r[C_TCP_SYNACK] = 1
            else:
                r[C_TCP_SYN] = 1
        if flagb & 0x01:
            r[C_TCP_FIN] = 1
        if flagb & 0x04:
            r[C_TCP_RST] = 1
        # stream state
        if (src, sport) <= (dst, dport):
            key: tuple[Any, ...] = (src, sport, dst, dport)
            di = 0
        else:
            key = (dst, dport, src, sport)
            di = 1
        tab = self._tcp
        st = tab.get(key)
        if st is None:
            st = tab[key] = _TcpStream(self._flow_next, ts)
            self._flow_next += 1
            if len(tab) > self.max_tcp:
                tab.popitem(last=False)
                self.counters["tcp_evicted"] += 1
            self._evict_tcp(ts)
        else:
            tab.move_to_end(key)
            if syn and not flagb & 0x10 and st.based[di] and seq != st.base[di] and st.closed:
                # port reuse: a new connection on a closed 4-tuple starts a new stream
                fid = st.flow_id
                st = tab[key] = _TcpStream(fid, ts)
        st.last = ts
        ctx[6] = st.flow_id
        based = st.based
        base = st.base
        if syn:
            base[di] = seq
            based[di] = True
        elif not based[di]:
            base[di] = (seq - 1) & 0xFFFFFFFF
            based[di] = True
        if flagb & 0x10:
            if not based[1 - di]:
                base[1 - di] = (ack - 1) & 0xFFFFFFFF
                based[1 - di] = True
            r[C_TCP_ACK] = (ack - base[1 - di]) & 0xFFFFFFFF
        r[C_TCP_SEQ] = (seq - base[di]) & 0xFFFFFFFF
        if flagb & 0x05:
            st.closed = True
        pstart = start + hl
        pstop = min(end, n)
        # highest sequence number seen per direction (SYN and FIN count one): tshark calls data
        # below it a retransmission and does not hand it to the application dissector again
        nxt = st.nxt[di]
        seg_end = (seq + plen + (1 if syn else 0) + (flagb & 0x01)) & 0xFFFFFFFF
        if plen <= 0:
            if flagb & 0x03 and (nxt < 0 or ((seg_end - nxt) & 0xFFFFFFFF) < 0x80000000):
                st.nxt[di] = seg_end  # bare ACKs do not move it, SYN and FIN do
            wait = st.http_wait[di]
            if flagb & 0x01 and wait is not None and wait.left < 0:
                self._http_flush(r, st, di, wait)
            return
        payload = d[pstart:pstop]
        if payload:
            r[C_TCP_PAYLOAD] = payload.hex()
        app = st.app
        if app is None:
            lo = sport if sport < dport else dport
            hi = dport if sport < dport else sport
            if lo == MQTT_PORT or hi == MQTT_PORT:
                app = "mqtt"
            elif lo == MODBUS_PORT or hi == MODBUS_PORT:
                app = "modbus"
            elif lo in HTTP_TCP_PORTS or hi in HTTP_TCP_PORTS:
                app = "http"
            elif lo == 53 or hi == 53:
                app = "dns"
            else:
                app = ""
            st.app = app
        if not app:
            if not _http_heuristic(payload):
                return
            app = st.app = "http"
        ctx[5] = app
        if len(payload) < plen:  # cut by the snaplen: dissect what is there, reassemble nothing
            st.buf[di] = None
            st.nxt[di] = -1
            if app == "mqtt":
                self._mqtt(r, payload, st, True)
            elif app == "modbus":
                self._modbus(r, payload)
            return
        # in-order reassembly of PDUs spread over segments (tshark's default desegmentation)
        if nxt >= 0 and seq != nxt:
            if ((seq - nxt) & 0xFFFFFFFF) < 0x80000000:
                st.buf[di] = None  # a gap: what was pending cannot complete
                wait = st.http_wait[di]
                if wait is not None and wait.left >= 0:
                    st.http_wait[di] = None  # nor can a body of known length
            else:
                return  # retransmission of data already seen
        st.nxt[di] = seg_end
        pend = st.buf[di]
        if pend is not None:
            pend += payload
            data = bytes(pend)
            st.buf[di] = None
        else:
            data = payload
        if app == "mqtt":
            rest = self._mqtt(r, data, st)
        elif app == "modbus":
            rest = self._modbus(r, data)
        elif app == "http":
            rest = self._http_stream(r, data, st, di, flagb & 0x01, sport == 443 or dport == 443)
        else:
            rest = self._dns_tcp(r, data, key, ts)
        if rest:
            if len(rest) <= MAX_REASSEMBLY:
                st.buf[di] = bytearray(rest)
            else:
                self.counters["malformed"] += 1

    def _evict_tcp(self, ts: float) -> None:
        tab = self._tcp
        idle = self.idle
        if len(tab) * 2 < self.max_tcp:
            return  # idle streams are dropped only under pressure: tshark itself forgets nothing
        while tab:
            first = next(iter(tab.values()))
            if ts - first.last <= idle:
                break
            tab.popitem(last=False)
            self.counters["tcp_evicted"] += 1

    # -- Modbus/TCP ----------------------------------------------------------------------------
    def _modbus(self, r: list[Any], data: bytes) -> bytes:
        pos = 0
        n = len(data)
        if n < 8:
            return b""  # tshark's Modbus/TCP dissector rejects (and never reassembles) so short a start
        first = True
        while n - pos >= 7:
            tid, pid, ln, unit = MBAP.unpack_from(data, pos)
            if pid != 0 or ln < 2 or ln > 256:
                return b""
            if n - pos < 6 + ln:
                return data[pos:]
            if first:
                r[C_MB_TID] = tid
                r[C_MB_LEN] = ln
                r[C_MB_UNIT] = unit
                first = False
            pos += 6 + ln
        return data[pos:] if pos < n else b""

    # -- DNS over TCP --------------------------------------------------------------------------
    def _dns_tcp(self, r: list[Any], data: bytes, key: Any, ts: float, track: bool = True) -> bytes:
        """Every complete length-prefixed message in ``data``; the incomplete rest is returned."""
        pos = 0
        n = len(data)
        while n - pos >= 2:
            ln = u16(data, pos)[0]
            if n - pos - 2 < ln:
                break
            self._dns_msg(r, data, pos + 2, pos + 2 + ln, key, False, ts, track)
            pos += 2 + ln
        return data[pos:]

    # -- MQTT ----------------------------------------------------------------------------------
    def _mqtt(self, r: list[Any], data: bytes, st: _TcpStream, truncated: bool = False) -> bytes:
        pos = 0
        n = len(data)
        while pos < n:
            if n - pos < 2:
                return data[pos:]
            hdr = data[pos]
            # remaining length: up to four 7-bit groups
            rl = 0
            mult = 1
            i = pos + 1
            while True:
                if i >= n:
                    return data[pos:]
                b = data[i]
                rl += (b & 0x7F) * mult
                i += 1
                if not b & 0x80:
                    break
                mult <<= 7
                if mult > 0x200000:
                    self.counters["malformed"] += 1
                    return b""
            if n - i < rl:
                if truncated:  # tshark shows the fields that lie within the captured bytes
                    self._mqtt_pdu(r, hdr, rl, data, i, n, st, True)
                    return b""
                return data[pos:]
            self._mqtt_pdu(r, hdr, rl, data, i, i + rl, st)
            pos = i + rl
        return b""

    def _mqtt_pdu(
        self, r: list[Any], hdr: int, rl: int, d: bytes, s: int, e: int, st: _TcpStream, cut: bool = False
    ) -> None:
        typ = hdr >> 4
        if r[C_MQTT_HDR] == 0 and r[C_MQTT_TYPE] == 0:
            r[C_MQTT_HDR] = hdr
            r[C_MQTT_TYPE] = typ
            r[C_MQTT_LEN] = rl
        try:
            if typ == 1:  # CONNECT
                if s + 2 > e:
                    raise IndexError
                pl = u16(d, s)[0]
                first = r[C_MQTT_PROTOLEN] == 0
                if first:
                    r[C_MQTT_PROTOLEN] = pl
                p = s + 2 + pl
                if p > e:
                    raise IndexError
                if first:
                    r[C_MQTT_PROTONAME] = tshark_text(d[s + 2:p])
                if p + 2 > e:
                    raise IndexError
                ver = d[p]
                st.mqtt_ver = ver
                cf = d[p + 1]
                if not r[C_MQTT_VER]:
                    r[C_MQTT_VER] = ver
                    r[C_MQTT_CONFLAGS] = cf
                    r[C_MQTT_CLEAN] = (cf >> 1) & 1
            elif typ == 2:  # CONNACK
                if s >= e:
                    raise IndexError
                if not r[C_MQTT_CONACK] and st.mqtt_ver != 3:  # MQTT 3.1 has no acknowledge flags
                    r[C_MQTT_CONACK] = d[s]
            elif typ == 3:  # PUBLISH
                p = _mqtt_topic(r, d, s, e)
                if hdr & 0x06:
                    p += 2
                if st.mqtt_ver == 5:
                    plen, p = _varint(d, p, e)
                    p += plen
                if p > e:
                    raise IndexError
                if r[C_MQTT_MSG] == 0 and p < e and not cut:
                    r[C_MQTT_MSG] = d[p:e].hex()
            elif typ == 8 or typ == 10:  # SUBSCRIBE / UNSUBSCRIBE: first topic filter
                p = s + 2
                if st.mqtt_ver == 5:
                    plen, p = _varint(d, p, e)
                    p += plen
                _mqtt_topic(r, d, p, e)
        except (IndexError, struct.error):
            self.counters["malformed"] += 1

    # -- HTTP ----------------------------------------------------------------------------------
    def _http_stream(self, r: list[Any], data: bytes, st: _TcpStream, di: int, fin: int, tls: bool = False) -> bytes:
        """One direction's bytes: emits a message once its headers and body are complete.

        A body that has not arrived whole waits in ``st.http_wait`` (its first :data:`MAX_REASSEMBLY`
        bytes kept, the rest counted), so a download of any size costs O(1) per segment and bounded
        memory, and its fields come on the segment that completes it, as tshark shows them."""
        wait = st.http_wait[di]
        if wait is not None:
            kept, left = wait.body, wait.left
            take = data if left < 0 else data[:left]
            if len(kept) < MAX_REASSEMBLY:
                kept += take[:MAX_REASSEMBLY - len(kept)]
            if left < 0:  # a response without Content-Length: its body runs to the end of the connection
                if fin:
                    self._http_flush(r, st, di, wait)
                return b""
            wait.left = left - len(take)
            if wait.left > 0:
                return b""
            self._http_flush(r, st, di, wait)
            if len(take) == len(data):
                return b""
            data = data[len(take):]  # a pipelined message follows
        pos = 0
        n = len(data)
        while pos < n:
            head_end = data.find(b"\r\n\r\n", pos)
            sep = 4
            lf_end = data.find(b"\n\n", pos)
            if lf_end >= 0 and (head_end < 0 or lf_end < head_end):
                head_end, sep = lf_end, 2
            first_line_end = data.find(b"\n", pos)
            line = data[pos:first_line_end if first_line_end >= 0 else n]
            is_resp = line.startswith(b"HTTP/")
            sp = line.find(b" ")
            method = line[:sp] if sp >= 0 else line.rstrip(b"\r")
            if not is_resp and method not in HTTP_METHODS:
                return b""  # continuation data: no HTTP fields
            if head_end < 0:
                return data[pos:]
            body_at = head_end + sep
            headers = _headers(data[pos:body_at])
            cl_text = headers.get(b"content-length")
            cl = -1
            if cl_text is not None:
                try:
                    cl = int(cl_text)
                except ValueError:
                    cl = -1
            chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
            if not is_resp:
                st.head = method
            tunnel = st.head == b"CONNECT" and b" 2" in line[:13]  # a proxy tunnel opens: no body
            if is_resp and (st.head == b"HEAD" or tunnel or _no_body_status(line)):
                body = b""
                nxt = body_at
            elif cl >= 0:
                if n - body_at < cl:
                    st.http_wait[di] = _HttpWait(data[pos:body_at], data[body_at:], cl - (n - body_at), is_resp,
                                                 cl, tls)
                    return b""
                body = data[body_at:body_at + cl]
                nxt = body_at + cl
            elif chunked:
                res = _dechunk(data, body_at)
                if res is None:
                    return data[pos:]
                body, nxt = res
            elif is_resp:
                wait = st.http_wait[di] = _HttpWait(data[pos:body_at], data[body_at:], -1, True, -1, tls)
                if fin:
                    self._http_flush(r, st, di, wait)
                return b""
            else:
                body = b""
                nxt = body_at
            self._http_fields(r, data[pos:body_at], headers, body, is_resp, cl, tls)
            pos = nxt
        return b""

    def _http_flush(self, r: list[Any], st: _TcpStream, di: int, wait: _HttpWait) -> None:
        """Emit the message ``wait`` (direction ``di``'s) now that its body is complete."""
        st.http_wait[di] = None
        self._http_fields(r, wait.head, _headers(wait.head), bytes(wait.body), wait.is_resp, wait.cl, wait.tls)

    def _http_once(self, r: list[Any], data: bytes, tls: bool = False, body: bool = False) -> None:
        """A whole HTTP message in one buffer: SSDP over UDP, or TCP quoted by an ICMP error.

        tshark shows no ``http.file_data`` for SSDP; a quoted TCP message shows its body (up to
        Content-Length when there is one).
        """
        line_end = data.find(b"\n")
        line = data[:line_end if line_end >= 0 else len(data)]
        is_resp = line.startswith(b"HTTP/")
        sp = line.find(b" ")
        method = line[:sp] if sp >= 0 else line.rstrip(b"\r")
        if not is_resp and method not in HTTP_METHODS:
            return
        head_end = data.find(b"\r\n\r\n")
        sep = 4
        if head_end < 0:
            head_end = data.find(b"\n\n")
            sep = 2
        if head_end < 0:
            head_end, sep = len(data), 0
        head = data[:head_end + sep]
        headers = _headers(head)
        cl = -1
        if b"content-length" in headers:
            try:
                cl = int(headers[b"content-length"])
            except ValueError:
                cl = -1
        data_ = b""
        if body:
            data_ = data[head_end + sep:] if cl < 0 else data[head_end + sep:head_end + sep + cl]
        self._http_fields(r, head, headers, data_, is_resp, cl, tls)

    def _http_fields(
        self, r: list[Any], head: bytes, headers: dict[bytes, bytes], body: bytes, is_resp: bool, cl: int,
        tls: bool = False,
    ) -> None:
        if r[C_HTTP_METHOD] != 0 or r[C_HTTP_RESPONSE] != 0:
            return  # occurrence=f: the first message of the frame wins
        if tls:  # plain HTTP on a port tshark expects TLS on (http.tls.port, 443)
            r[C_HTTP_TLS] = 1
        line_end = head.find(b"\n")
        line = head[:line_end if line_end >= 0 else len(head)].rstrip(b"\r")
        if is_resp:
            r[C_HTTP_RESPONSE] = 1
        else:
            parts = line.split(b" ")
            method = parts[0]
            uri = parts[1] if len(parts) > 1 else b""
            version = parts[2] if len(parts) > 2 else b""
            r[C_HTTP_METHOD] = tshark_text(method)
            if version:
                r[C_HTTP_VERSION] = tshark_text(version)
            q = uri.find(b"?")
            if q >= 0 and q + 1 < len(uri):
                r[C_HTTP_QUERY] = tshark_text(uri[q + 1:])
            host = headers.get(b"host")
            if host is None:
                full = b""  # tshark builds the full URI only from a Host header
            elif method == b"CONNECT" or uri.startswith((b"http://", b"https://")):
                full = uri
            else:
                full = b"http://" + host + uri
            if full:
                r[C_HTTP_URI] = tshark_text(full)
            ref = headers.get(b"referer")
            if ref is not None:
                r[C_HTTP_REFERER] = tshark_text(ref)
        if cl >= 0:
            r[C_HTTP_CL] = cl
        if body:
            enc = headers.get(b"content-encoding", b"").lower()
            if enc in (b"gzip", b"deflate", b"x-gzip"):
                body = _decompress(body, enc)
            r[C_HTTP_DATA] = tshark_text(body)


def _decompress(body: bytes, enc: bytes) -> bytes:
    """The decoded body (tshark decompresses by default); the raw bytes when it is not valid."""
    try:
        if enc == b"deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -15)
        return zlib.decompressobj(47).decompress(body, MAX_REASSEMBLY * 4)
    except zlib.error:
        return body


def _mqtt_topic(r: list[Any], d: bytes, p: int, e: int) -> int:
    """The length-prefixed topic at ``d[p:]`` (PUBLISH topic, first SUBSCRIBE filter) into the row.

    Only the frame's first topic is kept; ``mqtt.topic_len`` is set even when the topic itself is
    cut short (as tshark does). Returns the offset after the topic; :class:`IndexError` past ``e``.
    """
    if p + 2 > e:
        raise IndexError
    tl = u16(d, p)[0]
    first = not r[C_MQTT_TOPICLEN] and r[C_MQTT_TOPIC] == 0
    if first:
        r[C_MQTT_TOPICLEN] = tl
    if p + 2 + tl > e:
        raise IndexError
    if first:
        r[C_MQTT_TOPIC] = tshark_text(d[p + 2:p + 2 + tl])
    return p + 2 + tl


def _varint(d: bytes, p: int, e: int) -> tuple[int, int]:
    """MQTT 5 variable byte integer at ``p``: (value, position after it)."""
    val = 0
    mult = 1
    for _ in range(4):
        if p >= e:
            raise IndexError
        b = d[p]
        p += 1
        val += (b & 0x7F) * mult
        if not b & 0x80:
            return val, p
        mult <<= 7
    raise IndexError


def _dns_label(raw: bytes) -> str:
    """One DNS label as tshark shows it (printable ASCII kept, others as \\xNN)."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in raw)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _headers(head: bytes) -> dict[bytes, bytes]:
    """Header name (lower case) -> value of an HTTP head; the first occurrence wins."""
    out: dict[bytes, bytes] = {}
    lines = head.split(b"\n")
    for raw in lines[1:]:
        line = raw.rstrip(b"\r")
        c = line.find(b":")
        if c <= 0:
            continue
        name = line[:c].strip().lower()
        if name not in out:
            out[name] = line[c + 1:].strip()
    return out


def _dechunk(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """Body of a chunked message starting at ``pos`` and the position after it, or None if incomplete."""
    out = bytearray()
    n = len(data)
    while True:
        le = data.find(b"\n", pos)
        if le < 0:
            return None
        size_text = data[pos:le].split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return bytes(out), n
        pos = le + 1
        if size == 0:
            # trailers end with an empty line
            while True:
                le = data.find(b"\n", pos)
                if le < 0:
                    return None
                line = data[pos:le].strip()
                pos = le + 1
                if not line:
                    return bytes(out), pos
        if n < pos + size:
            return None
        out += data[pos:pos + size]
        pos += size
        le = data.find(b"\n", pos)
        if le < 0:
            return None
        pos = le + 1


def _no_body_status(line: bytes) -> bool:
    """Responses that carry no body whatever their headers say (1xx, 204, 304)."""
    parts = line.split(b" ")
    code = parts[1] if len(parts) > 1 else b""
    return code.startswith(b"1") or code in (b"204", b"304")


def _is_snmp(d: bytes, start: int, end: int) -> bool:
    """tshark's SNMP test: a BER SEQUENCE whose length fits the datagram, then an INTEGER (the version)."""
    if end - start < 4 or d[start] != 0x30:
        return False
    first = d[start + 1]
    pos = start + 2
    if first < 0x80:
        length = first
    else:
        k = first & 0x7F
        if k == 0 or k > 4 or pos + k > end:
            return False
        length = int.from_bytes(d[pos:pos + k], "big")
        pos += k
    return length <= end - pos and pos < end and d[pos] == 0x02


def _http_heuristic(payload: bytes) -> bool:
    """tshark's HTTP heuristic on TCP: a first line that starts or ends with ``HTTP/1.``."""
    le = payload.find(b"\n")
    if le < 0:
        return False
    line = payload[:le - 1] if le > 0 and payload[le - 1] == 0x0D else payload[:le]
    if len(line) == 8:
        return False
    return line[:7].upper() == b"HTTP/1." or line[-8:-1].upper() == b"HTTP/1."
