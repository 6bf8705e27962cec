"""``edge-ids-agent tail --config C``: follow a gateway's alerts over MQTT, one line each.

Connects with the config's broker, credentials and TLS settings (the same code as the agent's MQTT
sink), subscribes to ``<prefix>/<site>/<gateway>/alert/#`` and the gateway's ``status``, and prints
a line per alert (:func:`agent.alerts.text.format_alert`, the console sink's and the demo's line:
data time, site/gateway, phase, severity, class, score, attacker -> victim, evidence), or the raw
JSON with ``--json``. ``--site +`` / ``--gateway +`` (or ``--all``) follow every
site or gateway on the broker. It exits with status 1 when it never reached the broker (with
``--timeout``), so a script can tell "no alerts" from "no broker".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

from agent.alerts.text import format_alert
from agent.commands import add_config_arguments, config_from_args
from agent.validate import check_values

HELP = "subscribe to the gateway's alerts over MQTT and print them as they arrive"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print each alert's raw JSON record")
    parser.add_argument("--site", help="site to follow (default: the config's; '+' for every site)")
    parser.add_argument("--gateway", help="gateway to follow (default: the config's; '+' for every gateway)")
    parser.add_argument("--all", action="store_true", help="follow every site and gateway (--site + --gateway +)")
    parser.add_argument("--no-status", action="store_true", help="do not print status changes (online/offline)")
    parser.add_argument("--count", type=int, default=0, help="exit after this many alerts (0: never)")
    parser.add_argument("--timeout", type=float, default=0.0, help="exit after this many seconds (0: never)")


def _origin(topic: str, prefix: str) -> tuple[str, str, str]:
    """``(site/gateway, kind, rest)`` of a topic under ``prefix``."""
    rest = topic[len(prefix) + 1 :] if topic.startswith(prefix + "/") else topic
    parts = rest.split("/")
    if len(parts) < 3:
        return rest, "", ""
    return f"{parts[0]}/{parts[1]}", parts[2], "/".join(parts[3:])


def run(args: argparse.Namespace) -> int:
    from agent.sinks.mqtt import describe_reason, make_client, topic_part

    cfg = config_from_args(args)
    check_values(cfg)  # a port paho would refuse with a traceback is named here
    prefix = cfg.mqtt.topic_prefix.rstrip("/")
    site = "+" if args.all else (args.site or topic_part(cfg.site))
    gateway = "+" if args.all else (args.gateway or topic_part(cfg.gateway_id))
    topics = [f"{prefix}/{site}/{gateway}/alert/#"]
    if not args.no_status:
        topics.append(f"{prefix}/{site}/{gateway}/status")
    client = make_client(cfg.mqtt, f"edge-ids-tail-{os.getpid()}-{os.urandom(3).hex()}")
    done = threading.Event()
    connected = threading.Event()
    seen = 0
    lock = threading.Lock()

    def out(line: str) -> None:
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            print(f"tail: broker {cfg.mqtt.host}:{cfg.mqtt.port} refused the connection: "
                  f"{describe_reason(reason)}; retrying", file=sys.stderr, flush=True)
            return
        connected.set()
        print(f"tail: connected to {cfg.mqtt.host}:{cfg.mqtt.port}, following {', '.join(topics)}",
              file=sys.stderr, flush=True)
        c.subscribe([(t, 1) for t in topics])

    def on_connect_fail(c: Any, userdata: Any) -> None:
        print(f"tail: cannot connect to {cfg.mqtt.host}:{cfg.mqtt.port}; retrying", file=sys.stderr, flush=True)

    def on_message(c: Any, userdata: Any, msg: Any) -> None:
        nonlocal seen
        origin, kind, _ = _origin(msg.topic, prefix)
        text = msg.payload.decode("utf-8", errors="replace")
        if kind == "status":
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            out(json.dumps({"topic": msg.topic, "status": text}) if args.json else f"{stamp} {origin} status {text}")
            return
        if kind != "alert":
            return
        if args.json:
            out(text)
        else:
            try:
                alert = json.loads(text)
            except ValueError:
                out(f"{origin} malformed alert on {msg.topic}: {text[:200]}")
            else:
                out(format_alert(alert, origin) if isinstance(alert, dict) else f"{origin} {text[:200]}")
        seen += 1
        if args.count and seen >= args.count:
            done.set()

    client.on_connect = on_connect
    client.on_connect_fail = on_connect_fail
    client.on_message = on_message
    client.connect_async(cfg.mqtt.host, cfg.mqtt.port, keepalive=cfg.mqtt.keepalive_s)
    client.loop_start()
    try:
        done.wait(args.timeout if args.timeout > 0 else None)
    finally:
        client.disconnect()
        client.loop_stop()
    if not connected.is_set():
        print(f"tail: never reached the broker at {cfg.mqtt.host}:{cfg.mqtt.port}; check mqtt.host, mqtt.port "
              "and that the broker runs", file=sys.stderr)
        return 1
    return 0
