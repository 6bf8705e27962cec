"""``edge-ids-trainer generate``: labelled lab traffic (pcaps or CAN logs) split into capture sessions."""

from __future__ import annotations

import argparse
import logging
import time

HELP = "generate labelled lab traffic: Ethernet pcaps (Edge-IIoTset classes) or CAN logs (CICIoV2024 classes)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=["ethernet", "can"], required=True, help="which network to generate")
    parser.add_argument("--out", required=True, help="output directory (created)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, byte-identical output")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="size of each capture session (1.0: ~10 min of Ethernet / ~3 min of CAN); 0.05 for CI")
    parser.add_argument("--sessions", type=int, default=6,
                        help="capture sessions (sites / vehicles), each holding every class")
    parser.add_argument("--no-published-csv", action="store_true",
                        help="Ethernet: skip the Edge-IIoTset-schema CSVs made with the agent's extractor")
    parser.add_argument("--plant-floor", action="store_true",
                        help="Ethernet: add benign plant-floor traffic (S7comm, EtherNet/IP, DNP3, OPC UA, IEC 104 "
                             "polling; PROFINET/EtherCAT/ENIP cyclic I/O; GOOSE, PTP, SNMP, syslog, discovery)")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.sessions < 1 or args.scale <= 0:
        raise SystemExit("--sessions must be >= 1 and --scale > 0")
    t = time.perf_counter()
    if args.kind == "ethernet":
        from trainer.lab.ethernet.session import write_sessions
        manifest = write_sessions(args.out, args.seed, args.scale, args.sessions,
                                  published_csv=not args.no_published_csv, plant_floor=args.plant_floor)
    else:
        from trainer.lab.can import write_sessions as write_can
        manifest = write_can(args.out, args.seed, args.scale, args.sessions)
    totals: dict[str, int] = {}
    for s in manifest["sessions"]:
        for k, v in s["counts"].items():
            totals[k] = totals.get(k, 0) + v
    log.info("%s: %d capture sessions, %d frames in %.1f s -> %s", args.kind, len(manifest["sessions"]),
             sum(totals.values()), time.perf_counter() - t, args.out)
    for k in manifest["classes"]:
        log.info("  %-22s %8d", k, totals.get(k, 0))
    return 0
