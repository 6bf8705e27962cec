"""Frames/s of the Edge-IIoTset features against ``tshark -T fields`` on the same capture.

Why both in one run: the machine is shared and noisy, so only a ratio measured in the same run
means anything. The capture is mixed IIoT-like traffic (MQTT, Modbus/TCP, HTTP, DNS, ICMP, ARP),
built from a pool of scapy-crafted conversations whose client ports are rewritten per repetition, so
every repetition is a fresh set of connections (state tables keep growing and evicting as in real
traffic). Peak RSS is printed after each phase, to show memory stays flat as frames go by.

    .venv/bin/python bench/bench_ethernet_features.py                 # 200k frames
    .venv/bin/python bench/bench_ethernet_features.py --frames 1000000
    .venv/bin/python bench/bench_ethernet_features.py --input some.pcap
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.features.edge_iiotset import COLUMNS, EdgeIIoTsetExtractor
from agent.sources.pcapfile import PcapFileSource


def rss_mib() -> float:
    """Peak resident set size of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pool() -> list[bytes]:
    """One round of mixed traffic, as Ethernet frames (crafted once with scapy)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_edge_iiotset_parity import build_http, build_icmp_arp, build_modbus, build_mqtt, build_udp_dns

    frames: list[bytes] = []
    for _ in range(3):
        frames += [bytes(p) for p in build_modbus()]
        frames += [bytes(p) for p in build_mqtt()]
    frames += [bytes(p) for p in build_http()]
    frames += [bytes(p) for p in build_udp_dns()]
    frames += [bytes(p) for p in build_icmp_arp()]
    return frames


def build_capture(path: Path, n: int) -> None:
    """``n`` frames: the pool repeated, client ports rewritten so each round is new connections."""
    base = pool()
    # where the client port is: the non-well-known one of TCP/UDP over IPv4/IPv6 on Ethernet
    spots = []
    for fr in base:
        et = (fr[12] << 8) | fr[13]
        off, proto = (-1, -1)
        if et == 0x0800:
            off, proto = 14 + (fr[14] & 15) * 4, fr[23]
        elif et == 0x86DD:
            off, proto = 54, fr[20]
        if proto in (6, 17) and len(fr) >= off + 4:
            sp, dp = struct.unpack_from("!HH", fr, off)
            spots.append(off if sp > dp else off + 2)
        else:
            spots.append(-1)
    t = 1_650_000_000.0
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        w = f.write
        i = 0
        rnd = 0
        while i < n:
            port = 10000 + (rnd % 50000)
            for fr, spot in zip(base, spots, strict=False):
                if i >= n:
                    break
                if spot >= 0:
                    b = bytearray(fr)
                    b[spot:spot + 2] = struct.pack("!H", port)
                    fr = bytes(b)
                t += 0.0001
                w(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(fr), len(fr)))
                w(fr)
                i += 1
            rnd += 1


def run_tshark(path: Path) -> tuple[float, int]:
    cmd = ["tshark", "-r", str(path), "-T", "fields", "-E", "header=y", "-E", "separator=/t", "-E", "quote=n",
           "-E", "occurrence=f"]
    for c in COLUMNS:
        cmd += ["-e", c]
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        subprocess.run(cmd, stdout=null, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0, 0


def run_ours(path: Path, write_csv: bool) -> tuple[float, int, dict[str, int]]:
    ex = EdgeIIoTsetExtractor()
    t0 = time.perf_counter()
    n = 0
    if write_csv:
        with open(os.devnull, "w", newline="") as out:
            w = csv.writer(out)
            w.writerow(COLUMNS)
            for row in ex.rows(PcapFileSource(path)):
                w.writerow(row)
                n += 1
    else:
        for _row in ex.rows(PcapFileSource(path)):
            n += 1
    return time.perf_counter() - t0, n, ex.stats()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200_000, help="frames in the generated capture")
    ap.add_argument("--input", type=Path, default=None, help="benchmark this capture instead")
    ap.add_argument("--no-tshark", action="store_true", help="skip the tshark reference")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="edge-ids-bench-"))
    try:
        path = args.input
        if path is None:
            path = tmp / "mixed.pcap"
            build_capture(path, args.frames)
        frames = sum(1 for _ in PcapFileSource(path))
        print(f"capture: {path} ({frames} frames, {path.stat().st_size / 1e6:.1f} MB)")
        rows = io.StringIO()
        results = []
        if not args.no_tshark and shutil.which("tshark"):
            dt, _ = run_tshark(path)
            results.append(("tshark -T fields (61 fields)", dt))
        rss0 = rss_mib()
        dt, n, st = run_ours(path, False)
        results.append(("edge-ids read+extract", dt))
        rss1 = rss_mib()
        dt2, _, _ = run_ours(path, True)
        results.append(("edge-ids read+extract+CSV", dt2))
        rss2 = rss_mib()
        ref = results[0][1] if results[0][0].startswith("tshark") else None
        print(f"{'':32} {'seconds':>8} {'frames/s':>10} {'x tshark':>9}", file=rows)
        for name, secs in results:
            ratio = f"{ref / secs:8.2f}x" if ref else "      n/a"
            print(f"{name:32} {secs:8.2f} {frames / secs:10.0f} {ratio}", file=rows)
        print(rows.getvalue(), end="")
        print(f"peak RSS: before extract {rss0:.1f} MiB, after extract {rss1:.1f} MiB, after CSV run {rss2:.1f} MiB")
        print(f"extractor stats: {st}")
        assert n == frames
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
