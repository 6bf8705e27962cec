"""Modbus/TCP (port 502): the first MBAP header of a frame (transaction id, length, unit id)."""

from __future__ import annotations

from typing import Any

from agent.features.edge_iiotset.fields import C_MB_LEN, C_MB_TID, C_MB_UNIT
from agent.features.edge_iiotset.ports import TcpApp, register_tcp
from agent.features.edge_iiotset.state import MBAP, DissectorState, TcpStream

MODBUS_PORT = 502


def stream(ex: DissectorState, r: list[Any], data: bytes, st: TcpStream | None, di: int, fin: int,
           key: tuple[Any, ...], ts: float) -> bytes:
    """The MBAP fields of the first complete ADU in ``data`` (one direction of a stream, reassembled);
    returns the incomplete rest."""
    pos = 0
    n = len(data)
    if n < 8:
        return b""  # tshark's Modbus/TCP dissector rejects (and never reassembles) so short a start
    first = True
    while n - pos >= 7:
        tid, pid, ln, unit = MBAP.unpack_from(data, pos)
        if pid != 0 or ln < 2 or ln > 256:
            return b""
        if n - pos < 6 + ln:
            return data[pos:]
        if first:
            r[C_MB_TID] = tid
            r[C_MB_LEN] = ln
            r[C_MB_UNIT] = unit
            first = False
        pos += 6 + ln
    return data[pos:] if pos < n else b""


def _whole(ex: DissectorState, r: list[Any], payload: bytes, *_: Any) -> None:
    """A segment cut by the snapshot length, or quoted by an ICMP error: what is there."""
    stream(ex, r, payload, None, 0, 0, (), 0.0)


MODBUS = TcpApp("modbus", 1, stream, cut=_whole, quoted=_whole)
register_tcp(MODBUS, (MODBUS_PORT,))
