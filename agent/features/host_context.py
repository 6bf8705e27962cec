"""Edge-IIoTset fields plus what one packet cannot show: how many peers and how fast, per host.

Why: once addresses and ports are left out (they identify a network, not an attack), a SYN of a
port scan and a SYN of a flood are the same Edge-IIoTset row, and so are an ARP reply that answers a
request and one that poisons a cache. What separates them is context over the last seconds: a
scanner tries many endpoints from one address; a spoofed flood reaches one host from many
addresses; a flood is fast; a poisoning reply answers no request. Intrusion detectors have counted
these per host for decades (Snort's sfPortscan, Zeek's scan policy, arpwatch); this kind adds them
as columns after the 61 Edge-IIoTset ones, computed from the same frames by the same code in
training (``edge-ids-agent features --kind edge-iiotset-context``, the lab) and on the gateway.

Columns after the 61 Edge-IIoTset ones:

``ctx.src_endpoints``
    distinct endpoints (destination address, port, protocol) this frame's source *tried to open*
    during the last :attr:`~HostContextExtractor.horizon_s` seconds, at most :data:`MAX_PEERS`. An
    attempt is a TCP segment with SYN and without ACK, the first datagram of a UDP conversation (the
    address and port pair in either direction, first seen), an ICMP message (to a destination
    address), or an ARP request (for its target address: on a LAN,
    host discovery, nmap -sn or arp-scan, asks for every address of the subnet). Replies and traffic
    inside open connections do not count, so a busy broker or web server answering many clients
    stays low while a scanner climbs. UDP conversations are this extractor's own, not ``udp.stream``:
    tshark gives an SNMP poll's reply a stream of its own (see :mod:`agent.features.edge_iiotset`),
    and counting that as an attempt made every SNMP manager look like the target of a flood from the
    agents it polls.
``ctx.dst_sources``
    distinct source addresses that made attempts to this frame's destination address during the
    same horizon, at most :data:`MAX_PEERS`: a flood with spoofed sources climbs, a scan stays at 1.
``ctx.src_rate``, ``ctx.dst_rate``
    ``log2(1 + r)`` of the frame rate (frames/s) from this source / to this destination address:
    an exponentially decayed count with time constant :data:`RATE_TAU_S`, updated in O(1). The log
    keeps the range of 1 frame/s to 100k frames/s within a few units.
``ctx.arp_unsolicited``
    1 on an ARP reply that answers no request seen from its target for its sender's address during
    the last :data:`ARP_REQUEST_WINDOW_S` seconds (gratuitous announcements, where sender and
    target address are equal, excepted); 0 otherwise. arpspoof and ettercap poison caches this way.
``ctx.http_target_len``, ``ctx.http_specials``, ``ctx.http_keywords``
    on HTTP requests (0 elsewhere): the length of the request target (path and query), and, in the
    URL-decoded target plus the start of the body, the number of characters that injected code needs
    (quotes, angle brackets, parentheses, ``;``) and of words of SQL, script and path-traversal
    payloads (:func:`agent.features.web_content.http_shape`). The
    dataset authors drop the URI and body columns, which identify a site; without any trace of them a
    polling script and an injection are the same rows. These counts keep the shape and drop the site.

``ctx.src_attempt_rate``
    ``log2(1 + r)`` of the rate of *attempts* (as counted for ``ctx.src_endpoints``) from this source,
    decayed like ``ctx.src_rate``: a brute force or a scan opens connections several times a second,
    an ordinary client keeps one open or opens one now and then.
``ctx.auth_failures``
    ``log2(1 + n)``, ``n`` the failed logins a client received during the last seconds (decayed with
    time constant ``horizon_s``), on every frame to or from it. A failed login is a reply that says
    so: HTTP 401/403 or a login-failure message in the first :data:`AUTH_SCAN` bytes of a response,
    an MQTT CONNACK refusing bad credentials (3.1.1 codes 4, 5; 5.0 codes 0x86, 0x87, 0x8C), an FTP
    530, SMTP 535, POP3 ``-ERR`` or IMAP ``NO``, or Telnet's "Login incorrect". fail2ban and
    Suricata's brute-force rules count the same replies: one failure is a typo, tens are an attack,
    and a client that polls a server many times a second without failing is not guessing passwords.

``ctx.conn_sent_rate``, ``ctx.conn_received_rate``, ``ctx.conn_turn_rate``
    on TCP segments (0 elsewhere): ``log2(1 + r)`` of the payload bytes per second that this
    segment's sender has sent on its connection and has received on it, and of the connection's
    *turns* per second: a turn is a bulk segment (at least :data:`BULK_SEGMENT` payload bytes) from
    the other endpoint than the previous bulk segment. All three decay like ``ctx.src_rate`` and cost
    O(1) per segment. A download, an upload, a file copy or a backup moves bytes one way while the
    other side acknowledges; a copy that is read back to verify it turns once. Ransomware encrypting
    files on a share reads each file and writes it back: bulk both ways, turning twice per file,
    file after file. Without these columns a bulk segment of an ordinary download and one of
    ransomware are the same row. Zeek's ``orig_bytes`` / ``resp_bytes`` count bytes per connection;
    these are rates, so they show what a connection does now, not what it did an hour ago.

``ctx.web_requests``, ``ctx.web_paths``, ``ctx.web_refused``, ``ctx.web_sql``, ``ctx.web_script``,
``ctx.web_probe``, ``ctx.web_tool``, ``ctx.web_upload``
    what this frame's HTTP client (its source if that sent a request lately, else its destination)
    sent over the last seconds, each ``log2(1 + n)`` of a count decayed with time constant
    ``horizon_s``: requests, paths new to it, refusals (4xx answers), requests carrying SQL or script
    payloads, probes (traversal or shell payloads, paths scanners probe, methods no browser sends),
    requests in a scanning tool's name, uploads of scripts or executables
    (:class:`~agent.features.web_content.WebClients`). A tool sends its requests in a burst that
    looks like a flood to a window of sixteen frames mixing every client; these columns follow each
    client, so a scanner among twenty ordinary clients is still one on every frame it exchanges.
    Frames of hosts that sent no request get 0.

Time: rates, horizons and the ARP request window run on :class:`~agent.features.clock.DataClock`'s
timeline, so a capture whose clock steps back (joined files, a clock set back) does not freeze state
in the future. ARP frames count for their sender address (``ctx.src_endpoints``, ``ctx.src_rate``,
``ctx.src_attempt_rate``; ARP probes from 0.0.0.0 excepted); other frames without an IP layer get 0
in the first four columns. State is bounded: at most
``features.max_hosts`` addresses per table (least recently seen evicted, counted in ``stats()``),
each with at most :data:`MAX_PEERS` peers, and at most ``features.max_tcp_streams`` TCP connections
(``connections_evicted``) and ``features.max_udp_streams`` UDP conversations, so a flood of spoofed
addresses cannot grow memory (Kitsune's unbounded per-host state is why it slows to tens of frames
per second in such a flood).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from agent.config import FeaturesConfig
from agent.errors import FeatureError
from agent.features import ETHERNET_CONTEXT
from agent.features.clock import DataClock
from agent.features.edge_iiotset.columns import COLUMNS, INDEX
from agent.features.edge_iiotset.extractor import EdgeIIoTsetExtractor
from agent.features.login_failures import auth_failure
from agent.features.web_content import NO_CLIENT, WEB_COLUMNS, WebClients, http_shape, refusal
from agent.lru import DecayingCounts, LruTable

exp, log2 = math.exp, math.log2

if TYPE_CHECKING:
    from agent.records import Frame

#: most peers remembered (and counted) per address
MAX_PEERS = 64
#: time constant of the decayed frame rates, seconds
RATE_TAU_S = 1.0
#: payload bytes from which a TCP segment counts as bulk for ``ctx.conn_turn_rate`` (about two
#: thirds of an Ethernet MSS: requests, commands and acknowledgements stay below)
BULK_SEGMENT = 1000
#: how long an ARP request makes a reply to it solicited, seconds
ARP_REQUEST_WINDOW_S = 5.0

CONTEXT_COLUMNS: tuple[str, ...] = (
    "ctx.src_endpoints",
    "ctx.dst_sources",
    "ctx.src_rate",
    "ctx.dst_rate",
    "ctx.arp_unsolicited",
    "ctx.http_target_len",
    "ctx.http_specials",
    "ctx.http_keywords",
    "ctx.src_attempt_rate",
    "ctx.auth_failures",
    "ctx.conn_sent_rate",
    "ctx.conn_received_rate",
    "ctx.conn_turn_rate",
    *WEB_COLUMNS,
)

_TCP_FLAGS = INDEX["tcp.flags"]
_ARP_OP = INDEX["arp.opcode"]
_ARP_SRC = INDEX["arp.src.proto_ipv4"]
_ARP_DST = INDEX["arp.dst.proto_ipv4"]
_HTTP_METHOD = INDEX["http.request.method"]
_HTTP_URI = INDEX["http.request.full_uri"]
_HTTP_BODY = INDEX["http.file_data"]
_TCP_PAYLOAD = INDEX["tcp.payload"]
_TCP_LEN = INDEX["tcp.len"]
_SYN, _ACK = 0x02, 0x10
#: the sender address of an ARP probe (RFC 5227: a host checking an address before taking it)
_NO_ADDRESS = "0.0.0.0"
_ICMP = ("ICMP", "IPv6-ICMP")


def _conversation(here: tuple[Any, Any], there: tuple[Any, Any]) -> tuple[tuple[Any, Any], bool]:
    """The key of the conversation between two (address, port) endpoints, the same from either side,
    and whether ``here`` is its first endpoint."""
    return ((here, there), True) if here <= there else ((there, here), False)


class _Connections(LruTable[Any, Any]):
    """TCP connection (its two endpoints in order, flat: address, port, address, port) -> [last ts,
    decayed payload bytes the first endpoint sent, decayed payload bytes the second sent, decayed turn
    count, endpoint that sent the last bulk segment (0 none, 1 first, 2 second)]; one decay serves
    all three counts. The key is one flat tuple, not a pair of pairs: a third of the memory, and no
    tuple built per segment for a connection that keeps no state."""

    def hit(self, src: Any, sport: int, dst: Any, dport: int, ts: float,
            nbytes: int) -> tuple[float, float, float]:
        """Count a segment of ``nbytes`` payload bytes sent from ``(src, sport)`` to ``(dst, dport)`` at
        ``ts``; ``log2(1 + r)`` of the bytes/s the sender sent and received on this connection and of its
        turns/s. A connection is kept from its first data on: before, every rate is 0 whatever the
        state, and a SYN flood's connections never carry any, so they fill no table."""
        forward = src < dst or (src == dst and sport <= dport)  # (src, sport) <= (dst, dport)
        key = (src, sport, dst, dport) if forward else (dst, dport, src, sport)
        st = self.get(key)  # a hit moves to the end: a lookup and a move cost less than a pop and an insert
        if st is None:
            if not nbytes:  # a connection that never carried data has nothing to decay: keep no state
                return 0.0, 0.0, 0.0
            if len(self) >= self.max_keys:
                self.popitem(last=False)
                self.evicted += 1
            st = self[key] = [ts, 0.0, 0.0, 0.0, 0]
        else:
            self.move_to_end(key)
            if ts != st[0]:
                decay = exp((st[0] - ts) / RATE_TAU_S)
                st[0], st[1], st[2], st[3] = ts, st[1] * decay, st[2] * decay, st[3] * decay
        side = 1 if forward else 2
        st[side] += nbytes
        if nbytes >= BULK_SEGMENT:
            if st[4] and st[4] != side:
                st[3] += 1.0
            st[4] = side
        sent, received = (st[1], st[2]) if forward else (st[2], st[1])
        return log2(1.0 + sent / RATE_TAU_S), log2(1.0 + received / RATE_TAU_S), log2(1.0 + st[3] / RATE_TAU_S)


class _HostTable(LruTable[Any, Any]):
    """address -> [decayed frame count, last ts, peers, decayed attempt count, last attempt ts].

    Timestamps never go back here (the extractor's :class:`DataClock`), so decays need no guard.

    ``peers`` maps a peer to the last time it was seen, in last-seen order, so expiring the ones
    beyond the horizon is O(1) amortised; it is the empty tuple until a first peer comes (most
    addresses a spoofed flood brings are never an attempt's, and an empty dict is 64 bytes). One
    table per role (as source, as destination), so a frame costs one lookup per address; the source
    table also keeps the attempt rate (``attempts``).
    """

    def __init__(self, max_keys: int, horizon: float, attempts: bool = False) -> None:
        super().__init__(max_keys)
        self.horizon = horizon
        self.attempts = attempts

    def hit(self, key: Any, ts: float, peer: Any) -> tuple[int, float, float]:
        """Count one frame of ``key`` at ``ts``, an attempt on ``peer`` unless None; ``(distinct peers
        within the horizon, log2(1 + frame rate), log2(1 + attempt rate))``, rates in 1/s (the
        attempt rate 0.0 unless the table keeps ``attempts``)."""
        # the hot path, twice per frame: a hit is a lookup and a move to the end (cheaper than the pop
        # and insert of LruTable.take); a new key counts 1.0 as 0.0 * exp(0) + 1.0
        st = self.get(key)
        if st is None:
            if len(self) >= self.max_keys:
                self.popitem(last=False)  # evict_oldest, inlined
                self.evicted += 1
            st = self[key] = [1.0, ts, (), 0.0, ts]
        else:
            self.move_to_end(key)
            st[0] = st[0] * exp((st[1] - ts) / RATE_TAU_S) + 1.0
            st[1] = ts
        peers = st[2]
        if peer is not None:
            if peers.__class__ is dict:
                peers.pop(peer, None)
                peers[peer] = ts
            else:
                peers = st[2] = {peer: ts}
        if peers:
            oldest = ts - self.horizon
            first = next(iter(peers))
            while peers[first] < oldest:
                del peers[first]
                if not peers:
                    break
                first = next(iter(peers))
            if len(peers) > MAX_PEERS:
                del peers[next(iter(peers))]
        if not self.attempts:
            return len(peers), log2(1.0 + st[0] / RATE_TAU_S), 0.0
        tried = st[3] * exp((st[4] - ts) / RATE_TAU_S)
        if peer is not None:
            tried += 1.0
            st[3] = tried
            st[4] = ts
        return len(peers), log2(1.0 + st[0] / RATE_TAU_S), log2(1.0 + tried / RATE_TAU_S)


#: the ``features`` section's defaults, for an extractor built without a config
_DEFAULTS = FeaturesConfig()


class HostContextExtractor:
    """Frames -> the 61 Edge-IIoTset values plus :data:`CONTEXT_COLUMNS` (see the module docstring)."""

    columns: tuple[str, ...] = COLUMNS + CONTEXT_COLUMNS
    context_fields = ETHERNET_CONTEXT
    csv_quoted_columns = EdgeIIoTsetExtractor.csv_quoted_columns

    def __init__(self, base: EdgeIIoTsetExtractor | None = None, max_hosts: int = _DEFAULTS.max_hosts,
                 horizon_s: float = _DEFAULTS.context_horizon_s) -> None:
        if max_hosts < 1:
            raise FeatureError(f"features.max_hosts must be at least 1, got {max_hosts}")
        if horizon_s <= 0:
            raise FeatureError(f"features.context_horizon_s must be positive, got {horizon_s}")
        self.base = base or EdgeIIoTsetExtractor()
        self.horizon_s = float(horizon_s)
        self._src = _HostTable(max_hosts, self.horizon_s, attempts=True)
        self._dst = _HostTable(max_hosts, self.horizon_s)
        self._failures: DecayingCounts[Any] = DecayingCounts(max_hosts, self.horizon_s)
        #: (asker, asked) -> ts of the last ARP request
        self._arp_asked: LruTable[tuple[str, str], float] = LruTable(max_hosts)
        #: UDP conversations seen ((address, port) pairs in order) -> True, least recently seen first
        self._udp: LruTable[Any, bool] = LruTable(self.base.max_udp)
        self._connections = _Connections(self.base.max_tcp)
        self._web = WebClients(max_hosts, self.horizon_s)
        self._clock = DataClock()
        self._counters = {"unsolicited_arp_replies": 0}

    @classmethod
    def from_config(cls, config: FeaturesConfig) -> HostContextExtractor:
        """Build from the ``features`` section (the Edge-IIoTset limits plus ``max_hosts``, ``context_horizon_s``)."""
        return cls(EdgeIIoTsetExtractor.from_config(config), max_hosts=config.max_hosts,
                   horizon_s=config.context_horizon_s)

    def stats(self) -> dict[str, int]:
        """The Edge-IIoTset counters plus host-table sizes and evictions."""
        out = self.base.stats()
        out.update(self._counters)
        out["arp_evicted"] = self._arp_asked.evicted
        out["hosts_tracked"] = len(self._src) + len(self._dst)
        out["hosts_evicted"] = self._src.evicted + self._dst.evicted + self._failures.evicted
        out["web_clients_tracked"] = len(self._web)
        out["web_clients_evicted"] = self._web.evicted
        out["connections_evicted"] = self._connections.evicted
        out["clock_steps_back"] = self._clock.steps
        return out

    def row(self, record: Frame) -> list[Any]:
        """The row of one frame (frames must be given in capture order)."""
        return next(self._iter((record,), False))

    def rows(self, records: Iterable[Frame]) -> Iterator[list[Any]]:
        """Rows of ``records``, in order."""
        return self._iter(records, False)

    def rows_with_context(self, records: Iterable[Frame]) -> Iterator[tuple[list[Any], tuple[Any, ...]]]:
        """Rows with the Edge-IIoTset alert context (the 5-tuple, protocol, flow id)."""
        return self._iter(records, True)

    def _iter(self, records: Iterable[Frame], context: bool) -> Iterator[Any]:
        src_hit, dst_hit = self._src.hit, self._dst.hit
        failures = self._failures
        failures_get, tau = failures.get, failures.tau
        connections = self._connections.hit
        web = self._web
        web_request, web_columns = web.request, web.columns
        clock = self._clock
        for row, ctx in self.base.rows_with_context(records):
            src, dst, dport, proto = ctx[1], ctx[3], ctx[4], ctx[5]
            ts = clock(ctx[0])  # state arithmetic on a timeline that never steps back
            if src is None:
                op = row[_ARP_OP]
                sender = row[_ARP_SRC] if op else None
                n_src, r_src, tried = 0, 0.0, 0.0
                if sender and sender != _NO_ADDRESS:
                    target = row[_ARP_DST]
                    asks = op == 1 and target != sender  # a request, not a gratuitous announcement
                    n_src, r_src, tried = src_hit(sender, ts, (target, 0, "ARP") if asks else None)
                row += (n_src, 0, r_src, 0.0, self._arp(row, ts) if op else 0, 0, 0, 0, tried, 0.0, 0.0, 0.0, 0.0,
                        *NO_CLIENT)
            else:
                attempt = False
                conn_rates = (0.0, 0.0, 0.0)
                if proto == "TCP":
                    attempt = row[_TCP_FLAGS] & (_SYN | _ACK) == _SYN
                    conn_rates = connections(src, ctx[2], dst, dport, ts, row[_TCP_LEN])
                elif proto == "UDP":
                    conv = _conversation((src, ctx[2]), (dst, dport))[0]
                    attempt = self._udp.take(conv) is None
                    self._udp[conv] = True
                elif proto in _ICMP:
                    attempt = True
                    dport = 0
                if attempt:
                    n_src, r_src, tried = src_hit(src, ts, (dst, dport, proto))
                    n_dst, r_dst, _ = dst_hit(dst, ts, src)
                else:
                    n_src, r_src, tried = src_hit(src, ts, None)
                    n_dst, r_dst, _ = dst_hit(dst, ts, None)
                payload = row[_TCP_PAYLOAD]
                if payload and auth_failure(payload):
                    failures.add(dst, ts)
                fails = 0.0
                if failures:  # max of failures.count(src, ts) and (dst, ts), inlined
                    st = failures_get(src)
                    if st is not None:
                        fails = st[0] * exp((st[1] - ts) / tau)
                    st = failures_get(dst)
                    if st is not None:
                        fails = max(fails, st[0] * exp((st[1] - ts) / tau))
                method = row[_HTTP_METHOD]
                if method:
                    if proto == "TCP":  # not SSDP's and other HTTP-over-UDP discovery (M-SEARCH, NOTIFY)
                        web_request(src, ts, method, row[_HTTP_URI], row[_HTTP_BODY], payload)
                    row += (n_src, n_dst, r_src, r_dst, 0, *http_shape(row[_HTTP_URI], row[_HTTP_BODY]), tried,
                            log2(1.0 + fails), *conn_rates)
                else:
                    row += (n_src, n_dst, r_src, r_dst, 0, 0, 0, 0, tried, log2(1.0 + fails), *conn_rates)
                if web:  # the frame's client's ctx.web_* (a frame from it, else one to it)
                    if payload and not method and refusal(payload):
                        web.refused(dst, ts)
                    row += web_columns(src, ts) or web_columns(dst, ts) or NO_CLIENT
                else:
                    row += NO_CLIENT
            yield (row, ctx) if context else row

    def _arp(self, row: list[Any], ts: float) -> int:
        """1 for a non-gratuitous ARP reply that answers no recent request (see the module docstring)."""
        op, sender, target = row[_ARP_OP], row[_ARP_SRC], row[_ARP_DST]
        asked = self._arp_asked
        if op == 1:
            key = (sender, target)
            asked.pop(key, None)
            asked[key] = ts
            if len(asked) > asked.max_keys:
                asked.trim()
            return 0
        if op != 2 or sender == target:
            return 0
        when = asked.get((target, sender))
        if when is not None and ts - when <= ARP_REQUEST_WINDOW_S:
            return 0
        self._counters["unsolicited_arp_replies"] += 1
        return 1
