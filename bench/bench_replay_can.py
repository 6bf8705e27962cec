"""CAN replay end to end (log parsing, can-temporal features, windows, int8 scoring, alert policy,
JSONL sink) against python-can's LogReader merely reading the same log, measured in the same run.

Target: >= 150k frames/s end to end, RSS <= 120 MB. Uses models/ciciov2024-lab when present, else a tiny int8
bundle built in a child process (TensorFlow never enters this process, so its RSS is the agent's).

    .venv/bin/python bench/bench_replay_can.py [--frames 300000]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_bundle import default_or_tiny_bundle

from agent.commands.learn import learn
from agent.commands.replay import replay
from agent.runtime import rss_bytes

REPO = Path(__file__).resolve().parent.parent
SHARED_LOG = REPO.parent / "shared" / "captures" / "can" / "eldominio_camaro_engineon.log"


def make_log(path: Path, frames: int) -> str:
    """A candump -L log of ``frames`` frames: the shared real car log repeated (times shifted), or synthetic."""
    if SHARED_LOG.is_file():
        src = [ln for ln in SHARED_LOG.read_text().splitlines() if ln.startswith("(")]
        t0 = float(src[0][1 : src[0].index(")")])
        span = float(src[-1][1 : src[-1].index(")")]) - t0 + 0.001
        out, k = [], 0
        while len(out) < frames:
            for ln in src:
                ts = float(ln[1 : ln.index(")")]) + k * span
                out.append(f"({ts:.6f}){ln[ln.index(')') + 1:]}")
                if len(out) == frames:
                    break
            k += 1
        what = f"{SHARED_LOG.name} repeated"
    else:
        out = [f"({1.7e9 + i * 1e-3:.6f}) can0 {0x100 + i % 40:03X}#{i % 256:02X}11223344556677" for i in range(frames)]
        what = "synthetic"
    path.write_text("\n".join(out) + "\n")
    return what


def pycan_rate(path: Path) -> float:
    import can

    t0 = time.perf_counter()
    n = sum(1 for _ in can.LogReader(str(path)))
    return n / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300_000)
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs with and without a site baseline")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        log = t / "bus.log"
        what = make_log(log, args.frames)
        bundle, cfg = default_or_tiny_bundle("ciciov2024-lab", t, "can-temporal", 8, 8, "channel")
        ref = pycan_rate(log)
        # the site baseline is learned from the log's first 100,000 frames (the car's own traffic)
        first = t / "learn.log"
        first.write_text("".join(log.open().readlines()[:100_000]))
        with contextlib.redirect_stdout(io.StringIO()):
            learn(cfg, [str(first)], None, str(t / "baseline"))
        based = dataclasses.replace(cfg, baseline=dataclasses.replace(cfg.baseline, path=str(t / "baseline")))
        rates: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(max(1, args.rounds)):
            for name, c in (("without", cfg), ("with", based)):
                rc, s = replay(c, str(log), jsonl=str(t / f"alerts-{name}.jsonl"))
                rates[name].append(s["records_in"] / s["elapsed_s"])
        rate, rate_b = max(rates["without"]), max(rates["with"])
    print(f"input: {args.frames} frames ({what}); bundle: {bundle.name}")
    print(f"{'':34}{'frames/s':>12}")
    print(f"{'python-can LogReader (read only)':34}{ref:12,.0f}")
    print(f"{'edge-ids replay (end to end)':34}{rate:12,.0f}   ratio {rate / ref:.2f}x   target >= 150,000")
    print(f"{'  with the site baseline':34}{rate_b:12,.0f}   ratio {rate_b / ref:.2f}x   "
          f"replay time {(rate / rate_b - 1) * 100:+.1f}% (target <= +15%); best of {len(rates['with'])} "
          "alternating runs each")
    print(f"windows {s['windows_scored']}, alerts {s['alerts_raised']}, inference p99/batch {s['inference_p99_ms']} ms")
    print(f"RSS {rss_bytes() / 2**20:.0f} MB (target <= 120)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
