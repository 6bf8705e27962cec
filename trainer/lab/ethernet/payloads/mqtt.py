"""MQTT control packets (3.1 and 3.1.1)."""

from __future__ import annotations

import struct


def _mqtt_len(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_str(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def mqtt(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _mqtt_len(len(body)) + body


def mqtt_connect(client_id: str, keepalive: int, v311: bool = True, clean: bool = True,
                 user: str | None = None, password: str | None = None) -> bytes:
    flags = (0x02 if clean else 0) | (0x80 if user is not None else 0) | (0x40 if password is not None else 0)
    head = (mqtt_str("MQTT") + b"\x04") if v311 else (mqtt_str("MQIsdp") + b"\x03")
    body = head + bytes((flags,)) + struct.pack("!H", keepalive) + mqtt_str(client_id)
    if user is not None:
        body += mqtt_str(user)
    if password is not None:
        body += mqtt_str(password)
    return mqtt(0x10, body)


def mqtt_publish(topic: str, payload: bytes, qos: int, pid: int, retain: bool = False, dup: bool = False) -> bytes:
    body = mqtt_str(topic) + (struct.pack("!H", pid) if qos else b"") + payload
    return mqtt(0x30 | (0x08 if dup else 0) | (qos << 1) | int(retain), body)
