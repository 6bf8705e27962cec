"""What every detector shares: its findings, its config section's common key, the checks of its
settings and columns, and the bounded per-key tables its evidence is counted in.

A detector reads the rows the extractor already made (one way to compute each feature), and its
findings go through the same alert policy as the model's windows, so they merge with the model's
incidents of the same class, obey the same rate limits and carry the same record layout, marked
with the detector's name in ``edge_ids.rule`` and its evidence in ``edge_ids.evidence``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from agent.errors import ConfigError
from agent.lru import LruTable
from agent.schema import doc


@dataclass(frozen=True)
class Finding:
    """What a detector saw: enough for one alert-policy observation."""

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
    """How long the detector's evidence may go quiet and still belong to the same attack (its own
    window): the incident stays open that long after this finding, so a poisoner that repeats every
    ten seconds is one incident, not one per reply. 0: the policy's merge gap alone."""


@dataclass
class DetectorConfig:
    """The key every detector's config section has; each detector's section subclasses it."""

    enabled: bool = doc("run the detector (where the feature kind makes the columns it reads)", True)


C = TypeVar("C", bound=DetectorConfig)


class Detector(Generic[C]):
    """A detector over feature rows, configured by one section (``Config``) and registered by the
    name of its module (see :mod:`agent.rules`).

    Subclasses set the class attributes, read their settings from :attr:`config` in ``__init__``
    (after ``super().__init__``), and implement :meth:`scan` and :meth:`stats`.
    """

    name: ClassVar[str]
    """The detector's name: its config section ``rules.<name>`` and ``edge_ids.rule`` in alerts."""
    summary: ClassVar[str]
    """One line for the config reference and the README's list."""
    Config: ClassVar[type[DetectorConfig]]
    """Its config section."""
    reads: ClassVar[tuple[str, ...]] = ()
    """Feature columns it reads; it runs on feature kinds that make all of them."""
    family: ClassVar[str | None] = None
    """For a detector that reads a site baseline, the baseline's family (``can``, ``ethernet``); its
    section is then ``baseline.<family>``. None: a rule, configured under ``rules``."""

    def __init__(self, columns: Sequence[str], config: C | None = None, **settings: Any) -> None:
        """:param columns: the extractor's columns. :param config: its section (defaults where None),
        with ``settings`` (key=value) replacing keys of it."""
        base = config if config is not None else self.Config()
        try:
            self.config: C = dataclasses.replace(base, **settings)  # type: ignore[assignment]
        except TypeError as exc:
            raise ConfigError(f"{self.section()}: {exc}") from None
        self.columns = list(columns)

    @classmethod
    def section(cls) -> str:
        """Where its config section is: ``rules.<name>`` or ``baseline.<family>``."""
        return f"baseline.{cls.family}" if cls.family else f"rules.{cls.name}"

    @classmethod
    def needs(cls, columns: Sequence[str]) -> bool:
        """Whether ``columns`` (the extractor's) has everything it reads."""
        return all(c in columns for c in cls.reads)

    @classmethod
    def off_reason(cls, columns: Sequence[str]) -> str | None:
        """Why an enabled detector does not run on ``columns``, worth a log line; None: say nothing
        (rows of another family, where it never runs)."""
        return None

    @classmethod
    def from_config(cls, config: Any, columns: Sequence[str], baseline: Any = None) -> Detector[Any]:
        """Build from its section (``baseline``: the loaded site baseline, for detectors that read one)."""
        return cls(columns, config) if baseline is None else cls(columns, config, baseline=baseline)

    def indices(self, wanted: Sequence[str] | None = None) -> list[int]:
        """Where each column it reads (``wanted``, else :attr:`reads`) is in its columns; a
        :class:`ConfigError` naming its section and the missing ones otherwise."""
        wanted = self.reads if wanted is None else wanted
        missing = [c for c in wanted if c not in self.columns]
        if missing:
            raise ConfigError(f"{self.section()} reads column(s) {', '.join(missing)}, which the extractor lacks")
        return [self.columns.index(c) for c in wanted]

    def check_settings(self, at_least: dict[str, tuple[float, float]], positive: dict[str, float]) -> None:
        """:class:`ConfigError` naming ``<section>.<key>`` for the first setting out of range: ``at_least``
        maps a key to (value, lowest allowed), ``positive`` a key to a value that must be > 0."""
        where = self.section()
        for key, (value, low) in at_least.items():
            if value < low:
                raise ConfigError(f"{where}.{key} must be at least {low:g}, got {value}")
        for key, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{where}.{key} must be positive, got {value}")

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings raised by ``rows`` (in capture order, with their alert contexts)."""
        raise NotImplementedError

    def stats(self) -> dict[str, int]:
        """Counters for health reports."""
        raise NotImplementedError


@dataclass
class ReportRun:
    """Whether a detector's reports about one target belong to one attack: a report within ``quiet``
    seconds of the one before continues its run (one incident), a later one starts a new run.

    Why: detectors report once per interval while an attack goes on; each finding adds the evidence
    since the previous report and says how long the attack has lasted, and the alert policy keeps
    them in one incident.
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
    """What a detector keeps per key for one interval (see :class:`IntervalTable`)."""

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
        self._new = new
        self._table: LruTable[Hashable, S] = LruTable(int(max_keys))

    @property
    def evicted(self) -> int:
        """Keys dropped for lack of room."""
        return self._table.evicted

    def __len__(self) -> int:
        return len(self._table)

    def at(self, key: Hashable, ts: float) -> S:
        """``key``'s state at ``ts`` (made, or restarted when its interval is over), now the most recently seen."""
        table = self._table
        state = table.get(key)
        if state is None:
            state = table[key] = self._new(ts)
            if len(table) > table.max_keys:
                table.evict_oldest()
        else:
            table.move_to_end(key)
            if ts - state.start >= self.window_s or ts < state.start:  # a new interval (or the clock went back)
                state.restart(ts)
        return state

    def peek(self, key: Hashable) -> S | None:
        """``key``'s state as it is, if tracked (its recency unchanged)."""
        return self._table.get(key)
