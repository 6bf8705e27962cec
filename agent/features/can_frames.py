"""What every CAN feature kind shares: one row per data frame, computed by the kind's ``_iter``.

Why a base class: both CAN kinds (``ciciov2024``, ``can-temporal``) give rows for data frames only
(remote and error frames are counted, not scored) and expose the same three entry points over one
generator; only the generator differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from agent.errors import FeatureError
from agent.features import CAN_CONTEXT
from agent.records import CanFrame


class CanFrameExtractor:
    """Base of the CAN extractors: :meth:`row`, :meth:`rows`, :meth:`rows_with_context` over ``_iter``."""

    #: the kind's name in error messages
    kind_name = "CAN"
    context_fields: tuple[str, ...] = CAN_CONTEXT

    def row(self, record: CanFrame) -> list[Any]:
        """The row of one data frame; a remote or error frame has none (:class:`FeatureError`)."""
        out = list(self._iter((record,), False))
        if not out:
            kind = "error" if record.is_error else "remote"
            raise FeatureError(f"a CAN {kind} frame has no {self.kind_name} row (rows are per data frame)")
        row: list[Any] = out[0]
        return row

    def rows(self, records: Iterable[CanFrame]) -> Iterator[list[Any]]:
        """Rows of the data frames among ``records``, in order (the hot path)."""
        return self._iter(records, False)

    def rows_with_context(self, records: Iterable[CanFrame]) -> Iterator[tuple[list[Any], tuple[Any, ...]]]:
        """Rows with ``(ts, channel, arbitration_id)`` for alerts."""
        return self._iter(records, True)

    def _iter(self, records: Iterable[CanFrame], context: bool) -> Iterator[Any]:
        """Rows (or ``(row, context)`` pairs with ``context``) of the data frames among ``records``."""
        raise NotImplementedError
