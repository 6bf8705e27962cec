"""``edge-ids-trainer``: train, evaluate, quantize, ablate, audit, reproduce, and generate lab traffic.

Dispatch is shared with the agent's command line (:func:`agent.cli.build_parser`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.cli import build_parser, dispatch
from trainer import __version__

TRAINER_COMMANDS: Mapping[str, str] = {
    "train": "trainer.commands.train",
    "evaluate": "trainer.commands.evaluate",
    "quantize": "trainer.commands.quantize",
    "ablate": "trainer.commands.ablate",
    "audit": "trainer.commands.audit",
    "generate": "trainer.commands.generate",
    "reproduce": "trainer.commands.reproduce",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``edge-ids-trainer`` and ``python -m trainer``."""
    parser = build_parser(
        "edge-ids-trainer",
        "Train, evaluate and quantize edge-ids models; generate labelled lab traffic.",
        TRAINER_COMMANDS,
        __version__,
    )
    return dispatch(parser, argv)
