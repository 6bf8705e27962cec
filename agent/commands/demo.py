"""``edge-ids-agent demo``: the whole agent on this machine, with no configuration.

Starts a broker on a free loopback port (Mosquitto when installed, else amqtt), subscribes to the
alert topics and prints each alert as it arrives over MQTT, replays the bundled lab captures
(Ethernet and CAN) through the default models with the same pipeline as the daemon, and prints a
summary. Models and lab captures come from ``make models``; if they are missing the demo says
which and how to create them, rather than failing somewhere deep inside.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.alerts.text import format_alert
from agent.config import MODEL_DIRS, load_config
from agent.errors import EdgeIdsError
from agent.log import setup_logging

HELP = "run the agent end to end on bundled lab captures with a local MQTT broker (no configuration)"

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".log", ".asc", ".trc", ".csv", ".blf")


@dataclass
class DemoPart:
    """One replay of the demo: a model bundle and the lab capture it was made for."""

    title: str
    model_dir: str
    gateway: str


PARTS = (
    DemoPart("Ethernet (Edge-IIoTset lab model)", "edge-iiotset-lab", "eth-gw"),
    DemoPart("CAN (CICIoV2024 lab model)", "ciciov2024-lab", "can-gw"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default=None,
                        help="directory holding the default model bundles (default: ./models, else the bundled ones)")
    parser.add_argument("--rate", type=float, default=None,
                        help="pace each capture at this many records/s (default: as fast as possible)")
    parser.add_argument("--quiet-alerts", action="store_true", help="count alerts without printing each")


def default_models_dir() -> Path:
    """``./models`` when the working directory has the default bundles, else the bundled models."""
    for d in (Path("models"), *MODEL_DIRS):
        if all((d / part.model_dir / "manifest.json").is_file() for part in PARTS):
            return d
    return Path("models")


def find_capture(bundle_dir: Path) -> Path | None:
    """The lab capture shipped with a default model: ``<bundle>/lab/*`` or ``<bundle>/lab-capture.*``."""
    for where in (bundle_dir / "lab", bundle_dir / "demo", bundle_dir):
        if where.is_dir():
            for p in sorted(where.iterdir()):
                if p.is_file() and p.name.lower().endswith(CAPTURE_SUFFIXES):
                    return p
    return None


def missing_message(missing: list[str]) -> str:
    return (
        "the demo needs the default models and their lab captures, which are missing:\n  "
        + "\n  ".join(missing)
        + "\ncreate them with:  make models   (trains small lab models and writes their captures; a few minutes)"
    )


class AlertPrinter:
    """Subscribes to ``<prefix>/#`` alerts and prints one line per alert as it arrives."""

    def __init__(self, port: int, topic: str, quiet: bool):
        import paho.mqtt.client as mqtt

        self.count = 0
        self.by_class: dict[str, int] = {}
        self.quiet = quiet
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="edge-ids-demo-subscriber")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise EdgeIdsError("demo: the alert subscriber could not subscribe to the local broker")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            alert = json.loads(msg.payload)
        except ValueError:
            return
        if not isinstance(alert, dict):
            return
        with self._lock:
            self.count += 1
            cls = str((alert.get("edge_ids") or {}).get("class", "?"))
            self.by_class[cls] = self.by_class.get(cls, 0) + 1
        if self.quiet:
            return
        parts = str(msg.topic).split("/")
        origin = "/".join(parts[1:3]) if len(parts) >= 3 else None
        print(f"  {format_alert(alert, origin)}", flush=True)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def run(args: argparse.Namespace) -> int:
    from agent.commands.replay import counters_help, print_summary, replay
    from agent.runtime.broker import LocalBroker

    setup_logging("WARNING")
    models = Path(args.models) if args.models else default_models_dir()
    plan: list[tuple[DemoPart, Path, Path]] = []
    missing: list[str] = []
    for part in PARTS:
        bundle = models / part.model_dir
        if not (bundle / "manifest.json").is_file():
            missing.append(f"model bundle {bundle}/ (manifest.json, model.tflite)")
            continue
        capture = find_capture(bundle)
        if capture is None:
            missing.append(f"lab capture in {bundle}/lab/ (a .pcap or CAN log)")
            continue
        plan.append((part, bundle, capture))
    if missing:
        print(missing_message(missing), file=sys.stderr)
        return 2
    results: list[tuple[DemoPart, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="edge-ids-demo-") as state, LocalBroker() as broker:
        print(f"MQTT broker: {broker.kind} on 127.0.0.1:{broker.port}")
        printer = AlertPrinter(broker.port, "edge-ids/demo/+/alert/#", args.quiet_alerts)
        try:
            for part, bundle, capture in plan:
                manifest = json.loads((bundle / "manifest.json").read_text())
                kind = manifest.get("feature_kind", "edge-iiotset")
                cfg = load_config(None, [
                    "site=demo", f"gateway_id={part.gateway}", f"state_dir={state}/{part.gateway}",
                    f"model.bundle={bundle}", f"features.kind={kind}",
                    "mqtt.host=127.0.0.1", f"mqtt.port={broker.port}", "mqtt.drain_grace_s=10",
                    "mqtt.health_interval_s=5", "logging.level=WARNING",
                ])
                Path(cfg.state_dir).mkdir(parents=True, exist_ok=True)
                print(f"\n== {part.title}: replaying {capture.name} through {bundle.name}")
                rc, stats = replay(cfg, str(capture), rate=args.rate)
                if rc != 0:
                    print(f"replay of {capture} failed (status {rc})", file=sys.stderr)
                    return rc
                results.append((part, stats))
            # The subscriber may still be receiving the last publications.
            threading.Event().wait(1.0)
        finally:
            printer.close()
    print("\n== Summary")
    for part, stats in results:
        print(f"\n-- {part.title}")
        print_summary(stats)
        present = attack_classes(Path(stats["input"]))
        if present is not None:
            print(coverage(present, stats.get("incidents_by_class", {})))
    raised = sum(s["alerts_raised"] for _, s in results)
    print(f"\nalert records sent: {raised}; received over MQTT by the subscriber: {printer.count}")
    print("\nthe summary's counters:\n" + counters_help())
    return 0


def attack_classes(capture: Path) -> set[str] | None:
    """The attack classes a lab capture holds, from the ``labels.csv`` beside it (``None``: no labels).

    Labels are per frame range (``first_frame,last_frame,label``); the benign class of each dataset
    (Normal, BENIGN) is not an attack.
    """
    labels = capture.parent / "labels.csv"
    if not labels.is_file():
        return None
    with labels.open(newline="", encoding="utf-8") as fh:
        found = {row.get("label", "") for row in csv.DictReader(fh)}
    return {c for c in found if c and c.lower() not in ("normal", "benign")}


def coverage(present: set[str], incidents: dict[str, int]) -> str:
    """Per attack class: in the capture or not, and the incidents raised for it."""
    classes = sorted(present | set(incidents))
    width = max([len(c) for c in classes] + [len("class")])
    raised = [c for c in present if incidents.get(c)]
    lines = [f"attack classes in the capture: {len(present)}, raised: {len(raised)}",
             f"  {'class':<{width}}  in capture  incidents"]
    for c in classes:
        mark = "yes" if c in present else "no"
        n = incidents.get(c, 0)
        note = "  (missed)" if c in present and not n else "  (not in the capture)" if c not in present else ""
        lines.append(f"  {c:<{width}}  {mark:<10}  {n}{note}")
    return "\n".join(lines)
