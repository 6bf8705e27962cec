"""The benign client on the gateway: HTTP GET every 0.5 s, a Modbus read and an MQTT publish every
second (one persistent Modbus connection, one MQTT connection per publish as a sensor script
does), a standing MQTT subscription; errors are ignored (a flood may make the victim slow).

    python benign_client.py VICTIM_ADDRESS MQTT(1|0)
"""

import contextlib
import socket
import struct
import subprocess
import sys
import time
import urllib.request

victim, mqtt = sys.argv[1], sys.argv[2] == "1"
quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if mqtt:
    subprocess.Popen(["mosquitto_sub", "-h", victim, "-t", "plant/#", "-k", "30"], **quiet)
pubs, mb, tid, n, t0 = [], None, 0, 0, time.monotonic()
while True:
    n += 1
    with contextlib.suppress(OSError):
        urllib.request.urlopen(f"http://{victim}/", timeout=2).read()
    if n % 2 == 0:
        try:
            if mb is None:
                mb = socket.create_connection((victim, 502), timeout=2)
            tid = (tid + 1) & 0xFFFF
            mb.sendall(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, 0, 4))
            mb.recv(256)
        except OSError:
            if mb is not None:
                mb.close()
            mb = None
        if mqtt:
            pubs = [p for p in pubs if p.poll() is None]
            if len(pubs) < 5:
                msg = '{"line": 1, "temp_c": %.1f}' % (20 + (n % 17) / 10)
                pubs.append(subprocess.Popen(
                    ["mosquitto_pub", "-h", victim, "-t", "plant/line1/temp", "-m", msg], **quiet))
    delay = t0 + n * 0.5 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    else:
        t0, n = time.monotonic(), 0
