"""One line per alert record, for a person at a terminal: the console sink, ``tail`` and ``demo``.

Why one formatter: each of them printed alerts its own way, and the demo's own printer showed an
Ethernet alert without addresses as a CAN one (``can None id 0x0``), ports that do not exist
(``10.63.58.52:None``) and no phase, so an incident's start and end records read like two attacks.

A line reads, in this order: the data time (when it happened on the wire, not when it was printed),
the phase (``start``, ``update``, ``end``), the severity (1 is the highest), the class, the score,
then who did what to whom: ``attacker -> victim`` with ports only where the protocol has them; ARP
by MAC and IP address; ICMP with its type; CAN by bus, id and frame rate. Last comes the rule's
evidence sentence where a rule confirmed the incident.

For the model's alerts the record holds the last packet of the window, which may be the server's
answer; the line puts the client (the higher, ephemeral port) first, since the attacks the model
knows are made by clients. A rule's alerts already name the attacker first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

#: ICMP (IPv4) and ICMPv6 types by number, as a person says them
ICMP_TYPES = {0: "echo reply", 3: "unreachable", 5: "redirect", 8: "echo request", 11: "time exceeded",
              13: "timestamp request"}
ICMPV6_TYPES = {1: "unreachable", 3: "time exceeded", 128: "echo request", 129: "echo reply",
                133: "router solicitation", 134: "router advertisement", 135: "neighbour solicitation",
                136: "neighbour advertisement"}
#: the lowest port of the ephemeral range Linux and Windows pick client ports from
EPHEMERAL = 32768


def data_time(stamp: Any) -> str:
    """An EVE ISO timestamp as ``2024-05-01 12:00:00.123Z`` (UTC, milliseconds); as given when unparsable."""
    try:
        t = datetime.fromisoformat(str(stamp)).astimezone(timezone.utc)
    except ValueError:
        return str(stamp)
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _port(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _host(ip: Any, port: int | None) -> str:
    text = str(ip)
    if port is None:
        return text
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def _icmp(proto: str, icmp_type: Any) -> str:
    names = ICMPV6_TYPES if proto == "IPv6-ICMP" else ICMP_TYPES
    if not isinstance(icmp_type, int):
        return proto
    name = names.get(icmp_type)
    return f"{proto} type {icmp_type}" + (f" ({name})" if name else "")


def flow(alert: Mapping[str, Any]) -> str:
    """Who did what to whom, from the record's addresses (see the module docstring)."""
    can = alert.get("can")
    if isinstance(can, Mapping):
        arb = can.get("arbitration_id")
        text = f"bus {can.get('iface', '?')} id " + (f"{arb:#05x}" if isinstance(arb, int) else "?")
        rate = can.get("rate_hz")
        return text + (f" at {float(rate):.1f} frames/s" if isinstance(rate, (int, float)) else "")
    src, dst = alert.get("src_ip"), alert.get("dest_ip")
    proto = str(alert.get("proto") or "")
    if src is None and dst is None:
        return "no addresses in the scored window"
    if proto == "ARP":
        mac = (alert.get("ether") or {}).get("src_mac")
        sender = f"{src} at {mac}" if mac else str(src)
        return f"{sender} -> {dst if dst is not None else '?'} ARP"
    icmp = proto in ("ICMP", "IPv6-ICMP")
    sport = None if icmp else _port(alert.get("src_port"))
    dport = None if icmp else _port(alert.get("dest_port"))
    rule = (alert.get("edge_ids") or {}).get("rule")
    if not rule and sport is not None and dport is not None and sport < dport and (sport < 1024 or dport >= EPHEMERAL):
        src, dst, sport, dport = dst, src, dport, sport  # the client first: see the module docstring
    text = f"{_host(src if src is not None else '?', sport)} -> {_host(dst if dst is not None else '?', dport)}"
    if icmp:
        return f"{text} {_icmp(proto, alert.get('icmp_type'))}"
    if proto:
        text += f" {proto}"
        if alert.get("app_proto"):
            text += f"/{alert['app_proto']}"
    return text


def format_alert(alert: Mapping[str, Any], origin: str | None = None) -> str:
    """``2020-08-25 16:01:19.814Z  end    sev 2  Password  0.996  10.63.58.146:50046 -> 10.63.58.60:80 TCP``
    and, where a rule confirmed it, ``  | <evidence>``.

    :param origin: ``site/gateway`` (``tail`` takes it from the MQTT topic); left out when not given.
    """
    edge = alert.get("edge_ids") or {}
    info = alert.get("alert") or {}
    score = edge.get("score")
    parts = [data_time(alert.get("timestamp", "?"))]
    if origin:
        parts.append(origin)
    parts += [
        f"{edge.get('phase') or 'alert':<6}",
        f"sev {info.get('severity', '?')}",
        str(edge.get("class", info.get("signature", "?"))),
        f"{score:.3f}" if isinstance(score, (int, float)) else "?",
        flow(alert),
    ]
    if edge.get("phase") == "end" and isinstance(edge.get("count"), int):
        parts.append(f"after {edge['count']} windows")
    if edge.get("suppressed"):
        parts.append(f"(+{edge['suppressed']} rate-limited)")
    line = "  ".join(parts)
    if edge.get("evidence"):
        line += f"  | {edge['evidence']}"
    return line
