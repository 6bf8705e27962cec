"""The Ethernet baseline: a plant network's hosts, conversations and Modbus use, and what departs from them.

Learned: hosts (unicast addresses, with the MAC addresses they were seen from), services (server,
transport, port) with the clients that used them, for Modbus/TCP per server its unit ids, function
codes, share of exception replies, the clients that wrote, and per (client, server, unit) the
register and coil address ranges written; MQTT clients with their topics, and the DNS names asked
(for review and ``baseline diff``; no finding reads them). Client ports make no conversation: its
server is the host a SYN went to, else the endpoint serving more peers (``EthernetLearner._services``).

Findings (alert-policy findings of the model's classes, one incident per client and class, with the hosts):

* **a new conversation**: a service never learned (a backdoor's listener, a C&C channel, SMB between
  plant hosts that never used it), a TCP service a learned host never used, or a host never learned
  talking to one that is: ``new_service_class`` / ``new_host_class`` (the malware family);
* **reconnaissance**: one source trying ``scan_min_services`` services never learned within a
  minute, or Modbus requests with function codes or unit ids never learned for that server:
  ``scan_class`` / ``modbus_recon_class`` (information gathering);
* **a forged command**: a Modbus write from a client that never wrote to that server, or to
  addresses outside the ranges it wrote: ``modbus_write_class``.

Broadcast and multicast traffic, ARP and ICMP make no conversation. A learned host reaching a new
server on the Internet with a transport and port it used with Internet servers while learning (a
cloud service whose addresses rotate) is no new conversation; inside the plant every server counts.
When more than :data:`STORM_HOSTS` hosts never learned, or clients of one server, start new
conversations within :data:`STORM_S` seconds, they are a flood's sources, not backdoors: they are
counted, not reported one by one (the flood rules report the flood). State is bounded: the
detector's per-flow cache and per-source counts evict their least recently seen entries (counted).
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from functools import lru_cache
from typing import Any

from agent.baseline import Baseline
from agent.errors import ConfigError
from agent.rules import Finding

MODBUS_PORT = 502
#: Modbus function codes that write (coils, registers, file records, mask writes, read/write)
WRITE_CODES = frozenset({5, 6, 15, 16, 21, 22, 23})
#: most learned entries of each table (hosts, services, Modbus keys); beyond, counted and left out
MAX_ENTRIES = 65536
#: most flows the detector caches a verdict for, and sources it counts new services of
MAX_FLOWS = 65536
#: a source's new services are counted over this many seconds
SCAN_WINDOW_S = 60.0
#: write ranges kept per (client, server, unit, table)
MAX_RANGES = 64
#: hosts never learned appearing within STORM_S seconds beyond which they are a flood's spoofed sources
STORM_HOSTS = 4
STORM_S = 10.0


@lru_cache(maxsize=65536)
def public(address: str) -> bool:
    """Whether ``address`` is on the Internet (not private, link-local, loopback or reserved)."""
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


@lru_cache(maxsize=65536)
def unicast(address: str | None) -> bool:
    """Whether ``address`` is one host (not broadcast, multicast or unspecified)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.is_multicast or ip.is_unspecified:
        return False
    return not (ip.version == 4 and (address.endswith(".255") or str(ip) == "255.255.255.255"))


def _columns(columns: Sequence[str], names: Sequence[str]) -> list[int]:
    missing = [n for n in names if n not in columns]
    if missing:
        raise ConfigError(f"the Ethernet baseline reads {', '.join(missing)}, which these rows lack")
    return [list(columns).index(n) for n in names]


_WANTED = ("tcp.flags", "tcp.len", "tcp.payload", "arp.opcode", "arp.src.proto_ipv4", "mqtt.topic", "mqtt.msgtype",
           "dns.qry.name")
#: MQTT PUBLISH and SUBSCRIBE message types
_MQTT_PUBLISH, _MQTT_SUBSCRIBE = 3, 8


def modbus_requests(payload: str) -> list[tuple[int, int, int, int]]:
    """(unit, function, address, quantity) of each Modbus/TCP request in a segment's hex payload
    (address and quantity 0 when the function has none)."""
    try:
        data = bytes.fromhex(payload)
    except ValueError:
        return []
    out = []
    at = 0
    while len(data) - at >= 8:
        proto = int.from_bytes(data[at + 2:at + 4], "big")
        length = int.from_bytes(data[at + 4:at + 6], "big")
        if proto != 0 or length < 2:
            break
        unit, fc = data[at + 6], data[at + 7]
        pdu = data[at + 8:at + 6 + length]
        address = int.from_bytes(pdu[0:2], "big") if len(pdu) >= 2 else 0
        if fc in (5, 6):
            quantity = 1
        elif len(pdu) >= 4:
            quantity = int.from_bytes(pdu[2:4], "big")
        else:
            quantity = 0
        if fc == 23 and len(pdu) >= 8:  # read/write multiple: the write part
            address, quantity = int.from_bytes(pdu[4:6], "big"), int.from_bytes(pdu[6:8], "big")
        out.append((unit, fc, address, quantity))
        at += 6 + length
    return out


def _table(fc: int) -> str:
    return "coils" if fc in (5, 15) else "registers"


def _merge_range(ranges: list[list[int]], lo: int, hi: int) -> None:
    for r in ranges:
        if lo <= r[1] + 1 and hi >= r[0] - 1:
            r[0], r[1] = min(r[0], lo), max(r[1], hi)
            return
    if len(ranges) < MAX_RANGES:
        ranges.append([lo, hi])
        ranges.sort()


def _rank(port: int) -> tuple[int, int]:
    """How service-like a port is: well-known, then registered, then ephemeral (IANA), lower first."""
    return (0 if port < 1024 else 1 if port < 49152 else 2, port)


def _conversation(src: str, sport: int, dst: str, dport: int, syn: bool) -> tuple[str, str, int]:
    """(client, server, service port): a SYN's target, else the side of the more service-like port."""
    if syn or _rank(dport) < _rank(sport) or (dport == sport and dst < src):
        return src, dst, dport
    return dst, src, sport


class EthernetLearner:
    """Learns an Ethernet baseline from rows and their contexts."""

    family = "ethernet"

    def __init__(self, columns: Sequence[str]) -> None:
        (self._flags, self._tcp_len, self._payload, self._arp_op, self._arp_src, self._topic, self._mqtt_type,
         self._dns_name) = _columns(columns, _WANTED)
        #: MQTT client -> topics it published or subscribed to; DNS names asked
        self.mqtt: dict[str, set[str]] = {}
        self.dns: set[str] = set()
        self.hosts: dict[str, dict[str, Any]] = {}
        #: (proto, host, port, host, port) in order -> [who opened it (0 unknown, 1 the first, 2 the
        #: second endpoint), frames]
        self.flows: dict[tuple[str, str, int, str, int], list[int]] = {}
        self.modbus: dict[str, dict[str, Any]] = {}
        self.records = 0
        self.seconds = 0.0
        self.left_out = 0
        self._first: float | None = None
        self._last = 0.0

    def segment(self) -> None:
        """A new input begins."""
        if self._first is not None:
            self.seconds += max(0.0, self._last - self._first)
        self._first = None
        self._last = 0.0

    def _host(self, ip: str, mac: bytes | None, ts: float) -> None:
        h = self.hosts.get(ip)
        if h is None:
            if len(self.hosts) >= MAX_ENTRIES:
                self.left_out += 1
                return
            h = self.hosts[ip] = {"macs": set(), "first": ts}
        if mac and len(h["macs"]) < 8:
            h["macs"].add(mac.hex(":"))

    def feed(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> None:
        for row, ctx in zip(rows, contexts, strict=False):
            ts, src, sport, dst, dport, proto = ctx[0], ctx[1], ctx[2], ctx[3], ctx[4], ctx[5]
            self.records += 1
            if self._first is None:
                self._first = ts
            self._last = max(self._last, ts)
            if src is None:
                if row[self._arp_op] and unicast(str(row[self._arp_src] or "")):
                    self._host(str(row[self._arp_src]), ctx[8], ts)
                continue
            if unicast(src):
                self._host(src, ctx[8], ts)
            if proto not in ("TCP", "UDP") or not unicast(src) or not unicast(dst):
                continue
            flags = int(row[self._flags] or 0)
            a, b = (src, int(sport or 0)), (dst, int(dport or 0))
            key = (proto, *a, *b) if a <= b else (proto, *b, *a)
            flow = self.flows.get(key)
            if flow is None:
                if len(self.flows) >= MAX_ENTRIES:
                    self.left_out += 1
                    continue
                flow = self.flows[key] = [0, 0]
            flow[1] += 1
            if proto == "TCP" and flags & 0x12 == 0x02:  # a SYN: its sender is the client
                flow[0] = 1 if a <= b else 2
            if proto == "TCP" and row[self._tcp_len]:
                if dport == MODBUS_PORT:
                    self._modbus(src, dst, str(row[self._payload]))
                elif sport == MODBUS_PORT:
                    self._modbus_reply(src, str(row[self._payload]))
                elif row[self._topic] and row[self._mqtt_type] in (_MQTT_PUBLISH, _MQTT_SUBSCRIBE):
                    topics = self.mqtt.setdefault(src, set())
                    if len(topics) < 1024:
                        topics.add(str(row[self._topic]))
            if proto == "UDP" and row[self._dns_name] and len(self.dns) < 4096:
                self.dns.add(str(row[self._dns_name]))

    def _modbus_reply(self, server: str, payload: str) -> None:
        """Count a server's replies and its exception replies (function code with the high bit)."""
        m = self.modbus.get(server)
        if m is None:
            return
        for _, fc, _, _ in modbus_requests(payload):
            m["replies"] += 1
            m["exceptions"] += fc >= 0x80

    def _modbus(self, client: str, server: str, payload: str) -> None:
        m = self.modbus.get(server)
        if m is None:
            if len(self.modbus) >= MAX_ENTRIES:
                return
            m = self.modbus[server] = {"units": set(), "functions": set(), "masters": set(), "writes": {},
                                       "replies": 0, "exceptions": 0}
        for unit, fc, address, quantity in modbus_requests(payload):
            m["units"].add(unit)
            m["functions"].add(fc)
            m["masters"].add(client)
            if fc in WRITE_CODES and quantity:
                key = f"{client} unit {unit} {_table(fc)}"
                _merge_range(m["writes"].setdefault(key, []), address, address + quantity - 1)

    def finish(self) -> tuple[dict[str, Any], list[str]]:
        self.segment()
        notes = []
        if self.left_out:
            notes.append(f"{self.left_out} entries beyond the table limit ({MAX_ENTRIES}) were not learned")
        learned = self._services()
        services = [{"server": s, "proto": p, "port": port, "clients": sorted(v["clients"]), "frames": v["frames"]}
                    for (s, p, port), v in sorted(learned.items())]
        habits = sorted({(c, p, port) for (s, p, port), v in learned.items() if public(s) for c in v["clients"]})
        for server, m in sorted(self.modbus.items()):
            if m["replies"] >= 20 and m["exceptions"] / m["replies"] > 0.1:
                notes.append(f"Modbus {server} answered {m['exceptions'] / m['replies']:.0%} of requests with "
                             "exceptions while learning: a scan or a misconfigured master; review before use")
            if len(m["functions"]) > 12:
                notes.append(f"Modbus {server} was sent {len(m['functions'])} function codes while learning: "
                             "more than a master uses; a function code sweep would poison the baseline")
        for svc in services:
            if svc["frames"] < 3:
                notes.append(f"service {svc['server']} {svc['proto']}/{svc['port']}: seen in {svc['frames']} frames "
                             "only; check it is normal")
        modbus = {server: {"units": sorted(m["units"]), "functions": sorted(m["functions"]),
                           "masters": sorted(m["masters"]),
                           "writes": {k: v for k, v in sorted(m["writes"].items())},
                           "exception_share": round(m["exceptions"] / m["replies"], 4) if m["replies"] else 0.0}
                  for server, m in sorted(self.modbus.items())}
        hosts = {ip: {"macs": sorted(h["macs"])} for ip, h in sorted(self.hosts.items())}
        mqtt = {client: sorted(topics) for client, topics in sorted(self.mqtt.items())}
        internet = [{"client": c, "proto": p, "port": port} for c, p, port in habits]
        return {"hosts": hosts, "services": services, "internet": internet, "modbus": modbus, "mqtt": mqtt,
                "dns": sorted(self.dns)}, notes

    def _services(self) -> dict[tuple[str, str, int], dict[str, Any]]:
        """Services with their clients. A flow's server is the endpoint a SYN went to; where no SYN was
        seen (a connection older than the capture, UDP), the endpoint with more distinct peers (a
        service answers many client ports, a client port talks to one), else the lower port."""
        peers: dict[tuple[str, int], int] = {}
        for _, ha, pa, hb, pb in self.flows:
            peers[(ha, pa)] = peers.get((ha, pa), 0) + 1
            peers[(hb, pb)] = peers.get((hb, pb), 0) + 1
        services: dict[tuple[str, str, int], dict[str, Any]] = {}
        for (proto, ha, pa, hb, pb), (opener, frames) in self.flows.items():
            if opener == 0:
                a, b = peers[(ha, pa)], peers[(hb, pb)]
                first_serves = a > b or (a == b and _conversation(hb, pb, ha, pa, False)[1] == ha)
                opener = 2 if first_serves else 1
            client, (server, port) = (ha, (hb, pb)) if opener == 1 else (hb, (ha, pa))
            svc = services.setdefault((server, proto, port), {"clients": set(), "frames": 0})
            svc["clients"].add(client)
            svc["frames"] += frames
        return services

    def learned(self) -> dict[str, Any]:
        return {"records": self.records, "seconds": round(self.seconds, 3), "hosts": len(self.hosts),
                "flows": len(self.flows)}


#: what is learned of a Modbus server no request reached while learning: nothing
_NEVER_POLLED: dict[str, Any] = {"units": frozenset(), "functions": frozenset(), "masters": frozenset(),
                                 "writers": frozenset(), "writes": {}}


class EthernetDetector:
    """Findings where the network departs from its baseline (see the module docstring)."""

    name = "ethernet_baseline"

    def __init__(self, baseline: Baseline, cfg: Any, columns: Sequence[str]) -> None:
        if cfg.scan_min_services < 2:
            raise ConfigError(f"baseline.ethernet.scan_min_services must be at least 2, got {cfg.scan_min_services}")
        self.cfg = cfg
        self._flags, self._tcp_len, self._payload = _columns(columns, _WANTED)[:3]
        content = baseline.content
        self.hosts = set(content.get("hosts", {}))
        self.services: dict[tuple[str, str, int], frozenset[str]] = {
            (s["server"], s["proto"], int(s["port"])): frozenset(s.get("clients", ()))
            for s in content.get("services", [])}
        #: (client, transport, port) a host used with servers on the Internet, whose addresses rotate
        self.internet = frozenset((h["client"], h["proto"], int(h["port"])) for h in content.get("internet", []))
        self.modbus: dict[str, dict[str, Any]] = {}
        for server, m in (content.get("modbus") or {}).items():
            self.modbus[server] = {
                "units": frozenset(m.get("units", ())), "functions": frozenset(m.get("functions", ())),
                "masters": frozenset(m.get("masters", ())),
                "writers": frozenset(k.split(" ")[0] for k in m.get("writes", {})),
                "writes": {k: [tuple(r) for r in v] for k, v in (m.get("writes") or {}).items()}}
        self._flows: OrderedDict[Hashable, bool] = OrderedDict()
        self._scans: OrderedDict[str, dict[tuple[str, str, int], float]] = OrderedDict()
        self._reported: OrderedDict[Hashable, float] = OrderedDict()
        #: per new service, and for all hosts never learned, the clients that recently started new
        #: conversations (each one's latest time, the newest last)
        self._storms: OrderedDict[Hashable, OrderedDict[str, float]] = OrderedDict()
        self.counters = {"new_conversations": 0, "new_hosts": 0, "scans": 0, "modbus_recon": 0,
                         "modbus_writes": 0, "flows_evicted": 0, "conversations_in_storms": 0}

    def stats(self) -> dict[str, int]:
        return {f"eth_baseline_{k}": v for k, v in self.counters.items()}

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        out: list[Finding] = []
        flows = self._flows
        cfg = self.cfg
        fl, tl, pl = self._flags, self._tcp_len, self._payload
        for row, ctx in zip(rows, contexts, strict=False):
            proto = ctx[5]
            if proto != "TCP" and proto != "UDP":
                continue
            if cfg.modbus and proto == "TCP" and ctx[4] == MODBUS_PORT and row[tl]:
                self._modbus(ctx, str(row[pl]), out)
            if not cfg.new_conversations:
                continue
            flow = (ctx[7], proto)
            flags = int(row[fl] or 0) if proto == "TCP" else 0
            syn = proto == "TCP" and flags & 0x12 == 0x02
            if not syn and flow in flows:
                continue
            src, dst = ctx[1], ctx[3]
            if not unicast(src) or not unicast(dst):
                continue
            sport, dport = int(ctx[2] or 0), int(ctx[4] or 0)
            client, server, port = src, dst, dport
            clients = self.services.get((dst, proto, dport))
            if not syn and (clients is None or src not in clients):
                # no SYN says who opened it: the other way round may be the learned one
                other = self.services.get((src, proto, sport))
                if other is not None and dst in other:
                    client, server, port, clients = dst, src, sport, other
                elif (clients is None) == (other is None):
                    client, server, port = _conversation(src, sport, dst, dport, False)
                    clients = self.services.get((server, proto, port))
                elif other is not None:
                    client, server, port, clients = dst, src, sport, other
            known = (clients is not None and (client in clients or proto == "UDP")) or (
                (client, proto, port) in self.internet and public(server))
            if proto == "TCP" and not syn and not row[tl]:
                continue  # an ACK or RST alone shows no conversation; wait for data or a SYN
            flows[flow] = known
            if len(flows) > MAX_FLOWS:
                flows.popitem(last=False)
                self.counters["flows_evicted"] += 1
            if known:
                continue
            if client not in self.hosts and server not in self.hosts:
                continue  # neither end is a plant host this baseline knows
            self._new_conversation(ctx, client, server, proto, port, clients is None, out)
        return out

    # ------------------------------------------------------------------------------------------
    def _due(self, key: Hashable, ts: float) -> tuple[bool, float | None]:
        """Whether ``key`` may be reported now (not within ``quiet_s`` of its last report), and the
        time of that last report when this one continues it."""
        last = self._reported.get(key)
        quiet = self.cfg.quiet_s
        if last is not None and 0.0 <= ts - last < min(quiet, 10.0):
            return False, None
        self._reported[key] = ts
        self._reported.move_to_end(key)
        if len(self._reported) > MAX_FLOWS:
            self._reported.popitem(last=False)
        return True, (last if last is not None and 0.0 <= ts - last <= quiet else None)

    def _finding(self, cls: str, first: float, ctx: tuple[Any, ...], client: str, server: str, port: int,
                 proto: str, evidence: str) -> Finding:
        cport = ctx[2] if ctx[1] == client else ctx[4]
        context = {"src_ip": client, "src_port": cport, "dest_ip": server, "dest_port": port, "proto": proto,
                   "app_proto": ctx[6], "flow_id": ctx[7]}
        # keyed by the client: one host's departures of a class are one incident, apart from the model's
        # windows and from other hosts' departures
        return Finding(key=f"baseline {client}", cls=cls, first_ts=first, last_ts=float(ctx[0]), context=context,
                       evidence=evidence, quiet_s=self.cfg.quiet_s)

    def _storm(self, client: str, service: tuple[str, str, int], ts: float) -> bool:
        """Note ``client`` starting a new conversation with ``service`` at ``ts``; whether such starts now
        come faster than a plant changes: more than STORM_HOSTS hosts never learned, or clients of one
        server, within STORM_S. A flood with spoofed or many sources is
        one for the flood rules, not one backdoor per source."""
        keys: list[Hashable] = [service, service[0]]
        if client not in self.hosts:
            keys.append("hosts never learned")
        return max(self._recent_clients(key, client, ts) for key in keys) > STORM_HOSTS

    def _recent_clients(self, key: Hashable, client: str, ts: float) -> int:
        """Add ``client`` at ``ts`` under ``key``; how many distinct clients it has had within STORM_S."""
        table = self._storms
        seen = table.get(key)
        if seen is None:
            seen = table[key] = OrderedDict()
            if len(table) > MAX_FLOWS:
                table.popitem(last=False)
        table.move_to_end(key)
        seen[client] = ts
        seen.move_to_end(client)
        while ts - next(iter(seen.values())) > STORM_S:
            seen.popitem(last=False)
        return len(seen)

    def _new_conversation(self, ctx: tuple[Any, ...], client: str, server: str, proto: str, port: int,
                          new_service: bool, out: list[Finding]) -> None:
        ts = float(ctx[0])
        cfg = self.cfg
        if self._storm(client, (server, proto, port), ts):
            self.counters["conversations_in_storms"] += 1
            return
        tried = self._scans.get(client)
        if tried is None:
            tried = self._scans[client] = {}
            if len(self._scans) > MAX_FLOWS:
                self._scans.popitem(last=False)
        self._scans.move_to_end(client)
        tried[(server, proto, port)] = ts
        for k in [k for k, t in tried.items() if ts - t > SCAN_WINDOW_S]:
            del tried[k]
        if len(tried) >= cfg.scan_min_services:
            due, since = self._due(("scan", client), ts)
            if due:
                self.counters["scans"] += 1
                first = min(tried.values()) if since is None else since
                hosts = len({s for s, _, _ in tried})
                out.append(self._finding(
                    cfg.scan_class, first, ctx, client, server, port, proto,
                    f"{client} tried {len(tried)} services never learned on {hosts} host(s) within "
                    f"{SCAN_WINDOW_S:.0f} s (reconnaissance), latest {server} {proto}/{port}"))
            return
        due, since = self._due(("conversation", client, server, proto, port), ts)
        if not due:
            return
        self.counters["new_conversations"] += 1
        unknown = [h for h in (client, server) if h not in self.hosts]
        if unknown:
            self.counters["new_hosts"] += 1
            cls = cfg.new_host_class
            why = f"{' and '.join(unknown)} never seen while learning"
        else:
            cls = cfg.new_service_class
            why = "a service never learned" if new_service else f"{client} never used it while learning"
        out.append(self._finding(
            cls, ts if since is None else since, ctx, client, server, port, proto,
            f"new conversation {client} -> {server} {proto}/{port}: {why}"))

    def _modbus(self, ctx: tuple[Any, ...], payload: str, out: list[Finding]) -> None:
        client, server = ctx[1], ctx[3]
        learned = self.modbus.get(server, _NEVER_POLLED)
        cfg = self.cfg
        ts = float(ctx[0])
        for unit, fc, address, quantity in modbus_requests(payload):
            if fc in WRITE_CODES:
                self._modbus_write(ctx, learned, unit, fc, address, quantity, out)
            elif fc not in learned["functions"] or unit not in learned["units"]:
                novel = [f"function code {fc}"] if fc not in learned["functions"] else []
                if unit not in learned["units"]:
                    novel.append(f"unit id {unit}")
                what = " and ".join(novel)
                due, since = self._due(("modbus-recon", client, server), ts)
                if due:
                    self.counters["modbus_recon"] += 1
                    out.append(self._finding(
                        cfg.modbus_recon_class, ts if since is None else since, ctx, client, server, MODBUS_PORT,
                        "TCP", f"Modbus request from {client} to {server} with {what} never used there while "
                        f"learning (learned functions {sorted(learned['functions']) or 'none'}, "
                        f"units {sorted(learned['units']) or 'none'})"))

    def _modbus_write(self, ctx: tuple[Any, ...], learned: dict[str, Any], unit: int, fc: int, address: int,
                      quantity: int, out: list[Finding]) -> None:
        client, server = ctx[1], ctx[3]
        key = f"{client} unit {unit} {_table(fc)}"
        ranges = learned["writes"].get(key)
        hi = address + max(quantity, 1) - 1
        if ranges is not None and any(lo <= address and hi <= up for lo, up in ranges):
            return
        if client not in learned["writers"]:
            why = f"{client} never wrote to {server} while learning"
        else:
            why = f"{_table(fc)} {address}-{hi} of unit {unit} were never written by {client} while learning"
        ts = float(ctx[0])
        due, since = self._due(("modbus-write", client, server), ts)
        if due:
            self.counters["modbus_writes"] += 1
            out.append(self._finding(
                self.cfg.modbus_write_class, ts if since is None else since, ctx, client, server, MODBUS_PORT, "TCP",
                f"Modbus write (function {fc}) from {client} to {server} unit {unit}: {why} (a forged command?)"))


def summary(content: dict[str, Any]) -> list[str]:
    """Lines for ``baseline show``: hosts, services with their clients, Modbus servers."""
    hosts = content.get("hosts", {})
    lines = [f"hosts: {len(hosts)}"]
    for ip, h in hosts.items():
        lines.append(f"  {ip:<40} {', '.join(h.get('macs', [])) or '-'}")
    services = content.get("services", [])
    lines.append(f"services: {len(services)}")
    for s in services:
        clients = s.get("clients", [])
        shown = ", ".join(clients[:6]) + (f" and {len(clients) - 6} more" if len(clients) > 6 else "")
        lines.append(f"  {s['server']} {s['proto']}/{s['port']} ({s.get('frames', 0)} frames) from {shown}")
    internet = content.get("internet") or []
    if internet:
        lines.append("Internet services used (any server): " + ", ".join(
            f"{h['client']} {h['proto']}/{h['port']}" for h in internet[:12]) + (" ..." if len(internet) > 12 else ""))
    modbus = content.get("modbus", {})
    if modbus:
        lines.append(f"Modbus servers: {len(modbus)}")
    for server, m in modbus.items():
        lines.append(f"  {server}: masters {', '.join(m.get('masters', []))}; units {m.get('units')}; "
                     f"functions {m.get('functions')}; exception replies {m.get('exception_share', 0):.1%}")
        for key, ranges in (m.get("writes") or {}).items():
            lines.append(f"    writes by {key}: " + ", ".join(f"{lo}-{hi}" for lo, hi in ranges))
    for client, topics in (content.get("mqtt") or {}).items():
        more = " ..." if len(topics) > 5 else ""
        lines.append(f"MQTT {client}: {len(topics)} topic(s): {', '.join(topics[:5])}{more}")
    names = content.get("dns") or []
    if names:
        lines.append(f"DNS names asked: {len(names)}: {', '.join(names[:8])}" + (" ..." if len(names) > 8 else ""))
    return lines


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Lines for ``baseline diff``: hosts, services and Modbus use only in one of the two."""
    lines = [f"host {h} only in A" for h in sorted(set(a.get("hosts", {})) - set(b.get("hosts", {})))]
    lines += [f"host {h} only in B" for h in sorted(set(b.get("hosts", {})) - set(a.get("hosts", {})))]

    def services(c: dict[str, Any]) -> dict[str, set[str]]:
        return {f"{s['server']} {s['proto']}/{s['port']}": set(s.get("clients", [])) for s in c.get("services", [])}

    sa, sb = services(a), services(b)
    lines += [f"service {k} only in A" for k in sorted(set(sa) - set(sb))]
    lines += [f"service {k} only in B" for k in sorted(set(sb) - set(sa))]
    for k in sorted(set(sa) & set(sb)):
        if sa[k] != sb[k]:
            lines.append(f"service {k}: clients only in A {sorted(sa[k] - sb[k])}, only in B {sorted(sb[k] - sa[k])}")
    ma, mb = a.get("modbus", {}), b.get("modbus", {})
    for server in sorted(set(ma) | set(mb)):
        x, y = ma.get(server, {}), mb.get(server, {})
        for field in ("masters", "units", "functions", "writes", "exception_share"):
            if x.get(field) != y.get(field):
                lines.append(f"Modbus {server} {field}: {x.get(field)} -> {y.get(field)}")
    qa, qb = a.get("mqtt") or {}, b.get("mqtt") or {}
    for client in sorted(set(qa) | set(qb)):
        ta, tb = set(qa.get(client, [])), set(qb.get(client, []))
        if ta != tb:
            lines.append(f"MQTT {client}: topics only in A {sorted(ta - tb)}, only in B {sorted(tb - ta)}")
    da, db = set(a.get("dns") or []), set(b.get("dns") or [])
    if da != db:
        lines.append(f"DNS names only in A {sorted(da - db)}, only in B {sorted(db - da)}")
    return lines
