"""The shell session rule: a reverse or bind shell's typed commands and answers over plain TCP found;
Telnet, text protocols' verbs, unanswered lines and bulk transfers left alone; bounded state; and
its finding as an alert through the shipped bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.rule_checks import check_rule_config, incidents_of, replay_rule, run_rule
from support.site_checks import TcpConversation

from agent.rules.shell_session import ShellSessionConfig, ShellSessionRule

T0 = 1_700_000_000.0
VICTIM, CONTROLLER = "10.20.0.5", "10.20.0.66"
COMMANDS = [b"id\n", b"whoami\n", b"uname -a\n", b"cat /etc/os-release\n", b"ls -la /tmp\n"]
ANSWERS = [b"uid=0(root) gid=0(root) groups=0(root)\n", b"root\n", b"Linux plc-gw 6.1.0 aarch64 GNU/Linux\n",
           b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n', b"total 8\ndrwxrwxrwt 2 root root 4096 .\n"]


def session(opener: str, other: str, dport: int, lines: list[tuple[bool, bytes]], t0: float = T0,
            gap: float = 1.5, out: list[Any] | None = None) -> list[Any]:
    """A TCP connection ``opener`` -> ``other``:``dport``, then ``lines``: (sent by the opener, bytes)."""
    out = [] if out is None else out
    conn = TcpConversation(out, opener, other, 40000 + len(out) % 20000, dport, t0)
    for k, (by_opener, data) in enumerate(lines):
        conn._seg(t0 + 0.01 + k * gap / 2, by_opener, "PA", data)
    return out


def typed(commands: list[bytes], answers: list[bytes], shell_opens: bool, prompt: bytes = b"") -> list[
        tuple[bool, bytes]]:
    """Command lines from the controller, each answered by the shell (the opener when ``shell_opens``)."""
    lines = []
    for cmd, ans in zip(commands, answers, strict=True):
        lines += [(not shell_opens, cmd), (shell_opens, ans + prompt)]
    return lines


def findings(packets: list[Any], **cfg: Any) -> list[Any]:
    found, _ = run_rule(ShellSessionRule, packets, config=ShellSessionConfig(**cfg))
    return found


def test_a_reverse_shell_is_a_backdoor() -> None:
    """netcat's reverse shell, as on the real-tool bench: the victim connects out, complains about its
    terminal, and answers ``id`` with its uid: one answered command and the shell's own words."""
    lines = [(True, b"sh: 0: can't access tty; job control turned off\n# ")]
    lines += typed(COMMANDS[:1], ANSWERS[:1], shell_opens=True, prompt=b"# ")
    found = findings(session(VICTIM, CONTROLLER, 4444, lines))
    assert [f.cls for f in found] == ["Backdoor"]
    ctx = found[0].context
    assert (ctx["src_ip"], ctx["dest_ip"], ctx["dest_port"]) == (VICTIM, CONTROLLER, 4444)
    assert "reverse shell" in found[0].evidence


def test_a_bind_shell_without_prompts_needs_three_answered_commands() -> None:
    lines = typed(COMMANDS[1:4], ANSWERS[1:4], shell_opens=False)
    found = findings(session(CONTROLLER, VICTIM, 31337, lines))
    assert [f.cls for f in found] == ["Backdoor"]
    assert found[0].context["src_ip"] == VICTIM and "bind shell" in found[0].evidence
    assert findings(session(CONTROLLER, VICTIM, 31337, lines[:4])) == []  # two commands
    # lines nobody answers within answer_s are no session
    unanswered = [(True, c) for c in COMMANDS[1:4]]
    assert findings(session(CONTROLLER, VICTIM, 31337, unanswered)) == []


def test_telnet_and_text_protocols_are_not_shells() -> None:
    lines = typed(COMMANDS[1:4], ANSWERS[1:4], shell_opens=False)
    assert findings(session(CONTROLLER, VICTIM, 23, lines)) == []  # an operator's Telnet login
    iac = [(False, b"\xff\xfd\x18\xff\xfd\x20"), (True, b"\xff\xfb\x18"), *lines]
    assert findings(session(CONTROLLER, VICTIM, 2323, iac)) == []  # Telnet on another port
    ftp = typed([b"PWD\r\n", b"TYPE I\r\n", b"LIST\r\n", b"CWD /logs\r\n"],
                [b'257 "/"\r\n', b"200 Switching to Binary mode.\r\n", b"150 Here comes the listing.\r\n",
                 b"250 Directory successfully changed.\r\n"], shell_opens=False)
    assert findings(session(CONTROLLER, VICTIM, 2121, ftp)) == []
    memcached = typed([b"set pump3 0 0 4\r\n", b"get pump3\r\n", b"stats\r\n"],
                      [b"STORED\r\n", b"VALUE pump3 0 4\r\n42.5\r\nEND\r\n", b"STAT pid 1\r\nEND\r\n"],
                      shell_opens=False)
    assert findings(session(CONTROLLER, VICTIM, 11211, memcached)) == []


def test_followed_connections_are_bounded() -> None:
    packets: list[Any] = []
    for k in range(40):
        session(CONTROLLER, VICTIM, 5000 + k, [(True, b"hello\n"), (False, b"hi\n")], t0=T0 + k, out=packets)
    packets.sort(key=lambda p: float(p.time))
    found, rule = run_rule(ShellSessionRule, packets, config=ShellSessionConfig(max_connections=8))
    assert found == []
    stats = rule.stats()
    assert stats["shell_session_connections_tracked"] <= 8
    assert stats["shell_session_connections_evicted"] >= 32


def test_settings_are_checked() -> None:
    check_rule_config("shell_session", [("min_commands", "0"), ("answer_s", "0"), ("window_s", "-1"),
                                        ("max_connections", "0")])


def test_the_finding_is_an_alert_through_the_shipped_bundle(tmp_path: Path) -> None:
    lines = [(True, b"sh: 0: can't access tty; job control turned off\n# ")]
    lines += typed(COMMANDS, ANSWERS, shell_opens=True, prompt=b"# ")
    alerts, _, _ = replay_rule(tmp_path, session(VICTIM, CONTROLLER, 4444, lines), "shell_session")
    assert incidents_of(alerts, "Backdoor") >= 1
