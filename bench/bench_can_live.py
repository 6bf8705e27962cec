"""Benchmark: live CAN at a saturated 1 Mbit/s bus's rate, read by CanBusSource and by python-can's bare loop.

A paced python-can ``udp_multicast`` sender (another process) sends ``--rate`` frames/s (default
9,000: a saturated 1 Mbit/s classic CAN bus) for ``--seconds`` (default 60), each payload carrying
a sequence number. It is read twice under the same load, in turn:

* ``CanBusSource``: the agent's live source (python-can bus + reconnect logic + CanFrame),
* ``python-can recv``: a bare ``bus.recv(timeout)`` loop, the reference for what the transport
  itself delivers.

Both run inside a network namespace with loopback only (nothing leaves the machine), so this needs
root. Reported per reader: frames sent/received, lost, out of order, duplicates, and the reader's
RSS after the first second and at the end (memory must stay flat).

    sudo .venv/bin/python bench/bench_can_live.py [--seconds 60] [--rate 9000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

GROUP = "239.74.163.88"
PORT = 43188


def rss_kib() -> int:
    """Resident set size of this process, KiB (from /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def run_sender(rate: float, seconds: float) -> None:
    """Send ``rate`` frames/s for ``seconds``, paced against the clock; print what was achieved."""
    import can

    bus = can.Bus(interface="udp_multicast", channel=GROUP, port=PORT)
    ids = [0x0C1, 0x0C5, 0x17D, 0x182, 0x185, 0x1E5, 0x1F5, 0x3C9, 0x4C1, 0x52A]
    total = int(rate * seconds)
    start = time.perf_counter()
    sent = 0
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            bus.send(can.Message(arbitration_id=ids[sent % len(ids)], data=sent.to_bytes(8, "big"),
                                 is_extended_id=False))
            sent += 1
        time.sleep(0.0005)
    took = time.perf_counter() - start
    bus.shutdown()
    print(json.dumps({"sent": sent, "seconds": took, "rate": sent / took}), flush=True)


def run_reader(kind: str, expected: int, idle_s: float) -> None:
    """Read until ``expected`` frames or ``idle_s`` without one; print counts and RSS as JSON."""
    import can

    seen = bytearray(expected)
    state = {"received": 0, "out_of_order": 0, "duplicates": 0, "last": -1, "t_last": time.monotonic(),
             "rss_first": 0, "rss_max": 0}
    t_first: list[float] = []

    def account(data: bytes) -> None:
        seq = int.from_bytes(data, "big")
        state["received"] += 1
        if seq < expected:
            if seen[seq]:
                state["duplicates"] += 1
            seen[seq] = 1
        if seq < state["last"]:
            state["out_of_order"] += 1
        state["last"] = seq
        state["t_last"] = time.monotonic()
        if not t_first:
            t_first.append(time.monotonic())
        elif not state["rss_first"] and time.monotonic() - t_first[0] > 1.0:
            state["rss_first"] = rss_kib()
        if not state["received"] & 0x3FFF:
            state["rss_max"] = max(state["rss_max"], rss_kib())

    bus = can.Bus(interface="udp_multicast", channel=GROUP, port=PORT)
    stop = threading.Event()

    def watchdog() -> None:
        while not stop.wait(0.2):
            if time.monotonic() - state["t_last"] > idle_s:
                stop.set()

    threading.Thread(target=watchdog, daemon=True).start()
    print("READY", flush=True)
    if kind == "ours":
        from agent.sources.canbus import CanBusSource

        source = CanBusSource({"interface": "udp_multicast"}, recv_timeout_s=0.1, bus_factory=lambda: bus)
        threading.Thread(target=lambda: (stop.wait(), source.stop()), daemon=True).start()
        for frame in source:
            account(frame.data)
            if state["received"] >= expected:
                break
        source.close()
        extra = source.stats()
    else:
        while not stop.is_set():
            msg = bus.recv(0.1)
            if msg is None:
                continue
            account(bytes(msg.data))
            if state["received"] >= expected:
                break
        bus.shutdown()
        extra = {}
    stop.set()
    state["rss_end"] = rss_kib()
    state["rss_max"] = max(state["rss_max"], state["rss_end"])
    state["unique"] = sum(seen)
    state.pop("t_last")
    print(json.dumps({**state, "source_stats": extra}), flush=True)


def run_pair(netns: str, kind: str, rate: float, seconds: float) -> tuple[dict, dict]:
    """One reader and one sender in the namespace; returns (sender report, reader report)."""
    me = [sys.executable, str(Path(__file__).resolve())]
    expected = int(rate * seconds)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    reader = subprocess.Popen(
        ["ip", "netns", "exec", netns, *me, "--role", f"reader-{kind}", "--expected", str(expected)],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    assert reader.stdout is not None
    line = reader.stdout.readline().strip()
    if line != "READY":
        reader.kill()
        raise SystemExit(f"reader did not start: {line!r}")
    time.sleep(0.3)
    sender = subprocess.run(
        ["ip", "netns", "exec", netns, *me, "--role", "sender", "--rate", str(rate), "--seconds", str(seconds)],
        capture_output=True, text=True, env=env, check=True,
    )
    out, _ = reader.communicate(timeout=seconds + 60)
    return json.loads(sender.stdout.strip().splitlines()[-1]), json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=9000.0, help="frames/s sent")
    parser.add_argument("--role", choices=["main", "sender", "reader-ours", "reader-bare"], default="main")
    parser.add_argument("--expected", type=int, default=0)
    args = parser.parse_args(argv)
    if args.role == "sender":
        run_sender(args.rate, args.seconds)
        return 0
    if args.role.startswith("reader-"):
        run_reader(args.role.removeprefix("reader-"), args.expected, idle_s=3.0)
        return 0

    if os.geteuid() != 0:
        print("needs root: it creates a network namespace (ip netns add)", file=sys.stderr)
        return 1
    try:
        import msgpack  # noqa: F401
    except ImportError:
        print("python-can's udp_multicast interface needs msgpack (pip install msgpack)", file=sys.stderr)
        return 1
    netns = f"edgeids-canbench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", netns, "route", "add", "224.0.0.0/4", "dev", "lo"], check=True)
        results = []
        for kind, label in (("bare", "python-can bare recv (reference)"), ("ours", "CanBusSource")):
            sender, reader = run_pair(netns, kind, args.rate, args.seconds)
            results.append((label, sender, reader))
    finally:
        subprocess.run(["ip", "netns", "delete", netns], check=False)

    print(f"\nudp_multicast in a loopback-only netns, {args.rate:,.0f} frames/s target for {args.seconds:g} s\n")
    print(f"{'reader':<34} {'sent':>9} {'rate/s':>8} {'received':>9} {'lost':>7} {'loss %':>7} "
          f"{'reorder':>7} {'dup':>4} {'RSS@1s MiB':>10} {'RSS end':>8}")
    ok = True
    for label, sender, reader in results:
        lost = sender["sent"] - reader["unique"]
        print(f"{label:<34} {sender['sent']:>9,} {sender['rate']:>8,.0f} {reader['received']:>9,} {lost:>7,} "
              f"{100 * lost / sender['sent']:>6.3f}% {reader['out_of_order']:>7} {reader['duplicates']:>4} "
              f"{reader['rss_first'] / 1024:>10.1f} {reader['rss_end'] / 1024:>8.1f}")
        if label == "CanBusSource":
            ok = lost == 0
            print(f"\nCanBusSource stats: {reader['source_stats']}")
    print("zero loss" if ok else "LOSS: compare with the bare python-can loop above (transport drops)")
    return 0 if ok else 2


if __name__ == "__main__":
    raise SystemExit(main())
