"""Feature extractors, registered by kind.

An extractor is built with ``Extractor.from_config(features_config)``. ``columns`` is the ordered
header; ``row(record)`` returns one row (a list in column order) per record; ``rows(records)`` does
the same for an iterable on the hot path; ``rows_with_context(records)`` also yields, per row, a
tuple described by ``context_fields`` that alerts need but the model does not see (the 5-tuple of a
packet, the CAN channel and id). ``stats()`` returns counters (malformed frames, evictions).
Training and serving use the same extractor code, so a model sees the same numbers on a gateway as
in training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from agent.registry import Registry

#: context tuple of Ethernet extractors; ``hw_src`` is the sender's hardware address as 6 raw bytes (an
#: ARP frame's sender hardware address, else the Ethernet source; ``None`` on other link types), which
#: the Edge-IIoTset columns leave out and ARP poisoning by forged requests is seen by; ``icmp_type`` is
#: the type of an ICMP or ICMPv6 message (``None`` on other frames): the Edge-IIoTset columns keep no
#: ICMP type and nothing of ICMPv6, and an echo request flood is told from errors and replies by it
ETHERNET_CONTEXT = ("ts", "src_ip", "src_port", "dest_ip", "dest_port", "proto", "app_proto", "flow_id",
                    "hw_src", "icmp_type")
#: context tuple of CAN extractors
CAN_CONTEXT = ("ts", "channel", "arbitration_id")


class Extractor(Protocol):
    """What every feature extractor provides."""

    columns: Sequence[str]
    context_fields: Sequence[str]

    def row(self, record: Any) -> list[Any]: ...

    def rows(self, records: Iterable[Any]) -> Iterator[list[Any]]: ...

    def rows_with_context(self, records: Iterable[Any]) -> Iterator[tuple[list[Any], tuple[Any, ...]]]: ...

    def stats(self) -> dict[str, int]: ...


FEATURE_KINDS: Registry[Any] = Registry(
    "feature kind",
    {
        "edge-iiotset": ("agent.features.edge_iiotset", "EdgeIIoTsetExtractor"),
        "edge-iiotset-context": ("agent.features.host_context", "HostContextExtractor"),
        "ciciov2024": ("agent.features.ciciov2024", "CicIoV2024Extractor"),
        "can-temporal": ("agent.features.can_temporal", "CanTemporalExtractor"),
    },
)


#: feature kinds whose rows can carry nothing: every column is a protocol field, absent is 0, and a
#: frame of a protocol none of them describes (LLDP, STP, PROFINET RT, GOOSE) is the all-absent row.
#: CAN kinds are not among them: an all-zero CAN row is a frame (ID 0x000 with zero data is DoS).
BLANK_ROW_KINDS: tuple[str, ...] = ("edge-iiotset", "edge-iiotset-context")

#: which records a bundle's model scores (its manifest's ``window.records``), and the feature kinds
#: each choice applies to (``None``: any). Rule-based detectors see every record either way.
RECORD_FILTERS: dict[str, tuple[str, ...] | None] = {
    "all": None,
    "protocol-fields": BLANK_ROW_KINDS,
}


def record_filter(name: str) -> Callable[[Sequence[Any]], bool] | None:
    """The predicate that keeps a row for the model under ``window.records`` = ``name`` (``None``:
    keep every row).

    ``protocol-fields`` keeps Edge-IIoTset rows carrying at least one protocol field (see
    :func:`agent.features.edge_iiotset.columns.carries_protocol_field`). The trainer cuts its windows
    from the rows this keeps and the agent windows the same rows, so both see one stream.
    """
    if name not in RECORD_FILTERS:
        raise KeyError(f"unknown record filter {name!r} (one of {', '.join(RECORD_FILTERS)})")
    if name == "all":
        return None
    from agent.features.edge_iiotset.columns import carries_protocol_field

    return carries_protocol_field
