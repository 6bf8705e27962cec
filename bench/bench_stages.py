"""Where end-to-end time goes: the replay path split by stage and by protocol, on mixed traffic.

Runs the stages ``replay`` runs, one after the other on the same batches of 512 records, timing each:
reading the capture, feature extraction, each rule and detector beside the model, preprocessing,
cutting windows, int8 scoring, and the content rules' judgement plus the alert policy. Extraction is
also timed frame by frame and summed per protocol (the frame's application protocol, else its
transport). The input is one lab Ethernet session with every class and the plant-floor protocols
(``edge-ids-trainer generate --seed 7 --scale 0.2 --plant-floor``), or ``--input FILE`` (a CAN log
with ``--config configs/can.yaml``: read and extracted by the batch, as the replay does); with
``--baseline`` a site baseline learned from the same capture runs too. Each later change to the hot
path shows its cost here.

    .venv/bin/python bench/bench_stages.py [--input FILE] [--config configs/ethernet.yaml] [--baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import itertools
import logging
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from agent.canbatch import CanBatch
from agent.commands.learn import learn
from agent.commands.replay import replay_config
from agent.config import load_config
from agent.runtime.counters import Counters
from agent.runtime.pipeline import build_scoring, explained, listed_rows, open_source
from agent.runtime.pipeline import extract as extract_batch

REPO = Path(__file__).resolve().parent.parent
BATCH = 512


def lab_capture(tmp: Path) -> Path:
    subprocess.run([sys.executable, "-m", "trainer", "generate", "--kind", "ethernet", "--out", str(tmp / "lab"),
                    "--seed", "7", "--scale", "0.2", "--sessions", "1", "--plant-floor", "--no-published-csv"],
                   check=True, capture_output=True)
    return tmp / "lab" / "capture00.pcap"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, help="capture or CAN log to replay (default: a lab Ethernet session)")
    ap.add_argument("--config", default=str(REPO / "configs" / "ethernet.yaml"))
    ap.add_argument("--baseline", action="store_true", help="also run a site baseline learned from the capture")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        pcap = args.input or lab_capture(t)
        cfg = load_config(args.config, ["mqtt.enabled=false", f"state_dir={t / 'state'}", "logging.level=WARNING"])
        if args.baseline:
            with contextlib.redirect_stdout(io.StringIO()):
                learn(cfg, [str(pcap)], None, str(t / "baseline"))
            cfg = dataclasses.replace(cfg, baseline=dataclasses.replace(cfg.baseline, path=str(t / "baseline")))
        cfg = replay_config(cfg, str(pcap))
        sc = build_scoring(cfg, None, Counters(None), with_sinks=False)
        spent: dict[str, float] = defaultdict(float)
        by_proto: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        clock = time.perf_counter

        source = open_source(cfg)
        by_batch = hasattr(sc.extractor, "batch_with_context")  # CAN: read and extracted by the batch
        t0 = clock()
        if by_batch and hasattr(source, "iter_batches"):
            records = CanBatch.concat(list(source.iter_batches()))
        else:
            records = list(source)
        spent["read (source)"] = clock() - t0
        fields = list(sc.context_fields)
        proto_at = fields.index("proto") if "proto" in fields else None
        app_at = fields.index("app_proto") if "app_proto" in fields else None
        alerts = 0
        it = iter(records)
        for lo in itertools.count(0, BATCH):
            if by_batch:  # as the pipeline does: the whole batch in one call
                batch = records[lo : lo + BATCH]
                if not len(batch):
                    break
                t0 = clock()
                matrix, ctxs = extract_batch(sc.extractor, batch)
                spent["extract"] += clock() - t0
                by_proto["CAN"][0] += len(matrix)
                by_proto["CAN"][1] += clock() - t0
                rows = matrix if not sc.rules else listed_rows(sc.extractor, matrix)
            elif not (batch := list(itertools.islice(it, BATCH))):
                break
            else:
                rows, ctxs = [], []
            for rec in [] if by_batch else batch:
                t0 = clock()
                pairs = list(sc.extractor.rows_with_context((rec,)))
                took = clock() - t0
                spent["extract"] += took
                for row, ctx in pairs:
                    rows.append(row)
                    ctxs.append(ctx)
                    name = str((ctx[app_at] if app_at is not None else None)
                               or (ctx[proto_at] if proto_at is not None else None) or "other (L2)")
                    by_proto[name][0] += 1
                    by_proto[name][1] += took / len(pairs)
            findings = []
            for rule in sc.rules:
                t0 = clock()
                findings += rule.scan(rows, ctxs)
                spent[f"rule {rule.name}"] += clock() - t0
            if sc.keep is None:
                kept_rows, kept_ctxs = rows, ctxs
            else:
                kept = [i for i, r in enumerate(rows) if sc.keep(r)]
                kept_rows, kept_ctxs = [rows[i] for i in kept], [ctxs[i] for i in kept]
            t0 = clock()
            x = sc.preprocessor.transform(kept_rows)
            spent["preprocess"] += clock() - t0
            t0 = clock()
            wb = sc.windower.push(x, kept_ctxs)
            spent["windows"] += clock() - t0
            if not len(wb):
                continue
            t0 = clock()
            probs = sc.scorer.predict_proba(wb.inputs)
            spent["score (int8)"] += clock() - t0
            t0 = clock()
            explained(sc, wb, probs)
            for f in findings:
                alerts += len(sc.policy.observe_finding(f, "rule"))
            for i in range(len(wb)):
                alerts += len(sc.policy.observe(wb.keys[i], probs[i], float(wb.first_ts[i]), float(wb.last_ts[i]),
                                                dict(zip(fields, wb.contexts[i], strict=False)), int(wb.index[i])))
            spent["judge + policy"] += clock() - t0
    total = sum(spent.values())
    frames = len(records)
    print(f"input: {pcap.name if args.input else 'lab session'}, {frames:,} frames; {total:.2f} s in all stages "
          f"({frames / total:,.0f} frames/s, single thread, extraction timed "
          f"{'by the batch' if by_batch else 'frame by frame'})")
    print(f"{'stage':<32}{'seconds':>9}{'share':>8}{'us/frame':>10}")
    for name, s in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"{name:<32}{s:9.3f}{s / total:8.1%}{s / frames * 1e6:10.2f}")
    print(f"\n{'extraction by protocol':<32}{'frames':>9}{'us/frame':>10}{'share':>8}")
    extract = spent["extract"] or 1.0
    for name, (n, s) in sorted(by_proto.items(), key=lambda kv: -kv[1][1]):
        print(f"{name:<32}{int(n):9,}{s / max(1, n) * 1e6:10.2f}{s / extract:8.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
