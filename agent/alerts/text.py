"""One compact line per alert, for a person at a terminal (console sink, ``edge-ids-agent tail``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _endpoint(ip: Any, port: Any) -> str:
    if ip is None:
        return "?"
    text = f"[{ip}]" if ":" in str(ip) and port is not None else str(ip)
    return f"{text}:{port}" if port is not None else text


def format_alert(alert: Mapping[str, Any], origin: str | None = None) -> str:
    """``2024-05-01T12:00:00.123456+00:00 site/gw sev=1 DDoS_UDP score=0.990 count=3 start
    10.0.0.1:1234 -> 10.0.0.2:80 UDP`` (or ``can0 id=0x123 rate=1000.0Hz`` for CAN alerts).

    :param origin: ``site/gateway`` (from the MQTT topic); the record's ``host`` when not given.
    """
    edge = alert.get("edge_ids") or {}
    info = alert.get("alert") or {}
    parts = [
        str(alert.get("timestamp", "?")),
        origin or str(alert.get("host", "?")),
        f"sev={info.get('severity', '?')}",
        str(edge.get("class", info.get("signature", "?"))),
    ]
    score = edge.get("score")
    parts.append(f"score={score:.3f}" if isinstance(score, (int, float)) else "score=?")
    parts.append(f"count={edge.get('count', '?')}")
    if edge.get("phase"):
        parts.append(str(edge["phase"]))
    can = alert.get("can")
    if isinstance(can, Mapping):
        arb = can.get("arbitration_id")
        where = f"{can.get('iface', '?')} id={arb:#x}" if isinstance(arb, int) else f"{can.get('iface', '?')} id=?"
        if can.get("rate_hz") is not None:
            where += f" rate={float(can['rate_hz']):.1f}Hz"
        parts.append(where)
    else:
        flow = (
            f"{_endpoint(alert.get('src_ip'), alert.get('src_port'))} -> "
            f"{_endpoint(alert.get('dest_ip'), alert.get('dest_port'))}"
        )
        proto = alert.get("proto")
        app = alert.get("app_proto")
        if proto:
            flow += f" {proto}"
        if app:
            flow += f"/{app}"
        parts.append(flow)
    if edge.get("suppressed"):
        parts.append(f"(+{edge['suppressed']} rate-limited)")
    return " ".join(parts)
