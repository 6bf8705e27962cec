"""CICIoV2024 rows from CAN frames: ``ID, DATA_0..DATA_7`` as the published decimal files have them.

Why these columns and this order: a model trained on the published CICIoV2024 decimal CSVs reads
exactly ``ID, DATA_0..DATA_7`` (decimal integers); anything after them is extra context a model
trained elsewhere may use, and that a bundle's ordered feature list simply does not select. The
extra columns are ``timestamp, dlc, is_extended, is_fd, is_remote, channel``.

What becomes a row:

* a **data frame** (classic or FD) gives one row. A payload shorter than 8 bytes is zero-padded
  (the dataset's convention); an FD payload longer than 8 bytes contributes its first 8 bytes (the
  dataset has 8 byte columns), counted in ``stats()["fd_truncated"]``.
* a **remote frame** or an **error frame** gives no row (the dataset holds data frames only, and a
  remote frame's missing payload would read as an all-zero payload the model never learned);
  they are counted in ``stats()`` so an operator still sees them. ``is_remote`` is therefore always
  0 in rows; the column is kept so the header stays the documented one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from agent.features.can_frames import CanFrameExtractor
from agent.records import CanFrame

if TYPE_CHECKING:
    from agent.config import FeaturesConfig

#: the published decimal columns, in file order
BASE_COLUMNS: tuple[str, ...] = ("ID", *(f"DATA_{i}" for i in range(8)))
#: what this extractor adds after them
EXTRA_COLUMNS: tuple[str, ...] = ("timestamp", "dlc", "is_extended", "is_fd", "is_remote", "channel")
_ZERO8 = bytes(8)


class CicIoV2024Extractor(CanFrameExtractor):
    """One CICIoV2024 row per CAN data frame (stateless apart from counters)."""

    columns: tuple[str, ...] = BASE_COLUMNS + EXTRA_COLUMNS
    kind_name = "CICIoV2024"

    def __init__(self) -> None:
        self._rows = 0
        self._remote = 0
        self._error = 0
        self._fd = 0
        self._fd_truncated = 0

    @classmethod
    def from_config(cls, config: FeaturesConfig | None = None) -> CicIoV2024Extractor:
        """Build from the ``features`` section (this kind has no settings)."""
        return cls()

    def stats(self) -> dict[str, int]:
        """rows, remote_frames / error_frames (no row), fd_frames, fd_truncated (payload > 8 bytes)."""
        return {
            "rows": self._rows,
            "remote_frames": self._remote,
            "error_frames": self._error,
            "fd_frames": self._fd,
            "fd_truncated": self._fd_truncated,
        }

    def _iter(self, records: Iterable[CanFrame], context: bool) -> Iterator[Any]:
        zero8 = _ZERO8
        for frame in records:
            ts, arbitration_id, data, dlc, is_extended, is_fd, is_remote, is_error, channel = frame
            if is_error or is_remote:
                if is_error:
                    self._error += 1
                else:
                    self._remote += 1
                continue
            if len(data) != 8:
                if is_fd and len(data) > 8:
                    self._fd_truncated += 1
                data = (data + zero8)[:8]
            if is_fd:
                self._fd += 1
            row = [
                arbitration_id, *data, ts, dlc,
                1 if is_extended else 0, 1 if is_fd else 0, 0, "" if channel is None else channel,
            ]
            self._rows += 1
            if context:
                yield row, (ts, channel, arbitration_id)
            else:
                yield row
