"""ARP: opcode, hardware size and the protocol addresses; the sender's hardware address for the alert context."""

from __future__ import annotations

from typing import Any

from agent.features.edge_iiotset.fields import C_ARP_DST, C_ARP_HWSIZE, C_ARP_OP, C_ARP_SRC
from agent.features.edge_iiotset.state import ARP, DissectorState


def arp(ex: DissectorState, r: list[Any], d: bytes, off: int) -> None:
    if len(d) < off + 8:
        ex.counters["malformed"] += 1
        return
    _hrd, pro, hln, pln, op = ARP.unpack_from(d, off)
    r[C_ARP_HWSIZE] = hln
    r[C_ARP_OP] = op
    if hln == 6 and len(d) >= off + 14:
        ex.ctx.hw_src = d[off + 8 : off + 14]  # the address a host caches for the sender
    if pro == 0x0800 and pln == 4:
        sp = off + 8 + hln
        tp = sp + 4 + hln
        if len(d) >= sp + 4:
            r[C_ARP_SRC] = f"{d[sp]}.{d[sp + 1]}.{d[sp + 2]}.{d[sp + 3]}"
        if len(d) >= tp + 4:
            r[C_ARP_DST] = f"{d[tp]}.{d[tp + 1]}.{d[tp + 2]}.{d[tp + 3]}"
        else:
            ex.counters["malformed"] += 1
