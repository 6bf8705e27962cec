"""Ethernet replay end to end (pcap reading, Edge-IIoTset features, windows, int8 scoring, alert
policy, JSONL sink) against ``tshark -T fields`` alone extracting the same 61 fields from the same
capture, measured in the same run. Target: >= 1x tshark.

Uses models/edge-iiotset-lab when present, else a tiny int8 window bundle (W=16, S=16, global key)
built in a child process. The capture is the shared Modbus/TCP capture repeated with mergecap -a
(or ``--pcap FILE``), so tshark's start-up does not dominate. The copies repeat the capture's TCP
sequence numbers, so tshark (and the agent, which gives tshark's values) read every frame after the
first copy as a retransmission and dissect no Modbus in it: the alert count of a repeated capture
measures nothing about false alerts (a single copy raises none; ``tests/test_default_models.py``).

    .venv/bin/python bench/bench_replay_ethernet.py [--copies 10] [--pcap FILE]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_bundle import default_or_tiny_bundle

from agent.commands.replay import replay
from agent.features.edge_iiotset import COLUMNS
from agent.runtime import rss_bytes

REPO = Path(__file__).resolve().parent.parent
SHARED_PCAP = REPO.parent / "shared" / "captures" / "pcaps" / "modbus_pcapshare.pcapng"


def tshark_rate(pcap: Path) -> tuple[float, int]:
    cmd = ["tshark", "-r", str(pcap), "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]
    for c in COLUMNS:
        cmd += ["-e", c]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    dt = time.perf_counter() - t0
    n = out.count(b"\n")
    return n / dt, n


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--pcap", type=Path, default=None)
    args = ap.parse_args()
    if shutil.which("tshark") is None:
        print("tshark is not installed (apt install tshark): no reference to compare with")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        pcap = args.pcap
        if pcap is None:
            if not SHARED_PCAP.is_file():
                print(f"{SHARED_PCAP} is absent: pass --pcap FILE")
                return 2
            pcap = t / "bench.pcapng"
            subprocess.run(["mergecap", "-a", "-w", str(pcap), *[str(SHARED_PCAP)] * args.copies], check=True)
        bundle, cfg = default_or_tiny_bundle("edge-iiotset-lab", t, "edge-iiotset", 16, 16, "global")
        ref, n_ref = tshark_rate(pcap)
        rc, s = replay(cfg, str(pcap), jsonl=str(t / "alerts.jsonl"))
        rate = s["records_in"] / s["elapsed_s"]
    print(f"input: {pcap.name}, {s['records_in']} frames (tshark rows {n_ref}); bundle: {bundle.name}")
    print(f"{'':38}{'frames/s':>12}")
    print(f"{'tshark -T fields, 61 fields (alone)':38}{ref:12,.0f}")
    print(f"{'edge-ids replay (end to end)':38}{rate:12,.0f}   ratio {rate / ref:.2f}x   target >= 1.00x")
    print(f"windows {s['windows_scored']}, alerts {s['alerts_raised']} (copies after the first are TCP "
          f"retransmissions: not a false-alert figure), malformed {s['malformed']}, "
          f"inference p99/batch {s['inference_p99_ms']} ms")
    print(f"RSS {rss_bytes() / 2**20:.0f} MB (target <= 150)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
