"""The features command's fast CSV rendering writes exactly what ``csv.writer`` writes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.commands.features import BATCH, write_rows
from agent.features.edge_iiotset import COLUMNS, EdgeIIoTsetExtractor


def reference(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def fast(rows: list[list[Any]], quoted: tuple[int, ...] | None = (0,)) -> str:
    buf = io.StringIO()
    assert write_rows(buf, iter(rows), len(rows[0]) if rows else 61, quoted) == len(rows)
    return buf.getvalue()


def _row(**cells: Any) -> list[Any]:
    r: list[Any] = [0] * len(COLUMNS)
    r[0] = "Mar 25, 2020 22:05:35.383730000 UTC"
    for k, v in cells.items():
        r[COLUMNS.index(k.replace("__", "."))] = v
    return r


TRICKY = [
    _row(),
    _row(ip__src_host="10.0.0.1", udp__time_delta=0.010017, udp__stream=3),
    _row(http__file_data='a,b "quoted"', http__request__method="GET"),
    _row(http__file_data="a\nb"),
    _row(http__file_data="a\rb"),
    _row(http__file_data=""),
    _row(mqtt__topic=""),
    _row(dns__qry__name="weird,name"),
    _row(http__referer='"'),
    _row(frame__time="1600000000.000500000"),  # a time tshark could not format: no comma, csv leaves it bare
    _row(frame__time='Mar 25, 2020 "x"'),
    _row(frame__time="a, b, c"),
    _row(udp__time_delta=1e-7, tcp__ack_raw=4294967295),
]


@pytest.mark.parametrize("i", range(len(TRICKY)))
def test_tricky_rows_are_byte_identical(i: int) -> None:
    rows = [TRICKY[i], _row(), TRICKY[i]]
    assert fast(rows) == reference(rows)


def test_without_declared_layout_uses_the_writer() -> None:
    assert fast(TRICKY, None) == reference(TRICKY)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.one_of(st.integers(-2, 2**40), st.floats(allow_nan=False), st.text(max_size=6)),
                         min_size=4, max_size=4), min_size=1, max_size=5))
def test_random_rows_are_byte_identical(rows: list[list[Any]]) -> None:
    rows = [["Jan 1, 1970 x", *r] for r in rows]
    assert fast(rows) == reference(rows)


def test_rows_before_an_error_are_written() -> None:
    def failing() -> Iterator[list[Any]]:
        for _ in range(BATCH + 5):
            yield _row()
        raise ValueError("corrupt")

    buf = io.StringIO()
    with pytest.raises(ValueError):
        write_rows(buf, failing(), len(COLUMNS), (0,))
    assert buf.getvalue() == reference([_row()] * (BATCH + 5))


def test_extractor_declares_frame_time_quoted() -> None:
    assert EdgeIIoTsetExtractor.csv_quoted_columns == (COLUMNS.index("frame.time"),)
