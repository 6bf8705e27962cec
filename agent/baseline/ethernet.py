"""The Ethernet baseline: a plant network's hosts, conversations and Modbus use, and what departs from them.

Learned: hosts (unicast addresses, with the MAC addresses they were seen from), services (server,
transport, port) with the clients that used them, for Modbus/TCP per server its unit ids, function
codes, share of exception replies, the clients that wrote, and per (client, server, unit) the
register and coil address ranges written; MQTT clients with their topics, and the DNS names asked
(for review and ``baseline diff``; no finding reads them). Client ports make no conversation: its
server is the host a SYN went to, else the endpoint serving more peers (``EthernetLearner._services``).

What the detector reports is in :mod:`agent.rules.ethernet_baseline`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from agent.errors import ConfigError

MODBUS_PORT = 502
#: Modbus function codes that write (coils, registers, file records, mask writes, read/write)
WRITE_CODES = frozenset({5, 6, 15, 16, 21, 22, 23})
#: most learned entries of each table (hosts, services, Modbus keys); beyond, counted and left out
MAX_ENTRIES = 65536
#: write ranges kept per (client, server, unit, table)
MAX_RANGES = 64


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


def column_positions(columns: Sequence[str], names: Sequence[str]) -> list[int]:
    missing = [n for n in names if n not in columns]
    if missing:
        raise ConfigError(f"the Ethernet baseline reads {', '.join(missing)}, which these rows lack")
    return [list(columns).index(n) for n in names]


WANTED = ("tcp.flags", "tcp.len", "tcp.payload", "arp.opcode", "arp.src.proto_ipv4", "mqtt.topic", "mqtt.msgtype",
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


def table_of(fc: int) -> str:
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


def conversation(src: str, sport: int, dst: str, dport: int, syn: bool) -> tuple[str, str, int]:
    """(client, server, service port): a SYN's target, else the side of the more service-like port."""
    if syn or _rank(dport) < _rank(sport) or (dport == sport and dst < src):
        return src, dst, dport
    return dst, src, sport


class EthernetLearner:
    """Learns an Ethernet baseline from rows and their contexts."""

    family = "ethernet"

    def __init__(self, columns: Sequence[str]) -> None:
        (self._flags, self._tcp_len, self._payload, self._arp_op, self._arp_src, self._topic, self._mqtt_type,
         self._dns_name) = column_positions(columns, WANTED)
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
                key = f"{client} unit {unit} {table_of(fc)}"
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
                first_serves = a > b or (a == b and conversation(hb, pb, ha, pa, False)[1] == ha)
                opener = 2 if first_serves else 1
            client, (server, port) = (ha, (hb, pb)) if opener == 1 else (hb, (ha, pa))
            svc = services.setdefault((server, proto, port), {"clients": set(), "frames": 0})
            svc["clients"].add(client)
            svc["frames"] += frames
        return services

    def learned(self) -> dict[str, Any]:
        return {"records": self.records, "seconds": round(self.seconds, 3), "hosts": len(self.hosts),
                "flows": len(self.flows)}


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
