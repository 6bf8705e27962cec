"""``edge-ids-trainer reproduce``: the paper's Table II/III on CICIoV2024, and honest protocols beside them.

Writes ``OUT/ciciov2024.md`` (with ``OUT/ciciov2024/*.png`` and ``OUT/ciciov2024.json``); pass
``--out docs/results`` to regenerate the committed report. Models are trained in a temporary
directory and never written under ``--out`` (the dataset's terms: results ship, models do not).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

HELP = "reproduce the paper's tables on CICIoV2024 and measure honest protocols beside them (Markdown report)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=["ciciov2024"])
    parser.add_argument("--data", required=True, help="CICIoV2024 decimal folder (decimal_benign.csv.zip accepted)")
    parser.add_argument("--out", required=True, help="directory for ciciov2024.md, ciciov2024.json and pictures")
    parser.add_argument("--captures", help="folder holding can-site/ (clean vehicle logs) for the transfer protocol")
    parser.add_argument("--quick", action="store_true", help="the whole protocol on a small subsample (tests, CI)")


def run(args: argparse.Namespace) -> int:
    from trainer.data import DataError
    from trainer.reproduce.report import write
    from trainer.reproduce.run import reproduce

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not Path(args.data).exists():
        raise DataError(f"--data {args.data}: no such file or directory")
    captures = Path(args.captures) if args.captures else None
    if captures is not None and not (captures / "can-site").is_dir():
        raise DataError(f"--captures {args.captures}: no can-site/ folder of vehicle logs in it")
    results = reproduce(args.data, args.quick, captures)
    argv = ["edge-ids-trainer", *sys.argv[1:]] if sys.argv and "reproduce" in sys.argv else ["edge-ids-trainer",
                                                                                           "reproduce"]
    md = write(results, Path(args.out), " ".join(shlex.quote(a) for a in argv))
    pp = results["paper_protocol"]
    print(f"{md}: paper's protocol accuracy {pp['int8']['accuracy']:.4f} (int8); dedup "
          f"{results['dedup']['int8']['accuracy']:.4f}; grouped {results['grouped']['int8']['accuracy']:.4f}; "
          f"{results['wall_seconds'] / 60:.1f} min")
    return 0
