"""Record sources, registered by name and imported only when chosen.

Each backend is a class built with ``Backend.from_config(source_config)``; iterating it yields
:class:`agent.records.Frame` (Ethernet) or :class:`agent.records.CanFrame` (CAN) with timestamps;
``stats()`` returns counters (kernel drops, malformed, reconnects); ``close()`` releases it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from agent.registry import Registry


class Source(Protocol):
    """What every record source provides."""

    def __iter__(self) -> Iterator[Any]: ...

    def stats(self) -> dict[str, int]: ...

    def close(self) -> None: ...


def live_ethernet_options(cfg: Any) -> dict[str, Any]:
    """The keyword arguments both live Ethernet backends take, from a :class:`agent.config.SourceConfig`."""
    return {
        "interface": cfg.interface or "",
        "bpf_filter": cfg.bpf_filter,
        "promiscuous": cfg.promiscuous,
        "buffer_size_mb": cfg.buffer_size_mb,
        "snaplen": cfg.snaplen,
    }


SOURCES: Registry[Any] = Registry(
    "capture source",
    {
        "pcap": ("agent.sources.pcapfile", "PcapFileSource"),
        "scapy": ("agent.sources.scapy_live", "ScapyLiveSource"),
        "pyshark": ("agent.sources.pyshark_live", "PysharkLiveSource"),
        "canbus": ("agent.sources.canbus", "CanBusSource"),
        "canlog": ("agent.sources.canlog", "CanLogSource"),
    },
    extras={
        "pyshark": "the 'shark' extra (pip install 'edge-ids[shark]') and tshark (apt install tshark)",
        "scapy": "scapy (pip install scapy)",
    },
)
