"""The batch path of CAN replay: the chunk reader, the batch features and the batch hand-over equal
the frame-by-frame path, frame for frame and row for row."""

from __future__ import annotations

import gzip
import queue
import random
import sys
from pathlib import Path

import can
import numpy as np
import pytest

from agent.canbatch import CanBatch, CanContexts
from agent.errors import CaptureError
from agent.features.can_temporal import CanTemporalExtractor
from agent.records import CanFrame
from agent.runtime.capture import END, Batcher, CaptureThread
from agent.runtime.counters import Counters
from agent.sources.candump_chunk import _fixed_seconds, parse_plain_chunk
from agent.sources.canlog import CanLogSource
from agent.windows import Windower

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_can_features import random_bus
from test_canlog import assert_same_as_python_can, crafted_messages, write_log


def shared_logs(shared_captures: Path) -> list[Path]:
    logs = sorted((shared_captures / "can-site").glob("**/*.log")) + sorted((shared_captures / "can").glob("*.log"))
    if not logs:
        pytest.skip("no candump logs among the shared captures")
    return logs


def batched(source: CanLogSource, **kw: int) -> list[CanFrame]:
    return [f for b in source.iter_batches(**kw) for f in b]


# ------------------------------------------------------------------------------------------------
# reader
# ------------------------------------------------------------------------------------------------


def test_batch_reader_equals_line_reader_and_python_can_on_shared_logs(shared_captures: Path) -> None:
    for path in shared_logs(shared_captures):
        lines, batches = CanLogSource(path), CanLogSource(path)
        frames = batched(batches)
        assert frames == list(lines), path
        assert batches.stats() == lines.stats(), path
        assert_same_as_python_can(frames, list(can.LogReader(str(path))), path.name)


def test_gzipped_log_by_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "crafted.log"
    write_log(path, crafted_messages())
    gz = tmp_path / "crafted.log.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert batched(CanLogSource(gz), chunk_chars=128) == list(CanLogSource(path))


@pytest.mark.parametrize("chunk", [64, 300, 1 << 18])
def test_batch_reader_equals_line_reader_on_every_frame_kind(tmp_path: Path, chunk: int) -> None:
    """Remote, FD, error frames, 29-bit ids and two channels among plain frames, chunks cut anywhere."""
    path = tmp_path / "crafted.log"
    write_log(path, crafted_messages())
    text = path.read_text()
    plain = "".join(f"({1_700_000_100 + i / 1000:.6f}) can1 {0x100 + i % 7:03X}#{'AB' * (i % 9)}\n"
                    for i in range(500))
    path.write_text(plain + text + "\n" + plain.replace("can1", "can0") + text.rstrip("\n"))  # no final newline
    frames = list(CanLogSource(path))
    assert len(frames) > 1000
    assert batched(CanLogSource(path), chunk_chars=chunk) == frames


@pytest.mark.parametrize("every", [1, 3, 700])
def test_sporadic_remote_and_fd_frames_among_plain_ones(tmp_path: Path, every: int) -> None:
    """A chunk with a few frames that are not plain is still read in runs, in order."""
    path = tmp_path / "mixed.log"
    odd = ["123#R", "1F334455##1AABB", "20000080#0000000000000000"]  # remote, FD, error frame
    path.write_text("".join(
        f"({1_700_000_000 + i / 1000:.6f}) can0 "
        f"{odd[i // every % 3] if i % every == every - 1 else f'{0x100 + i % 9:03X}#{i % 256:02X}'}\n"
        for i in range(5000)))
    lines, batches = CanLogSource(path), CanLogSource(path)
    frames = list(lines)
    assert batched(batches) == frames
    assert batches.stats() == lines.stats() and lines.stats()["remote_frames"] > 0


def test_plain_chunk_declines_lines_that_only_add_up() -> None:
    """Two malformed lines whose fields would make two frames if counted across lines."""
    text = "(1.000000) can0 123\n(2.000000) can0 #456#11\n"
    assert parse_plain_chunk(text, 2) is None
    good = "(1.000000) can0 123#11\n(2.000000) can0 1FFFFFFF#\n"
    batch = parse_plain_chunk(good, 2)
    assert batch is not None and batch.frames() == [
        CanFrame(1.0, 0x123, b"\x11", 1, False, False, False, False, "can0"),
        CanFrame(2.0, 0x1FFFFFFF, b"", 0, True, False, False, False, "can0"),
    ]
    for odd in ("(1.000000) can0 123#1\n", "(1.000000) can0 2FFFFFFF#00\n", "(1.000000) can0 123##100\n",
                "(1.000000) can0 123#R\n", "\n", "(1.000000) can0 123#00 R\n"):
        assert parse_plain_chunk(odd, 1) is None, odd


def test_fixed_width_timestamps_read_as_float_reads_them() -> None:
    rng = random.Random(3)
    for digits in (3, 6, 9):
        stamps = [f"{rng.randrange(10**(15 - digits))}.{rng.randrange(10**digits):0{digits}d}" for _ in range(2000)]
        width = max(map(len, stamps))
        tokens = [f"({s.rjust(width, '0')})" for s in stamps]
        got = _fixed_seconds(tokens, len(tokens))
        assert got is not None
        assert got.tolist() == [float(t[1:-1]) for t in tokens]
    assert _fixed_seconds(["(1.5)", "(12.5)"], 2) is None  # widths differ: read by float
    assert _fixed_seconds(["(1.5)", "(1x5)"], 2) is None
    assert _fixed_seconds(["(9999999999.999999999)"], 1) is None  # above 2**53 as an integer: read by float


def _bad_log(tmp_path: Path, plain: int) -> Path:
    lines = [f"(1700000000.{i:06d}) can0 123#{i % 256:02X}" for i in range(plain)]
    path = tmp_path / "bad.log"
    path.write_text("\n".join([*lines, "(1700000001.000000) can0 123#01GG", "(1700000001.000001) can0 124#00"]) + "\n")
    return path


@pytest.mark.parametrize(("plain", "chunk"), [(2, 4096), (3000, 4096), (3000, 1 << 18)])
def test_malformed_line_names_file_and_line_after_every_frame_before_it(tmp_path: Path, plain: int,
                                                                        chunk: int) -> None:
    path = _bad_log(tmp_path, plain)
    got: list[CanFrame] = []
    with pytest.raises(CaptureError, match=rf"{path}:{plain + 1}: malformed"):
        for b in CanLogSource(path).iter_batches(chunk_chars=chunk):
            got.extend(b)
    assert len(got) == plain  # nothing before the bad line is lost
    source = CanLogSource(path, on_malformed="skip")
    assert [f.arbitration_id for f in batched(source)][-1] == 0x124
    assert source.stats()["malformed"] == 1 and source.stats()["frames"] == plain + 1


def test_can_batch_round_trip() -> None:
    frames = [f for f in random_bus(5, 300)] + [CanFrame(9.0, 0x1234567, bytes(range(64)), 64, True, True)]
    batch = CanBatch.from_frames(frames)
    assert list(batch) == frames
    assert batch[-1] == frames[-1] and batch[3] == frames[3]
    assert list(CanBatch.concat([batch[:100], batch[100:]])) == frames


# ------------------------------------------------------------------------------------------------
# features
# ------------------------------------------------------------------------------------------------


def test_batch_features_equal_frame_by_frame() -> None:
    """One frame per call (a quiet live bus) and whole batches give the same rows, bit for bit."""
    frames = random_bus(11, 1500)
    one = CanTemporalExtractor(window_s=0.5, warmup_s=2.0)
    singly = [row for f in frames for row in one.rows([f])]
    many = CanTemporalExtractor(window_s=0.5, warmup_s=2.0)
    matrix, ctxs = many.batch_with_context(CanBatch.from_frames(frames))
    assert many.listed(matrix) == singly
    assert list(ctxs) == [(f.ts, f.channel, f.arbitration_id) for f in frames if not f.is_error and not f.is_remote]
    assert one.stats() == many.stats()


#: sha256 of the rows and counters below as computed by the per-frame implementation this replaced
#: (commit 546c5e8): the batch path must give the very same floats, not merely close ones
PER_FRAME_DIGEST = "f5ce0a1559fff5e7a47e3b528cc504b9ed12d1ee052ed188e10b6ead12b4f11c"


def test_batch_features_equal_the_per_frame_implementation_bit_for_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Id pooling, a window over its cap, entropy resyncs, CAN FD payloads and a clock step back."""
    import hashlib
    import json

    import agent.features.can_temporal as ct

    monkeypatch.setattr(ct, "MAX_WINDOW_FRAMES", 300)
    monkeypatch.setattr(ct, "RESYNC_FRAMES", 1000)
    frames = random_bus(7, 6000) + [CanFrame(200 + i * 1e-4, i % 5, bytes([i % 256]) * (i % 9), i % 9)
                                    for i in range(3000)]
    frames += [CanFrame(100 + i * 1e-3, 0x10 + i % 3, bytes([i % 256, 1]) * (i % 33), 2 * (i % 33), is_fd=True)
               for i in range(500)]
    x = ct.CanTemporalExtractor(max_ids=10, window_s=0.5, warmup_s=2.0)
    rows = list(x.rows(frames))
    assert x.stats()["window_overflow"] and x.stats()["pooled_frames"] and x.stats()["clock_steps_back"]
    assert hashlib.sha256(json.dumps([rows, x.stats()]).encode()).hexdigest() == PER_FRAME_DIGEST


def test_batch_features_do_not_depend_on_the_cuts(shared_captures: Path) -> None:
    path = shared_captures / "can-site" / "attacks" / "camaro" / "reverse__dos.log"
    if not path.exists():
        pytest.skip("attacked camaro log not present")
    batch = CanBatch.concat(list(CanLogSource(path).iter_batches()))
    whole = CanTemporalExtractor(max_ids=40, window_s=1.0, warmup_s=5.0)  # few ids: some are pooled
    want, _ = whole.batch_with_context(batch)
    rng = random.Random(2)
    cut = CanTemporalExtractor(max_ids=40, window_s=1.0, warmup_s=5.0)
    parts, lo = [], 0
    while lo < len(batch):
        hi = lo + rng.choice([1, 2, 7, 512, 3000])
        parts.append(cut.batch_with_context(batch[lo:hi])[0])
        lo = hi
    assert np.array_equal(np.concatenate(parts), want)
    assert whole.stats() == cut.stats() and whole.stats()["pooled_frames"] > 0


def test_windows_of_columnar_contexts_equal_those_of_tuples() -> None:
    frames = [f._replace(channel=f"can{i % 3 // 2}") for i, f in enumerate(random_bus(4, 3000))
              if not f.is_error and not f.is_remote]  # two streams, of unequal share
    rows = np.random.default_rng(1).random((len(frames), 3)).astype(np.float32)
    ctxs = CanContexts(np.array([f.ts for f in frames]), [f.channel for f in frames],
                       np.array([f.arbitration_id for f in frames]))
    a = Windower("window", 3, 16, 8, "channel", ("ts", "channel", "arbitration_id"))
    b = Windower("window", 3, 16, 8, "channel", ("ts", "channel", "arbitration_id"))
    for lo in range(0, len(frames), 500):
        wa = a.push(rows[lo : lo + 500], list(ctxs)[lo : lo + 500])
        wb = b.push(rows[lo : lo + 500], ctxs[lo : lo + 500])
        assert np.array_equal(wa.inputs, wb.inputs) and wa.contexts == wb.contexts
        assert np.array_equal(wa.last_ts, wb.last_ts) and wa.keys == wb.keys


# ------------------------------------------------------------------------------------------------
# hand-over
# ------------------------------------------------------------------------------------------------


def _handed_over(source: object, size: int) -> tuple[list[object], CaptureThread]:
    q: queue.Queue[object] = queue.Queue()
    thread = CaptureThread(source, q, Batcher(size, float("inf")), Counters(None), mode="block")  # type: ignore[arg-type]
    thread.run()
    out = []
    while (item := q.get()) is not END:
        out.append(item)
    return out, thread


def test_batches_are_handed_over_cut_where_frames_would_be(tmp_path: Path) -> None:
    path = tmp_path / "bus.log"
    path.write_text("".join(f"({1_700_000_000 + i / 1000:.6f}) can0 {0x100 + i % 9:03X}#{i % 256:02X}\n"
                            for i in range(5000)))
    by_batch, thread = _handed_over(CanLogSource(path), 512)
    by_frame, _ = _handed_over(iter(CanLogSource(path)), 512)
    assert [list(b) for b in by_batch] == by_frame  # type: ignore[call-overload]
    assert [len(b) for b in by_batch] == [512] * 9 + [392]  # type: ignore[arg-type]
    assert thread.counters.records_in == 5000 and thread.error is None


def test_frames_before_a_bad_line_are_handed_over(tmp_path: Path) -> None:
    path = _bad_log(tmp_path, 700)
    batches, thread = _handed_over(CanLogSource(path), 512)
    assert isinstance(thread.error, CaptureError)
    assert sum(len(b) for b in batches) == 700 == thread.counters.records_in  # type: ignore[arg-type]


def test_replay_of_a_log_with_a_bad_line_scores_every_frame_before_it(
    shared_captures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The replay stops at the malformed line, naming it; the frames before it are all scored and give
    the alerts of a clean log holding exactly those frames."""
    import json

    from agent.cli import main

    attacked = shared_captures / "can-site" / "attacks" / "camaro" / "reverse__dos.log"
    if not attacked.exists():
        pytest.skip("attacked camaro log not present")
    lines = attacked.read_text().splitlines(keepends=True)
    keep = 20_001  # past the attack, not on a batch boundary
    clean, bad = tmp_path / "clean.log", tmp_path / "bad.log"
    clean.write_text("".join(lines[:keep]))
    bad.write_text("".join(lines[:keep]) + "(1718488588.000000) can0 12G#00\n" + "".join(lines[keep:]))
    repo = Path(__file__).resolve().parent.parent
    base = ["--config", str(repo / "configs" / "can.yaml"), "--offline", "--quiet",
            "--set", f"model.bundle={repo / 'models' / 'ciciov2024-lab'}"]
    results = {}
    for name, path, want_rc in (("bad", bad, 1), ("clean", clean, 0)):
        alerts, stats = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.json"
        args = ["replay", *base, "--input", str(path), "--jsonl", str(alerts), "--stats-json", str(stats)]
        assert main(args) == want_rc
        s = json.loads(stats.read_text())
        assert s["records_in"] == s["records_scored"] == keep
        records = [json.loads(line) for line in alerts.read_text().splitlines()]
        for a in records:
            a.pop("alert_id")
            a["edge_ids"].pop("incident_id")
        results[name] = (s["windows_scored"], records)
    assert results["bad"] == results["clean"] and results["clean"][1]
    printed = capsys.readouterr()
    assert f"{bad}:{keep + 1}: malformed candump record" in printed.out + printed.err
