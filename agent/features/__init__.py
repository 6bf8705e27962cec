"""Feature extractors, registered by kind.

An extractor is built with ``Extractor.from_config(features_config)``; ``columns`` is the ordered
header; ``row(record)`` returns one row (a list in column order) per record; ``stats()`` returns
counters (malformed frames, evictions). Training and serving use the same extractor code, so a
model sees the same numbers on a gateway as in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from agent.registry import Registry


class Extractor(Protocol):
    """What every feature extractor provides."""

    columns: Sequence[str]

    def row(self, record: Any) -> list[Any]: ...

    def stats(self) -> dict[str, int]: ...


FEATURE_KINDS: Registry[Any] = Registry(
    "feature kind",
    {
        "edge-iiotset": ("agent.features.edge_iiotset", "EdgeIIoTsetExtractor"),
        "ciciov2024": ("agent.features.ciciov2024", "CicIoV2024Extractor"),
        "can-temporal": ("agent.features.can_temporal", "CanTemporalExtractor"),
    },
)
