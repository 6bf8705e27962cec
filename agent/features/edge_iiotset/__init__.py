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
  and an HTTP response without Content-Length that is never closed is not emitted.
"""

from agent.features.edge_iiotset.columns import COLUMN_KINDS, COLUMNS, encode_tshark
from agent.features.edge_iiotset.extractor import EdgeIIoTsetExtractor, format_frame_time

__all__ = ["COLUMNS", "COLUMN_KINDS", "EdgeIIoTsetExtractor", "encode_tshark", "format_frame_time"]
