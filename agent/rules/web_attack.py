"""Web attacks read from what each client sends: injections, cross-site scripting, uploads, scanners,
logins guessed.

Why read the requests: a tool on a LAN sends its requests in a burst, and what the model sees of
them (sizes, rates, a few counts of the target's shape) looks like an HTTP flood; sqlmap, wapiti,
dirb and nmap's scripts were all called DDoS_HTTP. Classic IDSs tell them apart by the request, and
so does this rule, per client, over ``window_s``:

* each request's target (path and query) and body, percent- and plus-decoded until they stop
  changing (up to 3 rounds: double encoding is an evasion), is matched against the lexical signs of
  each family of payload: SQL (``UNION SELECT``, tautologies, ``SLEEP(``, comment markers after a
  quote, ``information_schema``..., or a parameter value leaving both kinds of quote open, as
  error-based probes send), script (tags, event handlers, ``javascript:``, ``alert(``..., or such
  a value with an angle bracket, as reflection probes send),
  path traversal and file inclusion, and shell commands;
* an upload is a multipart body carrying a file whose name or content is a script or an executable;
* a scanner is a client whose requests spread over several payload families, or over many distinct
  paths most of which the server refuses (4xx), or that uses methods and probe paths no browser does.

A client with ``min_requests`` requests of one family (and fewer of every other) is reported as that
family's class; breadth is reported as ``scanner_class``; an upload at once. A request sending a
password (a form, query or JSON field, HTTP authentication) and no payload is a login attempt:
never a request of a web attack nor a scanner's sign, whatever tool sends it (hydra names itself in
its user agent); ``min_logins`` of them and as many answers refusing a login make ``login_class``.
Requests are only counted, never stored, and at most ``max_clients`` clients are followed (least
recently seen dropped, counted). The rule also *explains* the model: model windows of the classes
in ``overrules`` (a flood, a login guessed) between an attacking client and the server it attacks
within ``explain_s`` of a request of the attack, or between that server and a client too slow to
flood it when the window holds such a request (unless the server is flooded: 10 plain requests a
second from however many clients, or 20 requests begun and never finished, as slowloris and slow
POSTs hold them), are counted as the class the client's latest such request points to (see
:meth:`WebAttackRule.explain`); with ``confirms``, even where the model's confidence stays under
that class's threshold. A window with a request of an attack within a second is never vouched clean
(:meth:`WebAttackRule.during`). A window that connections carrying a reported attack's requests fill
counts as that attack whatever the model reads (:meth:`WebAttackRule.flow_classes`). Each interval
starts unclassed; requests over UDP (SSDP) are not read; a probe path or an odd method counts once
per path, so a poller of ``/cgi-bin/status`` is no scanner.

What it cannot see: HTTPS (the rule reads cleartext HTTP only), payloads the signs do not cover
(a blind injection written without SQL keywords or quotes), and a scanner slower than its window.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.errors import ConfigError
from agent.features import ETHERNET_CONTEXT
from agent.features.login_failures import auth_failure
from agent.features.web_content import FAMILIES, assess, header_signs, refusal, target_of
from agent.lru import DecayingCounts, LruTable
from agent.rules.base import Detector, DetectorConfig, Finding, ReportRun
from agent.schema import doc
from agent.windows import GLOBAL_KEY

COLUMNS = ("http.request.method", "http.request.full_uri", "http.file_data", "tcp.payload", "tcp.len")
_TS, _SRC, _SPORT, _DST, _DPORT, _PROTO, _FLOW = (
    ETHERNET_CONTEXT.index(f) for f in ("ts", "src_ip", "src_port", "dest_ip", "dest_port", "proto", "flow_id"))
#: distinct paths, most of them refused, from which a client leans to a scanner (before it is one)
LEANING_PATHS = 8
#: requests with a scanning tool's user agent and no payload that make it a scanner
TOOL_REQUESTS = 20
#: share of a client's flagged requests a payload family needs to count towards a scanner's breadth
BREADTH_SHARE = 0.05
#: requests a second from which a client could be flooding a server itself
FLOOD_RATE = 10.0
#: requests begun and not finished, on one server within ``window_s``, from which it is under a slow
#: flood (slowloris, slow POST: connections held open by requests that never end)
SLOW_FLOOD = 20
#: hex of the methods a request starts with (a segment starting so without a request parsed in its
#: row begins a request that a later segment may finish)
_REQUEST_START = tuple(f"{m} ".encode().hex() for m in ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"))
#: seconds before and after a window within which a request of the attack counts as the window's: the
#: window may hold only the answers and acknowledgements of a request just outside it
NEAR_S = 1.0
#: payloads of one family in a row after which a client reported as a scanner counts as that family
SWITCH_REQUESTS = 6
#: flagged requests remembered to tell which windows hold one (:meth:`WebAttackRule.during`)
MAX_FLAGGED = 4096
#: connections remembered as carrying a request of an attack (:meth:`WebAttackRule.flow_classes`)
MAX_FLOWS = 4096


@dataclass(slots=True)
class _Connection:
    """A connection that carried a request of an attack."""

    client: str
    flagged: int = 0
    """its requests of the attack"""
    plain: int = 0
    """its other requests, once it carried one of the attack"""
    read: bool = False
    """whether one of them carried a payload, an upload or a tool's name (not only a scanner's new path)"""


@dataclass
class _Client:
    """One client's requests in the current interval."""

    start: float
    requests: int = 0
    families: dict[str, int] = field(default_factory=dict)
    paths: set[str] = field(default_factory=set)
    refused: int = 0
    odd: int = 0
    """paths asked for as no browser does: probe paths, methods of no browser"""
    tool: int = 0
    """requests whose user agent names an attack or scanning tool"""
    uploads: int = 0
    logins: int = 0
    """requests sending a password and no payload (a login guessed or made)"""
    failed: int = 0
    """answers to it that refuse a login (once it sent one)"""
    server: Any = None
    """the host its latest request went to"""
    flagged_at: float = float("-inf")
    """when the client last sent a request of the attack (see :meth:`WebAttackRule.scan`)"""
    reported: str | None = None
    recent: str | None = None
    """the class the client's latest flagged request points to (a tool run after another)"""
    streak: int = 0
    """requests with a payload in a row, up to the latest, whose family points to ``recent``"""
    runs: dict[str, ReportRun] = field(default_factory=dict)

    def restart(self, ts: float) -> None:
        self.start = ts
        self.requests = self.refused = self.odd = self.tool = self.uploads = self.logins = self.failed = 0
        self.families.clear()
        self.paths.clear()
        self.reported = self.recent = None  # what the client is now is read from this interval's requests
        self.streak = 0


@dataclass
class WebAttackConfig(DetectorConfig):
    """Web attacks read from what each client sends: SQL injection, XSS, uploads of scripts or
    executables, scanners, logins guessed (cleartext HTTP)."""

    window_s: float = doc("a client's requests are counted over intervals this long", 60.0)
    explain_s: float = doc("seconds after a client's last request of an attack within which model windows "
                           "with it (or the server it attacks) count as that attack", 15.0)
    min_requests: int = doc("requests of one payload family from one client before it is reported", 3)
    scan_min_families: int = doc("payload families (SQL, script, traversal, command), two requests each, "
                                 "that make a scanner", 3)
    scan_min_paths: int = doc("distinct paths from one client that make a scanner when most are refused", 20)
    scan_refused_share: float = doc("share of a client's requests refused (HTTP 4xx) for its paths to make a scanner",
                                    0.5)
    max_clients: int = doc("clients followed at once; least recently seen dropped beyond", 4096)
    sql_class: str = doc("class of SQL injection", "SQL_injection")
    xss_class: str = doc("class of cross-site scripting", "XSS")
    upload_class: str = doc("class of an upload of a script or an executable", "Uploading")
    login_class: str = doc("class of logins guessed over HTTP", "Password")
    min_logins: int = doc("login attempts from one client, and answers refusing them, that make logins guessed "
                          "(a request sending a password and no payload is a login attempt)", 10)
    scanner_class: str = doc("class of a scanner", "Vulnerability_scanner")
    overrules: list[str] = doc(
        "model classes that a window ending with a frame between an attacking client and the server it attacks "
        "is counted as the client's class instead of (a burst of injections looks like a flood to the model)",
        factory=lambda: ["DDoS_HTTP", "Password"],
    )
    vouches: list[str] = doc(
        "model classes a window ending with a frame to or from a client is not counted as when the rule read "
        "that client's requests and found them clean (what it sent says otherwise)",
        factory=lambda: ["SQL_injection", "XSS", "Uploading", "Vulnerability_scanner"],
    )
    confirms: bool = doc(
        "a model window this rule names (its hosts' or a reported client's attack content) counts as that class "
        "even below the class's threshold: the content is the evidence the window lacks", True)
    slow_vouches: list[str] = doc(
        "model classes such a window is not counted as either when the clean client also sent fewer than 10 "
        "requests a second (too few to flood) and the window ends with its exchange with a server that plain "
        "requests do not flood", factory=lambda: ["DDoS_HTTP"],
    )


class WebAttackRule(Detector[WebAttackConfig]):
    """Finds web attacks in what clients send (see the module docstring)."""

    name = "web_attack"
    summary = "web attacks read from requests: SQL injection, XSS, uploads of scripts, scanners, logins guessed"
    Config = WebAttackConfig
    reads = COLUMNS

    def __init__(self, columns: Sequence[str], config: WebAttackConfig | None = None, **settings: Any) -> None:
        super().__init__(columns, config, **settings)
        cfg = self.config
        self.check_settings({"min_requests": (cfg.min_requests, 1), "scan_min_paths": (cfg.scan_min_paths, 2),
                                   "scan_min_families": (cfg.scan_min_families, 2),
                                   "max_clients": (cfg.max_clients, 1), "min_logins": (cfg.min_logins, 1)},
                            {"window_s": cfg.window_s, "explain_s": cfg.explain_s})
        if not 0.0 < cfg.scan_refused_share <= 1.0:
            raise ConfigError(f"{self.section()}.scan_refused_share must be in (0, 1], got {cfg.scan_refused_share}")
        self._method, self._uri, self._body, self._payload, self._len = self.indices()
        self.overrules = frozenset(cfg.overrules)
        self.vouches = frozenset(cfg.vouches)
        self.slow_vouches = frozenset(cfg.slow_vouches)
        self.confirms = cfg.confirms
        self._clients: LruTable[str, _Client] = LruTable(cfg.max_clients)
        #: server -> the client whose requests to it last carried attack content, and when
        self._attacked: LruTable[str, tuple[str, float]] = LruTable(cfg.max_clients)
        #: server -> decayed count of requests that are not requests of an attack (time constant 1 s)
        self._plain: DecayingCounts[str] = DecayingCounts(cfg.max_clients, 1.0)
        #: server -> (client, port) -> when a request it began there and has not finished began
        self._unfinished: LruTable[str, dict[tuple[str, int], float]] = LruTable(cfg.max_clients)
        #: requests of an attack, in time order (ts, client), the last ``window_s``
        self._flagged_ts: list[float] = []
        self._flagged_by: list[str] = []
        #: connection (flow id) -> what it carried, last flagged last
        self._flows: LruTable[int, _Connection] = LruTable(MAX_FLOWS)
        self._counters = {"web_attack_findings": 0, "web_attack_requests_flagged": 0,
                          "web_attack_windows_explained": 0, "web_attack_windows_vouched": 0}

    def stats(self) -> dict[str, int]:
        """Findings, flagged requests, clients and attack connections followed and evicted, model windows
        explained."""
        return {**self._counters, "web_attack_clients_evicted": self._clients.evicted,
                "web_attack_clients_tracked": len(self._clients), "web_attack_flows_evicted": self._flows.evicted,
                "web_attack_flows_tracked": len(self._flows)}

    def _client(self, ip: str, ts: float) -> _Client:
        table = self._clients
        c = table.get(ip)
        if c is None:
            c = table[ip] = _Client(ts)
            table.trim()
        else:
            table.move_to_end(ip)
            if ts - c.start >= self.config.window_s or ts < c.start:
                c.restart(ts)
        return c

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings of ``rows``: a client's requests reaching a family's evidence, as they do."""
        out: list[Finding] = []
        method_col, uri_col, body_col, payload_col, len_col = (self._method, self._uri, self._body, self._payload,
                                                               self._len)
        clients = self._clients
        for row, ctx in zip(rows, contexts, strict=True):
            method = row[method_col]
            if method and ctx[_PROTO] != "TCP":  # SSDP and other discovery over UDP: not a web client
                continue
            if not method:
                if row[len_col] and ctx[_SPORT] is not None:
                    payload = row[payload_col]
                    if isinstance(payload, str) and payload.startswith(_REQUEST_START):
                        self._begun(ctx)
                    c = clients.get(ctx[_DST])
                    if c is not None:
                        if refusal(payload):
                            c.refused += 1
                        if c.logins and auth_failure(payload):
                            c.failed += 1
                continue
            ts, src = float(ctx[_TS]), ctx[_SRC]
            begun = self._unfinished.get(ctx[_DST])
            if begun:
                begun.pop((src, ctx[_SPORT]), None)  # a request begun in an earlier segment, finished
            c = self._client(src, ts)
            c.requests += 1
            c.server = ctx[_DST]
            path, target = target_of(row[uri_col])
            body = row[body_col]
            body = body if isinstance(body, str) else ""
            seen = assess(str(method), target, body)
            odd_before = c.odd
            new_path = path not in c.paths
            if new_path:  # a probe counts once per path: a poller of /cgi-bin/status is no scanner
                c.odd += seen.odd_method or seen.probe
                if len(c.paths) < 4096:
                    c.paths.add(path)
            tool, credentials = header_signs(row[payload_col])
            found = seen.families
            # a password sent without a payload is a login guessed, whatever tool sends it: no request
            # of a web attack, nor a scanner's sign (hydra names itself in its user agent)
            login = (seen.login or credentials) and not found and not seen.upload
            if login:
                c.logins += 1
            elif tool:
                c.tool += 1
            for fam in found:  # in FAMILIES order: a set's order changes from run to run
                c.families[fam] = c.families.get(fam, 0) + 1
            if found:
                self._counters["web_attack_requests_flagged"] += 1
                fam_cls = self._family_class(found[0])
                c.streak = c.streak + 1 if fam_cls == c.recent else 1
                c.recent = fam_cls
            elif c.odd > odd_before:
                c.recent = self.config.scanner_class
            if seen.upload:
                c.uploads += 1
                c.recent = self.config.upload_class
                self._report(c, self.config.upload_class, ts, ctx, "uploaded a script or an executable "
                             f"({str(method).upper()} {target[:80]})", out)
            verdict = self._verdict(c)
            if verdict is not None:
                if verdict[0] == self.config.login_class:
                    c.recent = verdict[0]
                self._report(c, verdict[0], ts, ctx, verdict[1], out)
            # a request of the attack: a sign, an upload, or, from a client this interval's requests
            # point to an attack, a tool's user agent (sqlmap's plain requests between its payloads)
            # or, from a scanner, a new path (its next); not that client's other plain requests (a
            # flood of pages, a login guessed): they explain no window once ``explain_s`` has passed
            points = None if login or not (new_path or tool) else self._leaning(c)
            if found or seen.upload or (points is not None and (tool or points == self.config.scanner_class)):
                c.flagged_at = ts
                self._remember(ts, src)
                self._carried(ctx[_FLOW], src, bool(found or seen.upload or tool))
                attacked = self._attacked
                attacked[ctx[_DST]] = (src, ts)
                attacked.move_to_end(ctx[_DST])
                attacked.trim()
            else:
                self._plain.add(ctx[_DST], ts)  # not a request of an attack
                conn = self._flows.get(ctx[_FLOW])
                if conn is not None:
                    conn.plain += 1
        return out

    def _flooded(self, server: Any, ts: float) -> bool:
        """Whether ``server`` receives FLOOD_RATE plain requests a second or more around ``ts``, from
        however many clients (a flood from elsewhere, slow client by slow client), or holds SLOW_FLOOD
        requests begun within ``window_s`` and not finished (a slow flood: they complete no request)."""
        return self._plain.count(server, ts) >= FLOOD_RATE or self._slow_flooded(server, ts)

    def _slow_flooded(self, server: Any, ts: float) -> bool:
        """Whether ``server`` holds SLOW_FLOOD requests begun within ``window_s`` of ``ts`` and not finished."""
        begun = self._unfinished.get(server)
        if not begun:
            return False
        oldest = ts - self.config.window_s
        while begun and next(iter(begun.values())) < oldest:
            del begun[next(iter(begun))]
        return len(begun) >= SLOW_FLOOD

    def _begun(self, ctx: tuple[Any, ...]) -> None:
        """Note a request begun in a segment that did not finish it (its row has no request)."""
        table = self._unfinished
        begun = table.get(ctx[_DST])
        if begun is None:
            begun = table[ctx[_DST]] = {}
            table.trim()
        key = (ctx[_SRC], ctx[_SPORT])
        if key not in begun:
            begun[key] = float(ctx[_TS])
            if len(begun) > 4 * SLOW_FLOOD:
                del begun[next(iter(begun))]

    def _verdict(self, c: _Client) -> tuple[str, str] | None:
        """The class a client's requests now make, with the evidence, or None. Payloads of several
        families make a scanner; one family's (four in five flagged requests) makes its class, however
        the client is dressed; then breadth of paths refused, probes and tools' signs make a scanner."""
        cfg = self.config
        flagged = sum(c.families.values())
        if c.logins >= cfg.min_logins and c.failed >= cfg.min_logins and not flagged and not c.uploads:
            return cfg.login_class, f"guesses logins: {c.logins} of {c.requests} requests send a password, " \
                f"{c.failed} answers refuse one"
        # a family counts towards breadth with two requests and a share of the payloads: sqlmap's one
        # test of a firewall (SQL, script and traversal in one request) does not make it a scanner
        fams = {f: n for f, n in c.families.items() if n >= 2 and n >= BREADTH_SHARE * flagged}
        sql, script = c.families.get("sql", 0), c.families.get("script", 0)
        if len(fams) < cfg.scan_min_families:
            if sql >= cfg.min_requests and sql >= 0.8 * flagged:
                return cfg.sql_class, f"{sql} of {c.requests} requests carry SQL injection"
            if script >= cfg.min_requests and script >= 0.8 * flagged:
                return cfg.xss_class, f"{script} of {c.requests} requests carry script injection (XSS)"
        spread = len(c.paths) >= cfg.scan_min_paths and c.refused >= cfg.scan_refused_share * c.requests
        # a tool that says what it is and has sent many requests without a payload yet, to several
        # paths, is probing (hydra fetching a login form before each guess asks for one path)
        probing = c.tool >= TOOL_REQUESTS and flagged < cfg.min_requests and len(c.paths) >= LEANING_PATHS \
            and not self._guessing(c)
        # probes and methods no browser sends make a scanner over several paths: one client trying
        # every method on a page or two (a test of a server's methods) is not scanning it
        probes = c.odd >= cfg.min_requests * 2 and len(c.paths) >= LEANING_PATHS
        if len(fams) >= cfg.scan_min_families or spread or probes or probing or (
                len(fams) >= 2 and flagged >= cfg.min_requests * 2):
            what = []
            if fams:
                what.append(f"payloads of {len(fams)} kinds ({', '.join(f'{f} {n}' for f, n in sorted(fams.items()))})")
            what.append(f"{len(c.paths)} distinct paths, {c.refused} refused")
            if c.odd:
                what.append(f"{c.odd} paths asked for as no browser does")
            if c.tool:
                what.append(f"{c.tool} with a scanning tool's user agent")
            return cfg.scanner_class, f"scans the web server: {c.requests} requests, " + ", ".join(what)
        return None

    def _report(self, c: _Client, cls: str, ts: float, ctx: tuple[Any, ...], what: str, out: list[Finding]) -> None:
        run = c.runs.setdefault(cls, ReportRun())
        if run.last_report is not None and 0.0 <= ts - run.last_report < 1.0:
            return
        since = run.report(c.start, ts, self.config.window_s)
        c.reported = cls
        src, dst = ctx[_SRC], ctx[_DST]
        self._counters["web_attack_findings"] += 1
        out.append(Finding(
            key=GLOBAL_KEY, cls=cls, first_ts=since, last_ts=ts,
            context={"src_ip": src, "src_port": ctx[_SPORT], "dest_ip": dst, "dest_port": ctx[_DPORT],
                     "proto": "TCP", "app_proto": "http"},
            evidence=f"{src} {what} to {dst}", quiet_s=self.config.window_s))

    def _leaning(self, c: _Client) -> str | None:
        """The class a client's requests point to so far: its reported one, else that of its most
        frequent payload family, else a scanner's where it probes or is refused path after path (so
        a few requests already explain the model's windows)."""
        if c.reported is not None:
            return c.reported
        verdict = self._verdict(c)
        if verdict is not None:
            return verdict[0]
        if c.families:
            top = max(FAMILIES, key=lambda f: c.families.get(f, 0))  # a tie goes to the first family
            return self._family_class(top)
        if c.odd >= 2 or (c.tool >= 2 and not self._guessing(c)) or (
                len(c.paths) >= LEANING_PATHS and 2 * c.refused >= c.requests):
            return self.config.scanner_class
        return None

    def _guessing(self, c: _Client) -> bool:
        """Whether ``c`` sends logins (``min_requests`` or more): a login guesser's user agent is no
        scanner's sign."""
        return c.logins >= self.config.min_requests

    def _family_class(self, family: str) -> str:
        """The class a payload family points to (traversal and shell payloads: a scanner's)."""
        return {"sql": self.config.sql_class, "script": self.config.xss_class}.get(family, self.config.scanner_class)

    def _now(self, c: _Client) -> str | None:
        """The class a client's windows count as now: what its latest flagged request points to (a tool
        run after another, within one interval), else as it leans; but a client reported as a scanner
        stays one unless it uploads or sends SWITCH_REQUESTS payloads of one family in a row (a tool run
        after the scan: a scanner's payloads change family from request to request)."""
        if c.reported == self.config.scanner_class and c.recent != self.config.upload_class and not (
                c.streak >= SWITCH_REQUESTS and c.recent in (self.config.sql_class, self.config.xss_class)):
            return c.reported
        return c.recent or self._leaning(c)

    def vouch(self, src: Any, dst: Any, ts: float) -> frozenset[str]:
        """The model classes a window ending with a frame to or from ``src`` or ``dst`` is not counted as:
        :attr:`vouches` (the web attacks) where that host is a client whose requests the rule read
        within ``window_s`` of ``ts`` (at least ``min_requests``) and found clean, no payload, upload,
        probe or scanner's breadth; and :attr:`slow_vouches` (a flood) too where it also sent fewer
        than FLOOD_RATE requests a second and the window ends with its exchange with the server it
        asks. What the client sent says otherwise; of a window ending with its other traffic (a
        Modbus poll, say), cut from every host's frames, it says nothing about a flood of others."""
        for host, other in ((src, dst), (dst, src)):
            c = self._clients.get(host) if host is not None else None
            if (c is not None and c.requests >= self.config.min_requests and abs(ts - c.start) <= self.config.window_s
                    and not c.families and not c.uploads and c.reported is None and self._leaning(c) is None):
                self._counters["web_attack_windows_vouched"] += 1
                if self._busy(host, ts) or other != c.server or self._flooded(other, ts):
                    return self.vouches
                return self.vouches | self.slow_vouches
        return frozenset()

    def explain(self, src: Any, dst: Any, ts: float) -> str | None:
        """The class of the web attack a window with these hosts belongs to around ``ts``, or None: the
        window's hosts are a client whose requests carried attack content within ``explain_s`` and the
        server it attacks, or that server and a host sending too few requests to flood it itself.
        :meth:`explanation` given the window's first time also asks the latter window, and the
        former where the server is flooded, to hold a request of the attack: one of a bystander
        during an attack on its server holds the bystander's traffic (a slow flood's, another
        client's), and an attacker may be flooding the server now, not attacking it.

        The pipeline counts a model window of a class in :attr:`overrules` with these hosts as this
        class: a burst of injections is not a flood of the server. A window of another client of the
        server that sends many requests keeps the model's answer, so a flood from elsewhere during
        the attack is still one. (Rules scan a whole batch before its windows are scored, so the
        content may come from a request just after the window.)
        """
        return self.explanation(src, dst, ts)[0]

    def explanation(self, src: Any, dst: Any, ts: float, first_ts: float | None = None) -> tuple[str | None, bool]:
        """:meth:`explain`'s class, and whether the rule reported the client it found as that class
        (what the pipeline needs to count the window as that class where the model is not sure: a
        class the client only leans to, such as a scanner's for the commands sent to a shell it
        uploaded, is not one)."""
        client = self._explaining(src, dst, ts, first_ts)
        cls = self._now(client) if client is not None else None
        if client is None or cls is None:
            return None, False
        self._counters["web_attack_windows_explained"] += 1
        return cls, cls in client.runs

    def _explaining(self, src: Any, dst: Any, ts: float, first_ts: float | None = None) -> _Client | None:
        limit = self.config.explain_s
        for host, other in ((src, dst), (dst, src)):
            if host is None:
                continue
            client = self._clients.get(host)
            attacked = self._attacked.get(host)
            target = self._attacked.get(other) if other is not None else None
            # the client's own window with the server it attacks (not its other traffic: a login
            # guessed over SSH on another host after the scan is that host's business); with that
            # server held by requests never finished, only a window holding a request of the attack
            # (the attacker may be flooding it slowly now; a tool's burst of plain requests is its own)
            if (client is None or abs(ts - client.flagged_at) > limit or target is None or target[0] != host
                    or (first_ts is not None and self._slow_flooded(other, ts)
                        and not self._sent_between(host, first_ts, ts))):
                if (attacked is None or abs(ts - attacked[1]) > limit or self._busy(other, ts)
                        or self._flooded(host, ts)):
                    continue
                client = self._clients.get(attacked[0])
                if client is None or (first_ts is not None and not self._sent_between(attacked[0], first_ts, ts)):
                    continue
            if self._now(client) is not None:
                return client
        return None

    def _carried(self, flow: int, client: str, read: bool) -> None:
        """Note that connection ``flow`` (0: none) carried a request of an attack from ``client``."""
        if not flow:
            return
        flows = self._flows
        conn = flows.get(flow)
        if conn is None or conn.client != client:
            conn = flows[flow] = _Connection(client)
            flows.trim()
        else:
            flows.move_to_end(flow)
        conn.flagged += 1
        conn.read = conn.read or read

    def flow_classes(self, flows: Sequence[int]) -> dict[int, str]:
        """Of ``flows`` (flow ids), those that carried a request of an attack from a client the rule
        reported, each with the class that client counts as now (see :meth:`explanation`).

        Why: a window is cut from everyone's frames in turn; one filled with an upload's segments or
        an injector's exchanges is that attack whatever frame ends it, and the model, seeing a few
        large frames among others, may call it benign (the pipeline counts such a window as the
        attack where these connections fill ``pipeline.WINDOW_SHARE`` of it)."""
        out: dict[int, str] = {}
        for f in flows:
            conn = self._flows.get(f)
            # a connection whose requests of the attack are only new paths must carry mostly those (a
            # flood's cache-busting requests from a client that scanned before reach a few new paths)
            if conn is None or (not conn.read and conn.flagged < conn.plain):
                continue
            c = self._clients.get(conn.client)
            if c is not None and (cls := self._now(c)) is not None and cls in c.runs:
                out[f] = cls
        return out

    def _remember(self, ts: float, client: str) -> None:
        """Keep a flagged request's time and client (the last ``window_s``, at most MAX_FLAGGED)."""
        times, who = self._flagged_ts, self._flagged_by
        if times and ts < times[-1]:
            ts = times[-1]  # a capture's clock stepping back keeps the list in order
        times.append(ts)
        who.append(client)
        if len(times) > 2 * MAX_FLAGGED or times[0] < ts - 2 * self.config.window_s:
            cut = max(len(times) - MAX_FLAGGED, bisect_left(times, ts - self.config.window_s))
            del times[:cut], who[:cut]

    def during(self, first_ts: float, last_ts: float, name: bool = True) -> tuple[str | None, bool]:
        """What the rule read between a window's first and last record (NEAR_S either side): the class of
        the last client the rule reported whose request of the attack fell there (None without one, or
        unless ``name``: the caller will not use it), and whether any request of an attack fell there.

        Why: a window is cut from everyone's frames in turn, so it can hold an attacker's requests and
        end with a frame of a clean client; judged by its last frame's hosts alone, such a window was
        counted benign, and the attack lost most of its windows on a busy site."""
        near = self._flagged_near(first_ts, last_ts)
        for k in reversed(near) if name else ():
            c = self._clients.get(self._flagged_by[k])
            if c is not None and c.reported is not None:
                self._counters["web_attack_windows_explained"] += 1
                return self._now(c), True
        return None, len(near) > 0

    def reported_during(self, first_ts: float, last_ts: float, cls: str) -> bool:
        """Whether a client the rule reported as ``cls`` sent a request of an attack between a window's
        first and last record (NEAR_S either side): the second half of :meth:`explanation` for a
        window :meth:`during` names."""
        who, clients = self._flagged_by, self._clients
        return any(cls in c.runs for k in self._flagged_near(first_ts, last_ts)
                   if (c := clients.get(who[k])) is not None)

    def _sent_between(self, client: str, first_ts: float, last_ts: float) -> bool:
        """Whether ``client`` sent a request of an attack between ``first_ts`` and ``last_ts``."""
        who = self._flagged_by
        return any(who[k] == client for k in self._flagged_near(first_ts, last_ts, 0.0))

    def _flagged_near(self, first_ts: float, last_ts: float, margin: float = NEAR_S) -> range:
        """Indices into the flagged requests of those between ``first_ts`` and ``last_ts``, ``margin`` either side."""
        times = self._flagged_ts
        return range(bisect_left(times, first_ts - margin), bisect_right(times, last_ts + margin))

    def _busy(self, host: Any, ts: float) -> bool:
        """Whether ``host`` has sent requests fast enough to be flooding (FLOOD_RATE a second or more)."""
        c = self._clients.get(host) if host is not None else None
        return c is not None and c.requests >= FLOOD_RATE * max(1.0, ts - c.start)


DETECTOR = WebAttackRule
