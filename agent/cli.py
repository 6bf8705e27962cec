"""``edge-ids-agent``: the agent's command line.

Subcommands live in their own modules under :mod:`agent.commands`, each with ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; this module only dispatches. Errors derived from
:class:`~agent.errors.EdgeIdsError` are printed as one clear line with exit status 2, without a
traceback, because they describe bad input rather than bugs; a file the system refuses (``OSError``)
likewise, and anything else as one line saying how to see the traceback (``EDGE_IDS_DEBUG=1``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping, Sequence

from agent import __version__
from agent.errors import EdgeIdsError

#: set to any value to see the traceback of an unexpected error instead of its one-line summary
DEBUG_ENV = "EDGE_IDS_DEBUG"

#: subcommand -> module under agent.commands
AGENT_COMMANDS: Mapping[str, str] = {
    "check-config": "agent.commands.check_config",
    "features": "agent.commands.features",
    "run": "agent.commands.run",
    "replay": "agent.commands.replay",
    "learn": "agent.commands.learn",
    "baseline": "agent.commands.baseline",
    "tail": "agent.commands.tail",
    "demo": "agent.commands.demo",
    "profile": "agent.commands.profile",
    "install-service": "agent.commands.install_service",
    "config-docs": "agent.commands.config_docs",
}


def build_parser(prog: str, description: str, commands: Mapping[str, str], version: str) -> argparse.ArgumentParser:
    """An argparse parser with one subparser per available command module.

    A command whose module does not exist yet (or fails to import for a missing optional package) is
    left out of the parser rather than breaking every other command.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in commands.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run the chosen command, turning EdgeIdsError into a one-line message."""
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except EdgeIdsError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a file or device the command was pointed at: the user can fix it
        if os.environ.get(DEBUG_ENV):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{parser.prog}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: one line that says how to get the details
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"{parser.prog}: internal error: {type(exc).__name__}: {exc}; run again with {DEBUG_ENV}=1 "
              "for the traceback and report it", file=sys.stderr)
        return 70


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``edge-ids-agent`` and ``python -m agent``."""
    parser = build_parser(
        "edge-ids-agent",
        "Intrusion detection for IIoT gateways and CAN buses: capture, features, int8 scoring, MQTT alerts.",
        AGENT_COMMANDS,
        __version__,
    )
    return dispatch(parser, argv)
