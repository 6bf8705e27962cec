"""Alerts: deciding what is worth telling (:mod:`agent.alerts.policy`) and what an alert looks like
(:mod:`agent.alerts.record`, a Suricata-EVE-compatible JSON record described by
``eve-alert.schema.json`` beside this module).
"""

from __future__ import annotations

from pathlib import Path

#: JSON Schema (draft 2020-12) of the alert record, shipped as package data.
SCHEMA_PATH = Path(__file__).resolve().parent / "eve-alert.schema.json"

__all__ = ["SCHEMA_PATH"]
