"""Ethernet replay end to end against ``tshark -T fields`` alone, on mixed traffic, Modbus and a SYN flood.

``edge-ids-agent replay --config configs/ethernet.yaml`` (pcap reading, Edge-IIoTset features with
host context, windows, int8 scoring, every rule the shipped config enables, the alert policy and a
JSONL sink) is timed on three captures, each beside ``tshark -T fields`` extracting the same 61
fields from the same file in the same round, rounds alternating:

* ``mixed``: one lab session (``edge-ids-trainer generate --seed 7 --scale 0.2 --plant-floor``:
  Modbus, MQTT, HTTP, DNS, S7comm, CIP, DNP3, bulk TLS-like transfers, scans, floods, web attacks)
  with every shared capture under ``../shared/captures/pcaps`` and ``../shared/captures/ics``
  appended (``mergecap -a``): the figure the >= 2x target is about.
* ``modbus``: the shared Modbus/TCP capture repeated with ``mergecap -a``. The copies repeat its TCP
  sequence numbers, so every frame after the first copy reads as a retransmission (as in tshark).
* ``syn-flood``: the lab's hping3-style spoofed SYN flood (random sources, some answered) against
  one victim: the rate must hold at >= 90% of the rate on normal traffic (Modbus polling).

Each replay runs in a child process (``python -m agent replay`` code, imported once): rate is frames
over the replay's own elapsed time (model load included, imports not), CPU is the process's CPU
seconds over the same span (both threads), RSS is the child's peak (``VmHWM``): a replayed file queues at most
four batches, so it is the tables' and the runtime's memory, not frames read ahead. The ratio to tshark is taken
per round, so a busy machine slows both sides of it alike. Last measured (2026-12-07, busy machine, medians of 3
rounds): mixed 20,878 frames/s, 1.25x-1.37x tshark, 77 MB; Modbus 26,007 frames/s, 64 MB; SYN flood 14,995
frames/s (58% of Modbus), 110 MB (see docs/benchmarks.md).

    .venv/bin/python bench/bench_replay_ethernet.py [--rounds 3] [--copies 10] [--flood-frames 100000]
        [--only mixed|modbus|syn-flood] [--pcap FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agent.features.edge_iiotset import COLUMNS  # noqa: E402

SHARED = REPO.parent / "shared" / "captures"
MODBUS_PCAP = SHARED / "pcaps" / "modbus_pcapshare.pcapng"

#: the child: one replay as ``edge-ids-agent replay`` runs it, measured from inside
CHILD = """
import json, logging, sys, time
from agent.commands.replay import replay
from agent.config import load_config
logging.disable(logging.WARNING)
cfg = load_config(sys.argv[1], ["mqtt.enabled=false", "state_dir=" + sys.argv[3], "logging.level=WARNING"])
c0 = time.process_time()
rc, s = replay(cfg, sys.argv[2], jsonl=sys.argv[4])
cpu = time.process_time() - c0
# VmHWM, not ru_maxrss: the latter keeps the forking parent's size across exec
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(json.dumps({"rc": rc, "frames": s["records_in"], "elapsed": s["elapsed_s"], "cpu": cpu, "rss_mb": peak,
                  "alerts": s["alerts_raised"], "p99": s["inference_p99_ms"]}))
"""


def tshark_seconds(pcap: Path) -> tuple[float, int]:
    """Wall seconds of ``tshark -T fields`` with the 61 columns, and the rows it printed."""
    cmd = ["tshark", "-r", str(pcap), "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]
    for c in COLUMNS:
        cmd += ["-e", c]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    return time.perf_counter() - t0, out.count(b"\n")


def replay_child(pcap: Path, tmp: Path, config: str) -> dict[str, float]:
    """One replay in a fresh interpreter (this tree's ``agent``); its measurements."""
    out = subprocess.run([sys.executable, "-c", CHILD, config, str(pcap), str(tmp / "state"), str(tmp / "a.jsonl")],
                         check=True, capture_output=True, text=True, cwd=REPO).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def lab_session(tmp: Path) -> Path:
    """The lab session every Ethernet benchmark uses (every class, plant-floor protocols)."""
    subprocess.run([sys.executable, "-m", "trainer", "generate", "--kind", "ethernet", "--out", str(tmp / "lab"),
                    "--seed", "7", "--scale", "0.2", "--sessions", "1", "--plant-floor", "--no-published-csv"],
                   check=True, capture_output=True, cwd=REPO)
    return tmp / "lab" / "capture00.pcap"


def mixed_capture(tmp: Path) -> Path:
    """The lab session with every shared capture appended (pcapng: the link types differ)."""
    shared = sorted(p for d in ("pcaps", "ics") for p in (SHARED / d).glob("*.pcap*"))
    out = tmp / "mixed.pcapng"
    subprocess.run(["mergecap", "-a", "-F", "pcapng", "-w", str(out), str(lab_session(tmp)), *map(str, shared)],
                   check=True)
    return out


def syn_flood(tmp: Path, frames: int) -> Path:
    """The lab's spoofed SYN flood (``atk_ddos_tcp``: hping3 -S --flood --rand-source) of ``frames`` frames."""
    from trainer.lab import wire
    from trainer.lab.ethernet.attacks.floods import atk_ddos_tcp
    from trainer.lab.ethernet.capture import Capture
    from trainer.lab.ethernet.site import make_site

    rng = random.Random(34)
    cap = Capture(rng, pad_short=True)
    site = make_site(rng)
    t = 1_700_000_000.0
    while len(cap.frames) < frames:
        atk_ddos_tcp(cap, site, t, 20_000)
        t = max(f[0] for f in cap.frames) + 0.001
    out = tmp / "synflood.pcap"
    with out.open("wb") as fh:
        wire.write_pcap(fh, ((ts, data) for ts, _, data, _ in sorted(cap.frames)[:frames]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--copies", type=int, default=10, help="copies of the Modbus capture")
    ap.add_argument("--flood-frames", type=int, default=100_000)
    ap.add_argument("--config", default=str(REPO / "configs" / "ethernet.yaml"))
    ap.add_argument("--pcap", type=Path, action="append", default=[], help="also measure this capture (repeatable)")
    ap.add_argument("--only", choices=("mixed", "modbus", "syn-flood"), action="append",
                    help="measure only these captures (repeatable)")
    args = ap.parse_args()
    for tool in ("tshark", "mergecap"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (apt install tshark): no reference to compare with")
            return 2
    if not MODBUS_PCAP.is_file():
        print(f"{MODBUS_PCAP} is absent: the shared captures are needed")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        inputs: dict[str, Path] = {}
        wanted = args.only or ["mixed", "modbus", "syn-flood"]
        if "mixed" in wanted:
            inputs["mixed"] = mixed_capture(t)
        if "modbus" in wanted:
            inputs["modbus"] = t / "modbus.pcapng"
            subprocess.run(["mergecap", "-a", "-w", str(inputs["modbus"]), *[str(MODBUS_PCAP)] * args.copies],
                           check=True)
        if "syn-flood" in wanted:
            inputs["syn-flood"] = syn_flood(t, args.flood_frames)
        for extra in args.pcap:
            inputs[extra.name] = extra.resolve()
        runs: dict[str, list[tuple[float, dict[str, float]]]] = {name: [] for name in inputs}
        for _ in range(args.rounds):
            for name, pcap in inputs.items():
                ref, _rows = tshark_seconds(pcap)
                runs[name].append((ref, replay_child(pcap, t, args.config)))
    print(f"{'capture':<11}{'frames':>9}{'tshark f/s':>12}{'replay f/s':>12}{'ratio':>15}"
          f"{'CPU s/M':>9}{'RSS MB':>8}{'alerts':>8}")
    rates: dict[str, float] = {}
    for name, rounds in runs.items():
        frames = rounds[0][1]["frames"]
        ratios = [frames / r["elapsed"] / (frames / ref) for ref, r in rounds]
        rate = statistics.median(frames / r["elapsed"] for _, r in rounds)
        rates[name] = rate
        ref_rate = statistics.median(frames / ref for ref, _ in rounds)
        cpu = statistics.median(r["cpu"] / frames * 1e6 for _, r in rounds)
        rss = max(r["rss_mb"] for _, r in rounds)
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}x"
        print(f"{name[:10]:<11}{frames:9,.0f}{ref_rate:12,.0f}{rate:12,.0f}{spread:>15}{cpu:9.1f}{rss:8.0f}"
              f"{rounds[0][1]['alerts']:8.0f}")
    print(f"rates are medians of {args.rounds} rounds; ratio: the lowest and highest of the rounds' "
          "replay/tshark; targets: mixed >= 2x tshark, RSS <= 120 MB")
    if "syn-flood" in rates and "modbus" in rates:
        print(f"SYN flood rate {rates['syn-flood'] / rates['modbus']:.0%} of the Modbus polling rate (target >= 90%)")
    if "syn-flood" in rates and "mixed" in rates:
        print(f"SYN flood rate {rates['syn-flood'] / rates['mixed']:.0%} of the mixed-traffic rate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
