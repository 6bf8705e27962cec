"""Benign MQTT: sensors publishing telemetry, a dashboard subscribed to it."""

from __future__ import annotations

import json
import struct

from trainer.lab.ethernet.capture import Capture, Tcp
from trainer.lab.ethernet.labels import NORMAL
from trainer.lab.ethernet.payloads.mqtt import mqtt, mqtt_connect, mqtt_publish, mqtt_str
from trainer.lab.ethernet.site import Site
from trainer.lab.wire import ACK

SENSOR_KINDS = ["temperature", "humidity", "water_level", "ph", "soil_moisture", "heart_rate", "flame",
                "ultrasonic", "pressure", "vibration", "co2"]


def normal_mqtt(cap: Capture, site: Site, t0: float, t1: float, label: str = NORMAL) -> None:
    """Sensors publish telemetry to the broker; a dashboard client subscribes and receives it."""
    rng = cap.rng
    v311 = rng.random() < 0.8
    # clients connect at the start of the traffic or later (restarts, new devices); the capture may
    # begin before or after their handshakes
    def later() -> float:
        return t0 + (rng.uniform(0, 3) if rng.random() < 0.6 else rng.uniform(0, (t1 - t0) * 0.4))

    sub = Tcp(cap, label, site.hmi, site.broker, 1883, later(), site.rtt_lan, site.loss)
    sub.open()
    sub_keep = rng.choice([30, 60, 120])
    sub.exchange(mqtt_connect(f"dashboard-{rng.randrange(16**6):06x}", sub_keep, v311), mqtt(0x20, b"\x00\x00"),
                 0.001)
    sub.exchange(mqtt(0x82, struct.pack("!H", 1) + mqtt_str(site.topic_root + "/#") + b"\x01"),
                 mqtt(0x90, struct.pack("!H", 1) + b"\x01"), 0.001)
    forwards: list[tuple[float, str, bytes, int]] = []  # what the broker relays to the dashboard
    for i, s in enumerate(site.sensors):
        kind = rng.choice(SENSOR_KINDS)
        topic = f"{site.topic_root}/{s.name}/{kind}" if rng.random() < 0.7 else f"{site.topic_root}/{kind}"
        keep = rng.choice([10, 15, 30, 60])
        # every QoS level is in use on every site; slow sensors (period beyond keepalive) send PINGREQs
        qos = i if i < 3 else rng.choice([0, 0, 0, 1, 1, 2])
        period = (keep * rng.uniform(1.2, 3.0) if i == 0 or rng.random() < 0.2
                  else rng.choice([1, 2, 5, 10, 15, 30]) * rng.uniform(0.8, 1.2))
        fmt = rng.choice(["json", "plain", "csv"])
        base = rng.uniform(0, 100)
        c = Tcp(cap, label, s, site.broker, 1883, later(), site.rtt_lan, site.loss)
        c.open()
        creds = (f"{s.name}", f"pw{rng.randrange(10**6)}") if rng.random() < 0.3 else (None, None)
        c.exchange(mqtt_connect(f"{kind}-{rng.randrange(16**4):04x}", keep, v311, rng.random() < 0.8, *creds),
                   mqtt(0x20, b"\x00\x00"), 0.002)
        if rng.random() < 0.5:
            c.exchange(mqtt(0x82, struct.pack("!H", 1) + mqtt_str(f"{site.topic_root}/{s.name}/cmd") + b"\x01"),
                       mqtt(0x90, struct.pack("!H", 1) + b"\x01"), 0.001)
        pid, last_tx = 1, c.t
        t = c.t + rng.uniform(0, period)
        while t < t1:
            if t - last_tx > keep * 0.9:  # idle long enough: keepalive
                c.t = last_tx + keep * rng.uniform(0.7, 0.95)
                c.exchange(mqtt(0xC0, b""), mqtt(0xD0, b""), 0.0005)
            c.t = t
            v = base + rng.gauss(0, 2)
            body = {"json": json.dumps({"sensor": kind, "value": round(v, 2), "unit": "u",
                                        "seq": pid}).encode(),
                    "plain": f"{v:.2f}".encode(), "csv": f"{pid},{v:.3f},{rng.randint(0, 1)}".encode()}[fmt]
            pkt = mqtt_publish(topic, body, qos, pid)
            if qos == 0:
                c.send(True, pkt)
            elif qos == 1:
                c.exchange(pkt, mqtt(0x40, struct.pack("!H", pid)), 0.0008)
            else:
                c.exchange(pkt, mqtt(0x50, struct.pack("!H", pid)), 0.0008)
                c.exchange(mqtt(0x62, struct.pack("!H", pid)), mqtt(0x70, struct.pack("!H", pid)), 0.0005)
            forwards.append((c.t + 0.0003, topic, body, min(qos, 1)))
            pid = pid % 65535 + 1
            last_tx = c.t
            t += period * rng.uniform(0.9, 1.1)
        c.t = max(c.t, t1 - rng.uniform(0, 1))
        if rng.random() < 0.6:
            c.send(True, mqtt(0xE0, b""), ack=False)
            c.close(True)
        else:
            c.close(False)
    # the dashboard receives in time order, and pings when it has sent nothing for a keepalive period
    pid_sub, last_sent = 0, sub.t
    forwards.sort()
    for ft, topic, body, q in forwards:
        if ft < last_sent:  # published before the dashboard subscribed
            continue
        while ft - last_sent > sub_keep:
            sub.t = last_sent + sub_keep * rng.uniform(0.9, 1.0)
            sub.exchange(mqtt(0xC0, b""), mqtt(0xD0, b""), 0.0005)
            last_sent = sub.t
        sub.t = max(sub.t, ft)
        if q:  # broker -> dashboard at QoS 1, acknowledged by the dashboard
            pid_sub = pid_sub % 65535 + 1
            sub.send(False, mqtt_publish(topic, body, 1, pid_sub), ack=False)
            sub.send(True, mqtt(0x40, struct.pack("!H", pid_sub)), ack=False)
            sub.seg(False, ACK, dt=site.rtt_lan / 2)
            last_sent = sub.t
        else:
            sub.send(False, mqtt_publish(topic, body, 0, 0))
    sub.t = max(sub.t, t1 - 0.2)
    sub.send(True, mqtt(0xE0, b""), ack=False)
    sub.close(True)
