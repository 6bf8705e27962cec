"""The records that flow from sources to feature extractors.

Plain NamedTuples: cheap to create on the hot path (a candump line or a pcap frame each become one),
immutable, and easy to pickle across the capture/scoring queue.
"""

from __future__ import annotations

from typing import NamedTuple


class Frame(NamedTuple):
    """One captured link-layer frame, as a pcap record holds it."""

    ts: float
    """Capture time, seconds since the epoch."""
    data: bytes
    """Captured bytes (may be shorter than ``wirelen`` when a snaplen truncated the frame)."""
    linktype: int
    """pcap LINKTYPE_* value (1 Ethernet, 113 SLL, 276 SLL2, 0 NULL, 101 raw IP, ...)."""
    wirelen: int
    """Length of the frame on the wire."""


class CanFrame(NamedTuple):
    """One CAN or CAN FD frame (the fields of python-can's ``Message`` the agent needs)."""

    ts: float
    arbitration_id: int
    data: bytes
    dlc: int
    is_extended: bool = False
    is_fd: bool = False
    is_remote: bool = False
    is_error: bool = False
    channel: str | None = None
