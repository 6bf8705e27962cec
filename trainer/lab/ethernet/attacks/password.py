"""Password guessing against HTTP logins, MQTT, SSH and Telnet."""

from __future__ import annotations

from trainer.lab.ethernet.attacks.hosts import pick_source
from trainer.lab.ethernet.capture import Capture, Tcp
from trainer.lab.ethernet.payloads.http import BROWSER_UAS, http_request, http_response
from trainer.lab.ethernet.payloads.mqtt import mqtt, mqtt_connect
from trainer.lab.ethernet.site import Site, rtt

PASSWORDS = ["123456", "password", "admin", "root", "12345678", "qwerty", "letmein", "toor", "changeme", "iot",
             "raspberry", "default", "admin123", "P@ssw0rd", "1234", "guest", "user", "mosquitto", "modbus"]


def atk_password(cap: Capture, site: Site, t: float, n: int, label: str = "Password") -> None:
    """hydra/medusa-style brute force against HTTP login, MQTT CONNECT, SSH and Telnet."""
    rng = cap.rng
    a = pick_source(site, rng)
    target = rng.choice(["http", "mqtt", "ssh", "telnet"])
    users = rng.sample(["admin", "root", "user", "pi", "operator", "iot", "test"], k=rng.randint(1, 3))
    count = len(cap.frames)
    while len(cap.frames) - count < n:
        u, pw = rng.choice(users), rng.choice(PASSWORDS) + (str(rng.randrange(100)) if rng.random() < 0.5 else "")
        if target == "http":
            host = site.web.addr
            c = Tcp(cap, label, a, site.web, site.http_port, t, rtt(site, a, site.web))
            c.open()
            for _ in range(rng.randint(1, 5)):
                body = f"username={u}&password={pw}&Login=Login".encode()
                c.exchange(http_request(rng, "POST", host, rng.choice(["/login", "/login.php", "/api/auth"]),
                                        rng.choice(["Mozilla/5.0 (Hydra)", *BROWSER_UAS]), body),
                           http_response(rng, rng.choice([200, 401, 302]), b"Login failed", "text/html", "nginx"),
                           rng.uniform(0.005, 0.1))
                u, pw = rng.choice(users), rng.choice(PASSWORDS)
            c.close(True)
        elif target == "mqtt":
            c = Tcp(cap, label, a, site.broker, 1883, t, rtt(site, a, site.broker))
            c.open()
            cid = rng.choice(["", f"hydra{rng.randrange(999)}", "mqtt-brute"])
            c.exchange(mqtt_connect(cid, 60, True, True, u, pw),
                       mqtt(0x20, b"\x00" + bytes((rng.choice([4, 5, 5]),))), 0.002)
            c.close(False)
        elif target == "ssh":
            srv = rng.choice([site.broker, site.web, *site.plcs])
            c = Tcp(cap, label, a, srv, 22, t, rtt(site, a, srv))
            if c.open():
                c.send(False, b"SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.5\r\n")
                c.send(True, rng.choice([b"SSH-2.0-libssh_0.9.6\r\n", b"SSH-2.0-OpenSSH_7.4\r\n",
                                         b"SSH-2.0-Go\r\n"]))
                c.send(True, rng.randbytes(rng.randint(900, 1500)))
                c.send(False, rng.randbytes(rng.randint(1000, 1100)))
                for _ in range(rng.randint(1, 3)):
                    c.send(True, rng.randbytes(rng.choice([48, 64, 80, 96])))
                    c.send(False, rng.randbytes(rng.choice([28, 44, 52])))
                c.close(rng.random() < 0.5)
        else:
            srv = rng.choice([*site.plcs, site.gw])
            c = Tcp(cap, label, a, srv, 23, t, rtt(site, a, srv))
            c.open()
            c.send(False, b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27")
            c.send(True, b"\xff\xfc\x18\xff\xfc\x20\xff\xfc\x23\xff\xfc\x27")
            for _ in range(rng.randint(1, 3)):
                c.send(False, b"\r\nlogin: ")
                c.send(True, u.encode() + b"\r\n")
                c.send(False, b"Password: ")
                c.send(True, pw.encode() + b"\r\n")
                c.t += rng.uniform(1, 3)
                c.send(False, b"\r\nLogin incorrect\r\n")
            c.close(False)
        t = c.t + rng.expovariate(rng.uniform(2, 30))
