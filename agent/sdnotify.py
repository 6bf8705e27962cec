"""The systemd notification protocol (``sd_notify(3)``) in a few lines, without a dependency.

Why here and not python-systemd: the agent runs on small gateways where libsystemd's Python binding
is often missing, and the protocol is tiny: one ``KEY=VALUE`` datagram per state change, sent to the
Unix datagram socket named by ``$NOTIFY_SOCKET`` (a path, or an abstract name starting with ``@``).
Outside systemd (no ``$NOTIFY_SOCKET``) every call is a cheap no-op returning ``False``, so the
daemon calls these unconditionally.

The daemon's use, with ``Type=notify`` and ``WatchdogSec=`` in the unit:

- :func:`ready` once the model is loaded and capture is open (systemd holds dependants until then);
- :func:`watchdog` from the scoring loop, at least every :func:`watchdog_interval` seconds, so a hung
  pipeline trips the watchdog and systemd restarts the service;
- :func:`reloading` on SIGHUP before reloading, then :func:`ready` again once done (or refused);
- :func:`stopping` when shutdown begins; :func:`status` for a one-line state in ``systemctl status``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

__all__ = [
    "notify",
    "ready",
    "reloading",
    "status",
    "stopping",
    "watchdog",
    "watchdog_interval",
]


def _address(env: Mapping[str, str]) -> str | bytes | None:
    """The socket address from ``$NOTIFY_SOCKET``: a filesystem path, or an abstract name (``@``)."""
    name = env.get("NOTIFY_SOCKET", "")
    if not name:
        return None
    if name.startswith("@"):
        # Linux abstract namespace: a leading NUL byte instead of '@'.
        return b"\0" + name[1:].encode()
    if name.startswith("/"):
        return name
    return None  # vsock:// and other schemes are not used on gateways


def notify(*states: str, env: Mapping[str, str] | None = None) -> bool:
    """Send ``states`` (e.g. ``"READY=1"``, ``"STATUS=..."``) as one datagram.

    :returns: ``True`` if sent; ``False`` when not running under systemd or the socket is gone
        (a daemon must not die because its supervisor's socket is unreachable).
    """
    address = _address(os.environ if env is None else env)
    if address is None or not states:
        return False
    payload = "\n".join(states).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(payload)
    except OSError:
        return False
    return True


def ready(status_text: str | None = None, env: Mapping[str, str] | None = None) -> bool:
    """``READY=1``: start-up (or a reload) is complete."""
    extra = (f"STATUS={status_text}",) if status_text else ()
    return notify("READY=1", *extra, env=env)


def reloading(env: Mapping[str, str] | None = None) -> bool:
    """``RELOADING=1`` with ``MONOTONIC_USEC`` (required by systemd >= 253 for Type=notify-reload)."""
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify("RELOADING=1", f"MONOTONIC_USEC={usec}", env=env)


def stopping(env: Mapping[str, str] | None = None) -> bool:
    """``STOPPING=1``: shutdown has begun (systemd stops expecting watchdog pings)."""
    return notify("STOPPING=1", env=env)


def watchdog(env: Mapping[str, str] | None = None) -> bool:
    """``WATCHDOG=1``: the pipeline is alive; call from the loop that would hang."""
    return notify("WATCHDOG=1", env=env)


def status(text: str, env: Mapping[str, str] | None = None) -> bool:
    """``STATUS=text``: a one-line state shown by ``systemctl status``."""
    return notify(f"STATUS={text}", env=env)


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings: half of ``$WATCHDOG_USEC`` (as ``sd_watchdog_enabled`` advises).

    ``None`` when no watchdog is configured for this process: ``$WATCHDOG_USEC`` unset or invalid, or
    ``$WATCHDOG_PID`` naming another process (the variable was inherited, not meant for us).
    """
    e = os.environ if env is None else env
    try:
        usec = int(e.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = e.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    return usec / 2_000_000
