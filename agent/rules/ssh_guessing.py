"""SSH password guessing: a client's logins that the server refuses again and again, read from the
sizes of encrypted messages.

What guessing looks like: hydra, medusa, ncrack and patator open SSH connections and, in each, send
one password after another, as many as the server's limit allows (OpenSSH's ``MaxAuthTries``, 6 by
default); the THC Hydra run on the real-tool bench sends 6 in 0.13 s, four connections at once.
Everything after the key exchange is encrypted, so no reply says "failed" in the clear, as HTTP,
FTP or Telnet logins do (those are ``ctx.auth_failures``). But SSH's user authentication is a dialogue
of its own: the client sends a request, the server answers with a failure (the same list of methods
that can continue, so the same message, so the same encrypted size, every time), a success, or a
request for more. A person typing a wrong password gets at most three prompts per connection from
the OpenSSH client; a key login is answered once or twice with different messages. A run of
identical replies at the start of the connection's encrypted phase is the server refusing login
after login.

So the evidence is: in at least ``min_connections`` SSH connections from one client to one server
within ``window_s``, the server's first encrypted replies after its service accept were at least
``min_failures`` messages of one size in a row, each answering a message of the client (the
authentication ``none`` probe's refusal included). Key exchanges are followed in the clear (SSH's
binary packets before ``NEWKEYS``), by TCP sequence number so retransmissions are not read twice;
a connection whose start was not seen, or whose bytes went missing, is left alone.

Why a rule and not only the model: see :mod:`agent.rules`. The Edge-IIoTset columns carry nothing
of SSH but TCP, and the lab model reads hydra's bursts of small encrypted segments as benign.
The rule reports ``Password`` (the dataset's class for password attacks) under the Ethernet stream's
key, so it merges with the model's incidents of that class.

What it cannot see: guessing that sends one password per connection (``patator`` with
``persistent=0``), servers that pad their messages to random lengths, and SSH on a port above the
client's (the server is taken to be the endpoint with the lower port, as 22 or 2222 is). Memory is
bounded: at most ``max_connections`` connections are followed (the least recently seen dropped
beyond and counted), and at most ``max_connections`` (client, server) pairs remember their recent
guessing connections.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.features import ETHERNET_CONTEXT
from agent.lru import LruTable
from agent.rules.base import Detector, DetectorConfig, Finding, ReportRun
from agent.schema import doc
from agent.windows import GLOBAL_KEY

#: the row columns the rule reads (the alert context gives it addresses and ports)
COLUMNS = ("tcp.len", "tcp.seq", "tcp.payload")
#: hex of the identification string's start ("SSH-"), which both sides send first
SSH_BANNER_HEX = "5353482d"
#: SSH_MSG_NEWKEYS: after it, a side's packets are encrypted
NEWKEYS = 21
#: a binary packet's length field beyond this is no SSH (RFC 4253 asks for 35,000 at least)
MAX_PACKET = 256 * 1024
_TS, _SRC, _SPORT, _DST, _DPORT, _PROTO = (ETHERNET_CONTEXT.index(f) for f in
                                          ("ts", "src_ip", "src_port", "dest_ip", "dest_port", "proto"))
_U32 = struct.Struct(">I")

# phases of one direction
_BANNER, _CLEAR, _ENCRYPTED, _LOST = 0, 1, 2, 3


class _Side:
    """One direction of a connection: where its byte stream is, and how far its clear packets go."""

    __slots__ = ("head", "next_seq", "phase", "skip")

    def __init__(self) -> None:
        self.phase = _BANNER
        self.next_seq: int | None = None
        self.skip = 0
        """Bytes of the current clear packet still to come."""
        self.head = b""
        """The start of a clear packet whose length and type have not all arrived."""

    def feed(self, seq: int, size: int, payload_hex: str) -> int:
        """Take one segment (``size`` payload bytes from ``seq``, the payload as hex); the bytes of it
        that are encrypted (0 before ``NEWKEYS``), or -1 for a retransmission. A gap in the sequence
        numbers, or a payload cut short by the capture, ends the reading (phase ``_LOST``)."""
        if self.next_seq is not None and seq != self.next_seq:
            if seq < self.next_seq:
                return -1
            self.phase = _LOST
        self.next_seq = seq + size
        if self.phase == _ENCRYPTED:
            return size
        if self.phase == _LOST:
            return 0
        data = bytes.fromhex(payload_hex)
        if len(data) != size:
            self.phase = _LOST
            return 0
        i = 0
        if self.phase == _BANNER:
            end = data.find(b"\n")
            if end < 0:
                return 0
            i, self.phase = end + 1, _CLEAR
        while i < len(data):
            if self.skip:
                take = min(self.skip, len(data) - i)
                i += take
                self.skip -= take
                continue
            need = 6 - len(self.head)
            self.head += data[i:i + need]
            i += need
            if len(self.head) < 6:
                return 0
            length = _U32.unpack_from(self.head)[0]
            kind = self.head[5]
            self.head = b""
            if not 2 <= length <= MAX_PACKET:
                self.phase = _LOST
                return 0
            self.skip = length - 2
            if kind == NEWKEYS:
                i += min(self.skip, len(data) - i)
                self.skip = 0
                self.phase = _ENCRYPTED
                return len(data) - i
        return 0


class _Connection:
    """One SSH connection: both directions, and the server's run of same-size replies."""

    __slots__ = ("asked", "client", "done", "replies", "run", "run_size", "server")

    def __init__(self) -> None:
        self.client, self.server = _Side(), _Side()
        self.replies = 0
        """Encrypted server messages that answered the client so far."""
        self.run = 0
        self.run_size = -1
        self.asked = False
        """The client sent an encrypted message since the server's last one."""
        self.done = False
        """The run was counted, or broken."""


@dataclass
class SshGuessingConfig(DetectorConfig):
    """The SSH password guessing rule: connections in which the server refuses login after login, told
    by the sizes of its encrypted replies."""

    min_failures: int = doc(
        "same-size server replies in a row, each to a client message, that open a connection's authentication "
        "before it counts as guessing (the refusal of the 'none' probe included: hydra gets 7 from OpenSSH's "
        "default MaxAuthTries 6; a person gets at most 3 password prompts from the OpenSSH client)", 6
    )
    min_connections: int = doc("such connections from one client to one server within window_s before it alerts",
                               3)
    window_s: float = doc("the interval those connections must fall in", 60.0)
    class_name: str = doc("class its alerts carry; the model's class for password attacks, so incidents merge",
                          "Password")
    max_connections: int = doc("SSH connections followed at once; least recently seen dropped beyond", 4096)


class SshGuessingRule(Detector[SshGuessingConfig]):
    """Finds SSH password guessing in Edge-IIoTset rows (see the module docstring)."""

    name = "ssh_guessing"
    summary = "SSH password guessing, told by the sizes of the server's encrypted refusals"
    Config = SshGuessingConfig
    reads = COLUMNS

    def __init__(self, columns: Sequence[str], config: SshGuessingConfig | None = None, **settings: Any) -> None:
        super().__init__(columns, config, **settings)
        c = self.config
        self.check_settings({"min_failures": (c.min_failures, 2), "min_connections": (c.min_connections, 1),
                                   "max_connections": (c.max_connections, 1)}, {"window_s": c.window_s})
        self._len, self._seq, self._payload = self.indices()
        self.class_name = c.class_name
        self.min_failures = int(c.min_failures)
        self.min_connections = int(c.min_connections)
        self.window_s = float(c.window_s)
        self.max_connections = int(c.max_connections)
        self._conns: LruTable[tuple[Any, ...], _Connection] = LruTable(self.max_connections)
        #: (client, server, port) -> times of its recent guessing connections, and its run of reports
        self._pairs: LruTable[tuple[Any, Any, Any], tuple[deque[float], ReportRun]] = LruTable(self.max_connections)
        self._counters = {"ssh_guessing_findings": 0, "ssh_guessing_connections": 0}

    def stats(self) -> dict[str, int]:
        """Findings, guessing connections seen, connections followed and evicted."""
        return {**self._counters, "ssh_guessing_connections_evicted": self._conns.evicted,
                "ssh_guessing_connections_tracked": len(self._conns)}

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings of ``rows``: one each time a client's guessing connections to a server reach
        ``min_connections`` within ``window_s``."""
        out: list[Finding] = []
        length, seq, payload, conns = self._len, self._seq, self._payload, self._conns
        for row, ctx in zip(rows, contexts, strict=True):
            if ctx[_PROTO] != "TCP" or not row[length]:
                continue
            src, sport, dst, dport = ctx[_SRC], ctx[_SPORT], ctx[_DST], ctx[_DPORT]
            from_server = sport < dport
            key = (src, sport, dst, dport) if from_server else (dst, dport, src, sport)
            c = conns.get(key)
            if c is None:
                hexdata = row[payload]
                if not (isinstance(hexdata, str) and hexdata.startswith(SSH_BANNER_HEX)):
                    continue
                c = conns[key] = _Connection()
                conns.trim()
            elif c.done:
                continue
            else:
                conns.move_to_end(key)
            hexdata, at = row[payload], row[seq]
            if not isinstance(hexdata, str) or at is None:  # a header cut short: nothing to read
                continue
            encrypted = (c.server if from_server else c.client).feed(int(at), int(row[length]), hexdata)
            if encrypted <= 0:
                continue
            if not from_server:
                c.asked = True
                continue
            finding = self._reply(c, encrypted, key, float(ctx[_TS]))
            if finding is not None:
                out.append(finding)
        return out

    def _reply(self, c: _Connection, size: int, key: tuple[Any, ...], ts: float) -> Finding | None:
        """An encrypted server message of ``size`` bytes on ``c``."""
        if not c.asked:  # unasked (OpenSSH's EXT_INFO after NEWKEYS, a login banner), or more of a reply
            return None
        c.asked = False
        c.replies += 1
        if c.replies == 1:  # the service accept, before any authentication
            return None
        if c.run and size != c.run_size:
            c.done = True  # the refusals ended (a success, a key accepted) or never began
            return None
        c.run, c.run_size = c.run + 1, size
        if c.run < self.min_failures:
            return None
        c.done = True
        self._counters["ssh_guessing_connections"] += 1
        server, port, client = key[0], key[1], key[2]
        pair = (client, server, port)
        entry = self._pairs.get(pair)
        if entry is None:
            entry = self._pairs[pair] = (deque(), ReportRun())
            self._pairs.trim()
        else:
            self._pairs.move_to_end(pair)
        times, run = entry
        while times and (ts - times[0] > self.window_s or ts < times[0]):
            times.popleft()
        times.append(ts)
        if len(times) < self.min_connections:
            return None
        first = times[0]
        times.clear()
        since = run.report(first, ts, self.window_s)
        self._counters["ssh_guessing_findings"] += 1
        return Finding(
            key=GLOBAL_KEY,
            cls=self.class_name,
            first_ts=since,
            last_ts=ts,
            context={"src_ip": client, "dest_ip": server, "dest_port": port, "proto": "TCP", "app_proto": "ssh"},
            quiet_s=self.window_s,
            evidence=(f"{client} made {self.min_connections} SSH connections to {server} port {port} within "
                      f"{ts - first:.1f} s in which the server refused {self.min_failures} logins or more in a "
                      f"row (same-size replies to each attempt; password guessing, as hydra, medusa or ncrack "
                      f"do; {ts - run.run_start:.0f} s so far)"),
        )


DETECTOR = SshGuessingRule
