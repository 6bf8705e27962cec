"""What the flood rules share: per target, the source pairs that reached it in one interval and got
nowhere, counted with bounded memory.

A flood, whatever the protocol, is very many (source address, source port) pairs reaching one
target within a second, none of which gets anywhere: a TCP flood's pairs never send data, a UDP
flood's are never answered. Ordinary traffic settles almost every pair within milliseconds (a
client sends its request, a server answers). :class:`FloodCounter` counts, per target and per
``window_s`` interval, the pairs not settled yet, and reports once per interval when they reach
``min_sources``; the rules (:mod:`agent.rules.tcp_flood`, :mod:`agent.rules.udp_flood`) decide
what a target, a pair and settling are, and word the finding.

A flood from one pair (one source port) is one pair however fast it sends. Where a rule can tell a
pair's packets that got nowhere from ordinary one-way traffic, it may also count them: with
``min_volume`` set, an interval in which the target got that many packets from pairs not settled
reports as well (a packet counts until its pair settles).

Memory is bounded: at most ``max_targets`` targets are tracked (the least recently seen dropped
beyond and counted), each with at most ``2 * min_sources`` pairs for the current interval (pairs
beyond are counted, not stored), cleared once the interval has reported.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from agent.rules.base import Detector, DetectorConfig, Finding, IntervalTable, ReportRun
from agent.schema import doc
from agent.windows import GLOBAL_KEY

#: a run of reports closer than this many intervals is one flood (one incident)
QUIET_INTERVALS = 10
#: (source address, source port)
Pair = tuple[Any, Any]


@dataclass
class Target:
    """One target and the source pairs that reached it in the current interval."""

    start: float
    pairs: dict[Pair, int] = field(default_factory=dict)
    """(source address, source port) -> its packets in the interval while not settled; 0 once settled."""
    bare: int = 0
    """Pairs not settled so far in the interval."""
    volume: int = 0
    """Packets of the pairs not settled so far in the interval."""
    ports: set[int] = field(default_factory=set)
    """Destination ports reached in the interval (at most ``2 * min_sources`` kept: one pair may sweep
    every port)."""
    reported: bool = False
    """The interval has reported (its pairs are cleared)."""
    run: ReportRun = field(default_factory=ReportRun)

    def restart(self, ts: float) -> None:
        """A new interval from ``ts``."""
        self.start, self.bare, self.volume, self.reported = ts, 0, 0, False
        self.pairs.clear()
        self.ports.clear()


@dataclass(frozen=True)
class Report:
    """One interval that reached ``min_sources``: what the rule words its finding from."""

    target: Any
    bare: int
    """Pairs not settled when it reported."""
    volume: int
    """Their packets in the interval."""
    sources: frozenset[object]
    """Their source addresses."""
    ports: frozenset[int]
    """Destination ports reached in the interval (at most ``2 * min_sources`` kept)."""
    interval_start: float
    since: float
    """Start of the evidence this report adds (the interval's start, or the previous report)."""
    ts: float
    run_s: float
    """How long the flood has gone on (since its first reported interval)."""
    quiet_s: float
    """How long it may go quiet and still be the same flood."""

    @property
    def source(self) -> Any:
        """The one source address, or None when the pairs came from several."""
        return next(iter(self.sources)) if len(self.sources) == 1 else None

    @property
    def port(self) -> Any:
        """The one destination port reached, or None when several were."""
        return next(iter(self.ports)) if len(self.ports) == 1 else None

    def where(self, cap: int) -> str:
        """The destination ports reached, as the evidence says them (``cap``: how many are kept)."""
        one = self.port
        if one is not None:
            return f"port {one}"
        return f"{len(self.ports)} ports" + (" or more" if len(self.ports) >= cap else "")

    @property
    def origin(self) -> str:
        """Where the pairs came from, as the evidence says it."""
        one = self.source
        return f"from {one}" if one is not None else f"from {len(self.sources)} addresses"


class FloodCounter:
    """Unsettled source pairs per target and interval (see the module docstring)."""

    def __init__(self, prefix: str, min_sources: int, window_s: float, max_targets: int,
                 min_volume: int = 0) -> None:
        self.min_sources = int(min_sources)
        self.min_volume = int(min_volume)
        self.window_s = float(window_s)
        #: pairs, and destination ports, kept per target and interval
        self.cap = 2 * self.min_sources
        self._targets: IntervalTable[Target] = IntervalTable(window_s, max_targets, Target)
        self._prefix = prefix
        self._counters = {f"{prefix}_findings": 0, f"{prefix}_pairs_capped": 0}

    def stats(self) -> dict[str, int]:
        """Findings raised, targets tracked and evicted, pairs not tracked for lack of room."""
        return {**self._counters, f"{self._prefix}_targets_evicted": self._targets.evicted,
                f"{self._prefix}_targets_tracked": len(self._targets)}

    def arrive(self, key: Hashable, ts: float, pair: Pair, port: int, settled: bool) -> Report | None:
        """``pair`` reached target ``key`` (on ``port``) at ``ts``, ``settled`` or not: a report if the
        target's unsettled pairs reach ``min_sources`` in this interval."""
        t = self._targets.at(key, ts)
        if t.reported:
            return None
        had = t.pairs.get(pair)
        if had is None:
            if len(t.pairs) >= self.cap:
                self._counters[f"{self._prefix}_pairs_capped"] += 1
                return None
            t.pairs[pair] = 0 if settled else 1
            t.bare += not settled
            t.volume += not settled
            if len(t.ports) < self.cap:
                t.ports.add(port)
        elif had:
            if settled:
                self._settled(t, pair, had)
            else:
                t.pairs[pair] = had + 1
                t.volume += 1
                if len(t.ports) < self.cap:
                    t.ports.add(port)
        if t.bare < self.min_sources and not (self.min_volume and t.volume >= self.min_volume):
            return None
        return self._report(t, key, ts)

    def settle(self, key: Hashable, pair: Pair) -> None:
        """``pair`` got somewhere with target ``key`` (an answer came back): it no longer counts."""
        t = self._targets.peek(key)
        if t is not None:
            had = t.pairs.get(pair)
            if had:
                self._settled(t, pair, had)

    @staticmethod
    def _settled(t: Target, pair: Pair, had: int) -> None:
        """``pair``, with ``had`` packets counted, settled: it and its packets no longer count."""
        t.pairs[pair] = 0
        t.bare -= 1
        t.volume -= had

    def _report(self, t: Target, key: Hashable, ts: float) -> Report:
        sources = frozenset(pair[0] for pair, had in t.pairs.items() if had)
        ports = frozenset(t.ports)
        t.reported = True
        t.pairs.clear()
        t.ports.clear()
        quiet = QUIET_INTERVALS * self.window_s
        since = t.run.report(t.start, ts, quiet)
        self._counters[f"{self._prefix}_findings"] += 1
        return Report(key, t.bare, t.volume, sources, ports, t.start, since, ts, ts - t.run.run_start, quiet)


@dataclass
class FloodConfig(DetectorConfig):
    """What every flood rule's section has (each adds its class and its one-pair count)."""

    min_sources: int = doc(
        "(source address, source port) pairs that reach one target within window_s and get nowhere (send no "
        "data, get no answer; ICMP: source addresses) before it alerts (floods send thousands a second)", 256
    )
    window_s: float = doc("the interval those pairs must fall in", 1.0)
    max_targets: int = doc("targets tracked at once; least recently seen dropped beyond", 256)
    class_name: str = doc("class its alerts carry; the model's class for the flood, so incidents merge", "")


F = TypeVar("F", bound=FloodConfig)


class FloodRule(Detector[F]):
    """The settings, checks and counters the flood rules share; each names itself and scans its rows."""

    volume_key: ClassVar[str]
    """The key of its count that makes a flood however few pairs send it (0 turns it off)."""
    counts_volume: ClassVar[bool] = True
    """Whether :class:`FloodCounter` counts that volume (the TCP rule counts its SYNs apart)."""

    def __init__(self, columns: Sequence[str], config: F | None = None, **settings: Any) -> None:
        super().__init__(columns, config, **settings)
        c = self.config
        self.check_settings({"min_sources": (c.min_sources, 2), "max_targets": (c.max_targets, 1)},
                       {"window_s": c.window_s})
        volume = int(getattr(c, self.volume_key))
        if volume:
            self.check_settings({self.volume_key: (volume, c.min_sources)}, {})
        self.class_name: str = c.class_name
        self._counter = FloodCounter(self.name, c.min_sources, c.window_s, c.max_targets,
                                     volume if self.counts_volume else 0)

    def stats(self) -> dict[str, int]:
        """Findings raised, targets tracked and evicted, pairs not tracked for lack of room."""
        return self._counter.stats()

    def finding(self, r: Report, dst: Any, port: Any, proto: str, evidence: str) -> Finding:
        """``r`` as a finding under the Ethernet stream's key, so a flood the model sees too is one incident."""
        return Finding(
            key=GLOBAL_KEY,
            cls=self.class_name,
            first_ts=r.since,
            last_ts=r.ts,
            context={"src_ip": r.source, "dest_ip": dst, "dest_port": port, "proto": proto},
            quiet_s=r.quiet_s,
            evidence=evidence,
        )
