"""Alert latency: from the triggering CAN frame to the alert arriving over MQTT, with a real
Mosquitto on loopback, while frames are paced at 5,000 frames/s. Target: p99 <= 50 ms.

How it is measured: the replay pacer stamps each frame with the wall-clock time it is released into
the pipeline; an alert's ``edge_ids.last_seen`` is its window's last (triggering) frame, so a
subscriber's receive time minus ``last_seen`` is the whole path: capture batching, features,
windows, int8 scoring, policy, outbox write, publish, broker, subscriber. The bench's bundle alerts
on every window (threshold 0, merge gap 0, no rate limit) to get thousands of samples; one window
per 8 frames.

    .venv/bin/python bench/bench_alert_latency.py [--seconds 10] [--rate 5000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_bundle import ensure_bundle

from agent.commands.replay import replay
from agent.config import load_config
from agent.runtime import rss_bytes
from agent.runtime.broker import LocalBroker, mosquitto_path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=5000.0)
    ap.add_argument("--max-wait-ms", type=float, default=10.0)
    args = ap.parse_args()
    if mosquitto_path() is None:
        print("mosquitto is not installed (apt install mosquitto)")
        return 2
    import paho.mqtt.client as mqtt

    n = int(args.seconds * args.rate)
    with tempfile.TemporaryDirectory() as tmp, LocalBroker() as broker:
        t = Path(tmp)
        log = t / "bus.log"
        log.write_text("".join(f"({1.7e9 + i * 2e-4:.6f}) can0 {0x100 + i % 20:03X}#{i % 256:02X}00000000000000\n"
                               for i in range(n)))
        bundle = ensure_bundle(t / "bundle", "can-temporal", 8, 8, "channel")
        lat: list[float] = []
        lock = threading.Lock()
        subscribed = threading.Event()

        def on_message(c: object, u: object, msg: mqtt.MQTTMessage) -> None:
            now = time.time()
            a = json.loads(msg.payload)
            if a.get("edge_ids", {}).get("phase", "start") != "start":
                return
            with lock:
                lat.append(now - datetime.fromisoformat(a["edge_ids"]["last_seen"]).timestamp())

        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub")
        sub.on_message = on_message
        sub.on_subscribe = lambda *a: subscribed.set()
        sub.connect("127.0.0.1", broker.port)
        sub.subscribe("edge-ids/+/+/alert/#", qos=1)
        sub.loop_start()
        subscribed.wait(10)
        cfg = load_config(None, [
            f"state_dir={tmp}", "features.kind=can-temporal", f"model.bundle={bundle}",
            "mqtt.host=127.0.0.1", f"mqtt.port={broker.port}", f"model.max_wait_ms={args.max_wait_ms}",
            "model.thresholds.Attack=0.0", "alerts.merge_gap_s=0", "alerts.rate_limit_per_min=0",
            "logging.level=WARNING",
        ])
        rc, s = replay(cfg, str(log), rate=args.rate, restamp=True)
        time.sleep(1.0)
        sub.loop_stop()
        sub.disconnect()
    arr = np.array(lat) * 1e3
    if not len(arr):
        print("no alert arrived over MQTT")
        return 1
    p50, p99, mx = np.percentile(arr, [50, 99, 100])
    print(f"broker: mosquitto; {n} frames paced at {args.rate:,.0f}/s; model.max_wait_ms={args.max_wait_ms}")
    print(f"alerts raised {s['alerts_raised']}, received over MQTT {len(arr)}, dropped at queue {s['dropped_queue']}")
    print(f"frame -> MQTT latency  p50 {p50:.1f} ms   p99 {p99:.1f} ms   max {mx:.1f} ms   (target p99 <= 50 ms)")
    print(f"RSS {rss_bytes() / 2**20:.0f} MB (target <= 150)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
