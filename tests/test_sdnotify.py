"""sd_notify over a real Unix datagram socket, as systemd's manager receives it."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import sdnotify


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(2.0)
    try:
        yield sock, {"NOTIFY_SOCKET": str(path)}
    finally:
        sock.close()


def test_ready_watchdog_stopping_arrive(path_socket: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = path_socket
    assert sdnotify.ready("model loaded, capturing on eth0", env=env)
    assert sock.recv(4096) == b"READY=1\nSTATUS=model loaded, capturing on eth0"
    assert sdnotify.watchdog(env=env)
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert sdnotify.stopping(env=env)
    assert sock.recv(4096) == b"STOPPING=1"
    assert sdnotify.status("scoring 1200 windows/s", env=env)
    assert sock.recv(4096) == b"STATUS=scoring 1200 windows/s"


def test_reloading_carries_monotonic_usec(path_socket: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = path_socket
    assert sdnotify.reloading(env=env)
    lines = sock.recv(4096).decode().split("\n")
    assert lines[0] == "RELOADING=1"
    key, _, value = lines[1].partition("=")
    assert key == "MONOTONIC_USEC" and int(value) > 0


def test_abstract_namespace_socket() -> None:
    name = f"edge-ids-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2.0)
    try:
        assert sdnotify.ready(env={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"READY=1"
    finally:
        sock.close()


def test_without_systemd_is_a_noop(tmp_path: Path) -> None:
    assert sdnotify.ready(env={}) is False
    assert sdnotify.watchdog(env={"NOTIFY_SOCKET": ""}) is False
    # a socket that went away must not raise
    assert sdnotify.stopping(env={"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}) is False


def test_watchdog_interval() -> None:
    assert sdnotify.watchdog_interval({}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "junk"}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "0"}) is None
