"""Every check a config must pass before the agent scores anything, in one function.

Why one function: ``check-config`` promises to say what a start or a SIGHUP reload would say. When
the checks lived where each value was first used (a port in paho, a range in the rule, a class in
the scoring set-up), check-config passed configs the agent then refused, some with a traceback.
Now :func:`validate` is what ``check-config`` runs and what :func:`agent.runtime.build_scoring`
(startup and reload alike) builds from, so they agree by construction: the same checks, in the
same order, with the same messages.

:func:`check_values` is the part without I/O (ranges, enums, ports, a source that fits the feature
kind); :func:`validate` adds what needs files: credentials and CA files of enabled features, the
model bundle (it loads, fits the feature kind, knows the classes the thresholds name, its evidence
floors name real columns), the rules built on the extractor's columns and the site baseline (it
loads and fits the feature kind and source).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import AgentConfig, bundle_candidates
from agent.errors import ConfigError

#: feature kinds that read CAN frames; the others read Ethernet frames
CAN_FEATURE_KINDS = ("ciciov2024", "can-temporal")
#: source backends that yield CAN frames; the others yield Ethernet frames
CAN_BACKENDS = ("canbus", "canlog")
#: what to set for each family of input, in messages
FIX_FOR_CAN = "--set features.kind=can-temporal --set model.bundle=ciciov2024-lab (or configs/can.yaml)"
FIX_FOR_ETHERNET = (
    "--set features.kind=edge-iiotset-context --set model.bundle=edge-iiotset-lab (or configs/ethernet.yaml)"
)


@dataclass
class Checked:
    """What validating a config loaded on the way, for the scoring set-up to use rather than reload."""

    bundle: Any
    extractor: Any
    rules: list[Any]
    evidence: dict[str, Any]
    #: the site baseline to detect with (``baseline.path`` or the commissioned one), if any
    baseline: Any = None


def is_can_kind(kind: str) -> bool:
    """Whether feature kind ``kind`` reads CAN frames."""
    return kind in CAN_FEATURE_KINDS


def _at_least(key: str, value: float | None, low: float) -> None:
    if value is not None and value < low:
        raise ConfigError(f"{key}: must be at least {low:g}, got {value}")


def _port(key: str, value: int | None) -> None:
    if value is not None and not 1 <= value <= 65535:
        raise ConfigError(f"{key}: must be a TCP port, 1-65535, got {value}")


def _probability(key: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{key}: must be a probability between 0 and 1, got {value}")


def check_values(cfg: AgentConfig) -> None:
    """The checks that need no file: ports, ranges, registered backends and kinds, and a source that
    yields the records the feature kind reads. Raises :class:`ConfigError` naming the key."""
    from agent.features import FEATURE_KINDS
    from agent.sources import SOURCES

    if cfg.source.backend not in SOURCES:
        raise ConfigError(f"source.backend: unknown capture source {cfg.source.backend!r}; "
                          f"choose one of: {', '.join(SOURCES.names())}")
    if cfg.features.kind not in FEATURE_KINDS:
        raise ConfigError(f"features.kind: unknown feature kind {cfg.features.kind!r}; "
                          f"choose one of: {', '.join(FEATURE_KINDS.names())}")
    can_source = cfg.source.backend in CAN_BACKENDS
    if can_source != is_can_kind(cfg.features.kind):
        reads = "CAN" if is_can_kind(cfg.features.kind) else "Ethernet"
        yields = "CAN" if can_source else "Ethernet"
        fix = FIX_FOR_CAN if can_source else FIX_FOR_ETHERNET
        raise ConfigError(f"features.kind: {cfg.features.kind!r} reads {reads} frames but source.backend "
                          f"{cfg.source.backend!r} yields {yields} frames; set {fix}")
    _port("mqtt.port", cfg.mqtt.port)
    _port("runtime.prometheus_port", cfg.runtime.prometheus_port)
    _at_least("mqtt.keepalive_s", cfg.mqtt.keepalive_s, 1)
    _at_least("mqtt.outbox_max", cfg.mqtt.outbox_max, 1)
    _at_least("source.buffer_size_mb", cfg.source.buffer_size_mb, 1)
    _at_least("source.snaplen", cfg.source.snaplen, 64)
    _at_least("model.threads", cfg.model.threads, 1)
    _at_least("model.batch_size", cfg.model.batch_size, 1)
    _at_least("model.max_wait_ms", cfg.model.max_wait_ms, 0)
    _at_least("model.window_stride", cfg.model.window_stride, 1)
    for cls, value in cfg.model.thresholds.items():
        _probability(f"model.thresholds.{cls}", value)
    _at_least("alerts.confirm_windows", cfg.alerts.confirm_windows, 1)
    _at_least("alerts.confirm_span_windows", cfg.alerts.confirm_span_windows, 0)
    _at_least("alerts.rate_limit_per_min", cfg.alerts.rate_limit_per_min, 0)
    _at_least("alerts.merge_gap_s", cfg.alerts.merge_gap_s, 0)
    _at_least("alerts.linger_s", cfg.alerts.linger_s, 0)
    _probability("alerts.unknown_max_probability", cfg.alerts.unknown_max_probability)
    for cls, severity in cfg.alerts.severity.items():
        if not 1 <= severity <= 4:  # Suricata's priorities, as the EVE schema allows them
            raise ConfigError(f"alerts.severity.{cls}: must be 1 (highest) to 4, got {severity}")
    _at_least("runtime.queue_size", cfg.runtime.queue_size, 1)
    for key in ("max_tcp_streams", "max_udp_streams", "max_dns_transactions", "max_hosts", "can_max_ids"):
        _at_least(f"features.{key}", getattr(cfg.features, key), 1)
    if cfg.mqtt.tls.key_file and not cfg.mqtt.tls.cert_file:
        raise ConfigError("mqtt.tls.key_file is set but mqtt.tls.cert_file is not; give both or neither")


def check_files(cfg: AgentConfig) -> None:
    """Credential and CA files of the features that are on must be readable (the MQTT sink's own
    readers run, so the messages are the ones a start would give)."""
    if not cfg.mqtt.enabled:
        return
    from agent.sinks.mqtt import read_password, tls_context

    read_password(cfg.mqtt)
    tls_context(cfg.mqtt)


def validate(cfg: AgentConfig, extractor: Any = None, with_sinks: bool = True) -> Checked:
    """Every check a start or reload makes, before anything runs; what was loaded is returned.

    :param extractor: a feature extractor to build the rules on (a reload keeps the running one when
        the feature settings are unchanged); a new one from ``cfg.features`` when not given.
    :param with_sinks: False when no alert is delivered (``learn``): the sinks' files are not needed.
    :raises agent.errors.EdgeIdsError: a :class:`ConfigError` naming the key, a ``BundleError`` or a
        ``DeliveryError``; the message says how to fix it.
    """
    from agent.baseline import site_baseline
    from agent.bundle import load_bundle
    from agent.evidence import merged_floors
    from agent.features import FEATURE_KINDS
    from agent.rules import build_rules

    check_values(cfg)
    if with_sinks:
        check_files(cfg)
    if not Path(cfg.model.bundle).is_dir():
        looked = ", ".join(str(p) for p in bundle_candidates(cfg.model.bundle))
        raise ConfigError(f"model.bundle: {cfg.model.bundle}: no such model bundle directory (looked in {looked}); "
                          "give a bundle directory, a path relative to the config file, or a bundled model's name "
                          "(edge-iiotset-lab, ciciov2024-lab)")
    bundle = load_bundle(cfg.model.bundle, feature_kind=cfg.features.kind)
    m = bundle.manifest
    unknown = [k for k in cfg.model.thresholds if k not in m.classes]
    if unknown:
        raise ConfigError(
            f"model.thresholds: class(es) {', '.join(unknown)} are not in bundle {m.name!r} "
            f"(classes: {', '.join(m.classes)})"
        )
    evidence = merged_floors(m, cfg.model.evidence)
    if extractor is None:
        extractor = FEATURE_KINDS.load(cfg.features.kind).from_config(cfg.features)
    rules = build_rules(cfg.rules, list(extractor.columns))
    baseline = site_baseline(cfg)
    return Checked(bundle=bundle, extractor=extractor, rules=rules, evidence=evidence, baseline=baseline)
