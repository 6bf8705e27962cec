"""``edge-ids-agent replay``: score a capture or CAN log through the same pipeline as the daemon.

By default the file is read as fast as scoring goes, with back-pressure (nothing is dropped: the
result depends only on the file). ``--rate N`` or ``--realtime`` pace it like live traffic; then the
queue drops when scoring falls behind, exactly as on a gateway, and the summary says how many.
The run ends when the input is done and the sinks have delivered, or after ``mqtt.drain_grace_s``
with no broker reachable (the MQTT outbox keeps the rest for the next run). ``--offline`` replays
with any config, a production one included, on a machine without its broker or paths.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from agent.commands import add_config_arguments, config_from_args
from agent.config import AgentConfig
from agent.errors import ConfigError
from agent.log import setup_logging
from agent.runtime import Pacer, Pipeline, build_scoring, serve
from agent.runtime.pipeline import replace_source
from agent.sources import file_backend, first_record
from agent.validate import FIX_FOR_CAN, FIX_FOR_ETHERNET, is_can_kind

HELP = "score a pcap/pcapng capture or a CAN log through the agent's pipeline and print a summary"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "the summary's counters:\n" + counters_help()
    add_config_arguments(parser)
    parser.add_argument("--input", "-i", required=True, help="capture (.pcap/.pcapng) or CAN log file")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=positive_float, help="replay at this many records per second (drops are real)")
    pace.add_argument("--realtime", action="store_true", help="replay at the capture's own timing")
    parser.add_argument("--offline", action="store_true",
                        help="no broker and no production paths: MQTT and the config's JSONL file off, state in a "
                             "temporary directory (unless --set state_dir=...), alerts to --jsonl or, without it, "
                             "printed on standard output")
    parser.add_argument("--jsonl", help="also write every alert to this JSON-lines file")
    parser.add_argument("--baseline", help="detect with this learned site baseline (config baseline.path)")
    parser.add_argument("--stats-json", help="write the final counters to this JSON file")
    parser.add_argument("--quiet", "-q", action="store_true", help="no summary table")


class ClassCountSink:
    """Counts incidents and alert records per class for the summary (a sink beside the configured ones).

    Why incidents: an attack is announced by a ``start`` record and closed by an ``end`` record (with
    ``update`` records between for a long one); counting records made one attack read as two.
    """

    def __init__(self) -> None:
        self.by_class: Counter[str] = Counter()
        self.incidents: dict[str, set[str]] = {}

    def emit(self, alert: dict[str, Any]) -> None:
        edge = alert.get("edge_ids") or {}
        cls = str(edge.get("class") or (alert.get("alert") or {}).get("signature", "?"))
        self.by_class[cls] += 1
        self.incidents.setdefault(cls, set()).add(str(edge.get("incident_id") or alert.get("alert_id")))

    def incidents_by_class(self) -> dict[str, int]:
        """Incidents per class."""
        return {cls: len(ids) for cls, ids in self.incidents.items()}

    def flush(self, timeout_s: float) -> bool:
        return True

    def stats(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        """Nothing to release."""


#: every counter of the summary, explained once (``replay --help`` and the demo's footnote)
COUNTERS: tuple[tuple[str, str], ...] = (
    ("records in", "frames (Ethernet) or CAN frames read from the input"),
    ("scored / not scored", "records the model scored / records its bundle leaves to the rules (frames that carry "
                            "no protocol field the model reads); in = scored + not scored + dropped"),
    ("malformed", "frames whose headers are cut short or inconsistent (still scored, with the fields that "
                  "could be read), and CAN log lines skipped with source.on_malformed: skip"),
    ("dropped (kernel / queue)", "records lost before scoring: by the capture socket / because scoring fell "
                                 "behind (only live or with --rate/--realtime)"),
    ("windows scored", "model inputs: each is a run of consecutive records of one stream"),
    ("incidents", "attacks announced: one per class and attacker/victim, from its start to its end"),
    ("alert records", "what sinks receive for those incidents: a start and an end record each, updates between "
                      "for long ones"),
    ("published / queued / dropped", "alert records delivered over MQTT / waiting in the outbox / given up"),
    ("inference p50 / p99", "time the model takes per batch of windows, median and 99th percentile"),
)


def counters_help() -> str:
    """The explanation of every summary counter, one per line."""
    width = max(len(k) for k, _ in COUNTERS)
    pad = " " * (width + 4)
    return "\n".join(textwrap.fill(v, 100, initial_indent=f"  {k:<{width}}  ", subsequent_indent=pad)
                     for k, v in COUNTERS)


def positive_float(text: str) -> float:
    """argparse type: a number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def replay_config(cfg: AgentConfig, input_path: str, config_name: str | None = None) -> AgentConfig:
    """``cfg`` reading ``input_path`` with the file backend that fits it (pcap or canlog).

    Checked before any model loads: the file exists, its records are the kind the config's features
    read (a CAN log with an Ethernet config says so and names the fix), and its first record reads.
    """
    path = Path(input_path)
    if not path.is_file():
        raise ConfigError(f"--input {input_path}: no such file")
    backend = file_backend(path)
    kind = cfg.features.kind
    if (backend == "canlog") != is_can_kind(kind):
        config = config_name or "the config"
        if backend == "canlog":
            what, reads, fix = "a CAN log (not a pcap/pcapng capture)", "Ethernet", FIX_FOR_CAN
        else:
            what, reads, fix = "an Ethernet capture", "CAN", FIX_FOR_ETHERNET
        raise ConfigError(f"--input {input_path} is {what}, but {config} sets features.kind {kind!r}, which "
                          f"reads {reads} frames; replay it with {fix}")
    cfg = replace_source(cfg, backend=backend, path=str(path))
    first_record(backend, cfg.source)
    return cfg


def with_baseline(cfg: AgentConfig, path: str | None) -> AgentConfig:
    """``cfg`` detecting with the baseline in ``path`` (``--baseline``), checked before anything starts."""
    if path is None:
        return cfg
    if not Path(path).exists():
        raise ConfigError(f"--baseline {path}: no such directory")
    return dataclasses.replace(cfg, baseline=dataclasses.replace(cfg.baseline, path=path))


def replay(
    cfg: AgentConfig,
    input_path: str,
    rate: float | None = None,
    realtime: bool = False,
    jsonl: str | None = None,
    restamp: bool = False,
    config_name: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """Run one replay; returns (exit status, summary dict with counters, elapsed and alerts by class).

    :param config_name: the config file, for messages about an input that does not fit it.
    """
    cfg = replay_config(cfg, input_path, config_name)
    counter = ClassCountSink()
    extra: list[Any] = [counter]
    paced = rate is not None or realtime
    pacer = Pacer(rate=rate, realtime=realtime, restamp=restamp) if paced or restamp else None
    pipeline = Pipeline(
        cfg,
        mode="drop" if paced else "block",
        pacer=pacer,
        scoring_factory=lambda c, prev, counters: build_scoring(c, prev, counters, extra_sinks=extra, jsonl_path=jsonl),
    )
    t0 = time.perf_counter()
    rc = serve(pipeline, load_config=None)
    elapsed = time.perf_counter() - t0
    stats = pipeline.counters.snapshot()
    stats["elapsed_s"] = round(elapsed, 3)
    stats["records_per_s"] = round(stats["records_in"] / elapsed, 1) if elapsed > 0 else 0.0
    stats["alerts_by_class"] = dict(counter.by_class)
    stats["incidents_by_class"] = counter.incidents_by_class()
    stats["incidents"] = sum(stats["incidents_by_class"].values())
    stats["input"] = str(input_path)
    stats["model"] = pipeline.scoring.model_name if pipeline.scoring else None
    stats["window_size"] = pipeline.scoring.windower.size if pipeline.scoring else None
    error = pipeline.capture.error if pipeline.capture is not None else None
    stats["input_error"] = str(error) if error is not None else None
    return rc, stats


def print_summary(stats: dict[str, Any], out: TextIO | None = None) -> None:
    """The summary table a person reads after a replay (its counters: :data:`COUNTERS`)."""
    out = out if out is not None else sys.stdout
    rows = [
        ("input", stats.get("input")),
        ("model", stats.get("model")),
        ("records in", stats["records_in"]),
        ("records scored / not scored", f"{stats['records_scored']} / {stats.get('records_unscored', 0)}"),
        ("malformed", stats["malformed"]),
        ("dropped (kernel / queue)", f"{stats['dropped_kernel']} / {stats['dropped_queue']}"),
        ("windows scored", stats["windows_scored"]),
        ("incidents / alert records", f"{stats.get('incidents', 0)} / {stats['alerts_raised']}"),
        ("alert records published / queued / dropped",
         f"{stats['alerts_published']} / {stats['alerts_queued']} / {stats['alerts_dropped']}"),
        ("inference p50 / p99 (ms per batch)", f"{stats['inference_p50_ms']:.3f} / {stats['inference_p99_ms']:.3f}"),
        ("elapsed (s)", f"{stats['elapsed_s']:.2f}"),
        ("records / s", f"{stats['records_per_s']:,.0f}"),
        ("RSS (MB)", stats["rss_mb"]),
    ]
    records = stats.get("alerts_by_class", {})
    for cls, n in sorted(stats.get("incidents_by_class", {}).items(), key=lambda kv: (-kv[1], kv[0])):
        rows.append((f"  incidents: {cls}", f"{n} ({records.get(cls, 0)} records)"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}", file=out)
    if stats.get("input_error"):
        print(f"note: the input stopped early ({stats['input_error']}); the {stats['records_in']:,} records "
              "read before it were all scored and their alerts delivered", file=out)
    size = stats.get("window_size")
    if stats["records_scored"] and not stats["windows_scored"] and size:
        print(f"note: every stream held fewer records than one model window ({size}): nothing was scored; "
              "a capture this short cannot raise an alert", file=out)


def _set_keys(overrides: list[str]) -> set[str]:
    """The dotted keys given with ``--set``."""
    return {text.partition("=")[0].strip() for text in overrides}


def offline_config(cfg: AgentConfig, overrides: list[str], state_dir: str, jsonl: str | None) -> AgentConfig:
    """``cfg`` for ``replay --offline``: what needs a broker or a gateway's paths is off.

    Why: the first thing an integrator tries is a production config on a capture of their own, on
    a laptop; the broker, its password file and /var/lib are not there. A key given with ``--set``
    is kept as given (``--set state_dir=S`` keeps the state, ``--set sinks.jsonl.path=F`` the file).
    """
    keys = _set_keys(overrides)
    sinks = cfg.sinks
    if "sinks.jsonl.path" not in keys:
        sinks = dataclasses.replace(sinks, jsonl=dataclasses.replace(sinks.jsonl, path=None))
    if "sinks.console" not in keys:
        sinks = dataclasses.replace(sinks, console=jsonl is None and not sinks.jsonl.path)
    return dataclasses.replace(
        cfg,
        state_dir=cfg.state_dir if "state_dir" in keys else state_dir,
        mqtt=dataclasses.replace(cfg.mqtt, enabled=False),
        sinks=sinks,
        runtime=dataclasses.replace(cfg.runtime, prometheus_port=None),
    )


def run(args: argparse.Namespace) -> int:
    cfg = with_baseline(config_from_args(args), args.baseline)
    setup_logging(cfg.logging.level, cfg.logging.json)
    with tempfile.TemporaryDirectory(prefix="edge-ids-replay-") as scratch:
        if args.offline:
            cfg = offline_config(cfg, args.overrides, scratch, args.jsonl)
        rc, stats = replay(cfg, args.input, rate=args.rate, realtime=args.realtime, jsonl=args.jsonl,
                           config_name=args.config)
    if args.stats_json:
        Path(args.stats_json).write_text(json.dumps(stats, indent=2, default=str) + "\n")
    if not args.quiet:
        print_summary(stats)
    return rc
