"""Benign HTTP: operators' browsers, dashboards, REST pollers and API clients on the site's web
application, as varied as the attacks on it.

Why: if every benign request is a short GET of a few pages, anything else (a long query string, a
JSON body, an upload, a 404, a quote in a form) is an attack to a model. So the operators here load
dashboards with dozens of assets, poll APIs with long query strings and JSON bodies, page through
API results with tokens, download exports, upload images, CSV files and firmware, follow stale
bookmarks to 404s, type names like O'Brien into forms and words like "select" or "union" into the
search box.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from urllib.parse import quote, quote_plus

from trainer.lab.ethernet.capture import Capture
from trainer.lab.ethernet.labels import NORMAL
from trainer.lab.ethernet.payloads.http import BROWSER_UAS, multipart
from trainer.lab.ethernet.payloads.webapp import WebApp, app_of, ordinary_value
from trainer.lab.ethernet.payloads.webclient import Client, Pace, Req, drive
from trainer.lab.ethernet.site import Host, Site

#: what people type into a site's search box and forms (SQL and script words in ordinary text)
SEARCHES = [
    "select pump 3",
    "union contract hours",
    "drop-in replacement valve",
    "delete old alarms",
    "update firmware line 2",
    "insert new recipe",
    "where is tank 4",
    "script for batch start",
    "alert history",
    "select all from zone 2",
    "order status",
    "sleep mode settings",
    "drop test results",
    "table of setpoints",
    "join line 1 and line 2",
    "exec summary",
    "null reading on PT-101",
    "1=1 scale factor",
    "char limit labels",
    "benchmark results oven",
    "O'Brien shift report",
    "operator's manual",
    '"quoted tag" search',
    "pressure > 5 bar",
    "temp < -10",
    "100% load",
    "a&b test",
    "C# client",
    "#3 conveyor",
    "pump-2 / valve-7",
]
NAMES = [
    "O'Brien",
    "D'Souza",
    "O'Neill",
    "N'Diaye",
    "L'Heureux",
    "Dell'Acqua",
    "Ma'ayan",
    "D'Angelo",
    "Smith-Jones",
    "Müller",
    "José García",
    "Zoë Kowalski",
    "Jean-Luc",
    "McDonald",
    "St. John",
    "van der Berg",
    "Nguyễn",
]
NOTES = [
    "Valve 3 won't close; it's stuck again",
    "Tank level < 20% & falling",
    "PT-101 reads 5 > setpoint",
    "Don't restart before 6 o'clock",
    'Replaced the "spare" motor (see ticket #418)',
    "ok",
    "Checked by O'Brien; all good",
    "Line 2: select mode 'auto' after cleaning",
    "Pump ran dry -- check seal",
    "Use the new recipe (v2.1) from now on",
    "See /docs/manual.pdf, page 12",
    "Order parts: 2x filter; 1x gasket",
]
API_AGENTS = [
    "python-requests/2.31.0",
    "node-fetch/1.0",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
    "axios/1.6.2",
    "Node-RED/3.1.0",
    "Grafana/10.2.0",
    "PostmanRuntime/7.36.0",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "Telegraf/1.29.0 Go/1.21.5",
    "influxdb-client-python/1.39.0",
]


def _cookie(rng: random.Random) -> str:
    return f"{rng.choice(['PHPSESSID', 'JSESSIONID', 'session', 'sid'])}={rng.randbytes(13).hex()}"


def dashboard(rng: random.Random, app: WebApp, host: str) -> Iterator[Req]:
    """A browser opening a page: the HTML, then its scripts, styles, images and fonts (304 when
    cached), then the page's API calls repeated on a refresh."""
    page = app.page(rng)
    cookie = [("Cookie", _cookie(rng))] if rng.random() < 0.7 else []
    yield Req("GET", page + (f"?{app.query(rng, rng.randint(1, 3))}" if rng.random() < 0.3 else ""), headers=cookie)
    ref = [("Referer", f"http://{host}{page}")]
    for a in rng.sample(app.assets, rng.randint(min(4, len(app.assets)), len(app.assets))):
        kind = (
            "image/png"
            if a.endswith((".png", ".ico", ".gif", ".jpg", ".svg"))
            else "text/css"
            if a.endswith(".css")
            else "application/javascript"
        )
        yield Req(
            "GET",
            a + (f"?v={rng.randint(1, 40)}.{rng.randint(0, 9)}" if rng.random() < 0.3 else ""),
            headers=ref + cookie,
            status=304 if rng.random() < 0.5 else 200,
            resp=rng.randint(300, 30_000),
            resp_type=kind,
        )
    for _ in range(rng.randint(1, 12)):
        yield Req(
            "GET",
            f"{app.api}/{rng.choice(app.resources)}?{app.query(rng)}",
            headers=ref + cookie,
            resp=rng.randint(100, 20_000),
            resp_type="application/json",
        )


def rest_poll(rng: random.Random, app: WebApp) -> Iterator[Req]:
    """A script polling the API with long query strings (tag lists, time ranges, fields) and posting
    JSON readings."""
    res = rng.choice(app.resources)
    for _ in range(rng.randint(2, 15)):
        if rng.random() < 0.65:
            tags = ",".join(
                f"{rng.choice(app.words).upper()[:4]}{rng.randint(100, 999)}" for _ in range(rng.randint(2, 30))
            )
            q = (
                f"tags={quote(tags)}&from={ordinary_value(rng, app.words)}&to={ordinary_value(rng, app.words)}"
                f"&step={rng.choice(['1s', '10s', '1m', '5m'])}&agg={rng.choice(['avg', 'max', 'min', 'last'])}"
            )
            if rng.random() < 0.5:
                q += "&" + app.query(rng, rng.randint(1, 4))
            yield Req("GET", f"{app.api}/{res}?{q}", resp=rng.randint(200, 40_000), resp_type="application/json")
        else:
            doc = {
                "ts": rng.randint(1_600_000_000, 1_800_000_000),
                "quality": rng.choice(["good", "uncertain"]),
                "values": {
                    f"{rng.choice(app.words)}_{i}": round(rng.uniform(-50, 500), 2) for i in range(rng.randint(1, 40))
                },
                "note": rng.choice(NOTES),
            }
            yield Req(
                rng.choice(["POST", "PUT"]),
                f"{app.api}/{res}",
                body=json.dumps(doc).encode(),
                ctype="application/json",
                status=rng.choice([200, 201, 204]),
                resp_type="application/json",
            )


def api_client(rng: random.Random, app: WebApp) -> Iterator[Req]:
    """An API client paging through results with a bearer token, filters and sort orders."""
    token = [("Authorization", "Bearer " + rng.randbytes(rng.choice([24, 48, 96])).hex())]
    res = rng.choice(app.resources)
    for page in range(1, rng.randint(2, 12)):
        q = f"page={page}&per_page={rng.choice([25, 50, 100, 500])}&sort={rng.choice(['-ts', 'ts', 'name', '-id'])}"
        if rng.random() < 0.6:
            status, fields = rng.choice(["open", "closed", "ack"]), ",".join(rng.sample(app.words, 4))
            q += f"&filter%5Bstatus%5D={status}&fields={fields}"
        yield Req(
            "GET", f"{app.api}/{res}?{q}", headers=token, resp=rng.randint(500, 60_000), resp_type="application/json"
        )


def downloads(rng: random.Random, app: WebApp) -> Iterator[Req]:
    """Exports and documents downloaded (a stale link among them now and then)."""
    for f in rng.sample(app.downloads, rng.randint(1, len(app.downloads))):
        yield Req(
            "GET",
            f,
            status=404 if rng.random() < 0.08 else 200,
            resp=rng.randint(5_000, 150_000),
            resp_type="application/octet-stream",
        )


def uploads(rng: random.Random, app: WebApp) -> Iterator[Req]:
    """Legitimate uploads: photos of a machine, CSV recipes and readings, firmware images."""
    kind = rng.choice(["image", "csv", "firmware"])
    if kind == "image":
        magic, ctype = rng.choice(
            [(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png")]
        )
        name = (
            rng.choice(["IMG_", "DSC", "photo_", "pump", "scan"])
            + str(rng.randint(1, 9999))
            + (".jpg" if ctype == "image/jpeg" else ".png")
        )
        data = magic + rng.randbytes(rng.randint(2_000, 60_000))
    elif kind == "csv":
        name, ctype = f"{rng.choice(app.words)}_{rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}.csv", "text/csv"
        cols = rng.sample(app.words, 4)
        data = (
            ",".join(cols)
            + "\n"
            + "".join(",".join(f"{rng.uniform(0, 900):.2f}" for _ in cols) + "\n" for _ in range(rng.randint(5, 800)))
        ).encode()
    else:
        name = (
            f"{rng.choice(['fw', 'firmware', 'plc', 'gw', 'hmi'])}-{rng.randint(1, 5)}.{rng.randint(0, 20)}."
            f"{rng.randint(0, 99)}.{rng.choice(['bin', 'img', 'hex', 'swu', 'fw'])}"
        )
        ctype = "application/octet-stream"
        data = rng.choice([b"\x27\x05\x19\x56", b"hsqs", b"UBI#", b"\xd0\x0d\xfe\xed"]) + rng.randbytes(
            rng.randint(20_000, 200_000)
        )
    yield Req("GET", app.upload)
    body, mct = multipart(
        rng,
        [(rng.choice(["file", "upload", "attachment", "image"]), name, ctype, data)],
        [("description", rng.choice(NOTES))] if rng.random() < 0.5 else [],
    )
    yield Req("POST", app.upload, body=body, ctype=mct, status=rng.choice([200, 201, 302]))


def stale_bookmark(rng: random.Random, app: WebApp) -> Iterator[Req]:
    """An old bookmark: a page that moved (404, or a redirect), then the right one."""
    old = (
        rng.choice(["/old", "/v1", "/legacy", "/hmi2", app.root or "/app", "/test"])
        + "/"
        + rng.choice(app.words)
        + rng.choice([".html", ".php", "", ".aspx"])
    )
    yield Req("GET", old, status=rng.choice([404, 404, 301, 410]))
    yield Req("GET", "/favicon.ico", status=rng.choice([200, 404]))
    yield Req("GET", app.page(rng))


def forms(rng: random.Random, app: WebApp) -> Iterator[Req]:
    """Forms with names and notes as people type them, and the search box."""
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.5:
            yield Req(
                "GET", f"{app.search}?{rng.choice(['q', 'search', 'term', 's'])}={quote_plus(rng.choice(SEARCHES))}"
            )
        else:
            fields = {
                rng.choice(["name", "operator", "author", "contact"]): rng.choice(NAMES),
                rng.choice(["comment", "note", "message", "remarks"]): rng.choice(NOTES),
                rng.choice(app.params): ordinary_value(rng, app.words),
            }
            body = "&".join(f"{k}={quote_plus(v)}" for k, v in fields.items()).encode()
            yield Req("POST", app.page(rng), body=body, status=rng.choice([200, 302]))


KINDS: dict[str, tuple[Callable[..., Iterator[Req]], int]] = {
    "dashboard": (lambda rng, app, host: dashboard(rng, app, host), 5),
    "rest_poll": (lambda r, a, h: rest_poll(r, a), 4),
    "api_client": (lambda r, a, h: api_client(r, a), 2),
    "downloads": (lambda r, a, h: downloads(r, a), 1),
    "uploads": (lambda r, a, h: uploads(r, a), 1),
    "stale_bookmark": (lambda r, a, h: stale_bookmark(r, a), 1),
    "forms": (lambda r, a, h: forms(r, a), 2),
}


def web_visit(cap: Capture, site: Site, t: float, kind: str, src: Host | None = None) -> float:
    """One visit of ``kind`` from one of the site's clients; the time it ends."""
    rng = cap.rng
    app = app_of(site)
    cl = src if src is not None else rng.choice([site.hmi, *site.clients])
    if kind in ("rest_poll", "api_client"):
        client = Client(site.web_host, rng.choice(API_AGENTS), rng.choice(["requests", "curl", "tool"]))
    else:
        client = Client(site.web_host, rng.choice(BROWSER_UAS[:4]), "browser")
    gap = rng.uniform(0.01, 0.3) if kind == "dashboard" else rng.uniform(0.3, 8)
    pc = Pace(lambda r: r.uniform(0.001, gap), rng.choice([(1, 1), (2, 8), (20, 60)]))
    return drive(cap, site, t, None, NORMAL, cl, client, KINDS[kind][0](rng, app, site.web_host), pc, app.server)


def normal_http(cap: Capture, site: Site, t0: float, t1: float) -> None:
    """Operators' browsers and scripts on the site's web application, a visit of one kind at a time."""
    rng = cap.rng
    names = list(KINDS)
    weights = [KINDS[k][1] * rng.uniform(0.3, 1.5) for k in names]
    for cl in [site.hmi, *site.clients]:
        t = t0 + rng.uniform(0, 20)
        mean = rng.uniform(20, 90)
        while t < t1:
            t = web_visit(cap, site, t, rng.choices(names, weights)[0], cl) + rng.expovariate(1 / mean)
