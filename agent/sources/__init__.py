"""Record sources, registered by name and imported only when chosen.

Each backend is a class built with ``Backend.from_config(source_config)``; iterating it yields
:class:`agent.records.Frame` (Ethernet) or :class:`agent.records.CanFrame` (CAN) with timestamps;
``stats()`` returns counters (kernel drops, malformed, reconnects); ``close()`` releases it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
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


#: file names the pcap backend reads; anything else is a CAN log (candump, asc, trc, blf, csv)
PCAP_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz")
#: how pcap and pcapng files start (both byte orders, µs and ns timestamps)
PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
               b"\x0a\x0d\x0d\x0a")


def file_backend(path: str | os.PathLike[str]) -> str:
    """``"pcap"`` or ``"canlog"``: the file backend that reads ``path``, by its content where that
    settles it (a capture renamed ``.log`` is still a capture), else by its name."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(4)
    except OSError:
        head = b""
    if head in PCAP_MAGICS:
        return "pcap"
    return "pcap" if p.name.lower().endswith(PCAP_SUFFIXES) else "canlog"


def first_record(backend: str, source_config: Any) -> None:
    """Open the file source and read its first record, so a file of the wrong format is refused with
    the reader's own message (naming the file) before a model is loaded."""
    source = SOURCES.load(backend).from_config(source_config)
    try:
        next(iter(source), None)
    finally:
        source.close()
