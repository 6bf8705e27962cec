"""The alert record: Suricata-EVE-compatible JSON, as SIEMs already ingest it.

Why EVE: plant security teams already feed Suricata's ``eve.json`` into their SIEM, so an edge-ids
alert that looks like a Suricata alert (``timestamp``, ``event_type: "alert"``, the 5-tuple,
``alert{signature_id, signature, category, severity}``, ``host``) lands in the same dashboards
without a new parser. What a network signature engine does not have goes into our own objects:
``edge_ids{...}`` (class, score, model and its sha256, first/last seen, window count, incident id and
phase; for incidents a rule confirmed, the rule's name and evidence) and, for CAN buses,
``can{iface, arbitration_id, rate_hz}`` instead of the IP 5-tuple.

Every record carries a unique ``alert_id``: a ULID-like string (48-bit millisecond time + 80 random
bits, Crockford base32, 26 characters). Unique so that a subscriber can de-duplicate what the MQTT
outbox may deliver twice (delivery is at least once); time-ordered so that sorting by id sorts by
creation. ``eve-alert.schema.json`` beside this module describes the record; tests validate every
alert against it.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

#: Suricata signature ids 1,000,000-1,999,999 are for local rules; ours sit at the top of that range.
SID_BASE = 1_900_000
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: IP protocol numbers -> the names Suricata writes in ``proto``.
PROTO_NAMES = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 58: "IPv6-ICMP", 132: "SCTP"}
#: the same names by their upper-case spelling, so a name given in any case is written as Suricata writes it
_NAMES_BY_UPPER = {name.upper(): name for name in PROTO_NAMES.values()}
#: The class name of out-of-distribution alerts (low top-class probability).
UNKNOWN_CLASS = "Unknown"

# (substring of the lower-cased class name, severity, Suricata classtype description). First match wins.
# Severity follows Suricata: 1 is the most severe. Floods, man-in-the-middle, backdoors, ransomware and
# CAN spoofing can stop a plant or a vehicle: 1. Attacks on applications and credentials: 2.
# Reconnaissance: 3.
_CLASS_RULES: tuple[tuple[str, int, str], ...] = (
    ("ddos", 1, "Denial of Service"),
    ("dos", 1, "Denial of Service"),
    ("flood", 1, "Denial of Service"),
    ("mitm", 1, "Man-in-the-Middle Attack"),
    ("arp", 1, "Man-in-the-Middle Attack"),
    ("backdoor", 1, "A Network Trojan was detected"),
    ("ransomware", 1, "A Network Trojan was detected"),
    ("spoof", 1, "Spoofed CAN Frames"),
    ("fuzz", 2, "Fuzzed CAN Frames"),
    ("sql", 2, "Web Application Attack"),
    ("xss", 2, "Web Application Attack"),
    ("injection", 2, "Web Application Attack"),
    ("upload", 2, "Web Application Attack"),
    ("password", 2, "Attempted User Privilege Gain"),
    ("brute", 2, "Attempted User Privilege Gain"),
    ("scan", 3, "Detection of a Network Scan"),
    ("fingerprint", 3, "Attempted Information Leak"),
    ("recon", 3, "Attempted Information Leak"),
    ("unknown", 2, "Unknown Traffic"),
)


def default_severity(cls: str) -> int:
    """Severity of ``cls`` when neither the bundle nor the config names one (1 most severe, 3 least)."""
    lower = cls.lower()
    for needle, severity, _ in _CLASS_RULES:
        if needle in lower:
            return severity
    return 2


def category(cls: str) -> str:
    """Suricata-style classtype description for a class name (``Misc Attack`` when none fits)."""
    lower = cls.lower()
    for needle, _, text in _CLASS_RULES:
        if needle in lower:
            return text
    return "Misc Attack"


def signature_id(cls: str) -> int:
    """A stable signature id per class name: the same class gets the same id from every model and
    gateway, so SIEM rules keyed on ``signature_id`` survive a model update."""
    return SID_BASE + zlib.crc32(cls.encode("utf-8")) % 100_000


def new_alert_id(now: float | None = None) -> str:
    """A 26-character ULID-like id: millisecond time then 80 random bits, Crockford base32."""
    ms = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    out = []
    for _ in range(26):
        out.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(out))


def iso_timestamp(ts: float) -> str:
    """``ts`` (seconds since the epoch) as ISO 8601 with microseconds and a UTC offset (EVE style)."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="microseconds")


def proto_name(proto: Any) -> str | None:
    """``6`` -> ``"TCP"``, ``"ipv6-icmp"`` -> ``"IPv6-ICMP"``; other strings are upper-cased; ``None``
    stays ``None``."""
    if proto is None or proto == "":
        return None
    if isinstance(proto, str):
        if proto.isdigit():
            return PROTO_NAMES.get(int(proto), proto)
        upper = proto.upper()
        return _NAMES_BY_UPPER.get(upper, upper)
    try:
        number = int(proto)
    except (TypeError, ValueError):
        return str(proto)
    return PROTO_NAMES.get(number, str(number))


def _port(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 0 <= port <= 65535 else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text or None


def build_alert(
    *,
    cls: str,
    score: float,
    severity: int,
    first_seen: float,
    last_seen: float,
    count: int,
    model_name: str,
    model_sha256: str,
    host: str,
    context: Mapping[str, Any],
    incident_id: str,
    phase: str,
    suppressed: int = 0,
    event_ts: float | None = None,
    rule: str | None = None,
    evidence: str | None = None,
) -> dict[str, Any]:
    """One EVE alert record.

    :param cls: class name (or ``Unknown``).
    :param score: the class probability (highest seen in the incident so far).
    :param first_seen: start of the incident's first window (epoch seconds).
    :param last_seen: end of the incident's latest window (epoch seconds).
    :param count: windows merged into the incident so far.
    :param context: the IP 5-tuple (``src_ip``, ``src_port``, ``dest_ip``, ``dest_port``, ``proto``,
        ``app_proto``, ``flow_id``; ``icmp_type`` on ICMP and ICMPv6 messages, as Suricata writes it;
        ``src_mac`` where a rule names the sender's MAC address) or CAN
        fields (``iface`` or ``channel``, ``arbitration_id``, optional ``rate_hz``); fields that are
        missing or ``None`` are left out of the record.
    :param incident_id: the ``alert_id`` of the incident's first record; updates repeat it.
    :param phase: ``start`` (first window), ``update`` (re-alert of an ongoing incident) or ``end``.
    :param suppressed: records of this incident held back by the rate limit since the last one sent.
    :param event_ts: the record's ``timestamp``; ``last_seen`` when not given.
    :param rule: the rule (:mod:`agent.rules`) whose finding the incident holds, if any; ``None``
        when only the model's windows made it.
    :param evidence: that finding's evidence, one sentence.
    """
    record: dict[str, Any] = {
        "timestamp": iso_timestamp(last_seen if event_ts is None else event_ts),
        "event_type": "alert",
        "alert_id": new_alert_id(),
    }
    is_can = "arbitration_id" in context and "src_ip" not in context
    if not is_can:
        flow_id = context.get("flow_id")
        if flow_id is not None and flow_id != "":
            record["flow_id"] = flow_id if isinstance(flow_id, int) else str(flow_id)
        for name in ("src_ip", "dest_ip"):
            ip = _text(context.get(name))
            if ip is not None:
                record[name] = ip
        for name in ("src_port", "dest_port"):
            port = _port(context.get(name))
            if port is not None:
                record[name] = port
        proto = proto_name(context.get("proto"))
        if proto is not None:
            record["proto"] = proto
        app_proto = _text(context.get("app_proto"))
        if app_proto is not None:
            record["app_proto"] = app_proto
        icmp_type = context.get("icmp_type")
        if icmp_type is not None:
            record["icmp_type"] = int(icmp_type)
        src_mac = _text(context.get("src_mac"))
        if src_mac is not None:
            record["ether"] = {"src_mac": src_mac}
    record["alert"] = {
        "action": "allowed",
        "gid": 1,
        "signature_id": signature_id(cls),
        "rev": 1,
        "signature": f"EDGE-IDS {cls}",
        "category": category(cls),
        "severity": int(severity),
    }
    record["host"] = host
    edge: dict[str, Any] = {
        "class": cls,
        "score": round(float(score), 6),
        "model": model_name,
        "model_sha256": model_sha256,
        "first_seen": iso_timestamp(first_seen),
        "last_seen": iso_timestamp(last_seen),
        "count": int(count),
        "incident_id": incident_id or record["alert_id"],
        "phase": phase,
    }
    if suppressed:
        edge["suppressed"] = int(suppressed)
    if rule:
        edge["rule"] = rule
        if evidence:
            edge["evidence"] = evidence
    record["edge_ids"] = edge
    if is_can:
        can: dict[str, Any] = {
            "iface": _text(context.get("iface", context.get("channel"))) or "can",
            "arbitration_id": int(context["arbitration_id"]),
        }
        rate = context.get("rate_hz")
        if rate is not None:
            can["rate_hz"] = round(float(rate), 3)
        record["can"] = can
    return record
