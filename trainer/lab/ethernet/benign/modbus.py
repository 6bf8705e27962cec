"""Benign Modbus/TCP: the HMI polling every PLC."""

from __future__ import annotations

import struct

from trainer.lab.ethernet.capture import Capture, Tcp
from trainer.lab.ethernet.labels import NORMAL
from trainer.lab.ethernet.payloads.modbus import modbus
from trainer.lab.ethernet.site import Site


def normal_modbus(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """The HMI polls every PLC: reads of coils/registers, occasional writes, occasional exceptions."""
    rng = cap.rng
    for plc in site.plcs:
        unit = rng.choice([0, 1, 1, 1, 2, 17, 255])
        period = rng.choice([0.25, 0.5, 1.0, 2.0, 5.0]) * rng.uniform(0.9, 1.1)
        base = rng.randrange(0, 4000)
        persistent = rng.random() < 0.7
        tid = rng.randrange(65536)
        t = t0 + rng.uniform(0, period)
        c: Tcp | None = None
        while t < t1:
            if c is None or not persistent:
                c = Tcp(cap, NORMAL, site.hmi, plc, 502, t, site.rtt_lan, site.loss)
                c.open()
            c.t = max(c.t, t)
            for _ in range(rng.randint(1, 3)):
                tid = (tid + 1) & 0xFFFF
                fc = rng.choices([3, 4, 1, 2, 6, 5, 16, 15], [30, 15, 10, 5, 5, 3, 2, 1])[0]
                addr, n = base + rng.randrange(0, 200), rng.randint(1, 20)
                if fc in (1, 2):
                    req = struct.pack("!BHH", fc, addr, n * 8)
                    resp = struct.pack("!BB", fc, n) + rng.randbytes(n)
                elif fc in (3, 4):
                    req = struct.pack("!BHH", fc, addr, n)
                    resp = struct.pack("!BB", fc, 2 * n) + b"".join(struct.pack("!H", rng.randrange(0, 3000))
                                                                  for _ in range(n))
                elif fc == 5:
                    req = struct.pack("!BHH", fc, addr, rng.choice([0xFF00, 0x0000]))
                    resp = req
                elif fc == 6:
                    req = struct.pack("!BHH", fc, addr, rng.randrange(65536))
                    resp = req
                elif fc == 15:
                    req = struct.pack("!BHHB", fc, addr, n * 8, n) + rng.randbytes(n)
                    resp = struct.pack("!BHH", fc, addr, n * 8)
                else:
                    req = struct.pack("!BHHB", fc, addr, n, 2 * n) + rng.randbytes(2 * n)
                    resp = struct.pack("!BHH", fc, addr, n)
                if rng.random() < 0.02:
                    resp = struct.pack("!BB", fc | 0x80, rng.choice([1, 2, 2, 3, 4, 6]))
                c.exchange(modbus(tid, unit, req), modbus(tid, unit, resp), rng.uniform(0.001, 0.02))
            if not persistent:
                c.close(True)
            t += period * rng.uniform(0.95, 1.05)
        if c is not None and persistent:
            c.close(True)
