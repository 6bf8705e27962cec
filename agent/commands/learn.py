"""``edge-ids-agent learn``: learn a site baseline from captures or logs, or live for ``--seconds``.

Inputs are read with the same sources and feature extractor as ``replay`` and ``run``, so the
baseline describes the rows the detector will see. The model scores the same traffic meanwhile, so
its thresholds can be calibrated on the site's normal (see :mod:`agent.baseline.learning`).
Nothing is written unless every input was read to its end.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from agent.commands import add_config_arguments, config_from_args
from agent.config import AgentConfig
from agent.errors import ConfigError
from agent.log import setup_logging

HELP = "learn a site baseline (CAN ids and timing, hosts, conversations, Modbus) from captures, logs or live"
BATCH = 512


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--input", "-i", action="append", default=[],
                        help="capture (.pcap/.pcapng) or CAN log to learn from (repeatable)")
    parser.add_argument("--seconds", type=float,
                        help="without --input: learn live from the configured interface or bus for this long")
    parser.add_argument("--out", "-o", required=True, help="directory to write the baseline to")


def _batches(records: Iterable[Any]) -> Iterator[list[Any]]:
    """``records`` in batches of :data:`BATCH` (the last one shorter)."""
    it = iter(records)
    while batch := list(itertools.islice(it, BATCH)):
        yield batch


def _confirmation(sc: Any) -> tuple[int, int]:
    """The alert policy's confirmation: windows needed, within how many."""
    return int(sc.policy.confirm_windows), int(sc.policy.confirm_span)


def learn(cfg: AgentConfig, inputs: list[str], seconds: float | None, out: str) -> Any:
    """Learn from ``inputs`` (or live for ``seconds``) and write the baseline to ``out``; returns it."""
    from agent.baseline.learning import BaselineLearning
    from agent.commands.replay import replay_config
    from agent.runtime.counters import Counters
    from agent.runtime.pipeline import build_scoring, merged_thresholds, open_source, score_rows

    if not inputs and not seconds:
        raise ConfigError("learn needs --input FILE (repeatable) or --seconds N to learn live")
    if seconds is not None and seconds <= 0:
        raise ConfigError(f"--seconds must be positive, got {seconds}")
    # learning reads the site as it is: no baseline detector, no commissioning
    cfg = dataclasses.replace(cfg, baseline=dataclasses.replace(cfg.baseline, path=None, commission_s=0.0))
    plan = [(replay_config(cfg, p), p) for p in inputs] or [(cfg, "live")]
    learning: BaselineLearning | None = None
    sc = None
    for c, name in plan:
        sc = build_scoring(c, None, Counters(None), with_sinks=False)
        if learning is None:
            learning = BaselineLearning(c.features.kind, list(sc.extractor.columns), dataclasses.asdict(cfg.source))
        learning.start_input(name)
        source = open_source(c)
        close = getattr(source, "close", None)
        # live: closing the source from a timer ends its iteration, however quiet the wire
        timer = threading.Timer(seconds, close) if name == "live" and seconds and close is not None else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            for batch in _batches(source):
                pairs = list(sc.extractor.rows_with_context(batch))
                rows = [r for r, _ in pairs]
                ctxs = [x for _, x in pairs]
                learning.feed(rows, ctxs)
                wb, probs = score_rows(sc, rows, ctxs)
                learning.scores(sc.classes, sc.benign_class, probs, wb.keys, *_confirmation(sc))
        finally:
            if timer is not None:
                timer.cancel()
            if close is not None:
                close()
    assert learning is not None and sc is not None
    if not learning.first_ts:
        raise ConfigError(f"learn: no frames read from {', '.join(inputs) or 'the live source'}; nothing learned")
    baseline = learning.finish(cfg.baseline, merged_thresholds(sc.scorer.bundle.manifest, cfg))
    baseline.save(out)
    return baseline


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    setup_logging(cfg.logging.level, cfg.logging.json)
    baseline = learn(cfg, list(args.input), args.seconds, args.out)
    learned = baseline.learned
    print(f"learned {learned.get('records', 0):,} records over {learned.get('seconds', 0):.1f} s "
          f"from {len(learned.get('inputs', []))} input(s); baseline written to {Path(args.out) / 'baseline.json'}")
    for note in baseline.warnings:
        print(f"  note: {note}")
    print(f"review it before detecting with it: edge-ids-agent baseline show {args.out}", file=sys.stdout)
    return 0
