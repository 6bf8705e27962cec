"""What the detectors beside the model cost end to end, on mixed lab traffic.

Replays one lab Ethernet session (every class, plant-floor protocols; ``edge-ids-trainer generate
--seed 7 --scale 0.2 --plant-floor``: about 100,000 frames of Modbus, MQTT, HTTP, DNS, S7comm, CIP,
scans and floods) through ``configs/ethernet.yaml`` as shipped, with the web attack rule switched
off, and with a site baseline (learned from the same capture, so what is timed is the check of every
frame, not its findings), in alternating rounds, and reports each one's replay time against the
shipped config, with ``tshark -T fields`` on the same capture as the reference.

    .venv/bin/python bench/bench_detectors.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.commands.learn import learn
from agent.commands.replay import replay
from agent.config import AgentConfig, load_config
from agent.features.edge_iiotset import COLUMNS

REPO = Path(__file__).resolve().parent.parent


def tshark_seconds(pcap: Path) -> float:
    cmd = ["tshark", "-r", str(pcap), "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]
    for c in COLUMNS:
        cmd += ["-e", c]
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        subprocess.run([sys.executable, "-m", "trainer", "generate", "--kind", "ethernet", "--out", str(t / "lab"),
                        "--seed", "7", "--scale", "0.2", "--sessions", "1", "--plant-floor", "--no-published-csv"],
                       check=True, capture_output=True)
        pcap = t / "lab" / "capture00.pcap"

        def cfg(*overrides: str) -> AgentConfig:
            return load_config(str(REPO / "configs" / "ethernet.yaml"),
                               ["mqtt.enabled=false", f"state_dir={t / 'state'}", "logging.level=WARNING", *overrides])

        with contextlib.redirect_stdout(io.StringIO()):
            learn(cfg(), [str(pcap)], None, str(t / "baseline"))
        shipped = cfg()
        variants: dict[str, AgentConfig] = {
            "shipped config": shipped,
            "without web_attack": cfg("rules.web_attack.enabled=false"),
            "with a site baseline": dataclasses.replace(
                shipped, baseline=dataclasses.replace(shipped.baseline, path=str(t / "baseline"))),
        }
        best: dict[str, float] = {}
        frames = 0
        ref = min(tshark_seconds(pcap) for _ in range(max(1, args.rounds)))
        for _ in range(max(1, args.rounds)):
            for name, c in variants.items():
                with contextlib.redirect_stdout(io.StringIO()):
                    _, stats = replay(c, str(pcap), jsonl=str(t / "alerts.jsonl"))
                frames = stats["records_in"]
                best[name] = min(best.get(name, float("inf")), stats["elapsed_s"])
    base = best["shipped config"]
    print(f"input: lab session, {frames:,} frames; best of {args.rounds} alternating rounds")
    print(f"{'':26}{'seconds':>9}{'frames/s':>11}{'vs shipped':>12}{'vs tshark':>11}")
    print(f"{'tshark -T fields':26}{ref:9.2f}{frames / ref:11,.0f}{'':>12}{1.0:10.2f}x")
    for name, s in best.items():
        print(f"{name:26}{s:9.2f}{frames / s:11,.0f}{(s / base - 1) * 100:+11.1f}%{ref / s:10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
