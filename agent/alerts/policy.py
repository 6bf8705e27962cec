"""The alert policy: which scored windows become alerts, and when they are sent.

What counts: the benign class never alerts; any other class alerts when its probability reaches
its threshold (the bundle's, overridable in config; 0.5 when neither names one). When several
classes pass, the most probable wins. With ``alerts.unknown_enabled``, a window whose top class is
not benign but whose top probability is below ``alerts.unknown_max_probability`` (the model is
unsure: likely traffic it was never trained on) raises an ``Unknown`` alert.

Merging into incidents: windows of the same class from the same key (flow, CAN channel, or the
global stream) whose gap to the incident's last window is at most ``alerts.merge_gap_s`` belong to
one incident with ``first_seen``, ``last_seen`` and ``count``. A plant engineer wants one alert per
attack, not one per window. An incident waits for its next window for the merge gap plus the time
its latest window spanned (at most :data:`MAX_WINDOW_HOLD_S`): on sparse traffic a window of 16
records can span longer than the gap (an ARP poisoner sends one reply every few seconds), and the
next window, which overlaps it, only arrives when enough records have; ending the incident at the
gap alone would end every sparse attack before its second window could confirm it.

When records are sent (the latency/volume trade-off, chosen on purpose):

- ``start``: the FIRST window of a new incident is emitted at once, from ``observe``. Waiting to
  merge would add the merge gap to the time-to-alert, and the target is p99 <= 50 ms from the
  triggering frame to the MQTT publish.
- ``update``: while the incident goes on, one record every ``alerts.realert_interval_s`` (data time)
  with the counts so far, so a long attack stays visible and a subscriber that joined late learns of
  it.
- ``end``: when the incident stops (no window of its class from its key for ``merge_gap_s``, or at
  :meth:`AlertPolicy.flush`), one last record with the final counts, if windows were merged since
  the last record sent (a one-window incident is fully told by its ``start``).

All records of one incident share ``edge_ids.incident_id`` (the ``alert_id`` of its start), so a
SIEM can collapse them; each record still has its own ``alert_id``.

Lingering: once announced, an incident stays open for ``alerts.linger_s`` after its last window (or
its hold, if longer), and a window of its class from its key within that time continues it. Why:
traffic that recurs every few seconds (an SNMP manager polling its devices every 10 s that the model
misreads, a flood that pauses and goes on) would otherwise page a plant engineer once per cycle; one
incident, updated every ``realert_interval_s`` while it recurs, says the same. An incident not yet
announced still ends after its hold, so confirmation still needs its windows close together.

Time is data time (window timestamps), not the wall clock, so replaying a capture gives the same
alerts however fast it runs. When data time steps back by more than the merge gap (captures joined
end to end, a clock set back), open incidents end there and the clock starts again, so windows
years apart never merge into one incident.

A rule's finding (see :mod:`agent.rules`) merges like a window of its class and key, and also
keeps its incident open for the rule's own evidence window (``Finding.quiet_s``): an ARP poisoner
that repeats every ten seconds is one incident, not one per reply.

Confirmation: with ``confirm_windows`` N > 1 (the bundle's value, or ``alerts.confirm_windows``), an
incident's ``start`` is sent only once N windows of its class from its key have been seen within
the merge gap; an incident that goes quiet before that ends silently and is counted
(``incidents_unconfirmed``). Why: a flood, a scan or an ARP-spoofing run spans hundreds of windows,
while one odd window of unfamiliar benign traffic (a protocol the model never saw) is the commonest
false alert; N windows cost N x stride records of latency (a few milliseconds at line rate).
With ``confirm_span`` M > 0 (bundle, or ``alerts.confirm_span_windows``) the N windows must also fall
within M consecutive windows of their key: an attack alerts densely, while a model that misreads a
few percent of a real bus's or network's windows scatters them, and N scattered windows within a
merge gap still add up (a 13 s real vehicle log gave 41 such windows, never more than 2 in a row).

Rate limits: at most ``alerts.rate_limit_per_min`` records per class in any 60 s of data time
(0 = unlimited). A record over the limit is not sent but counted (``suppressed``); the incident goes
on being tracked and its next record carries the number held back in ``edge_ids.suppressed``. This
bounds what a port scan over thousands of flows can push through a slow uplink.

Memory is bounded: at most ``max_incidents`` are open; beyond, the least recently seen is ended
(as if it had gone quiet), so keys an attacker creates cannot grow state without bound.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.alerts.record import UNKNOWN_CLASS, build_alert, default_severity
from agent.config import AlertsConfig
from agent.rules import Finding

log = logging.getLogger(__name__)

#: threshold of a class that neither the bundle nor the config names
DEFAULT_THRESHOLD = 0.5
#: how often (data seconds) open incidents are swept for ones that went quiet
_SWEEP_EVERY_S = 1.0
#: most window duration an incident waits for beyond the merge gap (the windower's default idle
#: timeout: a stream quiet for longer is dropped, so no later window can overlap the last one)
MAX_WINDOW_HOLD_S = 300.0


@dataclass
class _Incident:
    """One ongoing attack: a class seen from one key."""

    cls: str
    first_seen: float
    last_seen: float
    count: int
    score: float
    context: dict[str, Any]
    incident_id: str = ""
    last_sent_ts: float = 0.0
    count_at_last_send: int = 0
    suppressed: int = 0
    announced: bool = False
    #: how long after ``last_seen`` it stays open: the merge gap plus its latest window's duration
    hold: float = 0.0
    #: stream ordinal and start of its latest confirm_windows windows, while it waits for confirmation
    #: within a span
    recent: deque[tuple[int, float]] = field(default_factory=deque)
    #: the rule whose finding merged into it last, and that finding's evidence (None: model windows only)
    rule: str | None = None
    evidence: str | None = None
    #: data time until which a rule's evidence keeps it open however quiet (see Finding.quiet_s)
    rule_until: float = float("-inf")


class AlertPolicy:
    """Turns per-window class probabilities into alert records (see the module docstring).

    Not thread-safe: one scoring thread calls :meth:`observe` and :meth:`flush`; :meth:`stats` may be
    read from another thread (plain int reads).
    """

    def __init__(
        self,
        cfg: AlertsConfig,
        classes: list[str],
        benign_class: str,
        thresholds: Mapping[str, float],
        severity: Mapping[str, int],
        model_name: str,
        model_sha256: str,
        host: str,
        max_incidents: int = 65536,
        confirm_windows: int = 1,
        confirm_span: int = 0,
    ):
        """:param cfg: the ``alerts`` config section.
        :param classes: class names in the model's output order.
        :param benign_class: the class that never alerts.
        :param thresholds: per-class probability thresholds (bundle merged with config).
        :param severity: per-class severity (bundle); ``cfg.severity`` overrides it, defaults fill gaps.
        :param model_name: the bundle's name, written into every alert.
        :param model_sha256: sha256 of the model file, written into every alert.
        :param host: the gateway id (EVE ``host``).
        :param max_incidents: open incidents kept at most; the least recently seen is ended beyond.
        :param confirm_windows: windows of one class from one key before its incident is announced.
        :param confirm_span: when > 0, those windows must fall within this many consecutive windows
            of their key (windows that carry their stream ordinal; others count as before).
        """
        if benign_class not in classes:
            raise ValueError(f"benign class {benign_class!r} is not one of {classes}")
        self.cfg = cfg
        self.classes = list(classes)
        self.benign_class = benign_class
        self.benign_index = self.classes.index(benign_class)
        self.thresholds = np.array(
            [float(thresholds.get(c, DEFAULT_THRESHOLD)) for c in self.classes], dtype=np.float64
        )
        # The benign class can never win: its threshold is above any probability.
        self.thresholds[self.benign_index] = np.inf
        sev: dict[str, int] = {c: default_severity(c) for c in [*self.classes, UNKNOWN_CLASS]}
        sev.update(severity)
        sev.update(cfg.severity)
        self.severity = sev
        self.model_name = model_name
        self.model_sha256 = model_sha256
        self.host = host
        self.max_incidents = max(1, int(max_incidents))
        self.confirm_windows = max(1, int(confirm_windows))
        self.confirm_span = max(0, int(confirm_span))
        self._incidents: OrderedDict[tuple[Hashable, str], _Incident] = OrderedDict()
        self._sent: dict[str, deque[float]] = {}
        self._now = float("-inf")
        self._next_sweep = float("-inf")
        self.windows_observed = 0
        self.windows_alerting = 0
        self.windows_unknown = 0
        self.findings_observed = 0
        self.incidents_opened = 0
        self.incidents_closed = 0
        self.incidents_evicted = 0
        self.incidents_unconfirmed = 0
        self.alerts_emitted = 0
        self.alerts_suppressed = 0
        self.clock_steps_back = 0

    # ---------------------------------------------------------------------------------------------

    def classify(self, probs: np.ndarray) -> tuple[str, float] | None:
        """The class a window alerts for and its probability, or ``None`` (benign or below threshold)."""
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        over = p >= self.thresholds
        if over.any():
            idx = int(np.argmax(np.where(over, p, -1.0)))
            return self.classes[idx], float(p[idx])
        if self.cfg.unknown_enabled:
            top = int(np.argmax(p))
            if top != self.benign_index and float(p[top]) < self.cfg.unknown_max_probability:
                self.windows_unknown += 1
                return UNKNOWN_CLASS, float(p[top])
        return None

    def observe(
        self,
        key: Hashable,
        probs: np.ndarray,
        first_ts: float,
        last_ts: float,
        context: Mapping[str, Any],
        index: int = -1,
    ) -> list[dict[str, Any]]:
        """Take one scored window; return the alert records to emit now (often none).

        :param key: the window's stream key (flow, CAN channel, ``"global"``).
        :param probs: class probabilities, shape ``(C,)``, in :attr:`classes` order.
        :param first_ts: time of the window's first record (epoch seconds).
        :param last_ts: time of the window's last record; the policy's clock.
        :param context: 5-tuple or CAN fields of the window (see :func:`build_alert`).
        :param index: the window's ordinal in its stream (``WindowBatch.index``; -1: unknown).
        """
        self.windows_observed += 1
        out = self._advance(last_ts)
        verdict = self.classify(probs)
        if verdict is None:
            return out
        self.windows_alerting += 1
        cls, score = verdict
        self._merge(key, cls, score, first_ts, last_ts, context, out, index=index)
        return out

    def observe_finding(self, finding: Finding, rule: str) -> list[dict[str, Any]]:
        """Take one rule finding (see :mod:`agent.rules`); return the alert records to emit now.

        A finding is already confirmed by its rule's own evidence, so it announces its incident at
        once; otherwise it merges, updates and ends exactly as a window of its class and key.
        """
        self.findings_observed += 1
        out = self._advance(finding.last_ts)
        self._merge(finding.key, finding.cls, 1.0, finding.first_ts, finding.last_ts, finding.context, out,
                    rule=(rule, finding.evidence), rule_until=finding.last_ts + max(0.0, finding.quiet_s))
        return out

    def _advance(self, last_ts: float) -> list[dict[str, Any]]:
        """Move the data clock to ``last_ts``; return the records of incidents that ended meanwhile."""
        out: list[dict[str, Any]] = []
        if last_ts > self._now:
            self._now = last_ts
        elif last_ts < self._now - self.cfg.merge_gap_s:
            self._step_back(last_ts, out)
        if self._now >= self._next_sweep:
            self._next_sweep = self._now + _SWEEP_EVERY_S
            self._sweep(self._now, out)
        return out

    def _merge(
        self,
        key: Hashable,
        cls: str,
        score: float,
        first_ts: float,
        last_ts: float,
        context: Mapping[str, Any],
        out: list[dict[str, Any]],
        index: int = -1,
        rule: tuple[str, str] | None = None,
        rule_until: float = float("-inf"),
    ) -> None:
        """Merge one alerting window or finding into its incident; append the records due."""
        ikey = (key, cls)
        inc = self._incidents.get(ikey)
        if inc is not None and first_ts > inc.rule_until and (
                first_ts - inc.last_seen > self._open_for(inc, self.cfg.merge_gap_s)):
            self._close(ikey, inc, out)
            inc = None
        if inc is None:
            inc = _Incident(cls, first_ts, last_ts, 1, score, dict(context), hold=self._hold(first_ts, last_ts),
                            recent=deque(maxlen=self.confirm_windows))
            self._incidents[ikey] = inc
            if len(self._incidents) > self.max_incidents:
                old_key, old = next(iter(self._incidents.items()))
                self.incidents_evicted += 1
                self._close(old_key, old, out)
        else:
            self._incidents.move_to_end(ikey)
            inc.count += 1
            if rule is not None and not inc.announced:
                # a rule's evidence announces what the model's windows only suspected: the incident
                # starts with that evidence, not with the unconfirmed windows before it
                inc.first_seen = first_ts
            else:
                inc.first_seen = min(inc.first_seen, first_ts)
            inc.last_seen = max(inc.last_seen, last_ts)
            inc.score = max(inc.score, score)
            if rule is not None or inc.rule is None:
                # a rule's finding names the hosts its evidence is about; a model window on a shared
                # stream names whatever frame ended it, so it does not replace a rule's hosts
                inc.context = dict(context)
            inc.hold = self._hold(first_ts, last_ts)
        if rule is not None:
            inc.rule, inc.evidence = rule
            inc.rule_until = max(inc.rule_until, rule_until)
        if inc.announced:
            if last_ts - inc.last_sent_ts >= self.cfg.realert_interval_s:
                self._send(inc, "update", last_ts, out)
            return
        if rule is not None or self._confirmed(inc, index, first_ts):
            inc.announced = True
            self.incidents_opened += 1
            self._send(inc, "start", last_ts, out)

    def _confirmed(self, inc: _Incident, index: int, first_ts: float) -> bool:
        """Whether the window just merged into the unannounced ``inc`` confirms it. Confirmed within a
        span, the incident starts with the first window of the confirming run: windows before it that
        never gathered confirmation are not the attack's."""
        k = self.confirm_windows
        if k == 1:
            return True
        if self.confirm_span <= 0 or index < 0:
            return inc.count >= k
        recent = inc.recent
        if recent and index <= recent[-1][0]:  # the stream started again (evicted, model reloaded)
            recent.clear()
        recent.append((index, first_ts))  # keeps the latest k
        if len(recent) == k and recent[-1][0] - recent[0][0] < self.confirm_span:
            inc.first_seen = recent[0][1]
            return True
        return False

    def flush(self, now: float | None = None) -> list[dict[str, Any]]:
        """Records due without a new window.

        ``now=None`` (end of input, shutdown, reload): every open incident ends and its ``end``
        record is returned. With ``now`` (data time, e.g. from a periodic tick while input is
        quiet): only incidents quiet for longer than the merge gap end.
        """
        out: list[dict[str, Any]] = []
        if now is None:
            for ikey, inc in list(self._incidents.items()):
                self._close(ikey, inc, out)
        else:
            self._now = max(self._now, now)
            self._sweep(now, out)
        return out

    def stats(self) -> dict[str, int]:
        """Counters for health reports."""
        return {
            "windows_observed": self.windows_observed,
            "windows_alerting": self.windows_alerting,
            "windows_unknown": self.windows_unknown,
            "findings_observed": self.findings_observed,
            "incidents_opened": self.incidents_opened,
            "incidents_closed": self.incidents_closed,
            "incidents_evicted": self.incidents_evicted,
            "incidents_unconfirmed": self.incidents_unconfirmed,
            "incidents_open": len(self._incidents),
            "alerts_emitted": self.alerts_emitted,
            "alerts_suppressed": self.alerts_suppressed,
            "clock_steps_back": self.clock_steps_back,
        }

    # ---------------------------------------------------------------------------------------------

    def _step_back(self, now: float, out: list[dict[str, Any]]) -> None:
        """The data clock went back by more than the merge gap (captures joined end to end, a clock
        set back): what is open belongs to another stretch of time and ends, as after a gap, and the
        clock and rate limits start again from ``now``."""
        self.clock_steps_back += 1
        for ikey, inc in list(self._incidents.items()):
            self._close(ikey, inc, out)
        self._sent.clear()
        self._now = self._next_sweep = now

    def _hold(self, first_ts: float, last_ts: float) -> float:
        """How long an incident waits after a window spanning ``first_ts..last_ts`` (see the module doc)."""
        return self.cfg.merge_gap_s + min(max(last_ts - first_ts, 0.0), MAX_WINDOW_HOLD_S)

    def _open_for(self, inc: _Incident, quiet: float) -> float:
        """How long ``inc`` stays open after its last window: ``quiet`` (the merge gap, or its hold),
        and at least ``linger_s`` once announced (see the module docstring)."""
        return max(quiet, self.cfg.linger_s) if inc.announced else quiet

    def _sweep(self, now: float, out: list[dict[str, Any]]) -> None:
        # Every open incident is looked at: holds differ, so recency order is not closing order
        # (at most max_incidents, once per _SWEEP_EVERY_S of data time).
        for ikey, inc in list(self._incidents.items()):
            if now - inc.last_seen > self._open_for(inc, inc.hold) and now > inc.rule_until:
                self._close(ikey, inc, out)

    def _close(self, ikey: tuple[Hashable, str], inc: _Incident, out: list[dict[str, Any]]) -> None:
        self._incidents.pop(ikey, None)
        if not inc.announced:
            self.incidents_unconfirmed += 1
            return
        self.incidents_closed += 1
        if inc.count > inc.count_at_last_send or inc.suppressed:
            # Rate-limited at the policy's clock; stamped with the time the attack was last seen.
            self._send(inc, "end", max(self._now, inc.last_seen), out, event_ts=inc.last_seen)

    def _allowed(self, cls: str, ts: float) -> bool:
        limit = self.cfg.rate_limit_per_min
        if limit <= 0:
            return True
        sent = self._sent.get(cls)
        if sent is None:
            sent = self._sent[cls] = deque()
        while sent and ts - sent[0] >= 60.0:
            sent.popleft()
        if len(sent) >= limit:
            return False
        sent.append(ts)
        return True

    def _send(
        self, inc: _Incident, phase: str, ts: float, out: list[dict[str, Any]], event_ts: float | None = None
    ) -> None:
        # The incident's clock moves on whether or not the record passes the rate limit, so a
        # suppressed incident is retried at the next re-alert interval, not at every window.
        inc.last_sent_ts = ts
        inc.count_at_last_send = inc.count
        if not self._allowed(inc.cls, ts):
            self.alerts_suppressed += 1
            inc.suppressed += 1
            return
        record = build_alert(
            cls=inc.cls,
            score=inc.score,
            severity=self.severity.get(inc.cls, 2),
            first_seen=inc.first_seen,
            last_seen=inc.last_seen,
            count=inc.count,
            model_name=self.model_name,
            model_sha256=self.model_sha256,
            host=self.host,
            context=inc.context,
            incident_id=inc.incident_id,
            phase=phase,
            suppressed=inc.suppressed,
            event_ts=ts if event_ts is None else event_ts,
            rule=inc.rule,
            evidence=inc.evidence,
        )
        if not inc.incident_id:
            inc.incident_id = record["alert_id"]
        inc.suppressed = 0
        self.alerts_emitted += 1
        out.append(record)
