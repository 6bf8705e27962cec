"""``edge-ids-agent features``: a capture or log file -> one CSV row of features per record.

Why it streams: a capture can hold millions of frames, and when a file turns out to be corrupt half
way, the rows already computed are useful (and expected, as tshark writes them too). So rows are
written as they are produced (in small batches, see :func:`write_rows`), and the error naming the
file and frame comes after them.

The extractor is looked up in :data:`agent.features.FEATURE_KINDS` and the source in
:data:`agent.sources.SOURCES`; the kind decides which source reads ``--input`` (pcap for Ethernet
kinds, canlog for CAN kinds), so new kinds need no change here beyond :data:`SOURCE_FOR_KIND`.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

from agent.config import load_config
from agent.errors import FeatureError
from agent.features import FEATURE_KINDS
from agent.sources import SOURCES, file_backend

HELP = "compute feature rows from a capture or CAN log file and write them as CSV"

#: feature kind -> the source backend that reads its input files
SOURCE_FOR_KIND = {"edge-iiotset": "pcap", "edge-iiotset-context": "pcap", "ciciov2024": "canlog",
                   "can-temporal": "canlog"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", required=True, choices=sorted(SOURCE_FOR_KIND), help="feature set to compute")
    parser.add_argument("--input", required=True, metavar="FILE", help="pcap/pcapng(.gz) or CAN log file")
    parser.add_argument("--out", required=True, metavar="OUT.csv", help="CSV file to write ('-' for stdout)")
    parser.add_argument("--config", metavar="C", default=None, help="agent YAML config (limits, CAN options)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable)")


def _build(cls: Any, config: Any) -> Any:
    """An object from its ``from_config`` when it has one, else from the config's fields."""
    if hasattr(cls, "from_config"):
        return cls.from_config(config)
    return cls(**dataclasses.asdict(config))


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    kind = args.kind
    if kind not in FEATURE_KINDS:
        raise FeatureError(f"unknown feature kind {kind!r}; choose one of: {', '.join(FEATURE_KINDS.names())}")
    features_cfg = dataclasses.replace(cfg.features, kind=kind)
    backend = SOURCE_FOR_KIND[kind]
    if not os.path.isfile(args.input):
        raise FeatureError(f"--input {args.input}: no such file")
    if file_backend(args.input) != backend:
        what = "an Ethernet capture" if backend == "canlog" else "a CAN log (not a pcap/pcapng capture)"
        fits = "edge-iiotset-context or edge-iiotset" if backend == "canlog" else "can-temporal or ciciov2024"
        raise FeatureError(f"--input {args.input} is {what}, but --kind {kind} reads "
                           f"{'CAN logs' if backend == 'canlog' else 'captures'}; use --kind {fits}")
    source_cfg = dataclasses.replace(cfg.source, backend=backend, path=args.input)
    extractor = _build(FEATURE_KINDS.load(kind), features_cfg)
    source = SOURCES.load(source_cfg.backend).from_config(source_cfg)
    try:
        out = sys.stdout if args.out == "-" else open(args.out, "w", newline="", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise FeatureError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from None
    progress = Progress(sys.stderr)
    try:
        csv.writer(out, lineterminator="\n").writerow(list(extractor.columns))
        try:
            write_rows(out, extractor.rows(source), len(extractor.columns),
                       getattr(extractor, "csv_quoted_columns", None), on_batch=progress)
        finally:
            out.flush()
            close = getattr(source, "close", None)
            if close is not None:
                close()
            progress.done("standard output" if args.out == "-" else args.out, kind)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


class Progress:
    """Rows written so far, told on standard error every ``every_s`` seconds and once at the end.

    Why: a capture of millions of frames takes minutes, and a command that prints nothing for that
    long looks hung; the count at the end says what the file holds, also when the input stopped on
    an error half way. Called per written batch, so it costs nothing per row.
    """

    def __init__(self, stream: IO[str], every_s: float = 5.0) -> None:
        self.stream = stream
        self.every_s = every_s
        self.rows = 0
        self._t0 = time.monotonic()
        self._next = self._t0 + every_s

    def __call__(self, rows: int) -> None:
        self.rows = rows
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every_s
            print(f"features: {rows:,} rows so far ({rows / (now - self._t0):,.0f} rows/s)",
                  file=self.stream, flush=True)

    def done(self, where: str, kind: str) -> None:
        """The closing line: how many rows of which kind went where, and how long it took."""
        print(f"features: wrote {self.rows:,} {kind} rows to {where} in {time.monotonic() - self._t0:.1f} s",
              file=self.stream, flush=True)


#: rows rendered before one write: big enough to amortise the call, small enough to stay streaming
BATCH = 2048


def write_rows(out: IO[str], rows: Iterable[Sequence[Any]], ncols: int, quoted: Sequence[int] | None,
               on_batch: Callable[[int], None] | None = None) -> int:
    """Write ``rows`` as CSV to ``out`` exactly as :func:`csv.writer` would; return how many.

    Why not ``csv.writer`` alone: it converts and inspects every cell of every row, which cost as
    much as computing the features. Feature rows are mostly small numbers, so a row is rendered
    with one ``%`` format instead and kept when the result provably equals the writer's: the cells
    in ``quoted`` (an extractor's ``csv_quoted_columns``: text that always holds the delimiter, such
    as tshark's ``frame.time``) carry exactly the line's extra commas and no quote character, and no
    other cell holds a delimiter, quote or line break. Any other row goes through ``csv.writer``.
    Rows are written in batches, and the batch in progress is written out even when ``rows``
    raises (a corrupt capture), so every row computed before the error reaches the file.
    ``on_batch`` is called with the number of rows written so far after each batch and at the end.
    """
    writer = csv.writer(out, lineterminator="\n")
    if quoted is None:  # no declared layout: the writer, a batch at a time
        n = 0
        batch: list[Sequence[Any]] = []
        try:
            for row in rows:
                batch.append(row)
                if len(batch) >= BATCH:
                    writer.writerows(batch)
                    n += len(batch)
                    batch = []
                    if on_batch is not None:
                        on_batch(n)
        finally:
            writer.writerows(batch)
            n += len(batch)
            if on_batch is not None:
                on_batch(n)
        return n
    qset = set(quoted)
    fmt = ",".join('"%s"' if i in qset else "%s" for i in range(ncols)) + "\n"
    plain_commas = ncols - 1
    quote_chars = 2 * len(qset)
    pending = io.StringIO()
    spill = csv.writer(pending, lineterminator="\n")
    lines: list[str] = []
    append = lines.append
    n = 0
    try:
        for row in rows:
            line = fmt % (*row,)
            commas = plain_commas
            for i in quoted:
                cell = row[i]
                k = cell.count(",") if cell.__class__ is str else 0
                if not k:
                    commas = -1  # csv.writer would not quote this cell: let it write the row
                    break
                commas += k
            if (line.count(",") != commas or line.count('"') != quote_chars or "\r" in line
                    or line.find("\n") != len(line) - 1):
                spill.writerow(row)
                line = pending.getvalue()
                pending.seek(0)
                pending.truncate()
            append(line)
            if len(lines) >= BATCH:
                out.write("".join(lines))
                n += len(lines)
                lines.clear()
                if on_batch is not None:
                    on_batch(n)
    finally:
        out.write("".join(lines))
        n += len(lines)
        if on_batch is not None:
            on_batch(n)
    return n
