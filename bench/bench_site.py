"""Site baselines on real traffic: learn each car's or plant's normal, then replay attacks and clean logs.

can-site (../shared/captures/can-site): per car, learn from ``learn/``, replay every ``test/`` log
(false incidents per benign hour) and every attacked copy (found inside the sidecar's window with the
right family, and the delay from the window's start), through the shipped CAN config with the
baseline, as ``edge-ids-agent learn`` and ``replay --baseline`` do. It also times the test logs'
replay with and without the baseline (the detector's cost).

ics (../shared/captures/ics): learn from the benign captures of a network, then per capture what was
raised (see ``ICS_PLAN``).

    .venv/bin/python bench/bench_site.py [--only can|ics] [--out results.json]

A measurement, not a gate: it exits 0 when it ran, 2 when the shared captures are absent.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from agent.commands.learn import learn
from agent.commands.replay import replay, with_baseline
from agent.config import AgentConfig, load_config
from trainer.lab.sessions import ETH_FAMILY

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "captures"
CAN_SITE = SHARED / "can-site"
ICS = SHARED / "ics"
#: the CAN model's classes per family, as the can-site sidecars name them
FAMILY = {"DoS": "DoS", "SPOOFING": "Spoofing"}
#: ICS captures: (what to learn from, what to replay, what it is, the family expected or None for
#: traffic that must stay quiet). A part is (capture, from_s, until_s) in seconds from its first
#: frame; the shared captures hold few baselines of their own network, so several learn from the
#: start of the capture the attack is in, where its README says the traffic is still normal.
Part = tuple[str, float | None, float | None]
ICS_PLAN: list[tuple[list[Part], Part, str, str | None]] = [
    ([("modbus_gateway_polling_15min.pcap", None, 525.0)], ("modbus_gateway_polling_15min.pcap", 525.0, None),
     "gateway, one master: the last 40% after learning the first 60%", None),
    ([("modbus_plant141_polling_mixed.pcap", None, 12.8)], ("modbus_plant141_polling_mixed.pcap", 12.8, None),
     "plant 141.81.0.0/24 (Modbus, S7comm, CIP, SQL): the last 40%", None),
    ([("modbus_coil_write_loop.pcap", None, 29.0)], ("modbus_coil_write_loop.pcap", 29.0, None),
     "coil writes 24 a second: the second half", None),
    ([("s7_wincc_s400_production.pcapng", None, 4050.0)], ("s7_wincc_s400_production.pcapng", 4050.0, None),
     "WinCC HMI and S7-400: the second hour", None),
    ([("modbus_gateway_polling_15min.pcap", None, None)], ("modbus_gateway_polling_2min.pcap", None, None),
     "gateway: four masters never seen, one writing setpoints", "departure"),
    ([("modbus_quickdraw_part1_attacks.pcap", None, 15.0)], ("modbus_quickdraw_part1_attacks.pcap", None, None),
     "QuickDraw: diagnostics, device id, a second client writing", "information gathering"),
    ([("modbus_quickdraw_part2_fc_point_scan.pcap", None, 12.0)],
     ("modbus_quickdraw_part2_fc_point_scan.pcap", None, None), "function code sweep 0-127, coil scan",
     "information gathering"),
    ([("enip_cl5000_reboot_or_restart.pcap", None, 9.5)], ("enip_cl5000_reboot_or_restart.pcap", None, None),
     "CIP Set Attribute, Stop and Reset on an online session (CIP is not read)", "injection"),
    ([("dnp3_quickdraw_part2.pcap", None, 20.0)], ("dnp3_quickdraw_part2.pcap", None, None),
     "DNP3 Select and unknown objects on the same session (DNP3 is not read)", "information gathering"),
]


def config(path: str, state: Path, baseline: str | None = None) -> AgentConfig:
    cfg = load_config(str(REPO / path), ["mqtt.enabled=false", f"state_dir={state}", "logging.level=WARNING"])
    return with_baseline(cfg, baseline)


def incidents(jsonl: Path) -> list[dict[str, Any]]:
    """The start records of a replay's alerts."""
    if not jsonl.is_file():
        return []
    out = []
    for line in jsonl.read_text().splitlines():
        rec = json.loads(line)
        if rec["edge_ids"].get("phase") == "start":
            out.append(rec)
    return out


def ts_of(rec: dict[str, Any]) -> float:
    from datetime import datetime

    return datetime.fromisoformat(rec["edge_ids"]["first_seen"]).timestamp()


def replay_quiet(cfg: AgentConfig, path: Path, jsonl: Path) -> dict[str, Any]:
    with contextlib.redirect_stdout(io.StringIO()):
        _, stats = replay(cfg, str(path), jsonl=str(jsonl))
    return stats


def bench_can(tmp: Path) -> dict[str, Any]:
    manifest = [dict(zip(*(lambda rows: (rows[0], r))(rows), strict=False))
                for rows in [[ln.split("\t") for ln in (CAN_SITE / "MANIFEST.tsv").read_text().splitlines()]]
                for r in rows[1:]]
    results: dict[str, Any] = {"attacks": [], "benign": []}
    timing = {"with": 0.0, "without": 0.0, "frames": 0}
    for car in sorted({m["vehicle"] for m in manifest}):
        learn_files = [str(CAN_SITE / m["file"]) for m in manifest if m["vehicle"] == car and m["role"] == "learn"]
        out = tmp / f"baseline-{car}"
        learn(config("configs/can.yaml", tmp / "state"), learn_files, None, str(out))
        for m in manifest:
            if m["vehicle"] != car or m["role"] == "learn":
                continue
            path = CAN_SITE / m["file"]
            jsonl = tmp / f"{path.stem}.jsonl"
            jsonl.unlink(missing_ok=True)
            t0 = time.perf_counter()
            stats = replay_quiet(config("configs/can.yaml", tmp / "state", str(out)), path, jsonl)
            took = time.perf_counter() - t0
            starts = incidents(jsonl)
            if m["role"] == "test":
                jb = tmp / f"{path.stem}.nobaseline.jsonl"
                t1 = time.perf_counter()
                replay_quiet(config("configs/can.yaml", tmp / "state"), path, jb)
                timing["without"] += time.perf_counter() - t1
                timing["with"] += took
                timing["frames"] += stats["records_in"]
                results["benign"].append({"car": car, "file": m["file"], "seconds": float(m["duration_s"]),
                                          "incidents": [(r["edge_ids"]["class"], r["edge_ids"].get("evidence"))
                                                        for r in starts]})
                continue
            lo, hi = float(m["start"]), float(m["end"])
            right = [r for r in starts if FAMILY.get(r["edge_ids"]["class"]) == m["family"] and lo <= ts_of(r) <= hi]
            results["attacks"].append({
                "car": car, "file": m["file"], "attack": m["attack"], "found": bool(right),
                "delay_s": round(min(ts_of(r) for r in right) - lo, 3) if right else None,
                "classes": dict(Counter(r["edge_ids"]["class"] for r in starts)),
                "outside_window": sum(1 for r in starts if not lo - 1 <= ts_of(r) <= hi + 1),
            })
    results["timing"] = timing
    return results


def print_can(res: dict[str, Any]) -> None:
    print("can-site: attacks found inside their window with the right family")
    print(f"{'attack':<12} {'found':>7} {'median delay s':>15} {'incidents outside window':>25}")
    for kind in sorted({a["attack"] for a in res["attacks"]}):
        rows = [a for a in res["attacks"] if a["attack"] == kind]
        found = [a for a in rows if a["found"]]
        delay = statistics.median(a["delay_s"] for a in found) if found else float("nan")
        print(f"{kind:<12} {len(found):>3}/{len(rows):<3} {delay:>15.3f} {sum(a['outside_window'] for a in rows):>25}")
    hours = sum(b["seconds"] for b in res["benign"]) / 3600
    false = sum(len(b["incidents"]) for b in res["benign"])
    print(f"clean test logs: {len(res['benign'])} logs, {hours * 3600:.0f} s, {false} incidents "
          f"({false / hours if hours else 0:.2f} per benign hour)")
    for b in res["benign"]:
        for cls, ev in b["incidents"]:
            print(f"  false incident on {b['file']}: {cls} {ev or ''}")
    t = res["timing"]
    if t["without"]:
        print(f"replay of the clean test logs ({t['frames']:,} frames): {t['without']:.2f} s without the "
              f"baseline, {t['with']:.2f} s with it ({(t['with'] / t['without'] - 1) * 100:+.1f}%)")


def cut(part: Part, tmp: Path) -> Path:
    """The frames of ``part`` as a pcap of their own (the whole capture when no bounds)."""
    name, lo, hi = part
    if lo is None and hi is None:
        return ICS / name
    from scapy.utils import rdpcap, wrpcap

    frames = rdpcap(str(ICS / name))
    t0 = float(frames[0].time)
    kept = [f for f in frames if (lo is None or float(f.time) - t0 >= lo) and (hi is None or float(f.time) - t0 < hi)]
    out = tmp / f"{Path(name).stem}-{lo}-{hi}.pcap"
    wrpcap(str(out), kept)
    return out


def bench_ics(tmp: Path) -> list[dict[str, Any]]:
    rows = []
    for i, (learn_parts, test_part, what, family) in enumerate(ICS_PLAN):
        out = tmp / f"baseline-ics-{i}"
        learn(config("configs/ethernet.yaml", tmp / "state"), [str(cut(p, tmp)) for p in learn_parts], None, str(out))
        jsonl = tmp / f"ics-{i}.jsonl"
        jsonl.unlink(missing_ok=True)
        replay_quiet(config("configs/ethernet.yaml", tmp / "state", str(out)), cut(test_part, tmp), jsonl)
        starts = incidents(jsonl)
        raised = Counter(r["edge_ids"]["class"] for r in starts)
        families = {ETH_FAMILY.get(c, "other") for c in raised}
        if family is None:
            verdict = "quiet" if not raised else "FALSE ALERTS"
        elif family == "departure":
            verdict = "reported" if raised else "nothing"
        else:
            verdict = "hit" if family in families else "miss"
        rows.append({"capture": test_part[0], "part": test_part[1:], "what": what, "expected": family,
                     "raised": dict(raised), "verdict": verdict,
                     "evidence": [r["edge_ids"].get("evidence") for r in starts][:4]})
    return rows


def print_ics(rows: list[dict[str, Any]]) -> None:
    print("ics: learned on each network's benign capture, then per capture what was raised")
    for r in rows:
        print(f"  {r['capture']:<42} {r['what']}")
        print(f"  {'':<42} expected {r['expected'] or 'nothing':<22} {r['verdict']:<12} {r['raised']}")
        for ev in r["evidence"]:
            if ev:
                print(f"      {ev}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["can", "ics"])
    ap.add_argument("--out", help="write the results as JSON")
    args = ap.parse_args()
    if not CAN_SITE.is_dir() or not ICS.is_dir():
        print(f"skipped: {SHARED} has no can-site/ics captures", file=sys.stderr)
        return 2
    logging.disable(logging.WARNING)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "can"):
            results["can"] = bench_can(Path(tmp))
            print_can(results["can"])
        if args.only in (None, "ics"):
            results["ics"] = bench_ics(Path(tmp))
            print_ics(results["ics"])
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
