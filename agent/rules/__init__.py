"""Detectors beside the model: exact rules, and the detectors that read a learned site baseline,
registered by name.

Why detectors at all: some attacks leave evidence that needs no model and that a model, which scores
windows of records, sees too late. An ARP poisoner that sends one forged reply every two seconds on
a quiet segment fills a 16-record window only after half a minute, and a short run of forged
replies never fills one; yet three replies nobody asked for, each claiming the same address, are
proof enough (arpwatch and Snort's ARP inspection have reported this for decades). What they share
is in :mod:`agent.rules.base`.

How they are found (the pattern of python-can's ``BACKENDS`` and its entry points): every public
module of this package is one detector, named after the module, whose ``DETECTOR`` attribute is its
class; a site's own package adds detectors through the ``edge_ids.detectors`` entry point group
(``name = "package.module:Class"``). A module is imported when the config is built, which is also
when a broken one is reported. Each detector owns its config section (``rules.<name>``; a baseline
detector ``baseline.<family>``), and the config reference and README's list are generated from here.
"""

from __future__ import annotations

import dataclasses
import logging
import pkgutil
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from agent.errors import BackendError
from agent.registry import Registry
from agent.rules.base import Detector, DetectorConfig, Finding, IntervalTable, ReportRun
from agent.schema import doc

__all__ = ["DETECTORS", "Detector", "DetectorConfig", "Finding", "IntervalTable", "ReportRun", "build_rules",
           "detector_classes", "detector_list", "rules_section"]

log = logging.getLogger(__name__)

#: entry point group through which other packages add detectors
ENTRY_POINT_GROUP = "edge_ids.detectors"


def _entries() -> dict[str, tuple[str, str]]:
    """name -> (module, attribute): this package's public modules, then entry points (which may not
    replace a built-in detector)."""
    found = {m.name: (f"{__name__}.{m.name}", "DETECTOR") for m in pkgutil.iter_modules(__path__)
             if not m.name.startswith("_") and m.name != "base"}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        module, _, attribute = ep.value.partition(":")
        if ep.name in found:
            log.warning("detector %r of entry point %s is built in; the built-in one is used", ep.name, ep.value)
            continue
        found[ep.name] = (module.strip(), attribute.strip() or "DETECTOR")
    return found


#: every detector, by name
DETECTORS: Registry[type[Detector[Any]]] = Registry("detector", _entries())


def detector_classes(names: Sequence[str] | None = None) -> list[type[Detector[Any]]]:
    """The registered detectors (``names``, else all), imported, in name order; a
    :class:`~agent.errors.BackendError` naming a detector whose module cannot be imported or is not one."""
    out = []
    for name in DETECTORS.names() if names is None else names:
        cls = DETECTORS.load(name)
        if not (isinstance(cls, type) and issubclass(cls, Detector)) or cls.name != name:
            raise BackendError(f"detector {name!r}: {cls!r} is not a Detector subclass named {name!r}")
        out.append(cls)
    return out


def _importable() -> list[type[Detector[Any]]]:
    """The detectors that import; one that does not is left out here and reported, naming it, when
    the rules are built (:func:`build_rules`), so a broken plugin stops a start, not every command."""
    out = []
    for name in DETECTORS.names():
        try:
            out.extend(detector_classes([name]))
        except BackendError as exc:
            log.debug("detector %s left out of the config schema: %s", name, exc)
    return out


def rules_section() -> type:
    """The ``rules`` config section: one subsection per registered rule (detectors that read no baseline)."""
    fields = [(d.name, d.Config, doc(d.summary, factory=d.Config)) for d in _importable() if d.family is None]
    return dataclasses.make_dataclass(
        "RulesConfig", fields,
        namespace={"__doc__": "Exact detectors that run beside the model on the same feature rows."})


def build_rules(config: Any, columns: Sequence[str]) -> list[Detector[Any]]:
    """The enabled rules (``config``: the ``rules`` section) whose input columns ``columns`` (the
    extractor's) has, in name order."""
    out: list[Detector[Any]] = []
    for d in detector_classes():
        if d.family is not None:
            continue
        section = getattr(config, d.name)
        if not section.enabled:
            continue
        if d.needs(columns):
            out.append(d.from_config(section, columns))
        elif (why := d.off_reason(columns)) is not None:
            log.info("rules.%s is off: %s", d.name, why)
    return out


def detector_list() -> str:
    """The Markdown list of detectors README carries (``edge-ids-agent config-docs --check`` keeps it current)."""
    return "\n".join(f"- `{d.name}` (`{d.section()}`): {d.summary}" for d in detector_classes()) + "\n"
