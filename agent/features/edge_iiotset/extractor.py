"""Frames -> the 61 Edge-IIoTset columns, with the values ``tshark -T fields -E occurrence=f`` gives.

Why hand-written dissectors: the agent must keep up with a gateway's traffic on one core, at a
multiple of tshark's speed. Each layer is parsed with precompiled :class:`struct.Struct` objects on
the frame's bytes, stops as soon as the remaining columns cannot be filled, and formats strings only
for fields that are present. A row starts as a copy of a template of zeros (the project's "absent").

State that tshark keeps per conversation (relative TCP sequence numbers, UDP stream indices and time
deltas, DNS transactions, the reassembly of MQTT/Modbus/HTTP PDUs split over TCP segments) is kept in
bounded tables: the oldest entry is evicted beyond the configured size or after the idle timeout, and
evictions are counted, so a spoofed-source flood cannot grow memory without limit.

Known differences from tshark are listed in ``agent/features/edge_iiotset/__init__.py``.

The dissectors live in one module per protocol (:mod:`.link` for the link layer and IP, :mod:`.tcp`,
:mod:`.udp`, :mod:`.icmp`, :mod:`.arp`, :mod:`.dns`, :mod:`.http`, :mod:`.mqtt`, :mod:`.modbus`), working
on the tables of :class:`~agent.features.edge_iiotset.state.DissectorState`; application protocols
declare their ports in :mod:`.ports`.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

# the application protocols register their ports when imported
import agent.features.edge_iiotset.dns
import agent.features.edge_iiotset.http
import agent.features.edge_iiotset.modbus
import agent.features.edge_iiotset.mqtt  # noqa: F401
from agent.config import FeaturesConfig
from agent.features import ETHERNET_CONTEXT
from agent.features.edge_iiotset.columns import COLUMNS
from agent.features.edge_iiotset.fields import C_TIME
from agent.features.edge_iiotset.link import link
from agent.features.edge_iiotset.state import DissectorState
from agent.features.edge_iiotset.text import MONTHS, ipv6_text
from agent.records import Frame


class EdgeIIoTsetExtractor(DissectorState):
    """Frames -> rows of the 61 Edge-IIoTset columns (see the package docstring for the encoding)."""

    columns = COLUMNS
    context_fields = ETHERNET_CONTEXT
    #: columns whose text always holds a comma (``frame.time``: "Mar 25, 2020 ..."), so CSV always
    #: quotes them; lets the features command render rows without csv.writer's per-cell work
    csv_quoted_columns = (0,)
    #: a row before its frame is dissected: every column absent (copied, never changed)
    _template: ClassVar[list[Any]] = [0] * len(COLUMNS)
    #: ``frame.time``'s date part, formatted once per second: the second it is for, and the text
    #: (the class's values until an extractor sees its first frame)
    _last_sec = -1
    _time_prefix = ""

    @classmethod
    def from_config(cls, features_config: FeaturesConfig) -> EdgeIIoTsetExtractor:
        """Build from :class:`agent.config.FeaturesConfig` (stream/transaction limits, idle timeout)."""
        return cls(
            max_tcp_streams=features_config.max_tcp_streams,
            max_udp_streams=features_config.max_udp_streams,
            max_dns_transactions=features_config.max_dns_transactions,
            stream_idle_timeout_s=features_config.stream_idle_timeout_s,
        )

    # -- protocol ------------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """Counters: frames, malformed frames, evictions per table, current table sizes."""
        c = self.counters
        return {
            "frames": c["frames"],
            "malformed": c["malformed"],
            "tcp_evicted": self.tcp_streams.evicted,
            "udp_evicted": self.udp_streams.evicted,
            "dns_evicted": self.dns_transactions.evicted,
            "fragments_evicted": self.fragments.evicted,
            "non_ip": c["non_ip"],
            "tcp_streams": len(self.tcp_streams),
            "udp_streams": len(self.udp_streams),
            "dns_transactions": len(self.dns_transactions),
        }

    def row(self, record: Frame) -> list[Any]:
        """The 61 values of one frame (frames must be given in capture order)."""
        return self._row(record)

    def rows(self, records: Iterable[Frame]) -> Iterator[list[Any]]:
        """Rows of ``records``, in order."""
        f = self._row
        for rec in records:
            yield f(rec)

    def rows_with_context(self, records: Iterable[Frame]) -> Iterator[tuple[list[Any], tuple[Any, ...]]]:
        """Rows with the alert context ``(ts, src_ip, src_port, dest_ip, dest_port, proto, app_proto, flow_id,
        hw_src, icmp_type)``."""
        f = self._row
        ctx = self.ctx
        clear = ctx.clear
        for rec in records:
            clear()
            row = f(rec)
            src, dst = ctx.src_ip, ctx.dest_ip
            if src.__class__ is bytes:  # IPv6 addresses are kept raw on the hot path
                src = ipv6_text(src)
                dst = ipv6_text(dst)
            yield row, (rec.ts, src, ctx.src_port, dst, ctx.dest_port, ctx.proto, ctx.app_proto, ctx.flow_id,
                        ctx.hw_src, ctx.icmp_type)

    # -- the hot path --------------------------------------------------------------------------
    def _row(self, frame: Frame) -> list[Any]:
        r = self._template[:]
        self.frame_no += 1
        self.counters["frames"] += 1
        ts, data, lt, _wire = frame
        # frame.time: the date part is cached per second
        us = round(ts * 1_000_000)
        sec, frac = divmod(us, 1_000_000)
        if sec != self._last_sec:
            self._last_sec = sec
            try:
                tm = time.gmtime(sec)
                self._time_prefix = (
                    f"{MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d}, {tm.tm_year} "
                    f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}."
                )
            except (OverflowError, OSError, ValueError):
                self._time_prefix = f"{sec}."
        r[C_TIME] = f"{self._time_prefix}{frac:06d}000 UTC"
        try:
            link(self, r, data, lt, ts)
        except (IndexError, struct.error, ValueError):
            self.counters["malformed"] += 1
        return r
