"""The detection pipeline: source -> features -> preprocessing -> windows -> scorer -> policy -> sinks.

Threads: capture (:mod:`agent.runtime.capture`) reads the source and hands batches over a bounded
queue; the scoring thread extracts features, preprocesses, windows and scores them in batches, feeds
probabilities to the alert policy and emits alerts to every sink; the caller's thread (the main
thread of ``run``/``replay``) supervises: it handles signals, reloads, and the shutdown sequence.

Reload (SIGHUP) is atomic: the new config, bundle, scorer, policy and sinks are all built *before*
anything is swapped, in the supervising thread while scoring goes on; if any of that fails the
reload is refused, logged, counted, and the old pipeline keeps running. The swap itself happens in
the scoring thread between two batches: the old policy is flushed to the old sinks (merged alerts
in progress are not lost), and old sinks are flushed and closed only when they are replaced, so an
MQTT outbox keeps its stored alerts on disk for the new sink to resend.

Shutdown (SIGTERM/SIGINT) is bounded: capture stops, what is already queued is scored while time
allows, the policy is flushed, and sinks get the rest of a 5 s budget to flush before they close.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from agent.alerts.policy import DEFAULT_THRESHOLD
from agent.config import AgentConfig
from agent.errors import EdgeIdsError
from agent.rules import Finding
from agent.runtime.capture import END, Batcher, CaptureThread, Pacer
from agent.runtime.counters import Counters, prometheus_text
from agent.windows import WindowBatch, Windower

log = logging.getLogger(__name__)

#: records per capture batch: large enough to amortise the queue, small enough for latency
CAPTURE_BATCH = 512
#: batches a file replayed with back-pressure may hold ready for scoring. Why so few: the reader
#: outruns scoring, so any queue fills up, and ``runtime.queue_size`` (sized for live bursts) held
#: 65,536 frames of a replayed file in memory at once (30 MB of mixed traffic) for no gain in speed:
#: the reader waits either way, and two batches ready keep scoring busy
REPLAY_QUEUE_BATCHES = 4


@dataclass
class Scoring:
    """Everything between a record and an emitted alert; swapped as one unit on reload."""

    cfg: AgentConfig
    extractor: Any
    preprocessor: Any
    windower: Windower
    scorer: Any
    policy: Any
    sinks: list[Any]
    classes: list[str]
    benign_class: str
    thresholds: dict[str, float] = field(default_factory=dict)
    model_name: str = ""
    context_fields: Sequence[str] = ()
    #: rules run beside the model on the same rows (see :mod:`agent.rules`)
    rules: list[Any] = field(default_factory=list)
    #: keeps a row for the model (the bundle's ``window.records``; ``None``: every row)
    keep: Callable[[Sequence[Any]], bool] | None = None
    #: the site baseline its detector reads (see :mod:`agent.baseline`), if any
    baseline: Any = None
    #: learning the site while commissioning (``baseline.commission_s``), if so
    learning: Any = None

    def close_sinks(self, timeout_s: float) -> bool:
        """Flush and close every sink within ``timeout_s`` in all; True when all flushed."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        ok = True
        for sink in self.sinks:
            try:
                ok = bool(sink.flush(max(0.0, deadline - time.monotonic()))) and ok
            except Exception as exc:  # noqa: BLE001 - one failing sink must not keep others open
                log.error("sink %s failed to flush: %s", type(sink).__name__, exc)
                ok = False
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001
                log.error("sink %s failed to close: %s", type(sink).__name__, exc)
        return ok


SourceFactory = Callable[[AgentConfig], Any]
ScoringFactory = Callable[[AgentConfig, "Scoring | None", Counters], Scoring]


def open_source(cfg: AgentConfig) -> Any:
    """The configured record source (imported lazily from the registry)."""
    from agent.sources import SOURCES

    backend = SOURCES.load(cfg.source.backend)
    return backend.from_config(cfg.source)


def merged_thresholds(manifest: Any, cfg: AgentConfig, baseline: Any = None) -> dict[str, float]:
    """The bundle's per-class thresholds, raised where the site baseline calibrated them, with the
    config's overrides on top."""
    thresholds = dict(getattr(manifest, "thresholds", {}) or {})
    if baseline is not None and cfg.baseline.calibrate_model:
        thresholds.update({c: t for c, t in baseline.thresholds.items() if c in manifest.classes})
    thresholds.update(cfg.model.thresholds)
    return thresholds




def build_scoring(
    cfg: AgentConfig,
    previous: Scoring | None,
    counters: Counters,
    extra_sinks: Sequence[Any] = (),
    jsonl_path: str | None = None,
    with_sinks: bool = True,
) -> Scoring:
    """Build the scoring half from a config: bundle, extractor, preprocessor, windower, scorer, policy, sinks.

    ``previous`` (on reload) lends what has not changed: the feature extractor keeps its flow state
    when the feature settings are the same, and the sinks are kept when their settings are the same
    (so the MQTT session and outbox continue). ``extra_sinks`` are added as they are; ``jsonl_path``
    is an extra JSONL file (``replay --jsonl``); ``with_sinks`` False builds none (learning). Raises
    on any problem, before anything is swapped.
    """
    from agent.alerts.policy import AlertPolicy
    from agent.features import record_filter
    from agent.preprocess import Preprocessor
    from agent.scorer import Scorer
    from agent.sinks import build_sinks
    from agent.validate import validate

    # the feature extractor keeps its flow state across a reload that leaves its settings alone
    kept = previous.extractor if previous is not None and previous.cfg.features == cfg.features else None
    checked = validate(cfg, extractor=kept, with_sinks=with_sinks)
    m = checked.bundle.manifest
    span = cfg.alerts.confirm_span_windows
    extractor = checked.extractor
    if previous is not None and previous.extractor is extractor and previous.cfg.rules == cfg.rules:
        rules = previous.rules  # their evidence so far goes on with the extractor's state
    else:
        rules = checked.rules
    baseline = checked.baseline
    learning = None
    if baseline is not None:
        from agent.baseline import build_detector

        detector = build_detector(baseline, cfg.baseline, list(extractor.columns))
        if detector is not None:
            rules = [r for r in rules if r.name != detector.name] + [detector]
    elif cfg.baseline.commission_s > 0:
        if previous is not None and previous.learning is not None and previous.extractor is extractor:
            learning = previous.learning  # a reload while commissioning goes on learning
        else:
            from agent.baseline.learning import BaselineLearning

            learning = BaselineLearning(cfg.features.kind, list(extractor.columns), dataclasses.asdict(cfg.source))
            learning.start_input(cfg.source.path or cfg.source.interface or str(cfg.source.can.get("channel", "")))
    context_fields = tuple(getattr(extractor, "context_fields", ()))
    preprocessor = Preprocessor.from_manifest(m, list(extractor.columns))
    windower = Windower.from_manifest(
        m,
        context_fields,
        max_keys=max(cfg.features.max_tcp_streams, cfg.features.can_max_ids),
        idle_timeout_s=cfg.features.stream_idle_timeout_s,
        stride=getattr(cfg.model, "window_stride", None),
    )
    scorer = Scorer(checked.bundle, threads=cfg.model.threads, max_batch=max(1, cfg.model.batch_size),
                    evidence=checked.evidence)
    thresholds = merged_thresholds(m, cfg, baseline)
    severity = dict(m.severity)
    severity.update(cfg.alerts.severity)
    policy = AlertPolicy(
        cfg.alerts,
        list(m.classes),
        m.benign_class,
        thresholds,
        severity,
        m.name,
        m.model_sha256,
        cfg.gateway_id,
        confirm_windows=cfg.alerts.confirm_windows or m.confirm_windows,
        confirm_span=m.confirm_span if span is None else span,
    )
    same_sinks = previous is not None and _sink_settings(previous.cfg) == _sink_settings(cfg)
    if not with_sinks:
        sinks = list(extra_sinks)
    elif same_sinks and previous is not None:
        sinks = previous.sinks
    else:
        sinks = [*build_sinks(cfg, health_provider=counters.snapshot, jsonl_path=jsonl_path), *extra_sinks]
    return Scoring(
        cfg=cfg,
        extractor=extractor,
        preprocessor=preprocessor,
        windower=windower,
        scorer=scorer,
        policy=policy,
        sinks=list(sinks),
        classes=list(m.classes),
        benign_class=m.benign_class,
        thresholds=thresholds,
        model_name=m.name,
        context_fields=context_fields,
        rules=rules,
        keep=record_filter(m.window.records),
        baseline=baseline,
        learning=learning,
    )


def _sink_settings(cfg: AgentConfig) -> tuple[Any, ...]:
    return (cfg.mqtt, cfg.sinks, cfg.site, cfg.gateway_id, cfg.state_dir)


class Pipeline:
    """Capture, scoring and their supervision for one agent.

    :param cfg: the agent config.
    :param mode: ``"drop"`` (live, paced replay) or ``"block"`` (back-pressure for file replay).
    :param pacer: optional pacing of a replayed file.
    :param source_factory: builds the source from a config (tests inject fakes).
    :param scoring_factory: builds the scoring half from a config (tests inject fakes).
    :param on_ready: called once the model is loaded and capture is open (``READY=1``).
    :param on_iteration: called from every scoring-loop iteration, busy or idle (the watchdog ping).
    :param drain_timeout_s: at the end of a finite input, how long sinks may take to flush.
    """

    def __init__(
        self,
        cfg: AgentConfig,
        mode: Literal["drop", "block"] = "drop",
        pacer: Pacer | None = None,
        source_factory: SourceFactory = open_source,
        scoring_factory: ScoringFactory = build_scoring,
        on_ready: Callable[[], None] | None = None,
        on_iteration: Callable[[], None] | None = None,
        drain_timeout_s: float | None = None,
    ):
        self.cfg = cfg
        self.mode = mode
        self.pacer = pacer
        self.source_factory = source_factory
        self.scoring_factory = scoring_factory
        self.on_ready = on_ready
        self.on_iteration = on_iteration
        self.drain_timeout_s = cfg.mqtt.drain_grace_s if drain_timeout_s is None else drain_timeout_s
        self.counters = Counters(cfg.runtime.memory_limit_mb)
        batch = max(1, min(CAPTURE_BATCH, cfg.runtime.queue_size))
        # live (drop), a partial batch waits at most max_wait_ms (latency); a file replayed with
        # back-pressure (block) is cut in full batches only, so its batches, and so what the rules see
        # of a batch before its windows, depend on the file alone (the result is reproducible)
        self.batcher = Batcher(batch, cfg.model.max_wait_ms / 1000.0 if mode == "drop" else math.inf)
        batches = max(1, cfg.runtime.queue_size // batch)
        if mode == "block":
            batches = min(batches, REPLAY_QUEUE_BATCHES)
        self.queue: queue.Queue[Sequence[Any] | None] = queue.Queue(maxsize=batches)
        self.counters.queue_capacity = self.queue.maxsize * batch
        self.source: Any = None
        self.scoring: Scoring | None = None
        self.capture: CaptureThread | None = None
        self._scoring_thread: threading.Thread | None = None
        self._pending: Scoring | None = None
        self._pending_lock = threading.Lock()
        self._stop_scoring = threading.Event()
        self._score_deadline: float | None = None
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._finalized = False
        self._source_closed = False
        self._data_ts: float | None = None
        self._data_mono = 0.0
        self._metrics: Any = None

    # ------------------------------------------------------------------------------------------
    # lifecycle
    def start(self) -> Pipeline:
        """Load the model, open capture, start the threads, then call ``on_ready``."""
        self.scoring = self.scoring_factory(self.cfg, None, self.counters)
        try:
            self.source = self.source_factory(self.cfg)
        except BaseException:
            self.scoring.close_sinks(1.0)
            raise
        self._install_providers()
        self.capture = CaptureThread(self.source, self.queue, self.batcher, self.counters, self.mode, self.pacer)
        self._scoring_thread = threading.Thread(target=self._score_loop, name="scoring", daemon=True)
        self._scoring_thread.start()
        self.capture.start()
        if self.cfg.runtime.prometheus_port is not None:
            from agent.runtime.prometheus import MetricsServer

            self._metrics = MetricsServer(
                self.cfg.runtime.prometheus_port, lambda: prometheus_text(self.counters.snapshot())
            ).start()
        log.info(
            "pipeline started",
            extra={"model": self.scoring.model_name, "source": self.cfg.source.backend, "mode": self.mode},
        )
        if self.on_ready is not None:
            self.on_ready()
        return self

    @property
    def metrics_port(self) -> int | None:
        """The port the Prometheus endpoint listens on (``None`` when it is off or not started); with
        ``runtime.prometheus_port: 0`` the system picks it."""
        return None if self._metrics is None else int(self._metrics.port)

    def _install_providers(self) -> None:
        p = self.counters.providers
        p["source"] = lambda: _stats_of(self.source)
        p["features"] = lambda: _stats_of(self.scoring.extractor if self.scoring else None)
        p["windows"] = lambda: self.scoring.windower.stats() if self.scoring else {}
        p["scorer"] = lambda: _stats_of(self.scoring.scorer if self.scoring else None)
        p["policy"] = lambda: _stats_of(self.scoring.policy if self.scoring else None)
        p["rules"] = lambda: {k: v for r in (self.scoring.rules if self.scoring else ()) for k, v in r.stats().items()}
        p["sinks"] = self._sink_stats

    def _sink_stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for sink in self.scoring.sinks if self.scoring else []:
            for key, value in _stats_of(sink).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[key] = out.get(key, 0) + value
        return out

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the input is exhausted and scored (or the pipeline stopped); True if so."""
        return self.done.wait(timeout)

    def stop(self, budget_s: float = 5.0) -> bool:
        """Stop within ``budget_s``: stop capture, score what is queued while time allows, flush the
        policy, flush and close sinks. Returns True when every sink flushed."""
        t0 = time.monotonic()
        if self.capture is not None:
            self.capture.stop_event.set()
            if not self.capture.finished:
                self._close_source()  # unblocks a live source's read
        # Score the backlog for at most a third of the budget, keep the rest for the sinks.
        self._score_deadline = t0 + budget_s / 3
        self._stop_scoring.set()
        if self._scoring_thread is not None:
            self._scoring_thread.join(max(0.0, budget_s / 3 + 0.2))
        return self._finalize(max(0.1, budget_s - (time.monotonic() - t0) - 0.2))

    def finish(self) -> bool:
        """After the input is done: flush the policy and give sinks ``drain_timeout_s`` to deliver."""
        if self._scoring_thread is not None:
            self._scoring_thread.join()
        return self._finalize(self.drain_timeout_s)

    def _finalize(self, sink_timeout_s: float) -> bool:
        if self._finalized:
            return True
        self._finalized = True
        ok = True
        sc = self.scoring
        if sc is not None:
            try:
                self._emit(sc, sc.policy.flush())
            except Exception as exc:  # noqa: BLE001 - still close the sinks below
                log.error("flushing the alert policy: %s", exc)
            ok = sc.close_sinks(sink_timeout_s)
        self._close_source()
        if self._metrics is not None:
            self._metrics.close()
        self.done.set()
        return ok

    def _close_source(self) -> None:
        if self.source is None or self._source_closed:
            return
        self._source_closed = True
        close = getattr(self.source, "close", None)
        if close is None:
            return
        try:
            close()
        except Exception as exc:  # noqa: BLE001 - shutting down anyway
            log.warning("closing the source: %s", exc)

    # ------------------------------------------------------------------------------------------
    # reload
    def reload(self, cfg: AgentConfig) -> bool:
        """Build a new scoring half from ``cfg`` and swap it in between two batches.

        A config or bundle that fails to load is refused (logged with its reason, counted) and the
        running one is kept. Returns True when the new one was accepted.
        """
        current = self._pending or self.scoring
        if cfg.source != self.cfg.source:
            log.error("reload refused: source settings changed; restart the agent to change the capture source")
            self.counters.reloads_refused += 1
            return False
        try:
            new = self.scoring_factory(cfg, current, self.counters)
        except Exception as exc:  # noqa: BLE001 - any failure means: keep the old pipeline
            log.error("reload refused, keeping the running config and model: %s", exc)
            self.counters.reloads_refused += 1
            return False
        with self._pending_lock:
            self._pending = new
        self.cfg = cfg
        self.counters.reloads += 1
        log.info("reload accepted", extra={"model": new.model_name})
        return True

    def _swap_if_pending(self) -> None:
        with self._pending_lock:
            new, self._pending = self._pending, None
        if new is None:
            return
        old = self.scoring
        if old is not None:
            try:
                self._emit(old, old.policy.flush())
            except Exception as exc:  # noqa: BLE001
                log.error("flushing the old alert policy: %s", exc)
            # close only the sinks the new scoring half does not keep (a reload that leaves the sink
            # settings alone hands the very same sink objects on, in a new list)
            retired = [s for s in old.sinks if not any(s is kept for kept in new.sinks)]
            if retired:
                dataclasses.replace(old, sinks=retired).close_sinks(5.0)
        self.scoring = new

    # ------------------------------------------------------------------------------------------
    # scoring
    def _score_loop(self) -> None:
        q = self.queue
        c = self.counters
        wait_s = max(0.001, self.cfg.model.max_wait_ms / 1000.0)
        hook = self.on_iteration
        last_flush = time.monotonic()
        try:
            while True:
                if hook is not None:
                    hook()
                self._swap_if_pending()
                if self._stop_scoring.is_set() and (
                    self._score_deadline is None or time.monotonic() > self._score_deadline
                ):
                    break
                try:
                    batch = q.get(timeout=wait_s)
                except queue.Empty:
                    if self._stop_scoring.is_set():
                        break
                    batch = self.batcher.take_stale() or []
                else:
                    if batch is END:
                        break
                    c.dequeued += len(batch)
                if batch:
                    self.process(batch)
                now = time.monotonic()
                if now - last_flush >= 1.0 and self.scoring is not None:
                    last_flush = now
                    self._tick(now)
        except BaseException as exc:
            c.errors += 1
            self.error = exc
            log.exception("scoring stopped")
        finally:
            self._swap_if_pending()
            self.done.set()

    def _tick(self, mono_now: float) -> None:
        """Let the policy end incidents that went quiet, in data time.

        Live, data time runs on with the wall clock while no record arrives; a file replayed with
        back-pressure has no wall-clock meaning, so its data time stands still (deterministic output).
        """
        sc = self.scoring
        if sc is None or self._data_ts is None:
            return
        now = self._data_ts
        if self.mode == "drop":
            now += max(0.0, mono_now - self._data_mono)
        self._emit(sc, sc.policy.flush(now))

    def process(self, records: Sequence[Any]) -> None:
        """Score one batch of records and emit the alerts they raise (the scoring thread's work)."""
        sc = self.scoring
        assert sc is not None
        rows, ctxs = extract(sc.extractor, records)
        if not len(rows):
            return
        listed = listed_rows(sc.extractor, rows) if sc.rules or sc.learning is not None else rows
        # stable sort: each rule's own order is kept
        findings = deque(sorted(((f, rule.name) for rule in sc.rules for f in rule.scan(listed, ctxs)),
                                key=lambda fr: fr[0].last_ts))
        if sc.learning is not None:
            sc.learning.feed(listed, ctxs)
        wb, probs = score_rows(sc, rows, ctxs, self.counters)
        alerts: list[dict[str, Any]] = []
        if sc.learning is not None:
            sc.learning.scores(sc.classes, sc.benign_class, probs, wb.keys, sc.policy.confirm_windows,
                               sc.policy.confirm_span)
            self._commission_if_learned(sc)
        if len(wb) == 0:
            self._observe_findings(sc, findings, float("inf"), alerts)
            self._emit(sc, alerts)
            return
        self._saw_data_time(float(wb.last_ts.max()))
        explained(sc, wb, probs)
        observe = sc.policy.observe
        fields = sc.context_fields
        for i, t in _in_time_order(wb, self._candidates(sc, probs)):
            self._observe_findings(sc, findings, t, alerts)
            alerts.extend(
                observe(
                    wb.keys[i],
                    probs[i],
                    float(wb.first_ts[i]),
                    float(wb.last_ts[i]),
                    dict(zip(fields, wb.contexts[i], strict=False)),
                    int(wb.index[i]),
                )
            )
        self._observe_findings(sc, findings, float("inf"), alerts)
        if alerts:
            self._emit(sc, alerts)

    def _commission_if_learned(self, sc: Scoring) -> None:
        """When the commissioning period is over: store the learned baseline under state_dir and
        switch to detecting with it (the same path as a reload)."""
        learning = sc.learning
        if learning is None or learning.seconds() < self.cfg.baseline.commission_s:
            return
        sc.learning = None
        try:
            from agent.baseline import commissioned_path

            baseline = learning.finish(self.cfg.baseline, merged_thresholds(_manifest_of(sc), self.cfg))
            where = baseline.save(commissioned_path(self.cfg))
            new = self.scoring_factory(self.cfg, sc, self.counters)
        except (OSError, EdgeIdsError) as exc:
            log.error("commissioning: could not store or load the learned baseline: %s", exc)
            return
        log.info("commissioning done: learned %.0f s of traffic; detecting with the baseline in %s "
                 "(review it with 'edge-ids-agent baseline show')", learning.seconds(), where)
        with self._pending_lock:
            self._pending = new

    def _observe_findings(
        self, sc: Scoring, findings: deque[tuple[Finding, str]], until: float, alerts: list[dict[str, Any]]
    ) -> None:
        """Pass the policy the findings (taken from the front of ``findings``) up to data time ``until``.

        Why in time order with the windows: the policy's clock is data time, and a batch can span
        more than the merge gap (a replayed file, a sparse wire); seeing a whole batch's findings
        before its windows would move the clock ahead and back, and a step back ends open incidents.
        """
        while findings and findings[0][0].last_ts <= until:
            finding, rule = findings.popleft()
            alerts.extend(sc.policy.observe_finding(finding, rule))
            self._saw_data_time(finding.last_ts)  # a quiet wire may carry findings and no window

    def _saw_data_time(self, ts: float) -> None:
        """Move the latest data time seen (what :meth:`_tick` runs the policy's clock from) to ``ts``."""
        self._data_ts = ts if self._data_ts is None else max(self._data_ts, ts)
        self._data_mono = time.monotonic()

    @staticmethod
    def _candidates(sc: Scoring, probs: np.ndarray) -> np.ndarray:
        """Indices of windows the policy needs to see.

        Why a pre-filter: most windows are benign and building a context dict per window would cost
        more than the model. A window is passed on when its top class is not benign, or some
        non-benign class reaches its threshold; with "Unknown" alerts on, every window is.
        """
        if sc.cfg.alerts.unknown_enabled:
            return np.arange(len(probs))
        benign = sc.classes.index(sc.benign_class)
        hit = np.argmax(probs, axis=1) != benign
        limits = np.array(
            [np.inf if c == sc.benign_class else sc.thresholds.get(c, DEFAULT_THRESHOLD) for c in sc.classes],
            dtype=np.float32,
        )
        hit |= (probs >= limits).any(axis=1)
        return np.flatnonzero(hit)

    def _emit(self, sc: Scoring, alerts: Sequence[dict[str, Any]]) -> None:
        if not alerts:
            return
        self.counters.alerts_raised += len(alerts)
        for sink in sc.sinks:
            for alert in alerts:
                try:
                    sink.emit(alert)
                except Exception as exc:  # noqa: BLE001 - other sinks still get the alert
                    self.counters.errors += 1
                    log.error("sink %s failed to take an alert: %s", type(sink).__name__, exc)


def extract(extractor: Any, records: Sequence[Any]) -> tuple[Any, Sequence[tuple[Any, ...]]]:
    """Rows and contexts of a batch of records: by the batch (an extractor with ``batch_with_context``
    gives an ``(N, F)`` float64 array and columnar contexts), else row by row."""
    batch = getattr(extractor, "batch_with_context", None)
    if batch is not None:
        return batch(records)
    rows: list[Any] = []
    ctxs: list[tuple[Any, ...]] = []
    for row, ctx in extractor.rows_with_context(records):
        rows.append(row)
        ctxs.append(ctx)
    return rows, ctxs


def listed_rows(extractor: Any, rows: Any) -> Any:
    """Rows as lists of Python values (what rules and learning read), from an extractor's array."""
    return extractor.listed(rows) if isinstance(rows, np.ndarray) else rows


def score_rows(
    sc: Scoring, rows: Sequence[Any], ctxs: Sequence[tuple[Any, ...]], counters: Counters | None = None
) -> tuple[WindowBatch, np.ndarray]:
    """The model's windows cut from ``rows`` (those it keeps) and their class probabilities.

    One function for the pipeline and for learning a baseline, so both see the same scores.
    """
    c = counters if counters is not None else Counters(None)
    if sc.keep is not None:  # rules saw every row; the model sees the rows its windows were cut from
        kept = [i for i, row in enumerate(rows) if sc.keep(row)]
        if len(kept) < len(rows):
            c.records_unscored += len(rows) - len(kept)
            rows = rows[kept] if isinstance(rows, np.ndarray) else [rows[i] for i in kept]
            ctxs = [ctxs[i] for i in kept]
    c.records_scored += len(rows)
    x = sc.preprocessor.transform(rows)  # no rows left: an empty batch, no window
    wb = sc.windower.push(x, ctxs)
    n = len(wb)
    probs = np.empty((n, len(sc.classes)), dtype=np.float32)
    bs = max(1, sc.cfg.model.batch_size)
    for lo in range(0, n, bs):
        t0 = time.perf_counter()
        probs[lo : lo + bs] = sc.scorer.predict_proba(wb.inputs[lo : lo + bs])
        c.inference.add(time.perf_counter() - t0)
        c.batches += 1
    c.windows_scored += n
    return wb, probs


#: share of a window's records that connections carrying an attack fill for it to count as the attack
#: (the share by which the lab labels a window)
WINDOW_SHARE = 0.25


def explained(sc: Scoring, wb: WindowBatch, probs: np.ndarray) -> None:
    """Change, in place, what a rule that reads content knows better than the model's window: a window
    of a class it overrules or vouches for (``rule.overrules``, ``rule.vouches``) whose hosts it
    explains (``rule.explanation``) counts as the class it names (what the model reads as a flood, or as
    another injection, from a client sending XSS is that XSS); a window of a class it vouches for whose
    hosts it found clean (``rule.vouch``) counts as benign, unless a request of an attack fell in or
    near the window (``rule.during``); a web class the hosts do not explain counts as the class of
    the reported client whose request fell there (not a flood's or a login's: one beside an
    injection stays what it is). Where ``rule.confirms``, a window so named reaches at least its
    class's threshold: the content read is the evidence the model's window only leans to. A window
    that connections the rule found carrying a reported attack fill (WINDOW_SHARE of its records or
    more, ``rule.flow_classes``) counts as that attack where its hosts name none, and with
    ``confirms`` even where the model reads it as benign; where a window's connections are known,
    they, not a request fallen within its span, name it."""
    if not len(probs) or "src_ip" not in sc.context_fields:
        return
    fields = list(sc.context_fields)
    src_at, dst_at = fields.index("src_ip"), fields.index("dest_ip")
    benign = sc.classes.index(sc.benign_class)
    top = probs.argmax(axis=1)
    for rule in sc.rules:
        over = [sc.classes.index(c) for c in getattr(rule, "overrules", ()) if c in sc.classes]
        vouchable = (set(getattr(rule, "vouches", ())) | set(getattr(rule, "slow_vouches", ()))) - set(
            getattr(rule, "overrules", ()))
        vouched = [sc.classes.index(c) for c in sorted(vouchable) if c in sc.classes]
        during = getattr(rule, "during", None)
        if not over and not vouched:
            continue
        both = over + vouched
        limits = np.array([sc.thresholds.get(sc.classes[j], DEFAULT_THRESHOLD) for j in both], dtype=np.float32)
        hit = np.flatnonzero((probs[:, both] >= limits).any(axis=1) | np.isin(top, both))
        confirms = getattr(rule, "confirms", False)
        filled = _filled(sc, wb, rule)  # None: the window's connections are unknown to the rule
        for i in hit.tolist():
            ctx, first, ts = wb.contexts[i], float(wb.first_ts[i]), float(wb.last_ts[i])
            cls, reported = rule.explanation(ctx[src_at], ctx[dst_at], ts, first)
            sure = confirms and reported
            leaning = False
            if cls is None and filled is not None and filled[i] >= 0:  # its connections name its attack
                cls, sure = sc.classes[filled[i]], confirms
            if during is not None and (cls is None or cls not in sc.classes):
                # a flood or a login guessed beside an injection stays what it is: only a web class is named
                inside, leaning = during(first, ts, name=cls is None and top[i] not in over and filled is None)
                if cls is None and inside is not None:
                    cls = inside
                    sure = confirms and rule.reported_during(first, ts, cls)
            if cls is not None and cls in sc.classes:
                j = sc.classes.index(cls)
                others = [k for k in both if k != j]
                floor = sc.thresholds.get(cls, DEFAULT_THRESHOLD) if sure else 0.0
                probs[i, j] = max(float(probs[i, j]), float(probs[i, others].max()), floor)
                probs[i, others] = 0.0
            elif vouched and not leaning:
                against = [sc.classes.index(c) for c in rule.vouch(ctx[src_at], ctx[dst_at], ts) if c in sc.classes]
                if against:
                    probs[i, benign] = max(float(probs[i, benign]), float(probs[i, against].max()))
                    probs[i, against] = 0.0
        if not confirms or filled is None:
            continue
        # windows the model reads as benign that the attack's connections fill are the attack
        for i in np.setdiff1d(np.flatnonzero(filled >= 0), hit).tolist():
            j = int(filled[i])
            probs[i, j] = max(float(probs[i, j]), sc.thresholds.get(sc.classes[j], DEFAULT_THRESHOLD))
            probs[i, [k for k in both if k != j]] = 0.0


def _filled(sc: Scoring, wb: WindowBatch, rule: Any) -> np.ndarray | None:
    """Per window, the class (index) of the attack whose connections fill WINDOW_SHARE of its records or
    more (the class filling most), as the rule's ``flow_classes`` names them; -1 for none. None where
    the rule reads no connections or the windows do not carry them."""
    flow_classes = getattr(rule, "flow_classes", None)
    members = wb.flows
    if flow_classes is None or members.ndim != 2 or not members.shape[1]:
        return None
    out = np.full(len(wb), -1, dtype=np.int64)
    found = flow_classes(np.unique(members).tolist())
    if not found:
        return out
    need = max(1, int(np.ceil(WINDOW_SHARE * members.shape[1])))
    best = np.full(len(wb), need - 1, dtype=np.int64)
    for cls in sorted(set(found.values())):
        if cls in sc.classes:
            count = np.isin(members, [f for f, c in found.items() if c == cls]).sum(axis=1)
            more = count > best
            best[more] = count[more]
            out[more] = sc.classes.index(cls)
    return out


def _manifest_of(sc: Scoring) -> Any:
    return sc.scorer.bundle.manifest


def _in_time_order(wb: WindowBatch, candidates: np.ndarray) -> list[tuple[int, float]]:
    """``candidates`` (indices into ``wb``) in data-time order, each with its time.

    Why: a batch's windows come grouped by stream key, so across keys their times go back and forth,
    and the alert policy's clock (data time) would end one key's incidents on another key's later
    windows. A window's time is its last record's, raised to its key's previous window's where a
    capture's own timestamps step back, so each key's windows keep their order.
    """
    if len(candidates) == 0:
        return []
    keys, last = wb.keys, wb.last_ts
    latest: dict[Any, float] = {}
    timed: list[tuple[int, float]] = []
    for i in candidates.tolist():
        k = keys[i]
        t = max(float(last[i]), latest.get(k, float("-inf")))
        latest[k] = t
        timed.append((i, t))
    timed.sort(key=lambda it: it[1])  # stable
    return timed


def _stats_of(obj: Any) -> dict[str, Any]:
    fn = getattr(obj, "stats", None)
    if fn is None:
        return {}
    return dict(fn())


def replace_source(cfg: AgentConfig, **changes: Any) -> AgentConfig:
    """A copy of ``cfg`` with ``source`` fields changed (``replay --input``)."""
    return dataclasses.replace(cfg, source=dataclasses.replace(cfg.source, **changes))
