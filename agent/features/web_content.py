"""What an HTTP request carries, read the same way by the host context's columns and the web rule.

Why a module of its own: the lexical signs of web attacks (SQL, script, traversal and shell
payloads, probe paths, tools' user agents, uploads of scripts and executables) are computed by the
agent for the model's ``ctx.web_*`` columns (:mod:`agent.features.host_context`), at training and on
the gateway alike, and by ``rules.web_attack`` for its findings; one reading keeps them in step, and
a request assessed once (:func:`assess`, cached) is not assessed again by the other. Only shapes and
counts leave this module: no path, host name or parameter name reaches a model column.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from agent.lru import LruTable

#: hex of "HTTP/1." at the start of a response's first segment
STATUS_HEX = "485454502f312e"
#: bytes of a body read (payload signs sit at its start; an upload's name is in its first part)
BODY_SCAN = 8192

SQL = re.compile(
    r"\bunion\b[\s(]+(?:all\s+|distinct\s+)?select\b|\(\s*select\b|\b(?:information_schema|sysobjects|pg_catalog)\b"
    r"|\b(?:sleep|benchmark|pg_sleep|extractvalue|updatexml|load_file|concat_ws|group_concat|char|chr|substring|"
    r"ascii|md5|database)\s*\(|\bwaitfor\s+(?:delay|time)\b|@@version\b|\bxp_cmdshell\b"
    r"|\b(?:and|or|xor|rlike)\s+\(*\s*['\"]?-?\d+['\"]?\s*(?:=|<>|!=|<|>)\s*\(*['\"]?-?\d+"
    r"|\b(?:and|or)\s+(['\"])[^'\"]{0,20}\1\s*(?:=|like)\s*['\"]|['\"]\s*\)*\s*\b(?:and|or)\s+[\w'\"(]"
    r"|['\")]\s*(?:--|#)(?:[\s+-]|$|&)|\border\s+by\s+\d+\b"
    r"|;\s*(?:select|insert|update|delete|drop|exec|declare|shutdown|waitfor)\b"
    r"|\b(?:insert\s+into|drop\s+(?:table|database)|update\s+\w+\s+set)\b",
    re.IGNORECASE,
)
SCRIPT = re.compile(
    r"<\s*/?\s*(?:script|svg|iframe|img|details|video|audio|object|embed|marquee|math|frameset|xss)\b"
    r"|<\s*[a-z][a-z0-9]*[\s/+][^>]{0,200}?\bon[a-z]{3,25}\s*=|[\"'`]\s*[\s/+]*on[a-z]{3,25}\s*="
    r"|\b(?:java|vb)script\s*:|\b(?:alert|prompt|confirm)\s*[(`]|\.\w+\(\s*(?:alert|prompt|confirm)\s*\)|\(\s*(?:alert|prompt|confirm)\s*\)\s*[(`]"
    r"|document\s*\.\s*(?:cookie|domain|location|write)|\beval\s*\(|\bsrcdoc\s*=|\bexpression\s*\(",
    re.IGNORECASE,
)
TRAVERSAL = re.compile(
    r"(?:\.\.[/\\]){2,}|/etc/(?:passwd|shadow|hosts|issue)\b|\b(?:win|boot|system)\.ini\b"
    r"|\b(?:php|file|expect|data|zip|phar)://|\x00|/proc/self/",
    re.IGNORECASE,
)
COMMAND = re.compile(
    r"(?:;|\|\|?|`|\$\()\s*(?:id|cat|ls|uname|whoami|wget|curl|nc|ncat|ping|sleep|bash|sh|nslookup|powershell|"
    r"cmd(?:\.exe)?|net\s+user|env|pwd|ps|ifconfig|ipconfig|systeminfo|hostname)\b",
    re.IGNORECASE,
)
#: user agents of attack and scanning tools (their defaults; one sign among the others of a scanner)
TOOL_AGENT = re.compile(
    rb"user-agent:[^\r\n]*(?:sqlmap|nikto|nmap|wapiti|dirbuster|gobuster|ffuf|wfuzz|feroxbuster|nuclei|zgrab|"
    rb"masscan|acunetix|netsparker|w3af|arachni|openvas|whatweb|xsstrike|commix|skipfish|hydra)",
    re.IGNORECASE,
)
#: a parameter carrying a password, in a query, a form or a JSON body: a login attempt
LOGIN_FIELD = re.compile(
    r"(?:^|[?&;{,\s\"'])(?:[\w.\[\]-]*[_.\[-])?(?:password|passwd|passwort|passphrase|pass|pwd)\]?[\"']?\s*[=:]",
    re.IGNORECASE,
)
#: credentials in a request's headers
AUTH_HEADER = re.compile(rb"\r\nauthorization:\s*(?:basic|digest|ntlm)\s", re.IGNORECASE)
#: a file in a multipart body named as a script or an executable, or a script or executable's start
UPLOAD = re.compile(
    r"filename\s*=\s*\"?[^\"\r\n]*\.(?:php\d?|phtml|phar|jsp|jspx|asp|aspx|ashx|cgi|pl|py|sh|bash|exe|dll|"
    r"bat|cmd|ps1|vbs|war|jar|elf|so)\b|<\?php|<%@?\s|#!/(?:usr/)?bin/|\bMZ\x90",
    re.IGNORECASE,
)
#: paths scanners probe and browsers do not ask for
PROBE = re.compile(
    r"/\.(?:git|svn|hg|env|htaccess|htpasswd|ds_store|aws|ssh)\b|/(?:wp-(?:admin|login|content)|phpmyadmin|"
    r"server-status|server-info|cgi-bin|HNAP1|actuator|solr|manager/html)\b"
    r"|\.(?:bak|old|orig|swp|save|sql)$|~$|/nmaplowercheck|/evox/",
    re.IGNORECASE,
)
#: methods browsers and API clients use (OPTIONS is a CORS preflight)
BROWSER_METHODS = frozenset({"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"})
FAMILIES = ("sql", "script", "traversal", "command")


#: body bytes scanned for specials and keywords
HTTP_BODY_SCAN = 4096
#: characters injected SQL, script and shell commands need and ordinary requests rarely carry
HTTP_SPECIALS = frozenset("'\"<>;()`{}$|\\")
#: words of SQL injection, cross-site scripting, path traversal and command injection payloads
HTTP_KEYWORDS = re.compile(
    r"\b(?:select|union|insert|update|delete|drop|from|where|sleep|benchmark|waitfor|concat|extractvalue|"
    r"script|alert|prompt|confirm|onerror|onload|javascript|iframe|svg|eval|exec|system|passwd|wget|curl)\b"
    r"|\.\./|--|/\*",
    re.IGNORECASE,
)


class Assessment(NamedTuple):
    """What one request carries: its payload families (in :data:`FAMILIES` order), whether it asks
    for a path scanners probe, whether its method is one no browser sends, whether it uploads a
    script or an executable, and whether it sends a password (a login attempt)."""

    families: tuple[str, ...]
    probe: bool
    odd_method: bool
    upload: bool
    login: bool


def request_head(hexdata: str) -> bytes:
    """The start of a segment (request line and headers) from its hex payload."""
    try:
        return bytes.fromhex(hexdata[:4096])
    except ValueError:
        return b""


def tool_agent(hexdata: Any) -> bool:
    """Whether a request's headers (its segment as tshark's hex) name an attack or scanning tool."""
    return isinstance(hexdata, str) and TOOL_AGENT.search(request_head(hexdata)) is not None


def header_signs(hexdata: Any) -> tuple[bool, bool]:
    """Whether a request's headers (its segment as tshark's hex) name an attack or scanning tool, and
    whether they carry credentials (HTTP authentication), from one decoding."""
    if not isinstance(hexdata, str):
        return False, False
    head = request_head(hexdata)
    return TOOL_AGENT.search(head) is not None, AUTH_HEADER.search(head) is not None


def refusal(hexdata: Any) -> bool:
    """Whether a segment (tshark's hex) starts an HTTP response that refuses the request (4xx)."""
    return isinstance(hexdata, str) and hexdata.startswith(STATUS_HEX) and hexdata[18:20] == "34"


def target_of(full_uri: Any) -> tuple[str, str]:
    """``(path, target)`` of a request from tshark's ``http.request.full_uri``: the request target is
    everything from the first ``/`` after the host (a raw ``#`` and what follows stay: a tool may send
    them, and a comment marker is a sign), the path that target up to its query; both empty without
    a URI."""
    uri = full_uri if isinstance(full_uri, str) else ""
    at = uri.find("://")
    slash = uri.find("/", at + 3) if at >= 0 else uri.find("/")
    target = uri[slash:] if slash >= 0 else ""
    return target.split("?", 1)[0], target


def http_shape(full_uri: Any, body: Any) -> tuple[int, int, int]:
    """``(target length, specials, keywords)`` of one HTTP request (the ``ctx.http_*`` shape columns of
    :mod:`agent.features.host_context`)."""
    target = target_of(full_uri)[1]
    text = unquote_plus(target)
    if isinstance(body, str) and body:
        text += " " + unquote_plus(body[:HTTP_BODY_SCAN])
    specials = sum(1 for ch in text if ch in HTTP_SPECIALS)
    return len(target), specials, len(HTTP_KEYWORDS.findall(text))


def decoded(text: str) -> str:
    """``text`` percent- and plus-decoded until it stops changing (at most 3 rounds)."""
    for _ in range(3):
        nxt = unquote_plus(text, errors="replace")
        if nxt == text:
            break
        text = nxt
    return text


def assess(method: str, target: str, body: str) -> Assessment:
    """What a request (method, target, body) carries. Cached for targets up to :data:`CACHED_TARGET`
    characters: a flood repeats its request, and the host context and the web rule both ask; the
    bound keeps the cache under about 5 MB whatever clients send."""
    body = body[:BODY_SCAN]
    if len(target) > CACHED_TARGET:
        return _assess.__wrapped__(method, target, body)
    return _assess(method, target, body)


#: longest request target whose assessment is cached
CACHED_TARGET = 2048


@lru_cache(maxsize=512)
def _assess(method: str, target: str, body: str) -> Assessment:
    clean = decoded(target)
    text = clean + "\n" + decoded(body) if body else clean
    found = tuple(fam for fam, pattern in _PATTERNS if pattern.search(text))
    if not found:
        broken = quote_breaker(target, body)
        if broken:
            found = (broken,)
    return Assessment(found, PROBE.search(clean) is not None, method.upper() not in BROWSER_METHODS,
                      bool(body) and UPLOAD.search(body) is not None, LOGIN_FIELD.search(text) is not None)


def quote_breaker(target: str, body: str) -> str | None:
    """``"sql"`` when one parameter value (of the query, a form body, or a whole other body) leaves both
    a single and a double quote open (a quote escaped by a backslash does not count), ``"script"`` when
    such a value also carries an angle bracket, else None.

    Why: both quotes open break a string literal whichever quote a query uses, which is how
    error-based probes (wapiti's ``¿'"(``, sqlmap's heuristic check) find an injection with no SQL
    word at all; with ``<`` or ``>`` the probe tests where markup is echoed (XSStrike's ``'"<>``). A
    name like O'Brien or balanced JSON leaves at most one kind open."""
    for text in (target.partition("?")[2], body):
        for part in text.split("&") if "&" in text or "=" in text else (text,):
            value = decoded(part).replace("\\\\", "").replace("\\'", "").replace('\\"', "")
            if value.count("'") % 2 and value.count('"') % 2:
                return "script" if "<" in value or ">" in value else "sql"
    return None


_PATTERNS = (("sql", SQL), ("script", SCRIPT), ("traversal", TRAVERSAL), ("command", COMMAND))


#: ``ctx.web_*`` columns of :class:`WebClients`, in order
WEB_COLUMNS = ("ctx.web_requests", "ctx.web_paths", "ctx.web_refused", "ctx.web_sql", "ctx.web_script",
               "ctx.web_probe", "ctx.web_tool", "ctx.web_upload")
#: the columns of a frame of no HTTP client
NO_CLIENT = (0.0,) * len(WEB_COLUMNS)
#: paths remembered per client to tell a new one (a scanner's or a brute force's) from a repeat
MAX_PATHS = 64
#: slots of a client's entry: last ts, then the decayed counts in WEB_COLUMNS order, its paths, and its
#: columns as last computed with the ts they were computed at
_TS, _REQ, _PATHS, _REFUSED, _SQL, _SCRIPT, _PROBE, _TOOL, _UPLOAD, _SEEN, _COLS, _AT = range(12)
#: share of ``tau`` for which a client's columns, unchanged by a request or a refusal, are reused (the
#: counts decay by under 1.6% meanwhile; every frame of a busy client would otherwise recompute them)
FRESH_SHARE = 1 / 64
_FAMILY_SLOT = {"sql": _SQL, "script": _SCRIPT, "traversal": _PROBE, "command": _PROBE}
_exp, _log2 = math.exp, math.log2


class WebClients(LruTable[Any, list[Any]]):
    """HTTP client address -> what it sent over the last seconds, as decayed counts (time constant
    ``tau``): requests, first-seen paths, refusals (4xx answers), requests with SQL or script
    payloads, probes (traversal or shell payloads, paths scanners probe, methods no browser sends),
    requests in a scanning tool's name, uploads of scripts or executables.

    Why per client and decayed: a scanner among twenty ordinary clients is still a scanner when its
    own counts follow each of its frames, and a decayed count is O(1) per frame and forgets a client
    that stopped. :meth:`columns` gives ``log2(1 + count)`` of each, the range of one request to
    thousands within a few units.
    """

    def __init__(self, max_keys: int, tau: float) -> None:
        super().__init__(max_keys)
        self.tau = tau
        self.fresh = tau * FRESH_SHARE

    def _entry(self, client: Any, ts: float) -> list[Any]:
        st = self.pop(client, None)
        if st is None:
            if len(self) >= self.max_keys:
                self.evict_oldest()
            st = [ts, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, {}, None, ts]
        else:
            if ts != st[_TS]:
                decay = _exp((st[_TS] - ts) / self.tau)
                for i in range(_REQ, _SEEN):
                    st[i] *= decay
                st[_TS] = ts
            st[_COLS] = None
        self[client] = st
        return st

    def request(self, client: Any, ts: float, method: Any, full_uri: Any, body: Any, hexdata: Any) -> None:
        """Count one request of ``client`` at ``ts`` (fields as tshark gives them)."""
        st = self._entry(client, ts)
        path, target = target_of(full_uri)
        seen = assess(str(method), target, body if isinstance(body, str) else "")
        st[_REQ] += 1.0
        paths = st[_SEEN]
        last = paths.pop(path, None)
        new = last is None or ts - last > self.tau
        if new:
            st[_PATHS] += 1.0
        paths[path] = ts
        if len(paths) > MAX_PATHS:
            del paths[next(iter(paths))]
        for slot in {_FAMILY_SLOT[f] for f in seen.families}:
            st[slot] += 1.0
        if new and (seen.probe or seen.odd_method):  # once per path: a poller of /cgi-bin/status is no scanner
            st[_PROBE] += 1.0
        if tool_agent(hexdata):
            st[_TOOL] += 1.0
        if seen.upload:
            st[_UPLOAD] += 1.0

    def refused(self, client: Any, ts: float) -> None:
        """Count a refusal (an HTTP 4xx answer) sent to ``client``, if it is a known client."""
        if client in self:
            self._entry(client, ts)[_REFUSED] += 1.0

    def columns(self, client: Any, ts: float) -> tuple[float, ...] | None:
        """The ``ctx.web_*`` values of ``client`` at ``ts``, or None for an address that sent no request
        (or was evicted since)."""
        st = self.get(client)
        if st is None:
            return None
        cols = st[_COLS]
        if cols is not None and ts - st[_AT] < self.fresh:
            return cols
        decay = _exp((st[_TS] - ts) / self.tau) if ts != st[_TS] else 1.0
        log2 = _log2
        cols = st[_COLS] = (log2(1.0 + st[_REQ] * decay), log2(1.0 + st[_PATHS] * decay),
                            log2(1.0 + st[_REFUSED] * decay), log2(1.0 + st[_SQL] * decay),
                            log2(1.0 + st[_SCRIPT] * decay), log2(1.0 + st[_PROBE] * decay),
                            log2(1.0 + st[_TOOL] * decay), log2(1.0 + st[_UPLOAD] * decay))
        st[_AT] = ts
        return cols
