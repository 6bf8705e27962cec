"""Alert sinks: where alert records go (MQTT with an on-disk outbox, a rotating JSONL file, the console).

Every sink follows :class:`Sink`. ``emit`` is called from the scoring thread, so it must return
quickly: the JSONL and console sinks write one line; the MQTT sink stores the alert in its sqlite
outbox and hands it to the network thread, never waiting for the broker. Sinks are registered by
name in :data:`SINKS` (imported only when used, like capture sources), and :func:`build_sinks`
builds every sink a config enables, so several can run at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from agent.config import AgentConfig
from agent.registry import Registry

HealthProvider = Callable[[], Mapping[str, Any]]


@runtime_checkable
class Sink(Protocol):
    """What every alert sink provides."""

    name: str

    def emit(self, alert: dict[str, Any]) -> None:
        """Take one alert record; must not block the scoring loop for long."""

    def flush(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for what was emitted to be delivered; True when all of it was."""

    def stats(self) -> dict[str, int]:
        """Counters for health reports."""

    def close(self) -> None:
        """Release files and connections (after :meth:`flush`; undelivered MQTT alerts stay stored)."""


class SinkFactory(Protocol):
    """A sink class: built from the whole config (sinks need ``site``, ``gateway_id``, ``state_dir``)."""

    @classmethod
    def from_config(cls, cfg: AgentConfig, **kwargs: Any) -> Sink: ...


SINKS: Registry[SinkFactory] = Registry(
    "alert sink",
    {
        "console": ("agent.sinks.console", "ConsoleSink"),
        "jsonl": ("agent.sinks.jsonl", "JsonlSink"),
        "mqtt": ("agent.sinks.mqtt", "MqttSink"),
    },
    {"mqtt": "paho-mqtt>=2.0"},
)


def enabled_sinks(cfg: AgentConfig, jsonl_path: str | None = None) -> list[str]:
    """Names of the sinks ``cfg`` enables (``jsonl_path`` enables the JSONL sink on its own)."""
    names = []
    if cfg.mqtt.enabled:
        names.append("mqtt")
    if cfg.sinks.jsonl.path or jsonl_path:
        names.append("jsonl")
    if cfg.sinks.console:
        names.append("console")
    return names


def build_sinks(
    cfg: AgentConfig,
    *,
    health_provider: HealthProvider | None = None,
    jsonl_path: str | None = None,
    names: list[str] | None = None,
) -> list[Sink]:
    """Build every sink the config enables, in a fixed order (mqtt, jsonl, console).

    :param health_provider: called by the MQTT sink every ``mqtt.health_interval_s`` for the
        runtime's counters, published on ``<prefix>/<site>/<gateway>/health``.
    :param jsonl_path: a JSONL file to write besides (or instead of) ``sinks.jsonl.path``
        (``replay --jsonl OUT``); it gets the configured rotation settings.
    :param names: build exactly these sinks instead of the ones the config enables.
    :raises agent.errors.DeliveryError: a sink cannot be set up (unreadable password file, TLS files
        missing, unwritable state directory or JSONL path).
    """
    chosen = enabled_sinks(cfg, jsonl_path) if names is None else list(names)
    sinks: list[Sink] = []
    try:
        for name in chosen:
            factory = SINKS.load(name)
            if name == "mqtt":
                sinks.append(factory.from_config(cfg, health_provider=health_provider))
            elif name == "jsonl":
                paths = [p for p in (cfg.sinks.jsonl.path, jsonl_path) if p]
                for path in dict.fromkeys(paths):
                    sinks.append(factory.from_config(cfg, path=path))
            else:
                sinks.append(factory.from_config(cfg))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks


__all__ = ["SINKS", "HealthProvider", "Sink", "build_sinks", "enabled_sinks"]
