"""Cleartext Telnet sessions into plant hosts: an example of a detector shipped as a plugin.

Why a site would want it: many PLCs, RTUs and industrial switches still answer Telnet, whose
passwords and commands cross the wire in clear; an engineer's laptop or a compromised host opening
one is worth a look even when nothing else is wrong. One finding per (client, server) pair and
``window_s`` interval, when the client sends data on a Telnet port.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.features import ETHERNET_CONTEXT
from agent.lru import LruTable
from agent.rules.base import Detector, DetectorConfig, Finding
from agent.schema import doc

_TS, _SRC, _DST, _DPORT, _PROTO = (ETHERNET_CONTEXT.index(f) for f in ("ts", "src_ip", "dest_ip", "dest_port",
                                                                         "proto"))


@dataclass
class TelnetSessionConfig(DetectorConfig):
    """Cleartext Telnet sessions into plant hosts."""

    ports: list[int] = doc("TCP ports that carry Telnet", factory=lambda: [23])
    window_s: float = doc("one finding per client and server within this many seconds", 600.0)
    class_name: str = doc("class its alerts carry", "Backdoor")
    max_pairs: int = doc("(client, server) pairs remembered at once; least recently seen dropped beyond", 1024)


class TelnetSessionRule(Detector[TelnetSessionConfig]):
    """Finds clients sending data to a Telnet port (see the module docstring)."""

    name = "telnet_session"
    summary = "cleartext Telnet sessions into plant hosts (an example plugin)"
    Config = TelnetSessionConfig
    reads = ("tcp.len",)

    def __init__(self, columns: Sequence[str], config: TelnetSessionConfig | None = None, **settings: Any) -> None:
        super().__init__(columns, config, **settings)
        c = self.config
        self.check_settings({"max_pairs": (c.max_pairs, 1)}, {"window_s": c.window_s})
        (self._len,) = self.indices()
        self._ports = frozenset(c.ports)
        self._reported: LruTable[tuple[Any, Any], float] = LruTable(c.max_pairs)
        self._findings = 0

    def stats(self) -> dict[str, int]:
        """Findings raised, pairs remembered and evicted."""
        return {"telnet_session_findings": self._findings, "telnet_session_pairs": len(self._reported),
                "telnet_session_pairs_evicted": self._reported.evicted}

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """A finding per client sending data to a Telnet port, once per pair and ``window_s``."""
        out: list[Finding] = []
        window = self.config.window_s
        for row, ctx in zip(rows, contexts, strict=True):
            if ctx[_PROTO] != "TCP" or ctx[_DPORT] not in self._ports or not row[self._len]:
                continue
            ts, pair = float(ctx[_TS]), (ctx[_SRC], ctx[_DST])
            last = self._reported.get(pair)
            if last is not None and 0.0 <= ts - last < window:
                continue
            self._reported[pair] = ts
            self._reported.move_to_end(pair)
            self._reported.trim()
            self._findings += 1
            out.append(Finding(key=f"telnet {pair[0]}", cls=self.config.class_name, first_ts=ts, last_ts=ts,
                               context={"src_ip": pair[0], "dest_ip": pair[1], "dest_port": ctx[_DPORT],
                                        "proto": "TCP"},
                               evidence=f"{pair[0]} sent data to {pair[1]} port {ctx[_DPORT]} (Telnet, in clear)"))
        return out
