"""HTTP requests and answers as clients and tools send them, for the web rule's and the web columns' tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from agent.features.web_content import assess
from support.site_checks import TcpConversation

SERVER, CLIENT, TOOL = "10.1.0.2", "10.1.0.3", "10.1.0.9"
T0 = 1_700_000_000.0

SQLI = ["/report?id=1' AND 1=1-- -", "/report?id=1 UNION ALL SELECT NULL,NULL,CONCAT(0x71,0x72)-- -",
        "/report?id=1) AND SLEEP(5) AND (3=3", "/report?id=1' OR '1'='1", "/report?id=1 AND 5678=5679",
        "/report?id=1%27%20AND%20EXTRACTVALUE(1,CONCAT(0x5c,version()))--%20", "/report?id=-1 ORDER BY 5#",
        "/report?tag=PT101';WAITFOR DELAY '0:0:5'--"]
XSS = ["/search?q=<script>alert(1)</script>", '/search?q="><svg/onload=alert(1)>',
       "/search?q=<img src=x onerror=prompt(document.cookie)>",
       "/search?q=%3Cscript%3Ealert%28%27X%27%29%3C%2Fscript%3E",
       "/search?q=<details open ontoggle=confirm(1)>", "/search?q=javascript:alert(1)"]
BENIGN = ["/", "/static/app.js?v=1.2.3", "/static/style.css", "/dashboard?view=overview&refresh=5",
          "/api/trend?tags=PT101,PT102,FT201&from=2026-12-07T00:00:00Z&to=2026-12-07T01:00:00Z&step=1s&agg=avg",
          "/report?name=O'Brien&sort=asc", "/search?q=pump+station+3+alarm+history",
          "/api/items?online=1&type=2&dir=asc"]


def request(method: str, path: str, body: bytes = b"", ctype: str = "application/x-www-form-urlencoded",
            agent: str = "client/1.0") -> bytes:
    """A request as a tool sends it: the target percent-encoded where a request line needs it."""
    path = quote(path, safe="/?=&%,;:")
    head = f"{method} {path} HTTP/1.1\r\nHost: hmi.plant\r\nUser-Agent: {agent}\r\n"
    if body:
        head += f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def response(code: int, body: bytes = b"<html>ok</html>") -> bytes:
    return f"HTTP/1.1 {code} X\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def session(requests: list[tuple[str, str, bytes, int]], client: str, t0: float, gap: float,
            out: list[Any] | None = None, port: int = 41000, agent: str = "client/1.0") -> list[Any]:
    """One keep-alive connection of ``client`` sending (method, path, body, answer code) every ``gap`` s."""
    out = [] if out is None else out
    conn = TcpConversation(out, client, SERVER, port, 80, t0)
    for k, (method, path, body, code) in enumerate(requests):
        ctype = "multipart/form-data; boundary=b" if body.startswith(b"--b") else "application/x-www-form-urlencoded"
        conn.exchange(t0 + 0.01 + k * gap, request(method, path, body, ctype, agent), response(code))
    return out


def gets(paths: list[str], code: int = 200) -> list[tuple[str, str, bytes, int]]:
    return [("GET", p, b"", code) for p in paths]


def signs(target: str, body: str) -> set[str]:
    """The payload families whose signs a request's target (path and query) and body carry."""
    return set(assess("GET", target, body).families)
