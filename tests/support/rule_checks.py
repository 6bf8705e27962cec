"""What every rule's tests do the same way: run crafted packets through the context extractor and
the rule; check that its config section switches it on and off and names a bad setting; and replay
a capture holding its attack through the shipped Ethernet bundle, which must raise its finding as an
alert."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from scapy.utils import wrpcap

from agent.config import load_config
from agent.errors import ConfigError
from agent.features.host_context import HostContextExtractor
from agent.records import Frame
from agent.rules import Detector, Finding, build_rules

REPO = Path(__file__).resolve().parents[2]
R = TypeVar("R", bound=Detector[Any])


def frames(packets: list[Any]) -> list[Frame]:
    """scapy packets as the agent's Ethernet frames."""
    out = []
    for p in packets:
        data = bytes(p)
        out.append(Frame(float(p.time), data, 1, len(data)))
    return out


def run_rule(rule_class: Callable[..., R], packets: list[Any], **settings: Any) -> tuple[list[Finding], R]:
    """``packets``, in time order, through the context extractor and a rule of ``rule_class`` built
    with ``settings``: its findings, and the rule (for its counters)."""
    ext = HostContextExtractor()
    rule = rule_class(ext.columns, **settings)
    rows, ctxs = zip(*ext.rows_with_context(frames(sorted(packets, key=lambda p: float(p.time)))), strict=True)
    return rule.scan(rows, ctxs), rule


def check_rule_config(name: str, bad: Sequence[tuple[str, str]]) -> None:
    """``rules.<name>`` is built by default, not when disabled, and each (key, value) of ``bad`` is
    refused with an error naming ``rules.<name>.<key>``."""
    assert name in [r.name for r in build_rules(load_config(None, []).rules, HostContextExtractor.columns)]
    off = load_config(None, [f"rules.{name}.enabled=false"])
    assert name not in [r.name for r in build_rules(off.rules, HostContextExtractor.columns)]
    for key, value in bad:
        config = load_config(None, [f"rules.{name}.{key}={value}"])
        with pytest.raises(ConfigError, match=rf"rules\.{name}\.{key}"):
            build_rules(config.rules, HostContextExtractor.columns)


def replay_rule(tmp_path: Path, packets: list[Any], rule: str) -> tuple[list[dict[str, Any]], dict[str, Any],
                                                                      list[dict[str, Any]]]:
    """``packets`` (in time order) as a pcap replayed through the shipped Ethernet bundle: every alert,
    the replay's counters, and the alerts of ``rule``'s incidents (at least one, or the test fails)."""
    from trainer.lab.replay import replay_alerts
    from trainer.lab.sessions import PLANS

    capture = tmp_path / f"{rule}.pcap"
    wrpcap(str(capture), sorted(packets, key=lambda p: float(p.time)))
    plan = PLANS["ethernet"]
    alerts, stats = replay_alerts(plan, REPO / "models" / plan.name, capture)
    by_rule = [a for a in alerts if a["edge_ids"].get("rule") == rule]
    assert by_rule, f"no {rule} alert: {[a['edge_ids']['class'] for a in alerts]}"
    return alerts, stats, by_rule


def incidents_of(alerts: list[dict[str, Any]], cls: str) -> int:
    """How many incidents of class ``cls`` ``alerts`` hold."""
    from trainer.lab.replay import incidents

    return len([v for v in incidents(alerts).values() if v["class"] == cls])
