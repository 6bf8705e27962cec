"""HTTP clients as they put requests on the wire (their headers, connections and pace), and the
server's answers: the shared driver of the lab's web traffic, benign and hostile."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from trainer.lab.ethernet.capture import Capture, Tcp
from trainer.lab.ethernet.payloads.http import http_response, raw_request
from trainer.lab.ethernet.payloads.text import entropy_text
from trainer.lab.ethernet.site import Host, Site, rtt

#: default headers of each kind of client, after Host and User-Agent
STYLES: dict[str, list[tuple[str, str]]] = {
    "browser": [
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
        ("Accept-Language", "en-US,en;q=0.5"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Connection", "keep-alive"),
        ("Upgrade-Insecure-Requests", "1"),
    ],
    "sqlmap": [
        ("Accept", "*/*"),
        ("Accept-Encoding", "gzip,deflate"),
        ("Cache-Control", "no-cache"),
        ("Connection", "close"),
    ],
    "curl": [("Accept", "*/*")],
    "requests": [("Accept-Encoding", "gzip, deflate"), ("Accept", "*/*"), ("Connection", "keep-alive")],
    "tool": [("Accept", "*/*"), ("Connection", "keep-alive")],
    "nmap": [("Connection", "close")],
    "bare": [],
}


@dataclass
class Req:
    """One request and how the server answers it."""

    method: str
    target: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    ctype: str | None = None
    status: int = 200
    wait: float = 0.0
    """seconds the server takes before answering (a time-based injection that worked)"""
    resp: int | None = None
    """response body bytes (None: drawn from the status)"""
    version: str = "1.1"
    resp_type: str = "text/html; charset=UTF-8"
    host: bool = True


@dataclass
class Client:
    """A client's identity on the wire: user agent and header style."""

    host: str
    ua: str | None
    style: str = "browser"

    def build(self, req: Req) -> bytes:
        if not req.host:  # a bare probe (nmap's GET / HTTP/1.0): only what it names
            return raw_request(req.method, req.target, req.headers, req.body, req.version)
        h: list[tuple[str, str]] = [("Host", self.host)]
        named = {k.lower() for k, _ in req.headers}
        if self.ua is not None and "user-agent" not in named:
            h.append(("User-Agent", self.ua))
        h += [(k, v) for k, v in STYLES[self.style] if k.lower() not in named]
        h += req.headers
        if req.body or req.method in ("POST", "PUT"):
            h.append(("Content-Type", req.ctype or "application/x-www-form-urlencoded"))
        return raw_request(req.method, req.target, h, req.body, req.version)


@dataclass
class Pace:
    """Time between a client's requests, and requests per connection."""

    gap: Callable[[random.Random], float]
    per_conn: tuple[int, int]
    mode: str = ""


def pace(rng: random.Random, mode: str | None = None) -> Pace:
    """A tool's pace: a burst as fast as the server answers (threads), a steady rate, or a fixed
    delay between requests (``--delay``); one connection per request or keep-alive."""
    mode = mode or rng.choice(["burst", "steady", "delay"])
    per_conn = rng.choice([(1, 1), (2, 12), (10, 120)])
    if mode == "burst":
        rate = rng.uniform(30, 300)
        return Pace(lambda r: r.expovariate(rate), per_conn, mode)
    if mode == "steady":
        rate = rng.uniform(1.5, 30)
        return Pace(lambda r: r.expovariate(rate), per_conn, mode)
    d = rng.uniform(0.3, 3.0)
    return Pace(lambda r: d + r.uniform(0, 0.02), per_conn, mode)


def response_for(rng: random.Random, req: Req, server: str) -> bytes:
    size = (
        req.resp if req.resp is not None else (rng.randint(150, 600) if req.status >= 300 else rng.randint(300, 9000))
    )
    body = b"" if req.method == "HEAD" or req.status in (204, 304) else entropy_text(rng, size)
    return http_response(rng, req.status, body, req.resp_type, server)


def drive(
    cap: Capture,
    site: Site,
    t: float,
    n: int | None,
    label: str,
    src: Host,
    client: Client,
    reqs: Iterator[Req],
    pc: Pace,
    server: str,
) -> float:
    """``reqs`` from ``src`` to the site's web server, at ``pc``'s pace, until ``n`` frames were
    added (the server's answers among them) or ``reqs`` ends; the time after the last one."""
    rng = cap.rng
    start = len(cap.frames)
    v = site.web
    done = False
    while not done and (n is None or len(cap.frames) - start < n):
        c = Tcp(cap, label, src, v, site.http_port, t, rtt(site, src, v), site.loss)
        c.open()
        for _ in range(rng.randint(*pc.per_conn)):
            req = next(reqs, None)
            if req is None:
                done = True
                break
            c.exchange(client.build(req), response_for(rng, req, server), req.wait + rng.uniform(0.0005, 0.03))
            c.t += pc.gap(rng)
            if n is not None and len(cap.frames) - start >= n:
                break
        c.close(rng.random() < 0.7)
        t = c.t + pc.gap(rng)
    return t
