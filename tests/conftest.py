"""Shared fixtures: where the third-party captures are, and skips for missing tools or privileges."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: Real third-party captures beside the checkout (absent in a user's checkout: tests skip).
SHARED_CAPTURES = REPO.parent / "shared" / "captures"


@pytest.fixture(scope="session")
def shared_captures() -> Path:
    """``../shared/captures`` or a skip."""
    if not SHARED_CAPTURES.is_dir():
        pytest.skip("../shared/captures is not present beside the checkout")
    return SHARED_CAPTURES


@pytest.fixture(scope="session")
def tshark() -> str:
    """Path of tshark, or a skip naming the package to install."""
    path = shutil.which("tshark")
    if path is None:
        pytest.skip("tshark is not installed (apt install tshark)")
    return path


@pytest.fixture(scope="session")
def mosquitto_bin() -> str:
    """Path of the mosquitto broker, or a skip naming the package to install."""
    path = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if path is None:
        pytest.skip("mosquitto is not installed (apt install mosquitto)")
    return path


@pytest.fixture(scope="session")
def root() -> None:
    """Skip unless running as root (network namespaces, veth pairs, raw sockets)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces / raw sockets); CI runs as root")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 'ip' is not installed")
