"""Modbus/TCP application data units."""

from __future__ import annotations

import struct


def modbus(tid: int, unit: int, pdu: bytes) -> bytes:
    """MBAP header (transaction id, protocol 0, length = unit id + PDU) and the PDU."""
    return struct.pack("!HHHB", tid & 0xFFFF, 0, len(pdu) + 1, unit) + pdu
