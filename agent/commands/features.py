"""``edge-ids-agent features``: a capture or log file -> one CSV row of features per record.

Why it streams: a capture can hold millions of frames, and when a file turns out to be corrupt half
way, the rows already computed are useful (and expected, as tshark writes them too). So every row is
written as it is produced, and the error naming the file and frame comes after them.

The extractor is looked up in :data:`agent.features.FEATURE_KINDS` and the source in
:data:`agent.sources.SOURCES`; the kind decides which source reads ``--input`` (pcap for Ethernet
kinds, canlog for CAN kinds), so new kinds need no change here beyond :data:`SOURCE_FOR_KIND`.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
from typing import Any

from agent.config import load_config
from agent.errors import FeatureError
from agent.features import FEATURE_KINDS
from agent.sources import SOURCES

HELP = "compute feature rows from a capture or CAN log file and write them as CSV"

#: feature kind -> the source backend that reads its input files
SOURCE_FOR_KIND = {"edge-iiotset": "pcap", "ciciov2024": "canlog", "can-temporal": "canlog"}


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
    source_cfg = dataclasses.replace(cfg.source, backend=SOURCE_FOR_KIND[kind], path=args.input)
    extractor = _build(FEATURE_KINDS.load(kind), features_cfg)
    source = SOURCES.load(source_cfg.backend).from_config(source_cfg)
    out = sys.stdout if args.out == "-" else open(args.out, "w", newline="", encoding="utf-8")  # noqa: SIM115
    try:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(list(extractor.columns))
        writerow = writer.writerow
        try:
            for row in extractor.rows(source):
                writerow(row)
        finally:
            out.flush()
            close = getattr(source, "close", None)
            if close is not None:
                close()
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
