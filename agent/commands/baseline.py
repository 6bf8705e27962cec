"""``edge-ids-agent baseline show|diff|accept``: review a learned site baseline.

Why review: a baseline learned while an attack was going on teaches the detector that the attack is
normal. An engineer reads what was learned (ids and periods, hosts and conversations, Modbus masters
and registers) before detecting with it, compares it with the last one after a change on site, and
seals a reviewed hand edit with ``accept`` (any other edit is refused at load).
"""

from __future__ import annotations

import argparse
from typing import Any

from agent.baseline import Baseline, accept_baseline, load_baseline

HELP = "show a learned baseline, compare two, or accept a reviewed edit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="summarise a baseline for review")
    show.add_argument("dir", help="baseline directory")
    diff = sub.add_parser("diff", help="what changed between baseline A and baseline B")
    diff.add_argument("a", help="baseline directory A (older)")
    diff.add_argument("b", help="baseline directory B (newer)")
    accept = sub.add_parser("accept", help="seal a reviewed hand edit (recompute the checksum)")
    accept.add_argument("dir", help="baseline directory")


def _module(baseline: Baseline) -> Any:
    if baseline.family == "can":
        from agent.baseline import can

        return can
    from agent.baseline import ethernet

    return ethernet


def header(b: Baseline) -> list[str]:
    """What a baseline was learned from, its calibrated thresholds and its notes."""
    learned = b.learned
    lines = [f"{b.family} baseline, feature kind {b.feature_kind}, created {b.created}",
             f"learned {learned.get('records', 0):,} records over {learned.get('seconds', 0):.1f} s from: "
             f"{', '.join(learned.get('inputs', [])) or '-'}"]
    if learned.get("reviewed"):
        lines.append(f"reviewed edit accepted {learned['reviewed']}")
    for cls, t in sorted(b.thresholds.items()):
        lines.append(f"model threshold {cls}: {'muted' if t > 1 else f'{t:.3f}'} (calibrated on the learned traffic)")
    lines += [f"note: {w}" for w in b.warnings]
    return lines


def run(args: argparse.Namespace) -> int:
    if args.action == "show":
        b = load_baseline(args.dir)
        for line in header(b) + _module(b).summary(b.content):
            print(line)
        return 0
    if args.action == "diff":
        a, b = load_baseline(args.a), load_baseline(args.b)
        if a.family != b.family:
            print(f"A is a {a.family} baseline, B a {b.family} one: nothing to compare")
            return 1
        lines = _module(a).differences(a.content, b.content)
        for line in lines or ["no differences in what the detector reads"]:
            print(line)
        return 1 if lines else 0
    path = accept_baseline(args.dir)
    load_baseline(args.dir)
    print(f"{path}: checksum recomputed, edit accepted")
    return 0
