"""Edge-IIoTset features: every frame -> the 61 tshark fields of the published dataset.

Values are what ``tshark -T fields -E occurrence=f`` (4.0, default preferences, TCP reassembly on)
prints for the frame, in the project encoding: absent -> 0, ``0x..`` -> int, booleans -> 0/1,
strings kept (see :mod:`agent.features.edge_iiotset.columns`).

Known, deliberate differences from tshark:

* ``frame.time`` is printed in UTC (tshark prints local time; run it with ``TZ=UTC`` to compare) and
  with microsecond precision: :class:`agent.records.Frame` carries a float timestamp, so the last three
  digits of nanosecond-resolution captures read ``000``.
* ``udp.time_delta`` is rounded to microseconds for the same reason.
* State tables are bounded (``features.max_*``, ``stream_idle_timeout_s``). A UDP conversation evicted
  and seen again gets a new ``udp.stream`` index (tshark would reuse the old one); a TCP stream
  evicted mid-connection restarts its relative sequence numbers at 1.
* Reassembly follows tshark's defaults (in-order only). A PDU pending when a gap appears is dropped,
  and an HTTP response without Content-Length that is never closed is not emitted. An HTTP body of
  any size completes its message, but only its first 1 MiB is kept (``MAX_REASSEMBLY``): a body with
  no NUL byte in that part gets ``http.file_data`` cut there, where tshark prints all of it.
* UDP ports: a datagram between a DNS-format port (53, 5353, 5355) and a lower port is read as DNS.
  tshark tries the lower port's dissector first, so when that port belongs to another protocol
  (4551 is MIH) it reads the datagram as that one. Stacks that send LLMNR and mDNS use ports above
  32767 or 5353 itself, where both agree.
* ``mqtt.msg_decoded_as`` is always absent (0): tshark fills it only when the user maps MQTT topics
  to a dissector (the ``mqtt.topic_decode`` preference); with default preferences it never appears.
* DNS over TCP inside an ICMP error is not dissected (tshark does not either); an HTTP message
  quoted by an ICMP error is parsed from the quoted bytes alone, never reassembled.

Matched on purpose, because real traffic has them (each has a crafted parity test):

* ICMP/ICMPv6 errors (types 3, 4, 5, 11, 12; ICMPv6 1-4): the quoted IP packet's TCP/UDP/ICMP and
  application fields fill the row after the outer ones, so ``ip.src_host`` and ``icmp.checksum``
  stay the outer values. The quoted packet is outside conversation state: TCP numbers are absolute
  and ``tcp.len`` is absent, a UDP conversation gets (or creates) its stream index but its
  ``udp.time_delta`` is neither shown nor advanced, DNS queries in it are not tracked.
* ``http.tls_port`` is 1 on any HTTP message over TCP port 443 (plain HTTP where TLS is expected).
* UDP with a length field below 8 gets no stream; a datagram without payload is not timed.
* SNMP (UDP 161/162): tshark's SNMP dissector opens a conversation of its own from the client's
  address and port to the agent with any port, so the datagram after a poll (its reply, usually)
  starts a new ``udp.stream`` with ``udp.time_delta`` 0, which that pair keeps from then on.
* GRE, IP-in-IP, IPv6-in-IPv4 and the reverse, PPPoE sessions and MPLS are dissected through to
  the inner packet; IPv6 fragments are reassembled like IPv4 ones.
"""

from agent.features.edge_iiotset.columns import COLUMN_KINDS, COLUMNS, encode_tshark
from agent.features.edge_iiotset.extractor import EdgeIIoTsetExtractor
from agent.features.edge_iiotset.text import format_frame_time

__all__ = ["COLUMNS", "COLUMN_KINDS", "EdgeIIoTsetExtractor", "encode_tshark", "format_frame_time"]
