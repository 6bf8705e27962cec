"""One module per ``edge-ids-agent`` subcommand (``HELP``, ``add_arguments``, ``run``)."""

from __future__ import annotations

import argparse

from agent.config import AgentConfig, load_config


def add_config_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """The ``--config FILE`` and repeated ``--set dotted.key=value`` options every command shares."""
    parser.add_argument("--config", "-c", required=required, help="agent YAML config file")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set mqtt.port=8883 (repeatable)",
    )


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    """Load the config named by ``--config`` with ``--set`` overrides (and its firmware profile)."""
    return load_config(getattr(args, "config", None), args.overrides)
