"""``edge-ids-trainer train``: load, split, fit on train, SMOTE train, train, quantize int8, evaluate on test."""

from __future__ import annotations

import argparse

from trainer.commands._common import add_config_arguments, config_from

HELP = "train the hybrid model on Edge-IIoTset or CICIoV2024 and write a run directory with an int8 bundle"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=["edge-iiotset", "ciciov2024"])
    parser.add_argument("--data", required=True, help="published CSV, dataset folder, or agent feature CSV")
    parser.add_argument("--out", required=True, help="run directory to create")
    parser.add_argument("--epochs", type=int, help="override train.epochs")
    parser.add_argument("--name", help="model name in the manifest")
    parser.add_argument("--no-quantize", action="store_true", help="stop after training (no bundle, no test use)")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from trainer.pipeline import train_run

    cfg = config_from(args)
    report = train_run(args.dataset, args.data, args.out, cfg, args.epochs, args.name, not args.no_quantize)
    if report:
        print(f"{args.out}: test accuracy {report['accuracy']:.4f}, macro-F1 {report['f1_macro']:.4f}, "
              f"int8 agreement {report['int8_agreement']:.4f}; bundle {args.out}/bundle")
    return 0
