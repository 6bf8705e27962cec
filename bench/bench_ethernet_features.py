"""Frames/s of the Edge-IIoTset features against ``tshark -T fields`` on the same capture.

Why both in one run: the machine is shared and noisy, so only a ratio measured in the same run
means anything. The capture is mixed IIoT-like traffic (MQTT, Modbus/TCP, HTTP, DNS, ICMP, ARP),
built from a pool of scapy-crafted conversations whose client ports are rewritten per repetition, so
every repetition is a fresh set of connections (state tables keep growing and evicting as in real
traffic). The features command is timed as a whole (``python -m agent features ... --out``,
interpreter start and CSV writing included), as a user runs it. Memory: the resident set is
sampled at 25/50/75/100% of an in-process features run, to show it stays flat as frames go by.

    .venv/bin/python bench/bench_ethernet_features.py                 # 200k frames
    .venv/bin/python bench/bench_ethernet_features.py --frames 1000000
    .venv/bin/python bench/bench_ethernet_features.py --input some.pcap
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.commands.features import write_rows
from agent.features import FEATURE_KINDS
from agent.features.edge_iiotset import COLUMNS, EdgeIIoTsetExtractor
from agent.sources.pcapfile import PcapFileSource


def rss_mib() -> float:
    """Peak resident set size of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mib() -> float:
    """Current resident set size, MiB (``/proc/self/statm``; the peak where that is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return rss_mib()


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
    return timed(cmd)


def children_cpu() -> float:
    """CPU seconds (user + system) used so far by finished child processes."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one command. Why both: on a shared, busy machine the wall
    clock also counts time spent waiting for a core; CPU time is what the work itself cost."""
    c0 = children_cpu()
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        subprocess.run(cmd, stdout=null, stderr=subprocess.DEVNULL, check=True,
                       cwd=Path(__file__).resolve().parent.parent)
    return time.perf_counter() - t0, children_cpu() - c0


def run_ours(path: Path, kind: str = "edge-iiotset") -> tuple[float, int, dict[str, int]]:
    """Read + extract only (rows discarded)."""
    ex = FEATURE_KINDS.load(kind)()
    t0 = time.perf_counter()
    n = 0
    for _row in ex.rows(PcapFileSource(path)):
        n += 1
    return time.perf_counter() - t0, n, ex.stats()


def run_command(path: Path, kind: str = "edge-iiotset") -> tuple[float, float]:
    """``edge-ids-agent features`` end to end, in a fresh interpreter, CSV to /dev/null."""
    return timed([sys.executable, "-m", "agent", "features", "--kind", kind, "--input", str(path),
                  "--out", os.devnull])


def rss_checkpoints(path: Path, frames: int) -> list[tuple[int, float]]:
    """The features path in process (extract + CSV), resident set sampled at each quarter."""
    marks = {max(1, frames * q // 4): q for q in (1, 2, 3, 4)}
    out: list[tuple[int, float]] = []
    ex = EdgeIIoTsetExtractor()

    def sampled() -> Iterator[list[Any]]:
        for i, row in enumerate(ex.rows(PcapFileSource(path)), 1):
            yield row
            if i in marks:
                out.append((25 * marks[i], rss_now_mib()))

    with open(os.devnull, "w", newline="") as sink:
        write_rows(sink, sampled(), len(COLUMNS), ex.csv_quoted_columns)
    return out


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
            results.append(("tshark -T fields (61 fields)", *run_tshark(path)))
        c0 = time.process_time()
        dt, n, st = run_ours(path)
        results.append(("edge-ids read+extract", dt, time.process_time() - c0))
        results.append(("edge-ids-agent features (CSV)", *run_command(path)))
        c0 = time.process_time()
        dt_ctx, _, _ = run_ours(path, "edge-iiotset-context")
        results.append(("read+extract edge-iiotset-context", dt_ctx, time.process_time() - c0))
        results.append(("features --kind edge-iiotset-context", *run_command(path, "edge-iiotset-context")))
        rss0 = rss_now_mib()
        marks = rss_checkpoints(path, frames)
        ref = results[0][1:] if results[0][0].startswith("tshark") else None
        print(f"{'':32} {'wall s':>8} {'frames/s':>10} {'x tshark':>9}   {'CPU s':>8} {'frames/s':>10} {'x tshark':>9}",
              file=rows)
        for name, secs, cpu in results:
            ratio = f"{ref[0] / secs:8.2f}x" if ref else "      n/a"
            cratio = f"{ref[1] / cpu:8.2f}x" if ref and cpu > 0 else "      n/a"
            cpu_rate = frames / max(cpu, 1e-9)
            wall_rate = frames / secs
            print(f"{name:32} {secs:8.2f} {wall_rate:10.0f} {ratio}   {cpu:8.2f} {cpu_rate:10.0f} {cratio}", file=rows)
        print(rows.getvalue(), end="")
        print(f"RSS during an in-process features run (start {rss0:.1f} MiB): "
              + ", ".join(f"{q}% {mib:.1f} MiB" for q, mib in marks))
        print(f"extractor stats: {st}")
        assert n == frames
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
