"""A small agent stand-in for the crash test: emits paced alerts through the MQTT sink.

``python mqtt_sink_proc.py PORT STATE_DIR N INTERVAL`` prints ``stored <alert_id>`` after each
alert is in the outbox (so the test knows what must survive a SIGKILL). With N = 0 it only drains
what the outbox holds from before, prints ``drained True|False`` and exits cleanly.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.alerts.record import build_alert
from agent.config import load_config
from agent.sinks.mqtt import MqttSink


def main() -> int:
    port, state_dir, n, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    cfg = load_config(None, [
        f"mqtt.port={port}", "mqtt.host=127.0.0.1", f"state_dir={state_dir}", "mqtt.keepalive_s=2",
        "mqtt.reconnect_min_s=0.1", "mqtt.reconnect_max_s=0.3", "gateway_id=gw-crash",
    ])
    sink = MqttSink.from_config(cfg)
    for i in range(n):
        a = build_alert(cls="DDoS_UDP", score=0.9, severity=1, first_seen=float(i), last_seen=float(i) + 1,
                        count=1, model_name="lab", model_sha256="ab" * 32, host="gw-crash",
                        context={"src_ip": "10.0.0.1", "dest_ip": "10.0.0.2", "proto": 17},
                        incident_id="", phase="start")
        sink.emit(a)
        print("stored", a["alert_id"], flush=True)
        time.sleep(interval)
    ok = sink.flush(15.0)
    print("drained", ok, flush=True)
    sink.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
