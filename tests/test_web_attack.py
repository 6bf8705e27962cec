"""The web attack rule: payload families read from requests, per client; uploads; scanners; the model's
flood windows explained by the attack; and the calm of browsing and REST polling."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from support.rule_checks import check_rule_config, frames, replay_rule, run_rule
from support.web_requests import BENIGN, CLIENT, SERVER, SQLI, T0, TOOL, XSS, gets, session, signs

from agent.rules.web_attack import WebAttackConfig, WebAttackRule


def findings(packets: list[Any], **cfg: Any) -> list[Any]:
    found, _ = run_rule(WebAttackRule, packets, config=WebAttackConfig(**cfg))
    return found


def test_sql_injection_is_reported_as_sql_injection() -> None:
    found = findings(session(gets(SQLI), TOOL, T0, 0.05))
    assert {f.cls for f in found} == {"SQL_injection"}
    assert found[0].context["src_ip"] == TOOL and found[0].context["dest_ip"] == SERVER
    assert "SQL injection" in found[0].evidence


def test_a_tool_that_says_what_it_is_is_judged_by_what_it_sends() -> None:
    sqlmap = findings(session(gets(SQLI), TOOL, T0, 0.05, agent="sqlmap/1.7.2#stable (https://sqlmap.org)"))
    assert {f.cls for f in sqlmap} == {"SQL_injection"}
    nse = "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"
    scripts = ["/", "/robots.txt", "/favicon.ico", "/nice%20ports%2C/Tri%6Eity.txt%2ebak", "/.git/HEAD",
               "/nmaplowercheck1700000000", "/crossdomain.xml", "/clientaccesspolicy.xml", "/.svn/entries"]
    probes = gets(scripts * 3, 404)
    assert {f.cls for f in findings(session(probes, TOOL, T0, 0.05, agent=nse))} == {"Vulnerability_scanner"}


def test_error_probes_without_a_sql_word_are_sql_injection() -> None:
    """An error-based probe appends characters that leave both quotes open to one parameter at a time
    (wapiti's SQL module sends nothing else), in queries and form bodies alike."""
    pages = ["/report?tag=PT101&from=2026-12-07", "/search?q=pump", "/trend?id=7&span=1h"]
    probes = []
    for page in pages * 4:
        path, query = page.split("?")
        params = query.split("&")
        for i in range(len(params)):
            hit = [p + ("%C2%BF%27%22%28" if j == i else "") for j, p in enumerate(params)]
            probes.append(("GET", f"{path}?{'&'.join(hit)}", b"", 200))
    probes.append(("POST", "/login", "user=alice&pass=x\u00bf'\"(".encode(), 200))
    assert {f.cls for f in findings(session(probes, TOOL, T0, 0.05))} == {"SQL_injection"}


def test_open_quotes_with_an_angle_bracket_probe_for_markup() -> None:
    assert signs("/search?q=v3dm0s%27%22%3C%3E", "") == {"script"}  # XSStrike's reflection probe
    assert signs("/search?q=pump%C2%BF%27%22%28", "") == {"sql"}


@pytest.mark.parametrize(("target", "body"), [
    ("/report?name=O%27Brien&unit=%225%5C%22+pipe%22", ""),  # one apostrophe; an escaped quote
    ("/api/note", '{"note": "it\'s 5\\" long", "by": "O\'Hara"}'),  # JSON: quotes balanced once escapes go
    ("/search?q=%22exact+phrase%22&who=d%27Arc", ""),
])
def test_one_open_quote_is_not_a_probe(target: str, body: str) -> None:
    assert signs(target, body) == set()


def test_xss_is_reported_as_xss() -> None:
    assert {f.cls for f in findings(session(gets(XSS), TOOL, T0, 0.05))} == {"XSS"}


def test_a_script_upload_is_reported_at_once() -> None:
    body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"shell.php\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n<?php system($_GET['c']); ?>\r\n--b--\r\n")
    found = findings(session([("POST", "/upload", body, 200)], TOOL, T0, 0.05))
    assert [f.cls for f in found] == ["Uploading"]


def test_breadth_makes_a_scanner() -> None:
    rng = random.Random(3)
    words = [f"/{''.join(rng.choice('abcdefghij') for _ in range(6))}" for _ in range(40)]
    dirb = findings(session(gets(words, 404), TOOL, T0, 0.01))
    assert {f.cls for f in dirb} == {"Vulnerability_scanner"}
    mixed = gets(SQLI[:3] + XSS[:3] + ["/f?file=../../../../etc/passwd", "/f?file=../../../../etc/shadow",
                                        "/p?host=1;cat /etc/passwd", "/p?host=`id`"])
    assert "Vulnerability_scanner" in {f.cls for f in findings(session(mixed, TOOL, T0, 0.05))}
    probes = [("PROPFIND", "/", b"", 405), ("TRACE", "/", b"", 405), ("GET", "/.git/HEAD", b"", 404),
              ("GET", "/HNAP1", b"", 404), ("GET", "/nmaplowercheck1700000000", b"", 404),
              ("GET", "/server-status", b"", 404), ("DEBUG", "/", b"", 405), ("GET", "/.env", b"", 404),
              ("GET", "/phpmyadmin/", b"", 404), ("GET", "/backup.sql", b"", 404)]
    assert {f.cls for f in findings(session(probes, TOOL, T0, 0.05))} == {"Vulnerability_scanner"}
    # every method on one page (a test of what the server allows) is not a scan of it
    methods = [(m, "/", b"", 405) for m in ("OPTIONS", "TRACE", "CONNECT", "PROPFIND", "CCM_POST", "DEBUG")] * 2
    assert findings(session(methods, CLIENT, T0, 0.05)) == []


def test_browsing_and_rest_polling_raise_nothing() -> None:
    out: list[Any] = []
    session(gets(BENIGN * 10), CLIENT, T0, 0.2, out)
    body = b'{"setpoint": 42.5, "color": "#ff0000", "note": "pump 3; left \\"open\\""}'
    session([("POST", "/api/setpoint", body, 200)] * 50 + gets(["/missing.png"] * 3, 404), CLIENT, T0, 0.2, out,
            port=41001)
    assert findings(out) == []


def test_settings_are_checked() -> None:
    check_rule_config("web_attack", [("min_requests", "0"), ("scan_min_paths", "1"), ("window_s", "0"),
                                     ("explain_s", "0")])


def test_signs_decode_double_encoding() -> None:
    assert signs("/r?id=1%2527%2520OR%25201%253D1", "") == {"sql"}
    assert signs("/report?name=O'Brien&sort=asc", "") == set()


@pytest.mark.parametrize("kind", ["sql", "xss"])
def test_the_model_does_not_call_an_injection_burst_a_flood(tmp_path: Path, kind: str) -> None:
    """A tool's burst of requests (hundreds a second from one client) through the shipped bundle: the
    web attack rule's class is raised, and no DDoS_HTTP."""
    paths = (SQLI if kind == "sql" else XSS) * 60
    packets = session(gets(paths), TOOL, T0, 0.004)
    session(gets(BENIGN * 3), CLIENT, T0, 0.5, packets, port=41001)
    alerts, _, _ = replay_rule(tmp_path, packets, "web_attack")
    classes = {a["edge_ids"]["class"] for a in alerts}
    assert {"SQL_injection" if kind == "sql" else "XSS"} <= classes
    assert "DDoS_HTTP" not in classes


def test_flood_windows_involving_an_attacker_count_as_its_attack() -> None:
    import numpy as np

    from agent.features import ETHERNET_CONTEXT
    from agent.runtime.pipeline import explained
    from agent.windows import WindowBatch

    flooder = "10.1.0.4"
    classes = ["Normal", "DDoS_HTTP", "SQL_injection", "Password"]

    def ctx(src: str, dst: str) -> tuple[Any, ...]:
        values = {"ts": T0 + 0.6, "src_ip": src, "dest_ip": dst}
        return tuple(values.get(f) for f in ETHERNET_CONTEXT)

    def classed(flood: bool) -> list[int]:
        packets = session(gets(SQLI[:2]), TOOL, T0, 0.05)  # two requests with SQL: not reported, but leaning
        if flood:
            session(gets(["/"] * 60), flooder, T0, 0.01, packets, port=41002)  # 100 requests a second
        session(gets(["/"] * 2), CLIENT, T0, 0.5, packets, port=41003)
        rule = _scanned(packets)
        hosts = [(SERVER, TOOL), (SERVER, CLIENT), (CLIENT, SERVER), (flooder, SERVER), ("10.1.0.50", "10.1.0.51")]
        wb = WindowBatch(np.zeros((5, 1), np.float32), ["global"] * 5, np.full(5, T0), np.full(5, T0 + 0.6),
                         [ctx(a, b) for a, b in hosts])
        probs = np.array([[0.05, 0.9, 0.05, 0.0]] * 5, dtype=np.float32)
        explained(_scoring(rule, classes), wb, probs)
        assert probs[0][1] == 0  # the flood class gives way, not only ranks below
        return [int(p.argmax()) for p in probs]

    # a window ending with a reply to the attacker, the attacked server and a client too slow to flood
    # it (both ways), the server and a host that sent nothing, and hosts the attack does not involve
    assert classed(flood=False) == [2, 2, 2, 2, 1]
    # a flood from elsewhere at the same time: the server's windows with its other clients stay a flood
    assert classed(flood=True) == [2, 1, 1, 1, 1]


@pytest.mark.parametrize("payload", [
    "<d3v/onmouseleave=[2].some(confirm)>", "<a/+/onpointerenter%0a=%0a(prompt)``>v3dm0s",
    '"onmouseover="alert(1)', "'><html onpointerleave=confirm()>", "%3Cd3V%20OnMoUsEoVeR%3D(confirm)()%3E",
])
def test_script_signs_cover_generated_tags_and_handlers(payload: str) -> None:
    assert signs(f"/search?q={payload}", "") == {"script"}


@pytest.mark.parametrize("target", ["/api/x?online=1&type=2", "/a?types=(alert),(warning)", "/a?q=confirm+your+order",
                                    "/report?title=<b>Report</b>", "/a?msg=\"hello\" on=1"])
def test_script_signs_leave_plant_words_alone(target: str) -> None:
    assert signs(target, "") == set()


def test_a_request_of_several_families_leans_the_same_way_every_run() -> None:
    """A firewall test (SQL, script and traversal in one request) ties the families: the tie goes to
    the first family in a fixed order, not to a set's order, which changes from run to run."""
    waf = "/login?x=1 AND 1=1 UNION ALL SELECT 1,NULL,'<script>alert(\"XSS\")</script>',table_name FROM " \
          "information_schema.tables WHERE 2>1--/**/; EXEC xp_cmdshell('cat ../../../etc/passwd')#"
    _, rule = run_rule(WebAttackRule, session(gets([waf]), TOOL, T0, 0.05), config=WebAttackConfig())
    assert rule.explain(TOOL, SERVER, T0 + 1) == "SQL_injection"


def _scoring(rule: WebAttackRule, classes: list[str]) -> Any:
    """What ``pipeline.explained`` reads of the scoring half, with ``rule`` its one rule."""
    from types import SimpleNamespace

    from agent.features import ETHERNET_CONTEXT

    return SimpleNamespace(rules=[rule], classes=classes, thresholds={}, context_fields=ETHERNET_CONTEXT,
                           benign_class="Normal")


def _scanned(packets: list[Any]) -> WebAttackRule:
    return _read(packets)[0]


def _read(packets: list[Any]) -> tuple[WebAttackRule, list[tuple[Any, ...]]]:
    """The rule after scanning ``packets``, and the records' contexts."""
    from agent.features.host_context import HostContextExtractor

    rule = WebAttackRule(HostContextExtractor.columns, WebAttackConfig())
    rows, ctxs = zip(*HostContextExtractor().rows_with_context(frames(sorted(packets, key=lambda p: float(p.time)))),
                     strict=True)
    rule.scan(rows, ctxs)
    return rule, list(ctxs)


def test_polling_a_probe_path_or_discovery_over_udp_is_no_lean_to_a_scanner() -> None:
    """A device polling /cgi-bin/status asks for one path scanners probe, over and over; SSDP's M-SEARCH
    is HTTP over UDP. Neither points a client to a scanner, so neither explains the model's windows."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    packets = session(gets(["/cgi-bin/status"] * 40), CLIENT, T0, 0.2)
    ssdp = (b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n"
            b"MX: 1\r\nST: ssdp:all\r\n\r\n")
    for k in range(6):
        pkt = Ether() / IP(src=TOOL, dst="239.255.255.250") / UDP(sport=50000, dport=1900) / ssdp
        pkt.time = T0 + k
        packets.append(pkt)
    rule = _scanned(packets)
    assert rule.explain(CLIENT, SERVER, T0 + 8) is None
    assert rule.explain(TOOL, "239.255.255.250", T0 + 6) is None
    assert findings(packets) == []


def test_a_flood_after_an_injection_keeps_the_models_answer() -> None:
    """A client that injected, then floods in a later interval: that interval starts unclassed, and the
    flood's windows are not explained as the injection."""
    sqli = session(gets(SQLI * 2), TOOL, T0, 0.05)
    assert _scanned(sqli).explain(TOOL, SERVER, T0 + 1) == "SQL_injection"
    later = _scanned(sqli + session(gets(["/", "/a", "/b"] * 100), TOOL, T0 + 70, 0.02, port=41007))
    assert later.explain(TOOL, SERVER, T0 + 71) is None


def test_an_attackers_other_traffic_is_not_the_web_attack() -> None:
    """After scanning the web server, the same host guesses logins on another host (SSH, say): windows
    of that traffic are not explained as the scan."""
    rng = random.Random(7)
    words = [f"/{''.join(rng.choice('abcdefghij') for _ in range(6))}" for _ in range(40)]
    rule = _scanned(session(gets(words, 404), TOOL, T0, 0.01))
    assert rule.explain(TOOL, SERVER, T0 + 1) == "Vulnerability_scanner"
    assert rule.explain(SERVER, TOOL, T0 + 1) == "Vulnerability_scanner"
    assert rule.explain(TOOL, "10.1.0.99", T0 + 1) is None
    assert rule.explain("10.1.0.99", TOOL, T0 + 1) is None


def test_a_scanners_upload_counts_as_an_upload() -> None:
    rng = random.Random(5)
    words = [f"/{''.join(rng.choice('abcdefghij') for _ in range(6))}" for _ in range(40)]
    body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"shell.php\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n<?php system($_GET['c']); ?>\r\n--b--\r\n")
    packets = session(gets(words, 404), TOOL, T0, 0.01)
    assert _scanned(packets).explain(TOOL, SERVER, T0 + 0.5) == "Vulnerability_scanner"
    session([("POST", "/upload", body, 200)], TOOL, T0 + 2, 0.01, packets, port=41008)
    assert _scanned(packets).explain(TOOL, SERVER, T0 + 2.1) == "Uploading"


def test_a_tool_run_after_another_counts_as_the_new_one() -> None:
    """One client sends XSS payloads, then probes path after path within the same interval: windows of
    the second run count as a scanner's, not as the XSS reported first."""
    xss = session(gets(XSS * 3), TOOL, T0, 0.05)
    rule = _scanned(xss)
    assert rule.explain(TOOL, SERVER, T0 + 1) == "XSS"
    probes = [("HEAD", f"/backup{k}.sql", b"", 404) for k in range(6)] + [("TRACE", f"/admin{k}/", b"", 405)
                                                                           for k in range(6)]
    later = _scanned(xss + session(probes, TOOL, T0 + 5, 0.05, port=41005))
    assert later.explain(TOOL, SERVER, T0 + 6) == "Vulnerability_scanner"


def test_a_window_holding_an_attackers_request_is_not_vouched_clean() -> None:
    """Windows are cut from every host's frames in turn: one can hold an injection and end with a frame
    of a client whose own requests were clean. The injection inside keeps the model's class; a window
    with no flagged request inside is still vouched clean."""
    import numpy as np

    from agent.features import ETHERNET_CONTEXT
    from agent.runtime.pipeline import explained
    from agent.windows import WindowBatch

    packets = session(gets(BENIGN * 3), CLIENT, T0, 0.2, port=41001)
    session(gets(SQLI * 2), TOOL, T0 + 10, 0.05, packets)
    rule = _scanned(packets)
    classes = ["Normal", "DDoS_HTTP", "SQL_injection"]
    # the window ends with the clean client's frame to another host (a Modbus poll, say)
    ctx = tuple({"ts": T0 + 10.5, "src_ip": CLIENT, "dest_ip": "10.1.0.77"}.get(f) for f in ETHERNET_CONTEXT)
    # the first window spans the injections, the second does not, the third holds only frames just after
    first = np.array([T0 + 10.0, T0 + 2.0, T0 + 10.85])
    last = np.array([T0 + 10.5, T0 + 3.0, T0 + 10.9])
    wb = WindowBatch(np.zeros((3, 1), np.float32), ["global"] * 3, first, last, [ctx] * 3)
    probs = np.array([[0.05, 0.05, 0.9]] * 3, dtype=np.float32)

    explained(_scoring(rule, classes), wb, probs)
    assert probs[0].argmax() == 2
    assert probs[1].argmax() == 0
    assert probs[2].argmax() == 2


@pytest.mark.parametrize("confirms", [True, False])
def test_a_reported_attack_confirms_the_models_unsure_windows(confirms: bool) -> None:
    """The model leans to a flood or an injection but stays under the class's threshold: where the rule
    reported the window's client for that attack, the window counts as it (the content is the
    evidence); where the client only leans to it (two requests), or with ``confirms`` off, it does not."""
    import numpy as np

    from agent.features import ETHERNET_CONTEXT
    from agent.runtime.pipeline import explained
    from agent.windows import WindowBatch

    classes = ["Normal", "DDoS_HTTP", "SQL_injection"]
    ctx = tuple({"ts": T0 + 1, "src_ip": SERVER, "dest_ip": TOOL}.get(f) for f in ETHERNET_CONTEXT)

    def judged(requests: list[str]) -> np.ndarray:
        rule = _scanned(session(gets(requests), TOOL, T0, 0.05))
        rule.confirms = confirms
        sc = _scoring(rule, classes)
        sc.thresholds = {"DDoS_HTTP": 0.97, "SQL_injection": 0.97}
        wb = WindowBatch(np.zeros((3, 1), np.float32), ["global"] * 3, np.full(3, T0 + 0.5), np.full(3, T0 + 1.0),
                         [ctx] * 3)
        # the model's top class a flood, an injection, and benign with an injection second
        probs = np.array([[0.3, 0.5, 0.2], [0.4, 0.1, 0.5], [0.6, 0.1, 0.3]], dtype=np.float32)
        explained(sc, wb, probs)
        return probs

    reported = judged(SQLI * 2)
    assert (reported[:2, 2] >= 0.97).tolist() == [confirms, confirms]
    assert reported[:2, 1].tolist() == [0.0, 0.0]
    assert reported[2, 2] < 0.97  # the model does not lean to an attack: the content alone stays the rule's finding
    leaning = judged(SQLI[:2])
    assert (leaning[:2, 2] < 0.97).all()



def test_a_clean_slow_client_vouches_only_for_its_own_exchange_with_a_calm_server() -> None:
    """A window is cut from every host's frames: one that ends with a clean, slow HTTP client's other
    traffic (a Modbus poll) or with its exchange with a server others flood says nothing against
    the model's flood; one that ends with its exchange with a calm server is vouched benign."""
    import numpy as np

    from agent.features import ETHERNET_CONTEXT
    from agent.runtime.pipeline import explained
    from agent.windows import WindowBatch

    classes = ["Normal", "DDoS_HTTP", "SQL_injection"]

    def judged(flooded: bool) -> list[str]:
        packets = session(gets(BENIGN * 3), CLIENT, T0, 0.2, port=41001)  # 24 requests, 5 a second
        if flooded:  # plain requests from eight slow clients in the last second: 40 a second at the server
            for k in range(8):
                session(gets(["/"] * 5), f"10.1.0.{100 + k}", T0 + 4.0 + k * 0.02, 0.2, packets, port=42000 + k)
        rule = _scanned(packets)
        hosts = [(CLIENT, "10.1.0.77"), (CLIENT, SERVER), (SERVER, CLIENT)]
        ctxs = [tuple({"ts": T0 + 5.0, "src_ip": a, "dest_ip": b}.get(f) for f in ETHERNET_CONTEXT) for a, b in hosts]
        wb = WindowBatch(np.zeros((3, 1), np.float32), ["global"] * 3, np.full(3, T0 + 4.5), np.full(3, T0 + 5.0), ctxs)
        probs = np.array([[0.05, 0.9, 0.05]] * 3, dtype=np.float32)
        explained(_scoring(rule, classes), wb, probs)
        return [classes[int(p.argmax())] for p in probs]

    assert judged(flooded=False) == ["DDoS_HTTP", "Normal", "Normal"]
    assert judged(flooded=True) == ["DDoS_HTTP", "DDoS_HTTP", "DDoS_HTTP"]


@pytest.mark.parametrize("finished", [False, True])
def test_a_server_holding_requests_that_never_end_is_flooded(finished: bool) -> None:
    """Slowloris and slow POSTs complete no request, so the server's plain requests stay few: the
    requests begun and never finished (25 bots, one connection each) say it is flooded, and a clean
    slow client's exchange with it vouches for no window. The same bots sending requests split over
    two segments that do end leave the server calm."""
    import numpy as np
    from support.site_checks import TcpConversation

    from agent.features import ETHERNET_CONTEXT
    from agent.runtime.pipeline import explained
    from agent.windows import WindowBatch

    packets = session(gets(BENIGN * 3), CLIENT, T0, 0.2, port=41001)
    for k in range(25):
        conn = TcpConversation(packets, f"10.1.0.{100 + k}", SERVER, 43000 + k, 80, T0 + 1.0 + k * 0.05)
        if finished:
            conn.send(T0 + 1.01 + k * 0.05, b"POST /api/upload HTTP/1.1\r\nHost: hmi\r\nContent-Length: 10\r\n\r\n")
            conn.send(T0 + 1.02 + k * 0.05, b"0123456789")
        else:
            conn.send(T0 + 1.01 + k * 0.05, b"GET /?%d HTTP/1.1\r\nUser-Agent: Mozilla/5.0\r\n" % k)
            conn.send(T0 + 3.5 + k * 0.05, b"X-a: %d\r\n" % k)
    rule = _scanned(packets)
    ctx = tuple({"ts": T0 + 5.0, "src_ip": SERVER, "dest_ip": CLIENT}.get(f) for f in ETHERNET_CONTEXT)
    wb = WindowBatch(np.zeros((1, 1), np.float32), ["global"], np.full(1, T0 + 4.5), np.full(1, T0 + 5.0), [ctx])
    probs = np.array([[0.05, 0.9, 0.05]], dtype=np.float32)
    explained(_scoring(rule, ["Normal", "DDoS_HTTP", "SQL_injection"]), wb, probs)
    assert int(probs[0].argmax()) == (0 if finished else 1)


@pytest.mark.parametrize("slow_flood", [False, True])
def test_an_attackers_window_with_a_flooded_server_needs_a_request_of_the_attack(slow_flood: bool) -> None:
    """An injector turned to flooding the server it attacked (slowloris, completing no request): its
    windows with that server, within ``explain_s`` of the injection, count as the injection only
    when they hold a request of it; with the server calm, they count as the injection throughout."""
    from support.site_checks import TcpConversation

    packets = session(gets(SQLI[:3]), TOOL, T0, 0.05)
    for k in range(25):
        conn = TcpConversation(packets, TOOL, SERVER, 43000 + k, 80, T0 + 1.0 + k * 0.05)
        if slow_flood:
            conn.send(T0 + 1.01 + k * 0.05, b"GET /?%d HTTP/1.1\r\nUser-Agent: Mozilla/5.0\r\n" % k)
    rule = _scanned(packets)
    assert rule.explanation(TOOL, SERVER, T0 + 0.6, T0)[0] == "SQL_injection"
    assert rule.explanation(TOOL, SERVER, T0 + 5.0, T0 + 4.5)[0] == (None if slow_flood else "SQL_injection")


def test_a_bystanders_window_counts_as_the_attack_only_while_it_holds_a_request_of_it() -> None:
    """During an injection, a window ending with the attacked server's exchange with another, slow
    client counts as the injection when a request of it falls inside, and keeps the model's class
    otherwise (a slow flood of the same server, say); the attacker's own windows count as the
    injection for ``explain_s`` either way."""
    packets = session(gets(SQLI[:2]), TOOL, T0, 0.05)
    session(gets(["/"] * 2), CLIENT, T0, 3.0, packets, port=41003)
    rule = _scanned(packets)
    assert rule.explanation(SERVER, CLIENT, T0 + 0.6, T0)[0] == "SQL_injection"
    assert rule.explanation(SERVER, CLIENT, T0 + 5.6, T0 + 5.0)[0] is None
    assert rule.explanation(SERVER, TOOL, T0 + 5.6, T0 + 5.0)[0] == "SQL_injection"
    assert rule.explain(SERVER, CLIENT, T0 + 5.6) == "SQL_injection"  # no window span: the hosts alone


def test_logins_guessed_are_password_guessing_whatever_tool_sends_them() -> None:
    """A request sending a password and no payload (a form, JSON or query field, HTTP authentication)
    is a login attempt: hydra naming itself in its user agent, and fetching the form before each
    guess, makes no scanner; attempts refused ``min_logins`` times make ``Password``."""
    hydra = "Mozilla/5.0 (Hydra)"
    form = [("GET", "/login", b"", 200), ("POST", "/login", b"user=admin&pass=guess", 401)] * 15
    assert {f.cls for f in findings(session(form, TOOL, T0, 0.1, agent=hydra))} == {"Password"}
    basic = gets(["/admin/"] * 30, 401)
    found = findings(session(basic, TOOL, T0, 0.1, agent=hydra + "\r\nAuthorization: Basic YWRtaW46YWRtaW4="))
    assert {f.cls for f in found} == {"Password"}
    assert "11 of 11 requests send a password, 10 answers refuse one" in found[0].evidence
    json = [("POST", "/api/login", b'{"user": "admin", "password": "x1"}', 403)] * 30
    assert {f.cls for f in findings(session(json, TOOL, T0, 0.1))} == {"Password"}
    # an API client authenticating every request, and a user mistyping twice, guess nothing
    api = gets(["/api/tags?since=1"] * 60, 200)
    assert findings(session(api, CLIENT, T0, 0.5, agent="client/1.0\r\nAuthorization: Basic dXNlcjpwdw==")) == []
    typo = [("POST", "/login", b"user=op&password=x", 401)] * 2 + [("POST", "/login", b"user=op&password=y", 200)]
    assert findings(session(typo, CLIENT, T0, 2.0)) == []


def test_a_scanner_turned_to_guessing_logins_stops_explaining_its_windows() -> None:
    """Login attempts are no requests of the scan: once ``explain_s`` has passed since the scan's last
    request, the guesser's windows are not counted as the scan (its logins may be reported as
    ``Password``)."""
    rng = random.Random(7)
    words = [f"/{''.join(rng.choice('abcdefghij') for _ in range(6))}" for _ in range(40)]
    packets = session(gets(words, 404), TOOL, T0, 0.01)
    logins = [("POST", path, f"username=admin&password=guess{k}".encode(), 200)
              for k, path in enumerate(["/login", "/login.php", "/api/auth"] * 20)]
    session(logins, TOOL, T0 + 1, 0.5, packets, port=41009, agent="Mozilla/4.0 (Hydra)")
    rule = _scanned(packets)
    assert rule.explain(TOOL, SERVER, T0 + 1) == "Vulnerability_scanner"
    assert rule.explain(TOOL, SERVER, T0 + 25) is None


def test_an_injectors_later_flood_is_no_request_of_its_injection() -> None:
    """A client reported for injecting that later floods the same server's pages, within the same
    interval: its flood's new paths are no requests of the injection (a scanner's new paths are its
    next requests), so its windows after ``explain_s`` keep the model's answer."""
    pages = ["/", "/index.html", "/api/sensors", "/login", "/search", "/dashboard"]
    packets = session(gets(SQLI[:4]), TOOL, T0, 0.05)
    session(gets([f"{p}?r={k}" for k in range(10) for p in pages]), TOOL, T0 + 20, 0.01, packets, port=41010)
    rule = _scanned(packets)
    assert rule.explain(TOOL, SERVER, T0 + 1) == "SQL_injection"
    assert rule.explain(TOOL, SERVER, T0 + 20.5) is None

    rng = random.Random(9)
    words = [f"/{''.join(rng.choice('abcdefghij') for _ in range(6))}" for _ in range(80)]
    scan = session(gets(words[:40], 404), TOOL, T0, 0.01)
    session(gets(words[40:], 404), TOOL, T0 + 20, 0.01, scan, port=41011)
    assert _scanned(scan).explain(TOOL, SERVER, T0 + 20.5) == "Vulnerability_scanner"


def _filled_windows(rule: WebAttackRule, classes: list[str], flows: list[list[int]], top: int,
                    confirms: bool = True) -> list[int]:
    """The class each window of 16 records with these flow ids alerts for (0: none), the model reading it
    as class ``top`` (0.9) and its last frame one of hosts the attack does not involve."""
    import numpy as np

    from agent.features import ETHERNET_CONTEXT
    from agent.runtime.pipeline import explained
    from agent.windows import WindowBatch

    n = len(flows)
    ctx = tuple({"ts": T0 + 1.0, "src_ip": "10.1.0.50", "dest_ip": "10.1.0.51"}.get(f) for f in ETHERNET_CONTEXT)
    wb = WindowBatch(np.zeros((n, 1), np.float32), ["global"] * n, np.full(n, T0 + 0.9), np.full(n, T0 + 1.0),
                     [ctx] * n, flows=np.array(flows, dtype=np.int64))
    probs = np.full((n, len(classes)), 0.1 / (len(classes) - 1), dtype=np.float32)
    probs[:, top] = 0.9
    rule.confirms = confirms
    explained(_scoring(rule, classes), wb, probs)
    over = probs >= 0.5  # as the alert policy classes a window: the top class over its threshold, benign never
    over[:, 0] = False
    return np.where(over.any(axis=1), np.where(over, probs, -1.0).argmax(axis=1), 0).tolist()


def _flow_of(ctxs: list[tuple[Any, ...]], host: str | None = None, port: int | None = None) -> int:
    """The flow id of the first record sent from ``host`` (or from source port ``port``)."""
    from agent.features import ETHERNET_CONTEXT

    field, value = ("src_ip", host) if port is None else ("src_port", port)
    at, flow = ETHERNET_CONTEXT.index(field), ETHERNET_CONTEXT.index("flow_id")
    return int(next(c[flow] for c in ctxs if c[at] == value))


def test_a_window_an_attacks_connections_fill_counts_as_the_attack_whatever_ends_it() -> None:
    """A window is cut from everyone's frames: one a quarter of whose records or more belong to
    connections that carried a reported attack's requests (an upload's segments, an injector's
    exchanges) counts as that attack, even where the model reads it as benign or as a flood and its
    last frame is a bystander's; fewer of them, a client only leaning to an attack, or ``confirms``
    off, and the window keeps the model's answer."""
    body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"shell.php\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n<?php system($_GET['c']); ?>\r\n--b--\r\n")
    packets = session([("POST", "/upload", body, 200)], TOOL, T0, 0.01, port=41008)
    session(gets(BENIGN), CLIENT, T0, 0.05, packets, port=41001)
    rule, ctxs = _read(packets)
    up, clean = _flow_of(ctxs, TOOL), _flow_of(ctxs, CLIENT)
    classes = ["Normal", "DDoS_HTTP", "Uploading"]
    four, three = [up] * 4 + [clean] * 12, [up] * 3 + [clean] * 13
    assert _filled_windows(rule, classes, [four, three], top=0) == [2, 0]
    assert _filled_windows(rule, classes, [four, three], top=1) == [2, 1]
    assert _filled_windows(rule, classes, [four], top=0, confirms=False) == [0]
    # two injections: the client leans to SQL injection, but the rule has not reported it
    leaning, ctxs = _read(session(gets(SQLI[:2]), TOOL, T0, 0.05))
    assert _filled_windows(leaning, ["Normal", "SQL_injection"], [[_flow_of(ctxs, TOOL)] * 16], top=0) == [0]


def test_a_scanners_later_flood_fills_no_window_of_the_scan() -> None:
    """A scanner that floods the same server's pages within the interval: the flood's connections reach a
    few paths the scan had not asked for (requests of the scan, as a scanner's next paths are) among
    many plain requests, so windows they fill are not the scan; the scan's own connections' are."""
    rng = random.Random(7)
    words = [f"/{''.join(rng.choice('abcdefghij') for _ in range(6))}" for _ in range(40)]
    packets = session(gets(words, 404), TOOL, T0, 0.01)
    pages = ["/", "/index.html", "/api/sensors", "/login", "/search", "/dashboard"]
    session(gets([f"{p}?r={k}" for k in range(10) for p in pages]), TOOL, T0 + 0.5, 0.005, packets, port=41012)
    rule, ctxs = _read(packets)

    scan, flood = (_flow_of(ctxs, port=port) for port in (41000, 41012))
    assert rule.flow_classes([scan, flood]) == {scan: "Vulnerability_scanner"}


@pytest.mark.parametrize("known", [False, True])
def test_a_window_beside_an_attack_keeps_the_models_answer_where_its_connections_are_known(known: bool) -> None:
    """A window the model reads as XSS whose span holds an injector's request, ending with a frame of
    other hosts: without the window's connections the request inside names it SQL injection; with
    them, the injection's connection fills too little of it to say what it is, and the model's answer
    stays."""
    packets = session(gets(SQLI * 2), TOOL, T0, 0.05)
    rule, ctxs = _read(packets)
    inj = _flow_of(ctxs, TOOL)
    flows = [[inj] * 2 + [999] * 14] if known else []
    import numpy as np

    from agent.features import ETHERNET_CONTEXT
    from agent.runtime.pipeline import explained
    from agent.windows import WindowBatch

    ctx = tuple({"ts": T0 + 0.3, "src_ip": "10.1.0.50", "dest_ip": "10.1.0.51"}.get(f) for f in ETHERNET_CONTEXT)
    wb = WindowBatch(np.zeros((1, 1), np.float32), ["global"], np.full(1, T0 + 0.2), np.full(1, T0 + 0.3), [ctx],
                     flows=np.array(flows, dtype=np.int64).reshape(1, -1))
    probs = np.array([[0.05, 0.0, 0.05, 0.9]], dtype=np.float32)
    explained(_scoring(rule, ["Normal", "DDoS_HTTP", "SQL_injection", "XSS"]), wb, probs)
    assert int(probs[0].argmax()) == (3 if known else 2)


def test_the_connections_remembered_are_bounded_and_evictions_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flow ids come from the network: the rule keeps at most MAX_FLOWS connections that carried an
    attack's requests, the least recently flagged dropped and counted."""
    import agent.rules.web_attack as web

    monkeypatch.setattr(web, "MAX_FLOWS", 3)
    packets: list[Any] = []
    for k in range(5):  # five connections, each with injections
        session(gets(SQLI[:3]), TOOL, T0 + k, 0.05, packets, port=41100 + k)
    rule, ctxs = _read(packets)
    stats = rule.stats()
    assert (stats["web_attack_flows_tracked"], stats["web_attack_flows_evicted"]) == (3, 2)

    ids = [_flow_of(ctxs, port=41100 + k) for k in range(5)]
    assert sorted(rule.flow_classes(ids)) == ids[2:]


@pytest.mark.parametrize("payloads", [5, 6])
def test_a_scanner_that_turns_to_one_payload_family_counts_as_it(payloads: int) -> None:
    """A client reported as a scanner (its probes carried path traversal, so script payloads after them
    make two families, a scanner's breadth) stays one while its payloads change family, as a
    scanner's do; SWITCH_REQUESTS payloads of one family in a row (an injection tool run after the
    scan, within the interval) make its windows count as that family."""
    from agent.rules.web_attack import SWITCH_REQUESTS

    rng = random.Random(7)
    words = [f"/{''.join(rng.choice('abcdefghij') for _ in range(6))}" for _ in range(40)]
    words += [f"/{'../' * k}etc/passwd" for k in range(3, 7)]
    packets = session(gets(words, 404), TOOL, T0, 0.01)
    session(gets((XSS * 2)[:payloads]), TOOL, T0 + 5, 0.05, packets, port=41013)
    rule = _scanned(packets)
    assert SWITCH_REQUESTS == 6
    assert rule.explain(TOOL, SERVER, T0 + 5.5) == ("XSS" if payloads >= SWITCH_REQUESTS else "Vulnerability_scanner")
