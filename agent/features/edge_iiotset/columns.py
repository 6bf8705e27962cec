"""The 61 Edge-IIoTset feature columns, their value kinds, and the tshark-text -> value encoding.

Why the kinds: the project encoding (``../shared/datasets/edge-iiotset.md``) turns tshark's text
into numbers where tshark prints numbers (absent -> 0, ``0x..`` -> int, booleans -> 0/1) and keeps
strings where tshark prints strings. Bytes fields (``tcp.payload``) are hex text that could look
like a number, so the encoding must be per column, not by sniffing the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: column name -> kind: "str", "int", "hex" (0x.. -> int), "bool" (0/1), "float"
COLUMN_KINDS: dict[str, str] = {
    "frame.time": "str",
    "ip.src_host": "str",
    "ip.dst_host": "str",
    "arp.dst.proto_ipv4": "str",
    "arp.opcode": "int",
    "arp.hw.size": "int",
    "arp.src.proto_ipv4": "str",
    "icmp.checksum": "hex",
    "icmp.seq_le": "int",
    "icmp.transmit_timestamp": "int",
    "icmp.unused": "str",
    "http.file_data": "str",
    "http.content_length": "int",
    "http.request.uri.query": "str",
    "http.request.method": "str",
    "http.referer": "str",
    "http.request.full_uri": "str",
    "http.request.version": "str",
    "http.response": "bool",
    "http.tls_port": "int",
    "tcp.ack": "int",
    "tcp.ack_raw": "int",
    "tcp.checksum": "hex",
    "tcp.connection.fin": "bool",
    "tcp.connection.rst": "bool",
    "tcp.connection.syn": "bool",
    "tcp.connection.synack": "bool",
    "tcp.dstport": "int",
    "tcp.flags": "hex",
    "tcp.flags.ack": "bool",
    "tcp.len": "int",
    "tcp.options": "str",
    "tcp.payload": "str",
    "tcp.seq": "int",
    "tcp.srcport": "int",
    "udp.port": "int",
    "udp.stream": "int",
    "udp.time_delta": "float",
    "dns.qry.name": "str",
    "dns.qry.name.len": "int",
    "dns.qry.qu": "bool",
    "dns.qry.type": "int",
    "dns.retransmission": "bool",
    "dns.retransmit_request": "bool",
    "dns.retransmit_request_in": "int",
    "mqtt.conack.flags": "hex",
    "mqtt.conflag.cleansess": "bool",
    "mqtt.conflags": "hex",
    "mqtt.hdrflags": "hex",
    "mqtt.len": "int",
    "mqtt.msg_decoded_as": "str",
    "mqtt.msg": "str",
    "mqtt.msgtype": "int",
    "mqtt.proto_len": "int",
    "mqtt.protoname": "str",
    "mqtt.topic": "str",
    "mqtt.topic_len": "int",
    "mqtt.ver": "int",
    "mbtcp.len": "int",
    "mbtcp.trans_id": "int",
    "mbtcp.unit_id": "int",
}

#: the 61 feature columns in dataset order
COLUMNS: tuple[str, ...] = tuple(COLUMN_KINDS)
#: column name -> index in a row
INDEX: dict[str, int] = {name: i for i, name in enumerate(COLUMNS)}


def encode_tshark(column: str, text: str) -> Any:
    """Encode tshark's ``-T fields`` text for ``column`` the project's way.

    Used to compare tshark's output with the extractor's rows, and by loaders of tshark-made CSVs.
    Text that does not fit the column's kind is kept as text, so a mismatch stays visible.
    """
    if text == "":
        return 0
    kind = COLUMN_KINDS[column]
    try:
        if kind == "str":
            return text
        if kind == "hex":
            return int(text, 16) if text[:2] in ("0x", "0X") else int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            if text in ("True", "true"):
                return 1
            if text in ("False", "false"):
                return 0
            return int(text)
        return int(text)
    except ValueError:
        return text


#: the protocol columns: everything after the frame time and the IPv4 addresses
_PROTOCOL = slice(INDEX["arp.dst.proto_ipv4"], len(COLUMNS))


def carries_protocol_field(row: Sequence[Any]) -> bool:
    """Whether a row (extractor output, 61 Edge-IIoTset columns first) has any ARP, ICMP, HTTP, TCP,
    UDP, DNS, MQTT or Modbus/TCP field.

    Why: the dataset's columns describe those protocols only. LLDP, STP, PROFINET RT, GOOSE, PTP,
    EtherCAT, ICMPv6 neighbour discovery, IGMP or VRRP frames are all-absent rows (absent is 0), the
    same row whatever the frame says; a window of them is scored on nothing but that fact, and a
    model that never saw such a window (an industrial L2 cycle, a quiet segment of STP) reads it as
    whatever it happens to resemble. A field present with the value 0 (a NULL scan's flags) does not
    make a row all-absent: its ports are set.
    """
    return any(row[_PROTOCOL])
