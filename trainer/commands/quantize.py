"""``edge-ids-trainer quantize``: convert a run's model, gate it against float on test, write a bundle."""

from __future__ import annotations

import argparse
from pathlib import Path

from trainer.commands._common import add_config_arguments, config_from

HELP = "quantize a trained run (int8 full-integer, float16 or dynamic) into a model bundle"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run directory written by train")
    parser.add_argument("--mode", default="int8", choices=["int8", "float16", "dynamic", "float32"])
    parser.add_argument("--out", required=True, help="bundle directory to write (atomically)")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from trainer.pipeline import quantize_run

    report = quantize_run(Path(args.run), args.mode, Path(args.out), config_from(args))
    key = "int8_agreement" if args.mode == "int8" else f"{args.mode}_agreement"
    print(f"{args.out}: {args.mode} agreement with float {report[key]:.4f}, macro-F1 {report['f1_macro']:.4f}")
    return 0
