"""Benign HTTP: operators' browsers and scripts on the dashboard."""

from __future__ import annotations

import json

from trainer.lab.ethernet.capture import Capture, Tcp
from trainer.lab.ethernet.labels import NORMAL
from trainer.lab.ethernet.payloads.http import BROWSER_UAS, SERVERS, http_request, http_response
from trainer.lab.ethernet.payloads.text import entropy_text
from trainer.lab.ethernet.site import Site


def normal_http(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Operators' browsers and scripts load the dashboard and poll its JSON API."""
    rng = cap.rng
    srv_name = rng.choice(SERVERS)
    pages = ["/", "/index.html", "/dashboard", "/static/app.js", "/static/style.css", "/favicon.ico",
             "/api/sensors", "/api/status", "/api/plc/1", "/api/alarms?since=0", "/ui/", "/login"]
    host = site.web_host
    for cl in site.clients:
        ua = rng.choice(BROWSER_UAS)
        t = t0 + rng.uniform(0, 10)
        while t < t1:
            c = Tcp(cap, NORMAL, cl, site.web, site.http_port, t, site.rtt_lan, site.loss)
            c.open()
            for _ in range(rng.randint(1, 6)):
                path = rng.choice(pages)
                body = (json.dumps({"ok": True, "values": [round(rng.uniform(0, 100), 1)
                                                           for _ in range(rng.randint(1, 30))]}).encode()
                        if path.startswith("/api") else entropy_text(rng, rng.randint(200, 6000)))
                ctype = "application/json" if path.startswith("/api") else "text/html; charset=utf-8"
                c.exchange(http_request(rng, "GET", host, path, ua, extra=[("Referer", f"http://{host}/")]
                                        if rng.random() < 0.3 else None),
                           http_response(rng, rng.choices([200, 404, 500], [94, 5, 1])[0],
                                         body, ctype, srv_name), rng.uniform(0.002, 0.05))
                c.t += rng.uniform(0.05, 2)
            c.close(rng.random() < 0.5)
            t = c.t + rng.expovariate(1 / rng.uniform(5, 30))
