"""edge-iiotset-context: the Edge-IIoTset row unchanged, plus per-host peer counts, rates and ARP replies
that answer no request; checked against a brute-force reference and on the shapes that need them
(a port scan, a spoofed flood, ARP poisoning), with bounded state under a flood of spoofed sources.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("scapy.all")
from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw

from agent.config import FeaturesConfig, load_config
from agent.errors import FeatureError
from agent.features import FEATURE_KINDS
from agent.features.edge_iiotset import COLUMNS, EdgeIIoTsetExtractor
from agent.features.host_context import (
    ARP_REQUEST_WINDOW_S,
    CONTEXT_COLUMNS,
    MAX_PEERS,
    RATE_TAU_S,
    HostContextExtractor,
)
from agent.features.login_failures import AUTH_FAILURE, auth_failure
from agent.features.web_content import http_shape
from agent.records import Frame

E = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
SCANNER, VICTIM = "10.0.0.66", "10.0.0.2"
SYN, ACK = "S", "A"


def frame(ts: float, pkt: Any) -> Frame:
    data = bytes(pkt)
    return Frame(ts, data, 1, len(data))


def ctx_rows(frames: Iterable[Frame], ext: HostContextExtractor | None = None, **kw: Any) -> list[dict[str, Any]]:
    """Named rows of ``frames`` (through ``ext`` when given, to read its stats afterwards)."""
    ext = ext or HostContextExtractor(**kw)
    return [dict(zip(ext.columns, r, strict=True)) for r in ext.rows(frames)]


def syn(ts: float, src: str, dst: str, sport: int, dport: int, flags: str = SYN) -> Frame:
    return frame(ts, E / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags))


def test_registered_and_configured() -> None:
    assert FEATURE_KINDS.load("edge-iiotset-context") is HostContextExtractor
    cfg = load_config(None, ["features.kind=edge-iiotset-context", "features.max_hosts=7",
                             "features.context_horizon_s=3", "mqtt.enabled=false"])
    ext = HostContextExtractor.from_config(cfg.features)
    assert ext.horizon_s == 3.0 and ext._src.max_keys == 7
    assert ext.columns == COLUMNS + CONTEXT_COLUMNS
    with pytest.raises(FeatureError, match=r"features\.max_hosts"):
        HostContextExtractor.from_config(FeaturesConfig(max_hosts=0))
    with pytest.raises(FeatureError, match=r"features\.context_horizon_s"):
        HostContextExtractor(horizon_s=0)


def test_edge_iiotset_columns_unchanged() -> None:
    rng = random.Random(1)
    frames = [syn(i * 0.01, f"10.0.{rng.randint(0, 3)}.{rng.randint(1, 9)}", VICTIM, rng.randint(1024, 65535),
                  rng.choice([80, 502, 1883])) for i in range(200)]
    frames += [frame(3.0, E / IP(src=VICTIM, dst=SCANNER) / UDP(sport=53, dport=4000) / Raw(b"x" * 20))]
    base = list(EdgeIIoTsetExtractor().rows(frames))
    ours = list(HostContextExtractor().rows(frames))
    assert [r[: len(COLUMNS)] for r in ours] == base
    with_ctx = list(HostContextExtractor().rows_with_context(frames))
    assert [c for _, c in with_ctx] == [c for _, c in EdgeIIoTsetExtractor().rows_with_context(frames)]


def test_port_scan_climbs_on_the_source_and_a_spoofed_flood_on_the_destination() -> None:
    scan = [syn(i * 0.001, SCANNER, VICTIM, 40000, p) for i, p in enumerate(range(1, 101))]
    rows = ctx_rows(scan)
    assert [r["ctx.src_endpoints"] for r in rows[:MAX_PEERS]] == list(range(1, MAX_PEERS + 1))
    assert rows[-1]["ctx.src_endpoints"] == MAX_PEERS  # capped
    assert {r["ctx.dst_sources"] for r in rows} == {1}

    rng = random.Random(2)
    flood = [syn(i * 0.0005, f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.7", VICTIM,
                 rng.randint(1024, 65535), 80) for i in range(100)]
    rows = ctx_rows(flood)
    assert {r["ctx.src_endpoints"] for r in rows} == {1}
    assert rows[MAX_PEERS - 1]["ctx.dst_sources"] == MAX_PEERS and rows[-1]["ctx.dst_sources"] == MAX_PEERS


def test_replies_and_open_connections_are_not_attempts() -> None:
    # a server answering 50 clients: SYN/ACKs and ACKs from it count no endpoint for it
    frames = []
    for i in range(50):
        cli = f"10.0.1.{i + 1}"
        frames += [syn(i * 0.01, cli, VICTIM, 5000 + i, 80),
                   syn(i * 0.01 + 0.001, VICTIM, cli, 80, 5000 + i, "SA"),
                   syn(i * 0.01 + 0.002, cli, VICTIM, 5000 + i, 80, ACK)]
    rows = ctx_rows(frames)
    from_server = [r for r, f in zip(rows, frames, strict=True) if IP(f.data[14:]).src == VICTIM]
    assert {r["ctx.src_endpoints"] for r in from_server} == {0}
    assert rows[-1]["ctx.dst_sources"] == 50  # 50 clients opened connections to it


def test_udp_counts_the_first_datagram_of_a_conversation_only() -> None:
    q = [frame(i * 0.01, E / IP(src=SCANNER, dst=VICTIM) / UDP(sport=40000, dport=p)) for i, p in
         enumerate(range(1000, 1010))]
    answers = [frame(1 + i * 0.01, E / IP(src="10.0.0.53", dst=f"10.0.2.{i}") / UDP(sport=53, dport=3000 + i) /
                     Raw(b"a" * 30)) for i in range(1, 6)]
    again = [frame(1 + i * 0.01 + 0.001, E / IP(src="10.0.0.53", dst=f"10.0.2.{i}") / UDP(sport=53, dport=3000 + i) /
                   Raw(b"b" * 30)) for i in range(1, 6)]
    frames = q + [f for pair in zip(answers, again, strict=True) for f in pair]
    rows = ctx_rows(frames)
    assert [r["ctx.src_endpoints"] for r in rows[:10]] == list(range(1, 11))
    # the DNS server's datagrams that repeat a conversation add nothing
    assert [r["ctx.src_endpoints"] for r in rows[10:]] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_snmp_replies_are_not_attempts_though_tshark_gives_them_a_stream() -> None:
    from scapy.layers.snmp import SNMP, SNMPget, SNMPresponse, SNMPvarbind

    manager, agents = "10.0.0.2", [f"10.0.1.{i}" for i in range(1, 21)]
    oid = "1.3.6.1.2.1.1.3.0"
    frames = []
    for cycle in range(2):
        for k, agent in enumerate(agents):
            t = cycle * 10.0 + k * 0.02
            get = SNMP(community="public", PDU=SNMPget(id=k, varbindlist=[SNMPvarbind(oid=oid)]))
            resp = SNMP(community="public", PDU=SNMPresponse(id=k, varbindlist=[SNMPvarbind(oid=oid, value=k)]))
            frames.append(frame(t, E / IP(src=manager, dst=agent) / UDP(sport=40161, dport=161) / get))
            frames.append(frame(t + 0.003, E / IP(src=agent, dst=manager) / UDP(sport=161, dport=40161) / resp))
    rows = ctx_rows(frames)
    polls, replies = rows[0::2], rows[1::2]
    assert polls[0]["udp.stream"] != replies[0]["udp.stream"]  # tshark's SNMP conversation (see the base)
    assert [r["ctx.src_endpoints"] for r in polls[:20]] == list(range(1, 21))  # a first poll cycle fans out
    assert {r["ctx.src_endpoints"] for r in polls[20:]} <= set(range(21))  # the second opens nothing new
    assert polls[-1]["ctx.src_endpoints"] == 0 and polls[-1]["ctx.src_attempt_rate"] < 0.01
    # the agents answering are not sources opening conversations to the manager
    assert {r["ctx.dst_sources"] for r in replies} == {0}
    assert {r["ctx.src_endpoints"] for r in replies} == {0}


def test_peer_counts_forget_beyond_the_horizon() -> None:
    frames = [syn(i * 0.1, SCANNER, VICTIM, 40000, 1000 + i) for i in range(10)]
    frames.append(syn(10.45, SCANNER, VICTIM, 40000, 2000))  # 10.45 - 3.0: ports tried before 7.45 are gone
    rows = ctx_rows(frames, horizon_s=3.0)
    assert rows[9]["ctx.src_endpoints"] == 10
    assert rows[-1]["ctx.src_endpoints"] == 1


def reference(frames: list[Frame], horizon: float) -> list[tuple[int, int, float, float, float]]:
    """Brute force over all earlier frames: distinct endpoints / sources within the horizon, and
    the decayed frame and attempt rates summed frame by frame."""
    out: list[tuple[int, int, float, float, float]] = []
    seen: list[tuple[float, str, str, int, bool]] = []
    for f in frames:
        ip = IP(f.data[14:])
        tcp = ip[TCP]
        attempt = tcp.flags & 0x12 == 0x02
        seen.append((f.ts, ip.src, ip.dst, tcp.dport, attempt))
        live = [s for s in seen if s[0] >= f.ts - horizon and s[4]]
        n_src = len({(s[2], s[3]) for s in live if s[1] == ip.src})
        n_dst = len({s[1] for s in live if s[2] == ip.dst})
        r_src = sum(math.exp(-(f.ts - s[0]) / RATE_TAU_S) for s in seen if s[1] == ip.src) / RATE_TAU_S
        r_dst = sum(math.exp(-(f.ts - s[0]) / RATE_TAU_S) for s in seen if s[2] == ip.dst) / RATE_TAU_S
        a_src = sum(math.exp(-(f.ts - s[0]) / RATE_TAU_S) for s in seen if s[1] == ip.src and s[4]) / RATE_TAU_S
        out.append((n_src, n_dst, math.log2(1 + r_src), math.log2(1 + r_dst), math.log2(1 + a_src)))
    return out


def test_equals_brute_force_reference() -> None:
    rng = random.Random(5)
    hosts = [f"10.0.0.{i}" for i in range(1, 9)]
    t, frames = 0.0, []
    for _ in range(400):
        t += rng.expovariate(40)
        a, b = rng.sample(hosts, 2)
        frames.append(syn(t, a, b, rng.randint(1024, 1030), rng.choice([80, 81, 82, 502, 1883]),
                          rng.choice([SYN, SYN, ACK, "SA", "PA"])))
    got = [(r["ctx.src_endpoints"], r["ctx.dst_sources"], r["ctx.src_rate"], r["ctx.dst_rate"],
            r["ctx.src_attempt_rate"]) for r in ctx_rows(frames, horizon_s=2.0)]
    want = reference(frames, 2.0)
    assert [g[:2] for g in got] == [w[:2] for w in want]
    assert all(g[k] == pytest.approx(w[k], rel=1e-9, abs=1e-12) for g, w in zip(got, want, strict=True)
               for k in (2, 3, 4))
    assert any(g[4] < g[2] for g in got)  # replies and data are frames, not attempts


def arp(ts: float, op: int, psrc: str, pdst: str) -> Frame:
    return frame(ts, Ether(src="02:00:00:00:00:0a", dst="ff:ff:ff:ff:ff:ff") / ARP(op=op, psrc=psrc, pdst=pdst))


def test_arp_reply_without_request_is_flagged() -> None:
    gw, host, attacker_claims = "10.0.0.254", "10.0.0.5", "10.0.0.254"
    frames = [
        arp(0.0, 1, host, gw),                       # host asks for the gateway
        arp(0.001, 2, gw, host),                     # answered: solicited
        arp(0.5, 2, gw, "10.0.0.6"),                 # nobody asked
        arp(1.0, 2, "10.0.0.9", "10.0.0.9"),         # gratuitous announcement
        arp(1.0 + ARP_REQUEST_WINDOW_S + 0.1, 2, gw, host),  # the request is too old
        arp(20.0, 2, attacker_claims, host),         # arpspoof's periodic poisoning
        frame(21.0, E / IP(src=host, dst=gw) / ICMP()),
    ]
    ext = HostContextExtractor()
    rows = ctx_rows(frames, ext)
    assert [r["ctx.arp_unsolicited"] for r in rows] == [0, 0, 1, 0, 1, 1, 0]
    # the request is an attempt of its sender on its target; replies are not attempts
    assert [r["ctx.src_endpoints"] for r in rows[:6]] == [1, 0, 0, 0, 0, 0]
    assert [r["ctx.dst_sources"] for r in rows[:6]] == [0] * 6
    assert ext.stats()["unsolicited_arp_replies"] == 3


def test_arp_sweep_counts_as_attempts_of_its_sender() -> None:
    """nmap -sn / arp-scan on a LAN: one sender asks for every address, a few a millisecond; a host
    that asks for its gateway now and then stays at one endpoint; ARP probes (sender 0.0.0.0) and
    gratuitous announcements count for nobody."""
    sweep = [arp(i * 0.002, 1, "10.0.0.66", f"10.0.0.{i + 1}") for i in range(100)]
    quiet = [arp(1.0 + i, 1, "10.0.0.5", "10.0.0.254") for i in range(3)]
    probe = [arp(5.0, 1, "0.0.0.0", "10.0.0.7"), arp(5.1, 1, "10.0.0.9", "10.0.0.9")]
    rows = ctx_rows(sweep + quiet + probe)
    assert [r["ctx.src_endpoints"] for r in rows[:100]] == [min(i + 1, MAX_PEERS) for i in range(100)]
    assert rows[99]["ctx.src_attempt_rate"] > 6  # log2(1 + about 90 a second, decayed)
    assert [r["ctx.src_endpoints"] for r in rows[100:103]] == [1, 1, 1]
    assert rows[102]["ctx.src_attempt_rate"] < 1.5
    assert [(r["ctx.src_endpoints"], r["ctx.src_rate"], r["ctx.src_attempt_rate"]) for r in rows[103:]] == [
        (0, 0.0, 0.0), (0, rows[104]["ctx.src_rate"], 0.0)]


def test_state_stays_bounded_in_a_spoofed_flood() -> None:
    rng = random.Random(9)
    frames = [syn(i * 1e-5, f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                  VICTIM, rng.randint(1024, 65535), 80) for i in range(3000)]
    ext = HostContextExtractor(max_hosts=256)
    rows = list(ext.rows(frames))
    assert len(rows) == 3000
    for table in (ext._src, ext._dst):
        assert len(table) <= 256
    assert len(ext._udp) <= ext.base.max_udp
    assert all(len(st[2]) <= MAX_PEERS for st in ext._dst.values())
    st = ext.stats()
    assert st["hosts_evicted"] >= 3000 - 256  # the source table evicts; the victim stays
    decayed = sum(math.exp(-(frames[-1].ts - f.ts) / RATE_TAU_S) for f in frames) / RATE_TAU_S
    assert rows[-1][len(COLUMNS) + CONTEXT_COLUMNS.index("ctx.dst_rate")] == pytest.approx(math.log2(1 + decayed),
                                                                                             rel=1e-6)


@pytest.mark.parametrize(("uri", "body", "want"), [
    ("http://10.0.0.2/api/status", 0, (11, 0, 0)),                           # a poller
    ("http://10.0.0.2/login", "username=admin&password=123456&Login=Login", (6, 0, 0)),
    ("http://10.0.0.2:8080/search?q=%27%20UNION%20SELECT%20a%2Cb%20FROM%20users--%20", 0, (58, 1, 4)),
    ("http://10.0.0.2/c", "comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E", (2, 6, 3)),
    ("http://h/../../etc/passwd", 0, (17, 0, 3)),
])
def test_http_request_shape(uri: str, body: Any, want: tuple[int, int, int]) -> None:
    assert http_shape(uri, body) == want


def test_http_shape_fills_request_rows_only() -> None:
    req = b"GET /q?id=1%27%20or%20%271%27=%271 HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    frames = [syn(0.0, SCANNER, VICTIM, 40000, 80), syn(0.001, VICTIM, SCANNER, 80, 40000, "SA"),
              syn(0.002, SCANNER, VICTIM, 40000, 80, ACK),
              frame(0.003, E / IP(src=SCANNER, dst=VICTIM) / TCP(sport=40000, dport=80, flags="PA", seq=1, ack=1) /
                    Raw(req)),
              frame(0.004, E / IP(src=VICTIM, dst=SCANNER) / TCP(sport=80, dport=40000, flags="PA", seq=1,
                                                                 ack=1 + len(req)) / Raw(resp))]
    rows = ctx_rows(frames)
    shape = [(r["ctx.http_target_len"], r["ctx.http_specials"], r["ctx.http_keywords"]) for r in rows]
    assert shape == [(0, 0, 0)] * 3 + [(len("/q?id=1%27%20or%20%271%27=%271"), 4, 0), (0, 0, 0)]


def mqtt_connack(code: int, v5: bool = False) -> bytes:
    return bytes((0x20, 3 if v5 else 2, 0, code)) + (b"\x00" if v5 else b"")


@pytest.mark.parametrize(("payload", "failed"), [
    (b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=x\r\n\r\n", True),
    (b"HTTP/1.0 403 Forbidden\r\n\r\n", True),
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>Login failed. Try again.</p>", True),
    (b"HTTP/1.1 200 OK\r\n\r\n<div>Invalid username or password</div>", True),
    (mqtt_connack(5), True),                      # 3.1.1: not authorised
    (mqtt_connack(4), True),                      # 3.1.1: bad user name or password
    (mqtt_connack(0x87, v5=True), True),          # 5.0: not authorised
    (b"530 Login incorrect.\r\n", True),          # FTP
    (b"535 5.7.8 Authentication credentials invalid\r\n", True),  # SMTP
    (b"-ERR [AUTH] Authentication failed.\r\n", True),  # POP3
    (b"a001 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n", True),  # IMAP
    (b"\r\nLogin incorrect\r\n", True),           # Telnet
    (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"status\": \"ok\"}", False),
    (b"HTTP/1.1 404 Not Found\r\n\r\n", False),
    (b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n", False),
    (mqtt_connack(0), False),                     # accepted
    (mqtt_connack(2), False),                     # identifier rejected: not a credential failure
    (b"\x30\x0c\x00\x05plant/t21.5", False),        # an MQTT PUBLISH
    (b"220 ProFTPD Server ready.\r\n", False),
    (bytes(range(256)) * 3, False),
])
def test_auth_failure_recognises_refused_logins(payload: bytes, failed: bool) -> None:
    assert auth_failure(payload.hex()) is failed


#: pieces that make up the heads the quick check is tried on: every word and prefix of the pattern,
#: near misses, case changes, whitespace, and bytes of binary protocols
_PIECES = [b"HTTP/1.1 401", b"http/1.0 403 ", b"HTTP/1.1 200 ", b"530 ", b"530-", b"535 ", b"-ERR", b"-err ",
           b"a001 NO ", b"x no", b" NO ", b"no", b"\tNO", b"LOGIN INCORRECT", b"login  incorrect", b"Login failed",
           b"authentication failed", b"Access Denied", b"invalid username", b"Invalid user name", b"INVALID PASSWORD",
           b"invalid credentials", b"invalid login", b"incorrect password", b"incorrect user name", b"\r\n", b" ",
           b"\x00\x20\x02", b"\xff", b"a", b"-"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES) | st.binary(max_size=4), max_size=8))
def test_auth_failure_quick_check_never_hides_a_match(pieces: list[bytes]) -> None:
    head = b"".join(pieces)
    assert auth_failure(head.hex()) is (AUTH_FAILURE.search(head) is not None or
                                        (len(head) >= 4 and head[0] == 0x20 and 2 <= head[1] < 128
                                         and head[3] in (4, 5, 0x86, 0x87, 0x8C)))


def exchange(ts: float, client: str, server: str, cport: int, req: bytes, resp: bytes) -> list[Frame]:
    """A request and its response inside an open connection (no handshake: attempts are tested elsewhere)."""
    return [frame(ts, E / IP(src=client, dst=server) / TCP(sport=cport, dport=80, flags="PA") / Raw(req)),
            frame(ts + 0.001, E / IP(src=server, dst=client) / TCP(sport=80, dport=cport, flags="PA") / Raw(resp))]


def test_auth_failures_climb_on_a_brute_force_and_fade_after_it() -> None:
    req = b"POST /login HTTP/1.1\r\nHost: 10.0.0.2\r\nContent-Length: 29\r\n\r\nusername=admin&password=12345"
    refused = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    frames: list[Frame] = []
    for i in range(20):  # 20 refused logins in 2 s
        frames += exchange(i * 0.1, SCANNER, VICTIM, 40000 + i, req, refused)
    frames += exchange(2.5, "10.0.0.7", VICTIM, 41000, req, ok)          # another client, unaffected
    frames += exchange(2.6, SCANNER, VICTIM, 41001, req, ok)             # the attacker's next frames carry it
    frames += exchange(60.0, SCANNER, VICTIM, 41002, req, ok)            # long after: faded
    rows = ctx_rows(frames, horizon_s=10.0)
    fails = [r["ctx.auth_failures"] for r in rows]
    assert fails[0] == 0.0 and fails[1] == pytest.approx(1.0)           # log2(1 + 1) on the refusing reply
    refusals = [i * 0.1 + 0.001 for i in range(20)]

    def decayed(ts: float) -> float:  # failures decay with time constant horizon_s
        return math.log2(1 + sum(math.exp(-(ts - t) / 10.0) for t in refusals if t <= ts))

    assert fails[39] == pytest.approx(decayed(1.901)) and fails[39] > math.log2(1 + 15)
    assert fails[40] == 0.0 and fails[41] == 0.0                         # 10.0.0.7 got no refusal
    assert fails[42] == pytest.approx(decayed(2.6)) and fails[43] == pytest.approx(decayed(2.601))
    assert fails[44] == pytest.approx(decayed(60.0)) and fails[44] < 0.1  # faded 58 s later


def test_features_command_writes_the_kind(tmp_path: Any) -> None:
    from scapy.all import wrpcap

    from agent.cli import main

    pkts = [E / IP(src=SCANNER, dst=VICTIM) / TCP(sport=40000, dport=p, flags="S") for p in range(1, 6)]
    for i, p in enumerate(pkts):
        p.time = 1_700_000_000 + i * 0.01
    wrpcap(str(tmp_path / "scan.pcap"), pkts)
    out = tmp_path / "rows.csv"
    assert main(["features", "--kind", "edge-iiotset-context", "--input", str(tmp_path / "scan.pcap"),
                 "--out", str(out)]) == 0
    import csv

    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["ctx.src_endpoints"]) for r in rows] == [1, 2, 3, 4, 5]


CLIENT, SERVER = ("10.0.0.9", 40000), ("10.0.0.2", 445)


def segment(ts: float, sender: tuple[str, int], receiver: tuple[str, int], n: int) -> Frame:
    """A segment of ``n`` payload bytes (a bare ACK for 0) inside an open connection."""
    pkt = E / IP(src=sender[0], dst=receiver[0]) / TCP(sport=sender[1], dport=receiver[1], flags="PA" if n else "A")
    return frame(ts, pkt / Raw(b"\x5a" * n) if n else pkt)


def conn(rows: list[dict[str, Any]], i: int) -> tuple[float, float, float]:
    r = rows[i]
    return r["ctx.conn_sent_rate"], r["ctx.conn_received_rate"], r["ctx.conn_turn_rate"]


def decayed_rate(times: list[float], at: float) -> float:
    """log2(1 + r): the reference for a rate decayed with RATE_TAU_S, from the event times."""
    return math.log2(1 + sum(math.exp(-(at - t) / RATE_TAU_S) for t in times if t <= at) / RATE_TAU_S)


def test_a_download_moves_bytes_one_way_and_never_turns() -> None:
    frames, t = [], 0.0
    for _ in range(5):  # keep-alive: a small request, then a 100-segment response the client ACKs
        frames.append(segment(t, CLIENT, SERVER, 300))
        for k in range(100):
            t += 0.001
            frames.append(segment(t, SERVER, CLIENT, 1448))
            if k % 2:
                frames.append(segment(t + 0.0002, CLIENT, SERVER, 0))
        t += 0.05
    rows = ctx_rows(frames)
    server_sent = [(f.ts, 1448) for f in frames if f.data[34:36] == bytes.fromhex("01bd") and len(f.data) > 1000]
    last_data = max(i for i, f in enumerate(frames) if len(f.data) > 1000)
    sent, received, _ = conn(rows, last_data)
    at = frames[last_data].ts
    want = math.log2(1 + sum(n * math.exp(-(at - ts) / RATE_TAU_S) for ts, n in server_sent) / RATE_TAU_S)
    assert sent == pytest.approx(want, rel=1e-9) and sent > 18
    assert 0 < received < 12  # the client's requests: 1.5 KB against 700 KB
    assert {conn(rows, i)[2] for i in range(len(rows))} == {0.0}  # requests are not bulk: no turn
    ack_sent, ack_received, _ = conn(rows, last_data + 1)  # the client's ACK, 0.2 ms later, mirrors it
    assert ack_received == pytest.approx(sent, rel=1e-4) and ack_sent == pytest.approx(received, rel=1e-4)
    # a UDP datagram and an ARP frame carry none of the three
    syslog = E / IP(src="10.0.0.9", dst="10.0.0.2") / UDP(sport=5000, dport=514) / Raw(b"x" * 1400)
    other = ctx_rows([frame(0.0, syslog), frame(0.1, E / ARP(op=1, psrc="10.0.0.9", pdst="10.0.0.2"))])
    assert [conn(other, i) for i in (0, 1)] == [(0.0, 0.0, 0.0)] * 2


def test_reading_files_and_writing_them_back_turns_twice_per_file() -> None:
    frames, turn_times, t, last = [], [], 0.0, None
    for _ in range(20):  # per file: read 8 segments, write 8 back (an SMB read response, a write request)
        frames.append(segment(t, CLIENT, SERVER, 120))  # CREATE + READ requests: not bulk
        for sender, receiver in ((SERVER, CLIENT), (CLIENT, SERVER)):
            for _ in range(8):
                t += 0.0005
                if last is not None and last != sender:
                    turn_times.append(t)
                last = sender
                frames.append(segment(t, sender, receiver, 1448))
        t += 0.02
    rows = ctx_rows(frames)
    sent, received, turns = conn(rows, len(rows) - 1)
    assert turns == pytest.approx(decayed_rate(turn_times, frames[-1].ts), rel=1e-9)
    assert len(turn_times) == 39 and turns > 4.5  # about 30 turns/s
    assert sent > 17 and received > 17

    # a copy read back to verify it, as large in all, turns once and that turn fades
    up = [segment(0.001 * k, CLIENT, SERVER, 1448) for k in range(160)]
    back = [segment(0.2 + 0.001 * k, SERVER, CLIENT, 1448) for k in range(160)]
    verified = ctx_rows(up + back)
    assert conn(verified, 159)[2] == 0.0 and conn(verified, 160)[2] == pytest.approx(decayed_rate([0.2], 0.2))
    assert conn(verified, 319)[2] < 1.0


def test_connection_state_stays_bounded() -> None:
    ext = HostContextExtractor(EdgeIIoTsetExtractor(max_tcp_streams=64))
    frames = [segment(i * 0.001, ("10.0.1.1", 1024 + i), SERVER, 1000) for i in range(500)]
    rows = list(ext.rows(frames))
    assert len(rows) == 500 and len(ext._connections) <= 64
    assert ext.stats()["connections_evicted"] == 500 - 64
