"""A command shell over a plain TCP connection: one side types shell commands, the other answers them.

What a reverse or bind shell looks like on the wire: netcat, socat, a bash ``/dev/tcp`` redirect or
a dropped implant gives a remote party the victim's shell over a connection that carries no
protocol of its own. The controller sends short lines that start with a command (``id``,
``whoami``, ``uname -a``, ``cat /etc/passwd``, ``ipconfig``), and the victim answers each with the
command's output, often with a prompt (``# ``, ``$ ``) or a shell's complaint (``sh: 0: can't access
tty; job control turned off``). An IDS reads the same cleartext: Suricata's rule sets flag ``uid=0(root)``
in a TCP stream, a Windows console banner, a shell's prompt.

So the evidence is: on one TCP connection that no dissector claims (HTTP, MQTT, Modbus and DNS have
their own readers; Telnet, on port 23 or speaking its option bytes, is a login service, not a
shell handed out), within ``window_s``, ``min_commands`` lines from one side that each start with a
shell command and are answered by the other side within ``answer_s``; or one such answered command
and the shell's own words in the answers (a prompt after output, ``uid=N(name)``, a console
banner). The finding names the side that runs the shell as its source and the controller as its
destination; whether the shell connected out (a reverse shell) or was connected to (a bind shell),
told by which side has the higher, ephemeral port, is in the evidence.

Why a rule and not only the model: see :mod:`agent.rules`. The model saw netcat's session among
other traffic as benign: a few hundred bytes in a minute. The rule reports ``Backdoor`` (the
dataset's class for remote access left behind), so it merges with the model's incidents of it.

What it cannot see: an encrypted shell (SSH, TLS, an implant's own cipher), one over UDP or ICMP,
commands outside its list, and a shell whose controller types slower than ``window_s`` allows.
Memory is bounded: at most ``max_connections`` connections are followed (least recently seen
dropped beyond, counted). A segment is read (its first ``READ_BYTES`` bytes) only while its
connection is undecided, and only when it may be a typed line or a prompt (at most
``COMMAND_BYTES``, ending with a newline, a space or ``>``) or is the answer a command awaits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.features import ETHERNET_CONTEXT
from agent.lru import LruTable
from agent.rules.base import Detector, DetectorConfig, Finding, ReportRun
from agent.schema import doc
from agent.windows import GLOBAL_KEY

#: the row columns the rule reads (the alert context gives it addresses, ports and the protocol)
COLUMNS = ("tcp.len", "tcp.payload")
_TS, _SRC, _SPORT, _DST, _DPORT, _PROTO, _APP = (ETHERNET_CONTEXT.index(f) for f in (
    "ts", "src_ip", "src_port", "dest_ip", "dest_port", "proto", "app_proto"))
#: payload bytes read from a segment (a command line is short; a shell's words open its answer)
READ_BYTES = 512
#: longest line taken for a typed command
COMMAND_BYTES = 256
#: Telnet's port: a login service whose sessions are shells by design
TELNET_PORT = 23
#: hex of a segment's last byte when it may be a typed line or a prompt: newline, space, '>'
_TYPED_ENDS = frozenset(("0a", "20", "3e"))
#: commands an intruder types first on a shell it was given (Unix and Windows), as a line's first word,
#: in lower case as typed: text protocols' verbs are upper case (FTP's PWD, POP3's LIST), and words
#: that are also verbs of lower-case ones (memcached's and Redis's set, Redis's type) are left out
SHELL_COMMANDS = frozenset((
    "id", "whoami", "uname", "hostname", "pwd", "ls", "cd", "cat", "head", "tail", "less", "more", "echo", "env",
    "export", "printenv", "ps", "top", "kill", "ifconfig", "ip", "route", "arp", "netstat", "ss",
    "nslookup", "dig", "ping", "traceroute", "curl", "wget", "nc", "ncat", "socat", "python", "python3", "perl",
    "php", "ruby", "bash", "sh", "zsh", "busybox", "sudo", "su", "chmod", "chown", "cp", "mv", "rm", "mkdir",
    "touch", "find", "grep", "awk", "sed", "tar", "gzip", "base64", "crontab", "systemctl", "service", "mount",
    "df", "du", "free", "history", "last", "w", "who", "file", "which", "whereis", "uptime", "lsof", "useradd",
    "passwd", "getent", "dir", "ipconfig", "systeminfo", "net", "tasklist", "taskkill", "netsh",
    "powershell", "cmd", "certutil", "reg", "wmic", "schtasks", "sc",
))
#: a command line: printable text ending with a newline, its first word a command (a path to it too)
_COMMAND = re.compile(rb"^[ \t]*(?:[\w./-]*/)?([A-Za-z][\w.]{0,31})(?:[ \t][ -~\t]*)?\r?\n$")
#: the shell's own words in an answer: a prompt closing output, uid/gid of ``id``, a shell's complaint
#: about its terminal, Windows' console banner or a PowerShell prompt
_SHELL_WORDS = re.compile(
    rb"(?:^|\n)(?:[\w.-]+@[\w.-]+:[^\n]{0,200})?[#$] ?$|uid=\d+\([\w.-]+\) gid=\d+|can't access tty"
    rb"|no job control in this shell|Microsoft Windows \[Version|(?:^|\n)PS [A-Z]:\\[^\n]{0,200}> ?$"
    rb"|(?:^|\n)[A-Z]:\\[^\n]{0,200}>$",
)


class _Conn:
    """One TCP connection: its last command and the evidence so far."""

    __slots__ = ("asked_at", "asker", "commands", "done", "first", "speaker")

    def __init__(self) -> None:
        self.asker: Any = None
        """(address, port) that sent the last command line not yet answered."""
        self.asked_at = 0.0
        self.commands = 0
        """Command lines answered within ``answer_s``."""
        self.speaker: Any = None
        """(address, port) that spoke as a shell does (a prompt, a complaint about its terminal)."""
        self.first = 0.0
        self.done = False


@dataclass
class ShellSessionConfig(DetectorConfig):
    """The shell session rule: shell commands typed over a plain TCP connection and answered."""

    min_commands: int = doc("answered command lines on one connection that make a shell session (one is enough "
                            "with the shell's own words in an answer)", 3)
    answer_s: float = doc("seconds within which the other side must answer a command line", 5.0)
    window_s: float = doc("interval the command lines must fall in", 300.0)
    class_name: str = doc("class its alerts carry; the model's class for remote access left behind",
                          "Backdoor")
    max_connections: int = doc("connections followed at once; least recently seen dropped beyond", 4096)


class ShellSessionRule(Detector[ShellSessionConfig]):
    """Finds a command shell handed out over a plain TCP connection (see the module docstring)."""

    name = "shell_session"
    summary = "a command shell over a plain TCP connection: commands typed, answered"
    Config = ShellSessionConfig
    reads = COLUMNS

    def __init__(self, columns: Sequence[str], config: ShellSessionConfig | None = None, **settings: Any) -> None:
        super().__init__(columns, config, **settings)
        c = self.config
        self.check_settings({"min_commands": (c.min_commands, 1), "max_connections": (c.max_connections, 1)},
                            {"answer_s": c.answer_s, "window_s": c.window_s})
        self._len, self._payload = self.indices()
        self._conns: LruTable[tuple[Any, ...], _Conn] = LruTable(int(c.max_connections))
        self._runs: LruTable[tuple[Any, Any], ReportRun] = LruTable(int(c.max_connections))
        self._counters = {"shell_session_findings": 0, "shell_session_commands": 0}

    def stats(self) -> dict[str, int]:
        """Findings, answered commands, connections followed and evicted."""
        return {**self._counters, "shell_session_connections_evicted": self._conns.evicted,
                "shell_session_connections_tracked": len(self._conns)}

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings of ``rows``: one when a connection's answered commands reach the evidence."""
        out: list[Finding] = []
        length, payload, conns = self._len, self._payload, self._conns
        for row, ctx in zip(rows, contexts, strict=True):
            size = row[length]
            if not size or ctx[_PROTO] != "TCP" or ctx[_APP] or TELNET_PORT in (ctx[_SPORT], ctx[_DPORT]):
                continue
            hexdata = row[payload]
            if not isinstance(hexdata, str):
                continue
            here, there = (ctx[_SRC], ctx[_SPORT]), (ctx[_DST], ctx[_DPORT])
            key = (*here, *there) if here <= there else (*there, *here)
            conn = conns.get(key)
            # a typed line or a prompt ends with a newline, a space or '>'; anything else is read only
            # as the answer a connection awaits (bulk and binary protocols cost a lookup)
            typed = size <= COMMAND_BYTES and hexdata[-2:] in _TYPED_ENDS
            if conn is None:
                if not typed:
                    continue
                conn = conns[key] = _Conn()
                conns.trim()
            elif conn.done or not (typed or conn.asker == there):
                continue
            else:
                conns.move_to_end(key)
            try:
                data = bytes.fromhex(hexdata[: 2 * READ_BYTES])
            except ValueError:
                continue
            if b"\xff" in data[:3]:  # Telnet option negotiation (IAC): a login service
                conn.done = True
                continue
            finding = self._segment(conn, here, there, data, float(ctx[_TS]))
            if finding is not None:
                out.append(finding)
        return out

    def _segment(self, conn: _Conn, here: Any, there: Any, data: bytes, ts: float) -> Finding | None:
        """One segment of ``here`` to ``there``: a command line, the answer to the last one, or else."""
        cfg = self.config
        if _SHELL_WORDS.search(data) is not None:
            conn.speaker = here
        if conn.asker == there and ts - conn.asked_at <= cfg.answer_s:  # an answer to the command
            conn.asker = None
            if not conn.commands or ts - conn.first > cfg.window_s:
                conn.first, conn.commands = conn.asked_at, 0
            conn.commands += 1
            self._counters["shell_session_commands"] += 1
            if conn.commands >= cfg.min_commands or conn.speaker == here:
                return self._found(conn, shell=here, controller=there, ts=ts)
            return None
        if _is_command(data):
            conn.asker, conn.asked_at = here, ts
        return None

    def _found(self, conn: _Conn, shell: Any, controller: Any, ts: float) -> Finding:
        conn.done = True
        pair = (shell[0], controller[0])
        run = self._runs.get(pair)
        if run is None:
            run = self._runs[pair] = ReportRun()
            self._runs.trim()
        since = run.report(conn.first, ts, self.config.window_s)
        # the side with the higher, ephemeral port opened the connection
        how = ("it connected out to the controller: a reverse shell" if shell[1] > controller[1] else
               "the controller connected to it: a bind shell")
        self._counters["shell_session_findings"] += 1
        return Finding(
            key=GLOBAL_KEY, cls=self.config.class_name, first_ts=since, last_ts=ts,
            context={"src_ip": shell[0], "src_port": shell[1], "dest_ip": controller[0],
                     "dest_port": controller[1], "proto": "TCP"},
            quiet_s=self.config.window_s,
            evidence=(f"{shell[0]}:{shell[1]} answered {conn.commands} shell command lines typed by "
                      f"{controller[0]}:{controller[1]} over a plain TCP connection"
                      f"{', speaking as a shell does' if conn.speaker == shell else ''}; {how}"),
        )


def _is_command(data: bytes) -> bool:
    """Whether a segment is one typed line that starts with a shell command."""
    if len(data) > COMMAND_BYTES or data.count(b"\n") != 1:
        return False
    m = _COMMAND.match(data)
    return m is not None and m.group(1).decode() in SHELL_COMMANDS


DETECTOR = ShellSessionRule
