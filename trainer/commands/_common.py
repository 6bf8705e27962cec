"""Arguments shared by the trainer's subcommands."""

from __future__ import annotations

import argparse
import logging

from trainer.config import TrainerConfig, load_trainer_config


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="trainer YAML config (see trainer/config.py for the keys)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set smote.enabled=false (repeatable)")


def config_from(args: argparse.Namespace) -> TrainerConfig:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return load_trainer_config(args.config, args.overrides)
