"""The Ethernet baseline detector: what departs from the plant network learned in
:mod:`agent.baseline.ethernet`.

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

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.baseline import Baseline
from agent.baseline.ethernet import (
    MODBUS_PORT,
    WANTED,
    WRITE_CODES,
    column_positions,
    conversation,
    modbus_requests,
    public,
    table_of,
    unicast,
)
from agent.errors import ConfigError
from agent.features import ETHERNET_CONTEXT
from agent.lru import LruTable
from agent.rules.base import Detector, DetectorConfig, Finding
from agent.schema import doc

_TS, _SRC, _SPORT, _DST, _DPORT, _PROTO, _APP, _FLOW = (ETHERNET_CONTEXT.index(f) for f in (
    "ts", "src_ip", "src_port", "dest_ip", "dest_port", "proto", "app_proto", "flow_id"))
#: most flows the detector caches a verdict for, and sources it counts new services of
MAX_FLOWS = 65536
#: a source's new services are counted over this many seconds
SCAN_WINDOW_S = 60.0
#: hosts never learned appearing within STORM_S seconds beyond which they are a flood's spoofed sources
STORM_HOSTS = 4
STORM_S = 10.0


@dataclass
class EthernetBaselineConfig(DetectorConfig):
    """What the Ethernet baseline detector reports as a departure from the learned plant network."""

    new_conversations: bool = doc(
        "report a connection or datagram exchange between learned hosts, or with a new host, on a service "
        "never learned between them", True,
    )
    new_host_class: str = doc("class of a new conversation with a host never learned", "Backdoor")
    new_service_class: str = doc("class of a new conversation between learned hosts", "Backdoor")
    scan_min_services: int = doc(
        "services never learned that one source tries within a minute to be reported as reconnaissance "
        "instead (a sweep of the plant's devices)", 4,
    )
    scan_class: str = doc("class of reconnaissance across many new services", "Port_Scanning")
    modbus: bool = doc("check Modbus/TCP against the learned masters, units, function codes and registers",
                       True)
    modbus_recon_class: str = doc(
        "class of Modbus requests with function codes or unit ids never learned (reconnaissance)",
        "Fingerprinting",
    )
    modbus_write_class: str = doc(
        "class of Modbus writes from a host that never wrote, or to registers or coils never written "
        "(a forged command)", "Uploading",
    )
    quiet_s: float = doc("a finding's incident stays open this long after its evidence", 60.0)


#: what is learned of a Modbus server no request reached while learning: nothing
_NEVER_POLLED: dict[str, Any] = {"units": frozenset(), "functions": frozenset(), "masters": frozenset(),
                                 "writers": frozenset(), "writes": {}}


class EthernetDetector(Detector[EthernetBaselineConfig]):
    """Findings where the network departs from its baseline (see the module docstring)."""

    name = "ethernet_baseline"
    summary = ("departures from the learned plant network: new conversations, sweeps, Modbus function codes, "
               "units and writes never learned")
    Config = EthernetBaselineConfig
    family = "ethernet"

    def __init__(self, columns: Sequence[str], config: EthernetBaselineConfig | None = None,
                 baseline: Baseline | None = None, **settings: Any) -> None:
        super().__init__(columns, config, **settings)
        cfg = self.config
        if baseline is None:
            raise ConfigError("the Ethernet baseline detector needs a learned baseline (baseline.path)")
        if cfg.scan_min_services < 2:
            raise ConfigError(f"baseline.ethernet.scan_min_services must be at least 2, got {cfg.scan_min_services}")
        self._flags, self._tcp_len, self._payload = column_positions(columns, WANTED)[:3]
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
        self._flows: LruTable[Hashable, bool] = LruTable(MAX_FLOWS)
        self._scans: LruTable[str, dict[tuple[str, str, int], float]] = LruTable(MAX_FLOWS)
        self._reported: LruTable[Hashable, float] = LruTable(MAX_FLOWS)
        #: per new service, and for all hosts never learned, the clients that recently started new
        #: conversations (each one's latest time, the newest last)
        self._storms: LruTable[Hashable, LruTable[str, float]] = LruTable(MAX_FLOWS)
        self.counters = {"new_conversations": 0, "new_hosts": 0, "scans": 0, "modbus_recon": 0,
                         "modbus_writes": 0, "conversations_in_storms": 0}

    @classmethod
    def needs(cls, columns: Sequence[str]) -> bool:
        """Whether ``columns`` has the TCP and Modbus columns it reads."""
        return all(c in columns for c in WANTED)

    def stats(self) -> dict[str, int]:
        """Findings per kind and flows evicted."""
        return {f"eth_baseline_{k}": v for k, v in {**self.counters, "flows_evicted": self._flows.evicted}.items()}

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        out: list[Finding] = []
        flows = self._flows
        cfg = self.config
        fl, tl, pl = self._flags, self._tcp_len, self._payload
        for row, ctx in zip(rows, contexts, strict=False):
            proto = ctx[_PROTO]
            if proto != "TCP" and proto != "UDP":
                continue
            if cfg.modbus and proto == "TCP" and ctx[_DPORT] == MODBUS_PORT and row[tl]:
                self._modbus(ctx, str(row[pl]), out)
            if not cfg.new_conversations:
                continue
            flow = (ctx[_FLOW], proto)
            flags = int(row[fl] or 0) if proto == "TCP" else 0
            syn = proto == "TCP" and flags & 0x12 == 0x02
            if not syn and flow in flows:
                continue
            src, dst = ctx[_SRC], ctx[_DST]
            if not unicast(src) or not unicast(dst):
                continue
            sport, dport = int(ctx[_SPORT] or 0), int(ctx[_DPORT] or 0)
            client, server, port = src, dst, dport
            clients = self.services.get((dst, proto, dport))
            if not syn and (clients is None or src not in clients):
                # no SYN says who opened it: the other way round may be the learned one
                other = self.services.get((src, proto, sport))
                if other is not None and dst in other:
                    client, server, port, clients = dst, src, sport, other
                elif (clients is None) == (other is None):
                    client, server, port = conversation(src, sport, dst, dport, False)
                    clients = self.services.get((server, proto, port))
                elif other is not None:
                    client, server, port, clients = dst, src, sport, other
            known = (clients is not None and (client in clients or proto == "UDP")) or (
                (client, proto, port) in self.internet and public(server))
            if proto == "TCP" and not syn and not row[tl]:
                continue  # an ACK or RST alone shows no conversation; wait for data or a SYN
            flows[flow] = known
            flows.trim()
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
        quiet = self.config.quiet_s
        if last is not None and 0.0 <= ts - last < min(quiet, 10.0):
            return False, None
        self._reported[key] = ts
        self._reported.move_to_end(key)
        self._reported.trim()
        return True, (last if last is not None and 0.0 <= ts - last <= quiet else None)

    def _finding(self, cls: str, first: float, ctx: tuple[Any, ...], client: str, server: str, port: int,
                 proto: str, evidence: str) -> Finding:
        cport = ctx[_SPORT] if ctx[_SRC] == client else ctx[_DPORT]
        context = {"src_ip": client, "src_port": cport, "dest_ip": server, "dest_port": port, "proto": proto,
                   "app_proto": ctx[_APP], "flow_id": ctx[_FLOW]}
        # keyed by the client: one host's departures of a class are one incident, apart from the model's
        # windows and from other hosts' departures
        return Finding(key=f"baseline {client}", cls=cls, first_ts=first, last_ts=float(ctx[_TS]), context=context,
                       evidence=evidence, quiet_s=self.config.quiet_s)

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
            seen = table[key] = LruTable(MAX_FLOWS)
            table.trim()
        table.move_to_end(key)
        seen[client] = ts
        seen.move_to_end(client)
        seen.expire(ts, STORM_S, float)
        return len(seen)

    def _new_conversation(self, ctx: tuple[Any, ...], client: str, server: str, proto: str, port: int,
                          new_service: bool, out: list[Finding]) -> None:
        ts = float(ctx[_TS])
        cfg = self.config
        if self._storm(client, (server, proto, port), ts):
            self.counters["conversations_in_storms"] += 1
            return
        tried = self._scans.get(client)
        if tried is None:
            tried = self._scans[client] = {}
            self._scans.trim()
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
        client, server = ctx[_SRC], ctx[_DST]
        learned = self.modbus.get(server, _NEVER_POLLED)
        cfg = self.config
        ts = float(ctx[_TS])
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
        client, server = ctx[_SRC], ctx[_DST]
        key = f"{client} unit {unit} {table_of(fc)}"
        ranges = learned["writes"].get(key)
        hi = address + max(quantity, 1) - 1
        if ranges is not None and any(lo <= address and hi <= up for lo, up in ranges):
            return
        if client not in learned["writers"]:
            why = f"{client} never wrote to {server} while learning"
        else:
            why = f"{table_of(fc)} {address}-{hi} of unit {unit} were never written by {client} while learning"
        ts = float(ctx[_TS])
        due, since = self._due(("modbus-write", client, server), ts)
        if due:
            self.counters["modbus_writes"] += 1
            out.append(self._finding(
                self.config.modbus_write_class, ts if since is None else since, ctx, client, server, MODBUS_PORT, "TCP",
                f"Modbus write (function {fc}) from {client} to {server} unit {unit}: {why} (a forged command?)"))


DETECTOR = EthernetDetector
