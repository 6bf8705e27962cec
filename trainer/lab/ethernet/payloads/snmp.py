"""SNMP messages in BER."""

from __future__ import annotations

import struct


def ber(tag: int, body: bytes) -> bytes:
    """One BER tag-length-value, with the long length form past 127 bytes (as SNMP agents send)."""
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


def ber_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER's BER encoding ("1.3.6.1.2.1.1.1.0")."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray((40 * arcs[0] + arcs[1],))
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        out += bytes(reversed(chunk))
    return ber(0x06, bytes(out))


#: SNMP PDU tags
SNMP_GET, SNMP_GETNEXT, SNMP_RESPONSE, SNMP_GETBULK, SNMP_TRAP2 = 0xA0, 0xA1, 0xA2, 0xA5, 0xA7


def snmp_message(version: int, community: bytes, pdu: int, rid: int, varbinds: list[tuple[str, bytes]],
                 fields: tuple[int, int] = (0, 0)) -> bytes:
    """An SNMPv1/v2c message: ``varbinds`` are (OID, BER-encoded value) pairs (``b"\\x05\\x00"``, NULL,
    in requests); ``fields`` are error-status and error-index (non-repeaters and max-repetitions in
    a GetBulk)."""
    vbs = b"".join(ber(0x30, ber_oid(oid) + value) for oid, value in varbinds)
    body = ber(0x02, struct.pack("!I", rid)) + ber(0x02, bytes((fields[0],))) + ber(0x02, bytes((fields[1],)))
    return ber(0x30, ber(0x02, bytes((version,))) + ber(0x04, community) + ber(pdu, body + ber(0x30, vbs)))


def snmp_pdu(community: bytes, rid: int, value: bytes | None = None) -> bytes:
    """SNMPv1 GetRequest for sysDescr.0 (BER), as scanners send to UDP 161; with ``value``, the agent's
    GetResponse carrying it."""
    return snmp_message(0, community, SNMP_GET if value is None else SNMP_RESPONSE, rid,
                        [("1.3.6.1.2.1.1.1.0", b"\x05\x00" if value is None else ber(0x04, value))])
