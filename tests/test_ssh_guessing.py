"""The SSH password guessing rule: hydra-like connections found from the sizes of the server's
encrypted refusals; key logins, a person's typos, interactive sessions, retransmissions and lost
segments left alone; bounded state; and its findings as alerts through the shipped bundle."""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from support.rule_checks import check_rule_config, incidents_of, replay_rule, run_rule
from test_tcp_flood import modbus_polls

from agent.rules import Finding
from agent.rules.ssh_guessing import SshGuessingRule

T0 = 1_700_000_000.0
SERVER, CLIENT = "10.10.0.5", "10.10.0.66"
#: the encrypted sizes OpenSSH 9 and libssh gave on the real-tool bench (chacha20-poly1305)
ACCEPT, REFUSAL, PASSWORD, NONE_PROBE = 44, 76, 76, 60


def clear_packet(kind: int, size: int) -> bytes:
    """An SSH binary packet before NEWKEYS: length, padding length, message type, filler."""
    body = bytes([4, kind]) + bytes(size - 6)
    return struct.pack(">I", len(body)) + body


class Conversation:
    """One TCP connection from CLIENT to SERVER:22, its segments stamped in order."""

    def __init__(self, t: float, sport: int) -> None:
        self.t, self.sport = t, sport
        self.seq = {"c": 1000, "s": 5000}
        self.packets: list[Any] = []
        self._segment("c", "S", b"")
        self._segment("s", "SA", b"")
        self._segment("c", "A", b"")

    def _segment(self, side: str, flags: str, data: bytes, retransmit: bool = False) -> None:
        src, dst, sport, dport = ((CLIENT, SERVER, self.sport, 22) if side == "c" else (SERVER, CLIENT, 22, self.sport))
        other = "s" if side == "c" else "c"
        seq = self.seq[side] - (len(data) if retransmit else 0)
        p = Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=seq,
                                                 ack=self.seq[other] if "A" in flags else 0)
        if data:
            p = p / Raw(data)
        p.time = T0 + self.t
        self.t += 0.002
        self.packets.append(p)
        if not retransmit:
            self.seq[side] += len(data) + (1 if "S" in flags or "F" in flags else 0)

    def send(self, side: str, data: bytes) -> Conversation:
        self._segment(side, "PA", data)
        return self

    def retransmit(self, side: str, data: bytes) -> Conversation:
        self._segment(side, "PA", data, retransmit=True)
        return self

    def skip(self, side: str, n: int) -> Conversation:
        """Bytes the capture lost."""
        self.seq[side] += n
        return self

    def key_exchange(self) -> Conversation:
        """Banners and a curve25519 key exchange; the server's NEWKEYS shares its segment with the
        reply before it and the EXT_INFO after it, as OpenSSH sends them."""
        self.send("c", b"SSH-2.0-libssh_0.10.4\r\n").send("s", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
        self.send("c", clear_packet(20, 904)).send("s", clear_packet(20, 1088))
        self.send("c", clear_packet(30, 48))
        self.send("s", clear_packet(31, 192) + clear_packet(21, 16) + random.randbytes(316))
        return self.send("c", clear_packet(21, 16))

    def encrypted(self, side: str, size: int) -> Conversation:
        return self.send(side, random.randbytes(size))

    def logins(self, sizes: list[int]) -> Conversation:
        """The service request and accept, then each login attempt and the server's reply of that size."""
        self.encrypted("c", 44).encrypted("s", ACCEPT)
        for size in sizes:
            self.encrypted("c", PASSWORD).encrypted("s", size)
        return self

    def close(self) -> list[Any]:
        self._segment("c", "FA", b"")
        self._segment("s", "FA", b"")
        self._segment("c", "A", b"")
        return self.packets


def hydra(n: int, start: float = 0.0, every: float = 0.2) -> list[Any]:
    """n connections as THC Hydra makes them: the 'none' probe, then six passwords, all refused."""
    packets: list[Any] = []
    for i in range(n):
        conv = Conversation(start + i * every, 40000 + i).key_exchange()
        packets += conv.logins([REFUSAL] * 7).close()
    return packets


def scan(packets: list[Any], **kw: Any) -> tuple[list[Finding], SshGuessingRule]:
    return run_rule(SshGuessingRule, packets, **kw)


def test_connections_full_of_refusals_are_password_guessing() -> None:
    random.seed(1)
    found, rule = scan(hydra(4))
    assert len(found) == 1
    f = found[0]
    assert (f.key, f.cls) == ("global", "Password")
    assert f.context == {"src_ip": CLIENT, "dest_ip": SERVER, "dest_port": 22, "proto": "TCP", "app_proto": "ssh"}
    assert f"{CLIENT} made 3 SSH connections to {SERVER} port 22" in f.evidence
    st = rule.stats()
    assert st["ssh_guessing_findings"] == 1 and st["ssh_guessing_connections"] == 4


def test_key_logins_typos_and_interactive_sessions_are_left_alone() -> None:
    random.seed(2)
    packets: list[Any] = []
    for i in range(10):
        conv = Conversation(i * 5.0, 41000 + i).key_exchange()
        if i % 2:  # a key login: 'none' refused, the key offered (PK_OK), signed, success; a command runs
            conv.logins([REFUSAL, 428, 28])
            for size in (60, 52, 44, 116, 68, 52, 44):
                conv.encrypted("c", 60).encrypted("s", size)
        else:  # a person who mistyped twice, then logged in and typed a command, each key echoed
            conv.logins([REFUSAL, REFUSAL, REFUSAL, 28])
            for _ in range(20):
                conv.encrypted("c", 36).encrypted("s", 36)
        packets += conv.close()
    # an agent offering four keys before the right one, in a script that connects every 2 s
    for i in range(10):
        packets += Conversation(60.0 + 2 * i, 42000 + i).key_exchange().logins([REFUSAL] * 5 + [428, 28]).close()
    found, rule = scan(packets)
    assert found == []
    assert rule.stats()["ssh_guessing_connections"] == 0


def test_retransmissions_are_read_once_and_lost_bytes_end_the_reading() -> None:
    random.seed(3)
    packets: list[Any] = []
    for i in range(3):
        conv = Conversation(i * 0.2, 43000 + i)
        conv.send("c", b"SSH-2.0-libssh_0.10.4\r\n").send("s", b"SSH-2.0-OpenSSH_9.2p1\r\n")
        kexinit = clear_packet(20, 1088)
        conv.send("s", kexinit).retransmit("s", kexinit)
        conv.send("c", clear_packet(20, 904)).send("c", clear_packet(30, 48))
        conv.send("s", clear_packet(31, 192) + clear_packet(21, 16)).send("c", clear_packet(21, 16))
        packets += conv.logins([REFUSAL] * 7).close()
    found, _ = scan(packets)
    assert len(found) == 1
    lost: list[Any] = []
    for i in range(3):  # the server's key exchange reply went missing: its NEWKEYS was never seen
        conv = Conversation(i * 0.2, 44000 + i)
        conv.send("c", b"SSH-2.0-libssh_0.10.4\r\n").send("s", b"SSH-2.0-OpenSSH_9.2p1\r\n")
        conv.send("c", clear_packet(20, 904)).send("s", clear_packet(20, 1088)).send("c", clear_packet(30, 48))
        conv.skip("s", 208).send("c", clear_packet(21, 16))
        lost += conv.logins([REFUSAL] * 7).close()
    found, _ = scan(lost)
    assert found == []


def test_thresholds_come_from_the_config_and_state_stays_bounded() -> None:
    random.seed(4)
    assert len(scan(hydra(2), min_connections=2)[0]) == 1
    assert scan(hydra(3, every=40.0))[0] == []  # three connections over 80 s, more than the window
    assert len(scan(hydra(3, every=40.0), window_s=120.0)[0]) == 1
    found, rule = scan(hydra(3), max_connections=2)
    assert len(found) == 1 and rule.stats()["ssh_guessing_connections_evicted"] == 1


def test_the_rule_is_built_for_ethernet_rows_and_bad_settings_are_named() -> None:
    check_rule_config("ssh_guessing", (("min_failures", "1"), ("min_connections", "0"), ("window_s", "0"),
                                       ("max_connections", "0")))


def test_ssh_guessing_raises_password_through_the_shipped_bundle(tmp_path: Path) -> None:
    """Hydra-like guessing beside Modbus polling: the model alone reads it as benign; the rule's
    finding is a Password incident naming the client and the server's SSH port."""
    random.seed(5)
    packets = modbus_polls("10.10.0.9", SERVER, n=60) + hydra(8, start=1.0, every=0.3)
    alerts, stats, by_rule = replay_rule(tmp_path, packets, "ssh_guessing")
    first = by_rule[0]
    assert first["edge_ids"]["class"] == "Password" and first["src_ip"] == CLIENT
    assert (first["dest_port"], first["app_proto"]) == (22, "ssh")
    assert incidents_of(alerts, "Password") == 1
    assert stats["rules"]["ssh_guessing_findings"] == 2
