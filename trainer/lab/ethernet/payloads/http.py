"""HTTP/1.x requests and responses, and the user agents and servers that send them."""

from __future__ import annotations

import random
from http import HTTPStatus


def http_request(rng: random.Random, method: str, host: str, path: str, ua: str, body: bytes = b"",
                 ctype: str | None = None, extra: list[tuple[str, str]] | None = None, version: str = "1.1") -> bytes:
    h = [("Host", host), ("User-Agent", ua)]
    if rng.random() < 0.8:
        h.append(("Accept", rng.choice(["*/*", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                                        "application/json", "application/json, text/plain, */*"])))
    if rng.random() < 0.6:
        h.append(("Accept-Encoding", rng.choice(["gzip, deflate", "gzip, deflate, br", "identity"])))
    if rng.random() < 0.5:
        h.append(("Connection", rng.choice(["keep-alive", "close"])))
    h += extra or []
    if body or method in ("POST", "PUT"):
        h.append(("Content-Type", ctype or "application/x-www-form-urlencoded"))
        h.append(("Content-Length", str(len(body))))
    head = f"{method} {path} HTTP/{version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h) + "\r\n"
    return head.encode() + body


#: reason phrases that later Pythons renamed (3.13: 413 "Content Too Large"), pinned so a seed gives
#: the same bytes on every Python
_PINNED_REASONS = {413: "Request Entity Too Large"}


def http_response(rng: random.Random, status: int, body: bytes, ctype: str, server: str,
                  version: str = "1.1") -> bytes:
    reason = _PINNED_REASONS.get(status) or HTTPStatus(status).phrase
    h = [("Server", server), ("Content-Type", ctype), ("Content-Length", str(len(body)))]
    if rng.random() < 0.5:
        h.insert(0, ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"))
    head = f"HTTP/{version} {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h) + "\r\n"
    return head.encode() + body


BROWSER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/118.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.110 "
    "Safari/537.36 Edg/96.0.1054.62",
    "python-requests/2.28.1", "curl/7.81.0", "Node-RED/3.0.2",
]
SERVERS = ["nginx/1.18.0 (Ubuntu)", "Apache/2.4.41 (Ubuntu)", "lighttpd/1.4.59", "Werkzeug/2.2.2 Python/3.9.2",
           "nginx", "Apache/2.4.54 (Debian)"]
