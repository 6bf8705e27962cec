"""The ``ctx.web_*`` columns: what each HTTP client sent, on every frame from or to it, whoever else talks."""

from __future__ import annotations

import random
from typing import Any

from support.rule_checks import frames
from support.web_requests import BENIGN, SERVER, SQLI, T0, TOOL, XSS, gets, session, signs

from agent.features.host_context import HostContextExtractor
from agent.features.web_content import WEB_COLUMNS, assess, target_of

UPLOAD = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cmd.jsp\"\r\n"
          b"Content-Type: application/octet-stream\r\n\r\n<%@ page import=\"java.io.*\" %>\r\n--b--\r\n")


def web_rows(packets: list[Any], ext: HostContextExtractor | None = None) -> list[tuple[str, str, dict[str, float]]]:
    """(source, destination, ctx.web_* values) of every frame with an IP layer, in time order."""
    ext = ext or HostContextExtractor()
    at = [ext.columns.index(c) for c in WEB_COLUMNS]
    out = []
    for row, ctx in ext.rows_with_context(frames(sorted(packets, key=lambda p: float(p.time)))):
        if ctx[1] is not None:
            out.append((ctx[1], ctx[3], {c: row[i] for c, i in zip(WEB_COLUMNS, at, strict=True)}))
    return out


def last_of(rows: list[tuple[str, str, dict[str, float]]], host: str) -> dict[str, float]:
    """The web columns of the last frame from or to ``host``."""
    return [w for src, dst, w in rows if host in (src, dst)][-1]


def crowd(out: list[Any], n: int = 20) -> None:
    """``n`` ordinary clients browsing and polling the server at the same time."""
    for k in range(n):
        session(gets(BENIGN * 3), f"10.1.1.{10 + k}", T0 + 0.013 * k, 0.4, out, port=42000 + k)


def test_each_attack_shows_on_its_clients_frames_among_twenty_ordinary_clients() -> None:
    rng = random.Random(5)
    words = [f"/{''.join(rng.choice('klmnopqrst') for _ in range(7))}" for _ in range(60)]
    tools = {"10.1.0.21": (gets(SQLI * 3), "ctx.web_sql"), "10.1.0.22": (gets(XSS * 3), "ctx.web_script"),
             "10.1.0.23": (gets(words, 404), "ctx.web_paths"), "10.1.0.24": ([("POST", "/files", UPLOAD, 200)] * 3,
                                                                              "ctx.web_upload")}
    out: list[Any] = []
    crowd(out)
    for k, (host, (requests, _)) in enumerate(tools.items()):
        session(requests, host, T0 + 1.0, 0.05, out, port=43000 + k)
    rows = web_rows(out)
    ordinary = [w for src, dst, w in rows if src.startswith("10.1.1.") or dst.startswith("10.1.1.")]
    assert ordinary and max(w["ctx.web_sql"] + w["ctx.web_script"] + w["ctx.web_upload"] for w in ordinary) == 0.0
    for host, (_, column) in tools.items():
        mine = last_of(rows, host)
        assert mine[column] >= 1.0, (host, mine)
        assert mine[column] > max(w[column] for w in ordinary), (host, column)
    scanner = last_of(rows, "10.1.0.23")
    assert scanner["ctx.web_refused"] > 4.0 and scanner["ctx.web_paths"] > 4.0  # log2(1 + n): n > 15


def test_answers_to_a_client_carry_its_evidence_and_it_fades() -> None:
    out = session(gets(SQLI), TOOL, T0, 0.05)
    rows = web_rows(out)
    answers = [w for src, dst, w in rows if src == SERVER and dst == TOOL]
    assert answers[-1]["ctx.web_sql"] >= 2.0
    later = session(gets(["/"]), TOOL, T0 + 120.0, 0.05, list(out), port=41001)
    again = web_rows(later)
    assert last_of(again, TOOL)["ctx.web_sql"] < 0.01  # two minutes on: forgotten (tau is the horizon, 10 s)


def test_a_repeated_path_is_not_a_new_one() -> None:
    polling = last_of(web_rows(session(gets(["/api/values?tag=PT101"] * 40), TOOL, T0, 0.1)), TOOL)
    assert polling["ctx.web_requests"] > 4.0 and polling["ctx.web_paths"] < 1.0 and polling["ctx.web_refused"] == 0


def test_clients_are_bounded_and_evictions_counted() -> None:
    out: list[Any] = []
    for k in range(12):
        session(gets(["/"]), f"10.1.2.{k}", T0 + k, 0.05, out, port=44000 + k)
    ext = HostContextExtractor(max_hosts=4)
    web_rows(out, ext)
    stats = ext.stats()
    assert stats["web_clients_tracked"] == 4 and stats["web_clients_evicted"] == 8


def test_assess_reads_a_request_once_and_as_the_rule_does() -> None:
    path, target = target_of("http://hmi.plant:8080/report?id=1'%20OR%20'1'='1#")
    assert (path, target) == ("/report", "/report?id=1'%20OR%20'1'='1#")
    seen = assess("GET", target, "")
    assert seen.families == ("sql",) and not seen.probe and not seen.upload
    assert signs(target, "") == {"sql"}
    assert assess("PROPFIND", "/.git/HEAD", "").probe and assess("PROPFIND", "/", "").odd_method
    assert assess("POST", "/files", UPLOAD.decode()).upload
    assert target_of(None) == ("", "")


def test_the_assessment_cache_stays_bounded_whatever_clients_send() -> None:
    from agent.features import web_content

    for k in range(700):
        assess("GET", f"/p{k}?id={k}", "x" * 20000)
    info = web_content._assess.cache_info()
    assert info.currsize <= info.maxsize == 512
    long = "/q?" + "a" * (web_content.CACHED_TARGET + 1)
    before = web_content._assess.cache_info().misses
    assert assess("GET", long + "' OR 1=1-- -", "").families == ("sql",)
    assert web_content._assess.cache_info().misses == before  # computed, not cached
