"""A small web HMI for the real-tool bench to attack: what a plant's operator panel serves over HTTP.

It is the victim's web server in ``detect_real_tools.py`` (port 80): web scanners, injection tools and
path brute forcers need pages with forms and parameters to work on, and benign clients need pages,
assets and an API to load. What it serves:

* ``/`` (and ``/index.html``): the overview, linking everything below
* ``/login``: a login form; every POST answers "Login failed" (no account exists)
* ``/report?tag=PT101&from=...&to=...`` and ``/search?q=...``: pages built from their query
  parameters, which are echoed back unescaped (they look injectable; nothing is ever executed or
  looked up but a fixed table of tags)
* ``/api/v1/tags``, ``/api/v1/values?tags=A,B&from=...&to=...&resolution=...``: JSON; a POST to
  ``/api/v1/setpoint`` answers 403 (the panel is read only)
* ``/upload``: a multipart upload form; uploads are kept in memory (the last 32, at most 2 MB each) and
  served back as plain bytes under ``/uploads/NAME`` (linked from the upload's answer only, so a
  crawler of a later scenario does not meet them), never run
* ``/static/hmi.css``, ``/static/hmi.js``, ``/static/logo.svg``: assets with ``Last-Modified`` (a
  conditional GET answers 304)
* any other path: the file of that name in ``--directory`` when there is one (the bench's downloads),
  else a 404 page; methods other than GET, HEAD and POST answer 501

Run::

    python bench/web_hmi.py --bind 10.77.0.2 --port 80 --directory DIR
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import email.utils
import html
import http.server
import json
import math
import os
import posixpath
import shutil
import threading
import time
import urllib.parse
from collections import OrderedDict
from pathlib import Path
from typing import ClassVar

TAGS = {
    "PT101": ("bar", "inlet pressure, pump 1"),
    "PT102": ("bar", "outlet pressure, pump 1"),
    "FT201": ("m3/h", "flow, line 1"),
    "TT301": ("degC", "tank 1 temperature"),
    "LT401": ("%", "tank 1 level"),
    "SP501": ("rpm", "pump 1 speed"),
}
STARTED = time.time()
MAX_UPLOADS, MAX_UPLOAD_BYTES = 32, 2 << 20

CSS = b"""body{font-family:sans-serif;margin:0;background:#eef1f4}header{background:#1d3557;color:#fff;padding:8px 16px}
nav a{color:#fff;margin-right:12px}main{padding:16px}table{border-collapse:collapse}td,th{border:1px solid #99a;
padding:2px 8px}.ok{color:#2a7}.alarm{color:#c33}form input{margin:2px}
"""
JS = b"""// refreshes the values table from the JSON API every 2 s
function refresh(){fetch('/api/v1/values?tags=PT101,PT102,FT201,TT301,LT401&resolution=1s')
.then(r=>r.json()).then(d=>{for(const v of d.values){const e=document.getElementById(v.tag);
if(e){e.textContent=v.value.toFixed(2)+' '+v.unit;}}});}
setInterval(refresh,2000);
"""
SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32"><rect width="120" height="32" '
       b'fill="#1d3557"/><text x="8" y="22" fill="#fff" font-size="16">Line 1</text></svg>\n')
STATIC = {"/static/hmi.css": (CSS, "text/css"), "/static/hmi.js": (JS, "application/javascript"),
          "/static/logo.svg": (SVG, "image/svg+xml")}


def value(tag: str, t: float) -> float:
    """A plausible, slowly varying reading of ``tag`` at time ``t``."""
    base = 10.0 + sum(map(ord, tag)) % 50
    return base + 2.0 * math.sin(t / 60.0 + len(tag)) + 0.3 * math.sin(t / 7.0)


def page(title: str, body: str) -> bytes:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>{title} - Line 1 HMI</title>"
            f'<link rel=stylesheet href="/static/hmi.css"><script src="/static/hmi.js" defer></script></head>'
            f'<body><header><img src="/static/logo.svg" alt="logo"> <nav><a href="/">Overview</a>'
            f'<a href="/report?tag=PT101&amp;from=2026-12-07T00:00&amp;to=2026-12-07T06:00">Reports</a>'
            f'<a href="/search?q=pump">Search</a><a href="/upload">Recipes</a><a href="/api/v1/tags">API</a>'
            f'<a href="/login">Log in</a></nav></header><main><h1>{title}</h1>{body}</main></body></html>\n'
            ).encode()


class Handler(http.server.SimpleHTTPRequestHandler):
    """The HMI's routes; files of ``directory`` for the paths it does not own."""

    server_version = "LineHMI/2.3"
    protocol_version = "HTTP/1.1"
    uploads: ClassVar[OrderedDict[str, bytes]] = OrderedDict()  # shared by the server's threads
    lock = threading.Lock()
    quiet = True

    # ---- plumbing

    def reply(self, code: int, body: bytes, ctype: str = "text/html; charset=utf-8",
              headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json_reply(self, code: int, obj: object) -> None:
        self.reply(code, json.dumps(obj).encode(), "application/json")

    def not_found(self) -> None:
        self.reply(404, page("Not found", f"<p>No page at {html.escape(self.path)}.</p>"))

    def log_message(self, format: str, *args: object) -> None:
        if not self.quiet:
            super().log_message(format, *args)

    def body(self) -> bytes:
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = 0
        if n > MAX_UPLOAD_BYTES + 65536:  # the rest is left unread: the connection cannot be reused
            self.close_connection = True
            n = MAX_UPLOAD_BYTES + 65536
        return self.rfile.read(n) if n > 0 else b""

    # ---- methods

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        route = {"/": self.overview, "/index.html": self.overview, "/login": self.login_form,
                 "/report": self.report, "/search": self.search, "/upload": self.upload_form,
                 "/api/v1/tags": self.api_tags, "/api/v1/values": self.api_values}.get(url.path)
        if route is not None:
            route(q)
        elif url.path in STATIC:
            self.static(*STATIC[url.path])
        elif url.path.startswith("/uploads/"):
            name = urllib.parse.unquote(url.path[len("/uploads/"):])
            with self.lock:
                data = self.uploads.get(name)
            if data is None:
                self.not_found()
            else:
                self.reply(200, data, "application/octet-stream")
        else:
            self.from_directory()

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        data = self.body()
        if path == "/login":
            self.reply(200, page("Log in", LOGIN_FORM + "<p class=alarm>Login failed: wrong user name or "
                                                        "password</p>"))
        elif path == "/upload":
            self.upload(data)
        elif path == "/api/v1/setpoint":
            self.json_reply(403, {"error": "read only panel", "received_bytes": len(data)})
        elif path in ("/report", "/search"):
            self.do_GET()
        else:
            self.not_found()

    # ---- pages

    def overview(self, q: dict[str, list[str]]) -> None:
        now = time.time()
        rows = "".join(f'<tr><td><a href="/report?tag={t}&amp;from=2026-12-07T00:00&amp;to=2026-12-07T06:00">{t}'
                       f"</a></td><td>{d}</td><td id={t}>{value(t, now):.2f} {u}</td><td class=ok>OK</td></tr>"
                       for t, (u, d) in TAGS.items())
        self.reply(200, page("Overview", f"<table><tr><th>tag</th><th>description</th><th>value</th>"
                                         f"<th>state</th></tr>{rows}</table><p>Uptime "
                                         f"{int(now - STARTED)} s</p>"))

    def login_form(self, q: dict[str, list[str]]) -> None:
        self.reply(200, page("Log in", LOGIN_FORM))

    def report(self, q: dict[str, list[str]]) -> None:
        tag = (q.get("tag") or ["PT101"])[0]
        start, end = (q.get("from") or [""])[0], (q.get("to") or [""])[0]
        if tag not in TAGS:  # echoed as given: the page looks injectable, nothing runs
            self.reply(200, page("Report", f"<p class=alarm>No data for tag {tag} from {start} to {end}.</p>"))
            return
        now = time.time()
        rows = "".join(f"<tr><td>{time.strftime('%H:%M', time.gmtime(now - 600 * i))}</td>"
                       f"<td>{value(tag, now - 600 * i):.2f}</td></tr>" for i in range(12))
        self.reply(200, page(f"Report {tag}", f"<p>{TAGS[tag][1]} ({TAGS[tag][0]}) from {start} to {end}</p>"
                                              f"<table><tr><th>time</th><th>value</th></tr>{rows}</table>"))

    def search(self, q: dict[str, list[str]]) -> None:
        term = (q.get("q") or [""])[0]
        hits = [t for t, (_, d) in TAGS.items() if term.lower() in (t + " " + d).lower()] if term else []
        items = "".join(f'<li><a href="/report?tag={t}">{t}</a></li>' for t in hits)
        self.reply(200, page("Search", f'<form action=/search><input name=q value="{term}"><input type=submit>'
                                       f"</form><p>{len(hits)} results for {term}</p><ul>{items}</ul>"))

    def upload_form(self, q: dict[str, list[str]]) -> None:
        self.reply(200, page("Recipes", UPLOAD_FORM))

    def upload(self, data: bytes) -> None:
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            self.reply(400, page("Recipes", "<p class=alarm>Expected a multipart form.</p>"))
            return
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + data)
        stored = []
        for part in msg.iter_parts():
            name = part.get_filename()
            if not name:
                continue
            name = posixpath.basename(name.replace("\\", "/")) or "upload"
            blob = part.get_payload(decode=True) or b""
            with self.lock:
                self.uploads[name] = blob[:MAX_UPLOAD_BYTES]
                self.uploads.move_to_end(name)
                while len(self.uploads) > MAX_UPLOADS:
                    self.uploads.popitem(last=False)
            stored.append(f'<li>stored <a href="/uploads/{urllib.parse.quote(name)}">{html.escape(name)}</a> '
                          f"({len(blob)} bytes)</li>")
        self.reply(200, page("Recipes", f"<ul>{''.join(stored) or '<li>no file</li>'}</ul>" + UPLOAD_FORM))

    def api_tags(self, q: dict[str, list[str]]) -> None:
        self.json_reply(200, {"tags": [{"tag": t, "unit": u, "description": d} for t, (u, d) in TAGS.items()]})

    def api_values(self, q: dict[str, list[str]]) -> None:
        wanted = [t for t in ",".join(q.get("tags") or [",".join(TAGS)]).split(",") if t]
        now = time.time()
        values = [{"tag": t, "value": round(value(t, now), 3), "unit": TAGS[t][0], "quality": "good",
                   "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))} for t in wanted if t in TAGS]
        unknown = [t for t in wanted if t not in TAGS]
        self.json_reply(200, {"values": values, "unknown": unknown, "from": (q.get("from") or [None])[0],
                              "to": (q.get("to") or [None])[0], "resolution": (q.get("resolution") or ["1s"])[0]})

    def static(self, data: bytes, ctype: str) -> None:
        modified = email.utils.formatdate(STARTED, usegmt=True)
        if self.headers.get("If-Modified-Since") == modified:
            self.send_response(304)
            self.send_header("Last-Modified", modified)
            self.end_headers()
            return
        self.reply(200, data, ctype, (("Last-Modified", modified), ("Cache-Control", "max-age=60")))

    def from_directory(self) -> None:
        """A plain file of the served directory (no listings, nothing outside it), else 404."""
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.not_found()
            return
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()
        if self.command != "HEAD":
            with path.open("rb") as f:
                shutil.copyfileobj(f, self.wfile)


LOGIN_FORM = ("<form method=post action=/login><label>User <input name=user></label> <label>Password "
              "<input name=pass type=password></label> <input type=submit value='Log in'></form>")
UPLOAD_FORM = ("<form method=post action=/upload enctype=multipart/form-data><input type=file name=file> "
               "<input name=comment placeholder=comment> <input type=submit value=Upload></form>")


class Server(http.server.ThreadingHTTPServer):
    """The HMI on ``(bind, port)``, serving ``directory``'s files at the paths it does not own."""

    daemon_threads = True

    def __init__(self, bind: str, port: int, directory: str) -> None:
        self.directory = directory
        super().__init__((bind, port), Handler)

    def finish_request(self, request, client_address):  # type: ignore[no-untyped-def]
        Handler(request, client_address, self, directory=self.directory)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--directory", default=os.getcwd(), help="files served at the paths the HMI does not own")
    ap.add_argument("--log", action="store_true", help="log every request to stderr")
    args = ap.parse_args(argv)
    Handler.quiet = not args.log
    Server(args.bind, args.port, args.directory).serve_forever()


if __name__ == "__main__":
    main()
