"""Rules: exact detectors that run beside the model on the same feature rows.

Why rules at all: some attacks leave evidence that needs no model and that a model, which scores
windows of records, sees too late. An ARP poisoner that sends one forged reply every two seconds on
a quiet segment fills a 16-record window only after half a minute, and a short run of forged
replies never fills one; yet three replies nobody asked for, each claiming the same address, are
proof enough (arpwatch and Snort's ARP inspection have reported this for decades). A rule reads the
rows the extractor already made (one way to compute each feature), and its findings go through the
same alert policy as the model's windows, so they merge with the model's incidents of the same
class, obey the same rate limits and carry the same record layout, marked with the rule's name in
``edge_ids.rule`` and its evidence in ``edge_ids.evidence``.

Each rule is configured under ``rules.<name>`` and is built by :func:`build_rules` only when the
feature kind makes the columns it reads.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from agent.config import RulesConfig
from agent.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    """What a rule saw: enough for one alert-policy observation."""

    key: Hashable
    """The incident key (the model's stream key where the evidence belongs to that stream)."""
    cls: str
    """The class it alerts as (one of the model's classes, so incidents merge)."""
    first_ts: float
    """Time of the earliest record of the evidence it adds (for an incident's first finding, the
    start of the evidence; for later ones, the record before the one that raised it)."""
    last_ts: float
    """Time of the record that completed it."""
    context: dict[str, Any]
    """Alert context (the 5-tuple fields that apply)."""
    evidence: str
    """One sentence a plant engineer can act on."""
    quiet_s: float = 0.0
    """How long the rule's evidence may go quiet and still belong to the same attack (its own
    window): the incident stays open that long after this finding, so a poisoner that repeats every
    ten seconds is one incident, not one per reply. 0: the policy's merge gap alone."""


@dataclass
class ReportRun:
    """Whether a detector's reports about one target belong to one attack: a report within ``quiet``
    seconds of the one before continues its run (one incident), a later one starts a new run.

    Why: rules report once per interval while an attack goes on; each finding adds the evidence since
    the previous report and says how long the attack has lasted, and the alert policy keeps them
    in one incident.
    """

    last_report: float | None = None
    run_start: float = 0.0
    """Start of the first interval of the current run."""

    def report(self, start: float, ts: float, quiet: float) -> float:
        """Note a report at ``ts`` of an interval that began at ``start``; the start of the evidence it
        adds (``start`` for a run's first report, else the previous report's time)."""
        if self.last_report is None or ts - self.last_report > quiet or ts < self.last_report:
            self.run_start, since = start, start
        else:
            since = self.last_report
        self.last_report = ts
        return since


class Interval(Protocol):
    """What a rule keeps per key for one interval (see :class:`IntervalTable`)."""

    start: float
    """When the interval began."""

    def restart(self, ts: float) -> None:
        """Begin a new interval at ``ts``, forgetting the last one's counts (a run of reports stays)."""
        ...


S = TypeVar("S", bound=Interval)


class IntervalTable(Generic[S]):
    """Per key, its state for the current interval of ``window_s`` seconds; at most ``max_keys`` keys,
    the least recently seen dropped beyond (counted in :attr:`evicted`).

    Why one table: the flood, SYN and port scan counts each keep bounded per-target state that starts
    over every interval (or when the data clock steps back), and a spoofed flood must not grow it.
    """

    def __init__(self, window_s: float, max_keys: int, new: Callable[[float], S]) -> None:
        self.window_s = float(window_s)
        self.max_keys = int(max_keys)
        self._new = new
        self._table: OrderedDict[Hashable, S] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._table)

    def at(self, key: Hashable, ts: float) -> S:
        """``key``'s state at ``ts`` (made, or restarted when its interval is over), now the most recently seen."""
        table = self._table
        state = table.get(key)
        if state is None:
            state = table[key] = self._new(ts)
            if len(table) > self.max_keys:
                table.popitem(last=False)
                self.evicted += 1
        else:
            table.move_to_end(key)
            if ts - state.start >= self.window_s or ts < state.start:  # a new interval (or the clock went back)
                state.restart(ts)
        return state

    def peek(self, key: Hashable) -> S | None:
        """``key``'s state as it is, if tracked (its recency unchanged)."""
        return self._table.get(key)


class Rule(Protocol):
    """A detector over feature rows (see the module docstring)."""

    name: str

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings raised by ``rows`` (in capture order, with their alert contexts)."""
        ...

    def stats(self) -> dict[str, int]:
        """Counters for health reports."""
        ...


def column_indices(rule: str, wanted: Sequence[str], columns: Sequence[str]) -> list[int]:
    """Where each of the columns a rule reads is in the extractor's ``columns``; a
    :class:`ConfigError` naming ``rules.<rule>`` and the missing ones if any is not there."""
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise ConfigError(f"rules.{rule} reads column(s) {', '.join(missing)}, which the extractor lacks")
    order = list(columns)
    return [order.index(c) for c in wanted]


def check_settings(rule: str, at_least: dict[str, tuple[float, float]], positive: dict[str, float]) -> None:
    """:class:`ConfigError` naming ``rules.<rule>.<key>`` for the first setting out of range:
    ``at_least`` maps a key to (value, lowest allowed), ``positive`` a key to a value that must be > 0."""
    for key, (value, low) in at_least.items():
        if value < low:
            raise ConfigError(f"rules.{rule}.{key} must be at least {low:g}, got {value}")
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"rules.{rule}.{key} must be positive, got {value}")


def build_rules(config: RulesConfig, columns: Sequence[str]) -> list[Rule]:
    """The enabled rules whose input columns ``columns`` (the extractor's) has."""
    from agent.rules.arp_poisoning import ArpPoisoningRule
    from agent.rules.icmp_flood import IcmpFloodRule
    from agent.rules.port_scan import PortScanRule
    from agent.rules.ssh_guessing import SshGuessingRule
    from agent.rules.tcp_flood import TcpFloodRule
    from agent.rules.udp_flood import UdpFloodRule
    from agent.rules.web_attack import WebAttackRule

    rules: list[Rule] = []
    arp = config.arp_poisoning
    if arp.enabled:
        if ArpPoisoningRule.needs(columns):
            rules.append(ArpPoisoningRule.from_config(arp, columns))
        elif "arp.opcode" in columns:  # Ethernet rows without the context columns (CAN has no ARP)
            log.info("rules.arp_poisoning is off: feature kind edge-iiotset-context makes the columns it reads")
    if config.tcp_flood.enabled and TcpFloodRule.needs(columns):
        rules.append(TcpFloodRule.from_config(config.tcp_flood, columns))
    if config.udp_flood.enabled and UdpFloodRule.needs(columns):
        rules.append(UdpFloodRule.from_config(config.udp_flood, columns))
    if config.icmp_flood.enabled and IcmpFloodRule.needs(columns):
        rules.append(IcmpFloodRule.from_config(config.icmp_flood, columns))
    if config.port_scan.enabled and PortScanRule.needs(columns):
        rules.append(PortScanRule.from_config(config.port_scan, columns))
    if config.ssh_guessing.enabled and SshGuessingRule.needs(columns):
        rules.append(SshGuessingRule.from_config(config.ssh_guessing, columns))
    if config.web_attack.enabled and WebAttackRule.needs(columns):
        rules.append(WebAttackRule.from_config(config.web_attack, columns))
    return rules
