"""``edge-ids-agent check-config FILE``: validate a config and print it with defaults filled in.

It runs :func:`agent.validate.validate`, the very checks a start and a SIGHUP reload run (the bundle
loads and fits, the rules accept their settings, credential files are readable), so a config it
calls OK is one the agent accepts.
"""

from __future__ import annotations

import argparse

import yaml

from agent.config import load_config, to_dict
from agent.validate import validate

HELP = "validate a config file exactly as a start or reload would (model, rules, files) and print the result"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="agent YAML config file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing when the config is valid")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.file, args.overrides)
    validate(cfg)
    if not args.quiet:
        print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
        print(f"# {args.file}: OK")
    return 0
