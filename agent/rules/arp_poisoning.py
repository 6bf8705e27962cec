"""ARP cache poisoning: repeated ARP replies that answer no request, or one address claimed from two
MAC addresses in turn.

What poisoners do: arpspoof, ettercap, bettercap and MITMf keep a victim's ARP cache pointing at the
attacker by sending it ARP replies, unasked, that claim another host's address (usually the
gateway's), one every one to ten seconds for as long as the attack runs. A host that answers a
request sends one reply; a host that announces itself sends a gratuitous reply whose sender and
target addresses are equal. So the evidence is: at least ``min_replies`` replies claiming the same
address to the same host within ``window_s`` seconds, none of them answering a request seen from
that host (the extractor's ``ctx.arp_unsolicited``, which already leaves out gratuitous replies).

Poisoning by forged *requests* (scapy's ``arpcachepoison``, ettercap's request mode) needs no
reply: a host caches the sender of a request addressed to it. Such a request looks like any other
in the Edge-IIoTset columns; what gives it away is its sender hardware address (the context's
``hw_src``): the address it claims belongs to a host that is still there, sending its own IP
traffic (or ARP) from its own MAC address while the requests go on. arpwatch reports an address
seen at two MAC addresses in turn as a "flip flop". So the second kind of evidence is: at least
``min_replies`` requests from one MAC address claiming the same address within ``window_s``
seconds, and that address seen at another MAC address (as the IPv4 source of a frame, or the
sender of ARP) after the first of them. A failover, a replaced NIC or an address given to a new
device moves an address to a new MAC address once; the old one goes quiet.

Why a rule and not only the model: see :mod:`agent.rules`. The model still scores the same frames;
both report the same class (``MITM`` by default) under the Ethernet stream's key, so an attack both
see is one incident.

What it cannot see: forged requests claiming a host that sends nothing while they go on.
Two hosts configured with one address, a host with two NICs on one segment that asks from one NIC
for the other's address, and direct server return behind a load balancer (servers sending from an
address the balancer claims) are reported too. Memory is bounded: at most ``max_pairs`` (claimed,
target) pairs and as many addresses claimed in requests are tracked (each with its last
:data:`MAX_CLAIMS` requests and :data:`MAX_MACS` MAC addresses), the least recently seen dropped
beyond and counted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.features import ETHERNET_CONTEXT
from agent.lru import LruTable
from agent.rules.base import Detector, DetectorConfig, Finding
from agent.schema import doc
from agent.windows import GLOBAL_KEY

#: the columns the rule reads (and the context's ``src_ip`` and ``hw_src``)
COLUMNS = ("ctx.arp_unsolicited", "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "arp.opcode")
_TS, _SRC, _HW = (ETHERNET_CONTEXT.index(f) for f in ("ts", "src_ip", "hw_src"))
#: requests kept per claimed address: a poisoner repeating every second fills a minute's window
#: with more, and the last ones are what the evidence needs
MAX_CLAIMS = 32
#: MAC addresses remembered per claimed address (the most recently seen kept)
MAX_MACS = 8
#: ARP probes (RFC 5227) claim no address
_NO_ADDRESS = "0.0.0.0"


@dataclass
class ArpPoisoningConfig(DetectorConfig):
    """The ARP poisoning rule: repeated ARP replies nobody asked for, or repeated requests claiming an
    address that meanwhile sends from another MAC address."""

    min_replies: int = doc(
        "unasked replies claiming one address to one host, or requests from one MAC address claiming an address "
        "another MAC address sends from, before it alerts (poisoners repeat every 1-10 s)", 3
    )
    window_s: float = doc("those replies or requests must fall within this many seconds", 60.0)
    class_name: str = doc("class its alerts carry; the model's class for the same attack, so incidents merge", "MITM")
    max_pairs: int = doc("(claimed address, target) pairs tracked at once; least recently seen dropped beyond", 4096)


@dataclass
class _Claimed:
    """An address claimed in ARP requests: the requests (time, MAC address), and when it was last seen
    at each MAC address (requests, other ARP, IPv4 frames from it)."""

    requests: deque[tuple[float, bytes]]
    seen: LruTable[bytes, float]


@dataclass
class _Pair:
    """Unasked replies claiming one address to one host."""

    times: deque[float]
    first_ts: float
    replies: int = 0
    reported: bool = False


class ArpPoisoningRule(Detector[ArpPoisoningConfig]):
    """Finds ARP poisoning in Edge-IIoTset-context rows (see the module docstring)."""

    name = "arp_poisoning"
    summary = "ARP cache poisoning: unasked replies, or requests claiming an address seen at another MAC"
    Config = ArpPoisoningConfig
    reads = COLUMNS

    def __init__(self, columns: Sequence[str], config: ArpPoisoningConfig | None = None, **settings: Any) -> None:
        super().__init__(columns, config, **settings)
        c = self.config
        self._flag, self._sender, self._target, self._op = self.indices()
        self.check_settings({"min_replies": (c.min_replies, 1), "max_pairs": (c.max_pairs, 1)},
                       {"window_s": c.window_s})
        self.class_name = c.class_name
        self.min_replies = int(c.min_replies)
        self.window_s = float(c.window_s)
        self.max_pairs = int(c.max_pairs)
        self._pairs: LruTable[tuple[str, str], _Pair] = LruTable(self.max_pairs)
        #: address claimed in requests -> its requests and where it was seen
        self._claims: LruTable[str, _Claimed] = LruTable(self.max_pairs)
        #: (claimed address, MAC address) -> time of the last finding its requests raised
        self._disputes: LruTable[tuple[str, bytes], float] = LruTable(self.max_pairs)
        self._counters = {"arp_unasked_replies": 0, "arp_poisoning_findings": 0, "arp_disputed_claims": 0}

    @classmethod
    def off_reason(cls, columns: Sequence[str]) -> str | None:
        """Ethernet rows without the context columns: say so (CAN rows have no ARP)."""
        return "feature kind edge-iiotset-context makes the columns it reads" if "arp.opcode" in columns else None

    def stats(self) -> dict[str, int]:
        """Unasked replies and disputed claims seen, findings raised, pairs and addresses tracked and
        evicted."""
        return {**self._counters, "arp_pairs_evicted": self._pairs.evicted,
                "arp_addresses_evicted": self._claims.evicted, "arp_pairs_tracked": len(self._pairs),
                "arp_addresses_tracked": len(self._claims)}

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings of ``rows``: one per ARP frame that completes or extends the evidence."""
        flag, op, sender, claims = self._flag, self._op, self._sender, self._claims
        out: list[Finding] = []
        for row, ctx in zip(rows, contexts, strict=True):
            code = row[op]
            if not code:
                if claims and ctx[_SRC] in claims and ctx[_HW] is not None:
                    self._seen(claims[ctx[_SRC]], ctx[_HW], float(ctx[_TS]))
                continue
            claimed, target, ts, mac = row[sender], row[self._target], float(ctx[_TS]), ctx[_HW]
            found = None
            if mac is not None and claimed and claimed != _NO_ADDRESS:
                if code == 1 and target != claimed:
                    found = self._request(claimed, mac, target, ts)
                elif claimed in claims:
                    self._seen(claims[claimed], mac, ts)
            if row[flag]:  # an unasked reply (never a request)
                found = self._reply(claimed, target, ts, mac)
            if found is not None:
                out.append(found)
        return out

    @staticmethod
    def _seen(entry: _Claimed, mac: bytes, ts: float) -> None:
        seen = entry.seen
        seen[mac] = ts
        seen.move_to_end(mac)
        seen.trim()

    def _request(self, claimed: str, mac: bytes, target: str, ts: float) -> Finding | None:
        """A request from ``mac`` claimed ``claimed`` (asking ``target``) at ``ts``: a finding when ``mac``
        made ``min_replies`` of them within ``window_s`` and ``claimed`` was seen at another MAC address
        after the first (see the module docstring)."""
        claims = self._claims
        entry = claims.get(claimed)
        if entry is None:
            entry = claims[claimed] = _Claimed(deque(maxlen=MAX_CLAIMS), LruTable(MAX_MACS))
            claims.trim()
        claims.move_to_end(claimed)
        requests = entry.requests
        if requests and ts < requests[-1][0]:
            requests.clear()  # the clock went back: the evidence starts again
            entry.seen.clear()
        while requests and ts - requests[0][0] > self.window_s:
            requests.popleft()
        requests.append((ts, mac))
        self._seen(entry, mac, ts)
        mine = [t for t, m in requests if m == mac]
        if len(mine) < self.min_replies:
            return None
        first = mine[0]
        others = [(m, t) for m, t in entry.seen.items() if m != mac and t > first]
        if not others:
            return None
        self._counters["arp_disputed_claims"] += 1
        key = (claimed, mac)
        disputes = self._disputes
        last = disputes.pop(key, None)
        # what this finding adds: since the last one, or all the requests when the evidence starts again
        since = first if last is None or ts - last > self.window_s or ts < last else last
        disputes[key] = ts
        disputes.trim()
        self._counters["arp_poisoning_findings"] += 1
        sender = mac.hex(":")
        return self._finding(since, ts, claimed, target, sender, (
            f"{len(mine)} ARP requests from {sender} within {ts - first:.1f} s claimed {claimed}, which "
            f"meanwhile sent from {others[-1][0].hex(':')} (ARP cache poisoning by forged requests, as "
            f"scapy's arpcachepoison or ettercap send; or two hosts set to one address)"))

    def _finding(self, since: float, ts: float, claimed: str, target: str, sender: str | None,
                 evidence: str) -> Finding:
        """A finding under the Ethernet stream's key: ``claimed`` poisoned in ``target``'s cache by ``sender``."""
        return Finding(
            key=GLOBAL_KEY,
            cls=self.class_name,
            first_ts=since,
            last_ts=ts,
            context={"src_ip": claimed, "dest_ip": target, "proto": "ARP", "src_mac": sender},
            quiet_s=self.window_s,
            evidence=evidence,
        )

    def _reply(self, claimed: str, target: str, ts: float, mac: bytes | None) -> Finding | None:
        self._counters["arp_unasked_replies"] += 1
        pairs = self._pairs
        key = (claimed, target)
        pair = pairs.get(key)
        if pair is None or ts < pair.times[-1] or ts - pair.times[-1] > self.window_s:
            # new, or quiet for a whole window (or the clock went back): the evidence starts again
            pair = _Pair(deque(maxlen=max(2, self.min_replies)), ts)
            pairs[key] = pair
            pairs.trim()
        pairs.move_to_end(key)
        pair.times.append(ts)
        pair.replies += 1
        times = pair.times
        if pair.reported:
            since = times[-2]  # what this reply adds: the time since the one before
        elif len(times) < self.min_replies or ts - times[-self.min_replies] > self.window_s:
            return None
        else:
            pair.reported = True
            since = pair.first_ts
        self._counters["arp_poisoning_findings"] += 1
        span = ts - pair.first_ts
        sender = mac.hex(":") if mac is not None else None
        return self._finding(since, ts, claimed, target, sender, (
            f"{pair.replies} ARP replies nobody asked for told {target} that {claimed} is at the "
            f"sender's MAC address {sender}, over {span:.1f} s (ARP cache poisoning, as arpspoof or ettercap do)"))


DETECTOR = ArpPoisoningRule
