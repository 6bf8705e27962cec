"""``edge-ids-agent run --config C``: the daemon (systemd ``Type=notify``, SIGHUP reload, SIGTERM stop)."""

from __future__ import annotations

import argparse
import logging
import os

from agent.commands import add_config_arguments, config_from_args
from agent.commands.replay import with_baseline
from agent.log import setup_logging
from agent.runtime import Pipeline, serve

HELP = "capture, score and publish alerts until stopped (the systemd service runs this)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--baseline", help="detect with this learned site baseline (config baseline.path)")


def run(args: argparse.Namespace) -> int:
    cfg = with_baseline(config_from_args(args), args.baseline)
    setup_logging(cfg.logging.level, cfg.logging.json)
    if cfg.runtime.cpu_affinity:
        try:
            os.sched_setaffinity(0, cfg.runtime.cpu_affinity)
        except (OSError, AttributeError) as exc:
            log.warning("runtime.cpu_affinity %s not applied: %s", cfg.runtime.cpu_affinity, exc)
    pipeline = Pipeline(cfg, mode="drop")
    return serve(pipeline, load_config=lambda: with_baseline(config_from_args(args), args.baseline))
