"""Web vulnerability scanners: path brute force as dirb, gobuster and ffuf run it, nikto's probes,
nmap's version probes and HTTP scripts, and wapiti's modules over a crawled site.

An episode chains one to three of them, as an attacker does (nmap, then nikto, then a wordlist),
each with its own user agent (or a browser's), pace and answers: a wordlist is mostly 404s with a
few 200/301/403 where the site has something; nikto and nmap ask for many distinct known paths and
methods no browser sends.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from urllib.parse import quote

from trainer.lab.ethernet.attacks.hosts import pick_source
from trainer.lab.ethernet.capture import Capture
from trainer.lab.ethernet.payloads import probes
from trainer.lab.ethernet.payloads.http import BROWSER_UAS
from trainer.lab.ethernet.payloads.webapp import WebApp, app_of, pool
from trainer.lab.ethernet.payloads.webclient import Client, Req, drive, pace
from trainer.lab.ethernet.site import Site

SCANNERS = ("dirb", "gobuster", "ffuf", "nikto", "nmap", "wapiti")


def _found(rng: random.Random, path: str, app: WebApp, hit: float) -> int:
    """The server's answer to a guessed path: the site's own pages exist, a few guesses hit."""
    if path in app.pages or path.rstrip("/") in app.pages:
        return 200
    if rng.random() < hit:
        return rng.choice([200, 301, 301, 403, 403, 401, 302])
    return 404


def wordlist_requests(rng: random.Random, app: WebApp, tool: str) -> Iterator[Req]:
    """dirb (its list in order, recursing into directories it finds), gobuster and ffuf (threads:
    the list roughly in order, extensions appended, HEAD or GET)."""
    words = pool(probes.DIRB_COMMON if tool == "dirb" else probes.GOBUSTER_MEDIUM + probes.DIRB_COMMON, app.held_out)
    start = rng.randrange(len(words))
    exts = ["", *rng.sample(probes.EXTENSIONS, rng.randint(0, 4))]
    method = "HEAD" if tool == "gobuster" and rng.random() < 0.2 else "GET"
    base = rng.choice(["", "", app.root])
    hit = rng.uniform(0.01, 0.08)
    dirs = [base]
    i = start
    while True:
        d = rng.choice(dirs) if tool == "dirb" and len(dirs) > 1 and rng.random() < 0.3 else base
        word = words[i % len(words)]
        i += 1 if tool == "dirb" else rng.choice([1, 1, 1, 2, -1])
        for ext in exts if tool != "dirb" else [rng.choice(exts)]:
            path = f"{d}/{word}{ext}" if tool != "ffuf" else f"{d}/{quote(word)}{ext}"
            status = _found(rng, path, app, hit)
            if status in (200, 301, 403) and not ext and len(dirs) < 6:
                dirs.append(path.rstrip("/"))
            yield Req(method, path + ("/" if tool == "dirb" and rng.random() < 0.15 else ""), status=status)


def nikto_requests(rng: random.Random, app: WebApp, ua: str | None) -> Iterator[Req]:
    """nikto: checks for files that tell how the server answers a missing page, then its database in
    order, each request with its test number in the user agent."""
    checks = list(probes.NIKTO)
    rng.shuffle(checks)
    own = ua is not None and "Nikto" in ua
    for ext in rng.sample([".html", ".php", ".asp", ".cgi", ".txt", ".jsp", ".pl", ".sh", ".bak", ".htm"], 6):
        yield Req(
            "GET",
            "/" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(8)) + ext,
            status=404,
        )
    i = 0
    while True:
        method, path = checks[i % len(checks)]
        i += 1
        if rng.random() < 0.25:  # site-relative checks: its own root and pages
            path = f"{app.root}{path}" if path.startswith("/") else path
        status = rng.choice(
            [404, 404, 404, 404, 403, 200, 400, 405, 501] if method != "GET" or i % 3 else [404, 404, 200]
        )
        headers = (
            [("User-Agent", ua.replace(ua[ua.rindex("Test:") + 5 : -1], f"{rng.randrange(1, 999999):06d}"))]
            if own and ua is not None
            else []
        )
        yield Req(method, path, headers=headers, status=status)


def nmap_requests(rng: random.Random, app: WebApp) -> Iterator[Req]:
    """nmap -sV -sC: version probes over HTTP/1.0 without a Host, then its default HTTP scripts
    (http-title, http-methods, http-robots.txt, http-enum, http-git, ...), then over again on the
    next port's run."""
    while True:
        for method, target, version, host in probes.NMAP_VERSION:
            if target:
                yield Req(method, target, version=version, host=host, status=rng.choice([200, 400, 404]))
        for method, path in rng.sample(probes.NMAP_SCRIPTS, rng.randint(8, len(probes.NMAP_SCRIPTS))):
            yield Req(
                method, path, status=200 if path in ("/", "/robots.txt") else rng.choice([404, 404, 405, 403, 200])
            )
        yield Req("GET", f"/nmaplowercheck{rng.randint(1_500_000_000, 1_800_000_000)}", status=404)
        for word in rng.sample(pool(probes.DIRB_COMMON, app.held_out), rng.randint(5, 40)):  # http-enum
            yield Req(rng.choice(["GET", "HEAD"]), f"/{word}", status=_found(rng, f"/{word}", app, 0.04))


def wapiti_requests(rng: random.Random, app: WebApp) -> Iterator[Req]:
    """wapiti: a crawl of the site, then each module's values in each parameter of each page."""
    for page in app.pages:
        yield Req("GET", page)
    modules = rng.sample(list(probes.WAPITI_MODULES), rng.randint(3, len(probes.WAPITI_MODULES)))
    while True:
        for mod in modules:
            page, param = app.page(rng), rng.choice(app.params)
            for value in probes.WAPITI_MODULES[mod]:
                value = value.replace(
                    "{t}", "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
                )
                enc = quote(value, safe="/:")
                if rng.random() < 0.3:
                    yield Req("POST", page, body=f"{param}={enc}".encode(), status=rng.choice([200, 200, 500]))
                else:
                    yield Req("GET", f"{page}?{param}={enc}", status=rng.choice([200, 200, 404, 500]))
        for page in rng.sample(app.pages, min(3, len(app.pages))):  # mod_backup, mod_htaccess
            for ext in (".bak", "~", ".old", ".orig"):
                yield Req("GET", page + ext, status=404)
            yield Req(rng.choice(["ABC", "PUT", "DELETE", "PROPFIND"]), page, status=rng.choice([405, 501, 400]))


def scanner_requests(rng: random.Random, app: WebApp, tool: str, ua: str | None) -> Iterator[Req]:
    if tool in ("dirb", "gobuster", "ffuf"):
        return wordlist_requests(rng, app, tool)
    if tool == "nikto":
        return nikto_requests(rng, app, ua)
    if tool == "nmap":
        return nmap_requests(rng, app)
    return wapiti_requests(rng, app)


def atk_vuln_scan(cap: Capture, site: Site, t: float, n: int) -> None:
    """One to three scanners in a row from one source, each with its own agent, pace and share of
    the episode."""
    rng = cap.rng
    app = app_of(site)
    src = pick_source(site, rng)
    tools = rng.sample(SCANNERS, rng.choice([1, 2, 2, 3]))
    shares = [rng.uniform(0.3, 1.0) for _ in tools]
    browser = rng.choice(BROWSER_UAS[:4])
    for tool, share in zip(tools, shares, strict=True):
        ua = probes.scanner_agent(rng, tool, browser)
        style = {"nmap": "nmap", "dirb": "bare", "nikto": "tool", "wapiti": "requests"}.get(tool, "tool")
        pc = pace(rng, rng.choice(["burst", "burst", "steady", "delay"]))
        if tool == "nmap":
            pc.per_conn = (1, 8)
        part = max(20, int(n * share / sum(shares)))
        t = drive(
            cap,
            site,
            t,
            part,
            "Vulnerability_scanner",
            src,
            Client(site.web_host, ua, style),
            scanner_requests(rng, app, tool, ua),
            pc,
            app.server,
        ) + rng.uniform(0.5, 20)
