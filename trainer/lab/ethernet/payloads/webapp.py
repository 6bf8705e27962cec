"""The web application a site serves: its pages, parameters, API and assets, drawn per session.

Why: a model that sees one fixed list of paths and parameter names learns those names, not what is
sent in them. Each session's application is drawn from word pools in several naming styles, and both
its operators and its attackers use the same names (sqlmap attacks the parameters the site has), so
a name never tells an attack from a request. A share of every pool (:func:`pool`) is held out of
the sessions a model trains on (``held_out``: validation and test sessions draw from all of it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from urllib.parse import quote

from trainer.lab.ethernet.site import Site

#: words an IIoT site's web application names its pages, resources and parameters with
WORDS = [
    "alarm",
    "alarms",
    "asset",
    "assets",
    "batch",
    "boiler",
    "chiller",
    "compressor",
    "conveyor",
    "device",
    "devices",
    "energy",
    "event",
    "events",
    "feeder",
    "flow",
    "gateway",
    "history",
    "line",
    "machine",
    "meter",
    "motor",
    "node",
    "order",
    "oven",
    "panel",
    "plant",
    "pressure",
    "pump",
    "recipe",
    "report",
    "reports",
    "sensor",
    "sensors",
    "shift",
    "site",
    "station",
    "status",
    "tag",
    "tags",
    "tank",
    "temp",
    "trend",
    "trends",
    "unit",
    "valve",
    "zone",
    "cell",
    "operator",
    "user",
    "users",
    "profile",
    "account",
    "item",
    "product",
    "catalog",
    "article",
    "page",
    "view",
    "detail",
    "record",
    "entry",
    "log",
    "logs",
    "audit",
    "config",
    "setting",
    "settings",
    "schedule",
    "task",
    "job",
    "ticket",
    "note",
    "comment",
    "message",
    "document",
    "file",
    "export",
    "backup",
    "archive",
    "chart",
    "graph",
    "overview",
    "summary",
    "kpi",
    "oee",
    "downtime",
    "quality",
    "lot",
    "serial",
    "part",
    "stock",
    "inventory",
    "supplier",
    "customer",
    "invoice",
    "plc",
    "hmi",
    "scada",
    "controller",
    "loop",
    "setpoint",
    "channel",
    "port",
]
#: short parameter names forms and APIs use everywhere
SHORT_PARAMS = [
    "id",
    "q",
    "p",
    "s",
    "t",
    "n",
    "f",
    "v",
    "uid",
    "pid",
    "cid",
    "sid",
    "ref",
    "key",
    "cat",
    "lang",
    "sort",
    "dir",
    "page",
    "limit",
    "offset",
    "from",
    "to",
    "step",
    "mode",
    "type",
    "fmt",
    "search",
]
SUFFIXES = ["id", "no", "name", "code", "ref", "key", "num", "type", "date", "ts", "from", "to", "filter"]
APP_DIRS = [
    "",
    "",
    "/hmi",
    "/scada",
    "/portal",
    "/app",
    "/web",
    "/ui",
    "/mes",
    "/plant",
    "/ops",
    "/console",
    "/dashboard",
    "/site",
    "/cms",
    "/intranet",
]
API_BASES = [
    "/api",
    "/api/v1",
    "/api/v2",
    "/api/v3",
    "/rest",
    "/rest/v1",
    "/v1",
    "/data",
    "/svc",
    "/ws",
    "/odata",
    "/graphql-api",
    "/service",
]
ASSET_DIRS = [
    "/static",
    "/assets",
    "/public",
    "/dist",
    "/js",
    "/css",
    "/img",
    "/images",
    "/media",
    "/res",
    "/resources",
    "/content",
    "/lib",
    "/vendor",
    "/bundles",
    "/theme",
]
ASSET_NAMES = [
    "app",
    "main",
    "vendor",
    "runtime",
    "polyfills",
    "chunk",
    "bootstrap",
    "jquery",
    "chart",
    "moment",
    "style",
    "theme",
    "layout",
    "icons",
    "logo",
    "banner",
    "sprite",
    "fonts",
    "print",
    "grid",
    "widgets",
    "plotly",
    "echarts",
    "react",
    "vue",
    "angular",
    "lodash",
    "d3",
    "leaflet",
    "socket",
]
#: application kinds: page extension, server headers
STYLES = {
    "php": (
        [".php"],
        [
            "Apache/2.4.41 (Ubuntu)",
            "Apache/2.4.57 (Debian)",
            "nginx/1.18.0 (Ubuntu)",
            "Apache/2.4.6 (CentOS) PHP/7.4.33",
        ],
    ),
    "asp": ([".aspx", ".asp", ".ashx"], ["Microsoft-IIS/10.0", "Microsoft-IIS/8.5"]),
    "jsp": ([".jsp", ".do", ".action"], ["Apache-Coyote/1.1", "Jetty(9.4.z-SNAPSHOT)", "Apache Tomcat"]),
    "py": (["", "/"], ["Werkzeug/2.2.2 Python/3.9.2", "gunicorn", "uvicorn", "nginx"]),
    "node": (["", ".html"], ["nginx", "Express", "lighttpd/1.4.59", "Node-RED"]),
    "cgi": ([".cgi", ".htm", ".html"], ["lighttpd/1.4.59", "GoAhead-Webs", "Boa/0.94.14rc21", "mini_httpd/1.30"]),
}


def pool(members: list[str], held_out: bool) -> list[str]:
    """``members`` less every fourth one (the held-out share) unless ``held_out``: sessions a model
    trains on never see those members; the sessions it is validated and tested on draw from all."""
    return list(members) if held_out else [m for i, m in enumerate(members) if i % 4 != 3]


def _name(rng: random.Random, words: list[str], style: str) -> str:
    """A parameter or resource name in one naming style (snake, camel, kebab, plain, short)."""
    a = rng.choice(words)
    b = rng.choice(SUFFIXES)
    return {
        "snake": f"{a}_{b}",
        "camel": a + b.capitalize(),
        "kebab": f"{a}-{b}",
        "plain": a,
        "upper": a.capitalize() + b.upper() if len(b) <= 3 else a.capitalize() + b.capitalize(),
    }[style]


@dataclass
class WebApp:
    """One site's web application."""

    held_out: bool
    style: str
    ext: str
    server: str
    root: str
    api: str
    pages: list[str]
    params: list[str]
    resources: list[str]
    assets: list[str]
    login: str
    search: str
    upload: str
    downloads: list[str]
    words: list[str] = field(default_factory=list)

    def page(self, rng: random.Random) -> str:
        return rng.choice(self.pages)

    def query(self, rng: random.Random, k: int | None = None) -> str:
        """An ordinary query string with the site's parameters (values as browsers encode them)."""
        names = rng.sample(self.params, min(len(self.params), k or rng.randint(1, 4)))
        return "&".join(f"{n}={ordinary_value(rng, self.words)}" for n in names)


def ordinary_value(rng: random.Random, words: list[str]) -> str:
    """A parameter value an operator's browser or a script sends: numbers, words, dates, tag lists."""
    kind = rng.randrange(7)
    if kind == 0:
        return str(rng.randint(0, 99999))
    if kind == 1:
        return quote(f"{rng.choice(words)} {rng.randint(1, 40)}")
    if kind == 2:
        return (
            f"20{rng.randint(19, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}"
            f"%3A{rng.randint(0, 59):02d}%3A00Z"
        )
    if kind == 3:
        return "%2C".join(f"{rng.choice(words).upper()[:3]}{rng.randint(100, 999)}" for _ in range(rng.randint(1, 8)))
    if kind == 4:
        return rng.choice(["asc", "desc", "true", "false", "json", "csv", "en", "de", "1", "0", "all", "live"])
    if kind == 5:
        return f"{rng.uniform(-50, 500):.{rng.randint(0, 3)}f}"
    return "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice([8, 16, 32])))


def draw_app(rng: random.Random, held_out: bool = False) -> WebApp:
    """A web application: naming style, pages, parameters, API resources, assets, downloads."""
    words = pool(WORDS, held_out)
    style = rng.choice(list(STYLES))
    exts, servers = STYLES[style]
    ext = rng.choice(exts)
    root = rng.choice(pool(APP_DIRS, held_out))
    naming = rng.choice(["snake", "camel", "kebab", "plain", "upper"])
    mine = rng.sample(words, rng.randint(10, 24))
    pages = sorted({f"{root}/{w}{ext}" for w in mine[: rng.randint(5, 10)]} | {f"{root}/"})
    params = sorted(
        {_name(rng, mine, rng.choice([naming, naming, "plain"])) for _ in range(rng.randint(4, 10))}
        | set(rng.sample(pool(SHORT_PARAMS, held_out), rng.randint(2, 6)))
    )
    api = rng.choice(pool(API_BASES, held_out))
    resources = sorted(set(rng.sample(mine, rng.randint(3, 8))))
    adirs = rng.sample(pool(ASSET_DIRS, held_out), rng.randint(1, 3))
    assets = []
    for _ in range(rng.randint(8, 40)):
        name = rng.choice(pool(ASSET_NAMES, held_out))
        if rng.random() < 0.5:
            name += rng.choice([".", "-", "."]) + "".join(rng.choice("0123456789abcdef") for _ in range(8))
        suffix = rng.choice([".js", ".js", ".css", ".png", ".svg", ".woff2", ".ico", ".gif", ".jpg", ".map"])
        assets.append(f"{root}{rng.choice(adirs)}/{name}{suffix}")
    word = rng.choice(mine)
    login = f"{root}/{rng.choice(['login', 'signin', 'auth', 'logon', 'session'])}{ext}"
    search = f"{root}/{rng.choice(['search', 'find', 'lookup', 'query', 'filter'])}{ext}"
    upload = rng.choice(
        [
            f"{root}/{rng.choice(['upload', 'import', 'files', 'attach', 'media'])}{ext}",
            f"{api}/{word}/upload",
            f"{api}/files",
            f"{root}/admin/{rng.choice(['firmware', 'import', 'upload'])}{ext}",
        ]
    )
    downloads = [
        f"{root}/{rng.choice(['export', 'download', 'files', 'reports', 'docs'])}/{rng.choice(mine)}-"
        f"20{rng.randint(19, 26)}-{rng.randint(1, 12):02d}.{rng.choice(['csv', 'pdf', 'xlsx', 'zip', 'json', 'bin'])}"
        for _ in range(rng.randint(2, 8))
    ]
    return WebApp(
        held_out,
        style,
        ext,
        rng.choice(servers),
        root,
        api,
        pages,
        params,
        resources,
        assets,
        login,
        search,
        upload,
        downloads,
        mine,
    )


def app_of(site: Site) -> WebApp:
    """The site's web application: the one its session drew (``site.extras["web_app"]``), else one
    drawn from the site's own addresses (sites tests make), without touching the session's stream."""
    app = site.extras.get("web_app")
    if not isinstance(app, WebApp):
        app = draw_app(random.Random(f"web-app/{site.web.ip.hex()}/{site.web.mac.hex()}"))
        site.extras["web_app"] = app
    return app
