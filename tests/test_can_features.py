"""CAN feature kinds: ciciov2024 rows equal python-can's reading; can-temporal against a brute-force
reference; bounded state; the features command for both kinds."""

from __future__ import annotations

import csv
import importlib.util
import math
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import can
import pytest

from agent.config import FeaturesConfig
from agent.errors import FeatureError
from agent.features import CAN_CONTEXT, FEATURE_KINDS
from agent.features.can_temporal import EWMA_ALPHA, CanTemporalExtractor, changed_bytes
from agent.features.ciciov2024 import CicIoV2024Extractor
from agent.records import CanFrame
from agent.sources.canlog import CanLogSource

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_canlog import crafted_messages, write_log  # noqa: E402


def frame(ts: float, arbitration_id: int, data: bytes, **kw: object) -> CanFrame:
    return CanFrame(ts, arbitration_id, data, len(data), **kw)  # type: ignore[arg-type]


def expected_ciciov2024(msgs: list[can.Message]) -> list[list[int]]:
    """ID and DATA_0..7 straight from python-can's messages (data frames only, zero-padded / cut to 8)."""
    return [
        [m.arbitration_id, *(bytes(m.data)[:8] + bytes(8))[:8]]
        for m in msgs
        if not m.is_error_frame and not m.is_remote_frame
    ]


@pytest.mark.parametrize("suffix", [".log", ".asc", ".blf", ".trc", ".csv"])
def test_ciciov2024_rows_equal_python_can(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"crafted{suffix}"
    write_log(path, crafted_messages())
    reference = list(can.LogReader(str(path)))
    extractor = CicIoV2024Extractor.from_config(FeaturesConfig(kind="ciciov2024"))
    rows = list(extractor.rows(CanLogSource(path)))
    assert [r[:9] for r in rows] == expected_ciciov2024(reference)
    stats = extractor.stats()
    assert stats["rows"] == len(rows)
    assert stats["remote_frames"] == sum(m.is_remote_frame for m in reference)
    assert stats["error_frames"] == sum(m.is_error_frame for m in reference)


def test_ciciov2024_rows_on_real_captures(shared_captures: Path) -> None:
    for path in sorted((shared_captures / "can").glob("*.*")):
        reference = list(can.LogReader(str(path)))
        rows = list(CicIoV2024Extractor().rows(CanLogSource(path)))
        assert [r[:9] for r in rows] == expected_ciciov2024(reference), path.name


def test_ciciov2024_columns_and_extras() -> None:
    x = CicIoV2024Extractor()
    assert list(x.columns) == [
        "ID", *(f"DATA_{i}" for i in range(8)), "timestamp", "dlc", "is_extended", "is_fd", "is_remote", "channel"
    ]
    assert tuple(x.context_fields) == CAN_CONTEXT
    fd = frame(2.5, 0x18DA00F1, bytes(range(1, 13)), is_extended=True, is_fd=True, channel="can1")
    short = frame(3.0, 0x7E8, b"\x02\x41", channel=None)
    assert x.row(fd) == [0x18DA00F1, 1, 2, 3, 4, 5, 6, 7, 8, 2.5, 12, 1, 1, 0, "can1"]
    assert x.row(short) == [0x7E8, 2, 0x41, 0, 0, 0, 0, 0, 0, 3.0, 2, 0, 0, 0, ""]
    with pytest.raises(FeatureError, match="remote"):
        x.row(CanFrame(4.0, 0x7E8, b"", 8, is_remote=True))
    rows = list(x.rows_with_context([fd, CanFrame(5.0, 0, b"", 0, is_error=True), short]))
    assert [ctx for _, ctx in rows] == [(2.5, "can1", 0x18DA00F1), (3.0, None, 0x7E8)]
    assert x.stats() == {"rows": 4, "remote_frames": 1, "error_frames": 1, "fd_frames": 2, "fd_truncated": 2}


def test_feature_kinds_registered() -> None:
    assert FEATURE_KINDS.load("ciciov2024") is CicIoV2024Extractor
    assert FEATURE_KINDS.load("can-temporal") is CanTemporalExtractor


# ------------------------------------------------------------------------------------------------
# can-temporal
# ------------------------------------------------------------------------------------------------


def reference_temporal(frames: list[CanFrame], window_s: float, warmup_s: float) -> list[list[float]]:
    """The temporal columns computed the slow, obvious way (whole history, no incremental state)."""
    out = []
    history: list[CanFrame] = []
    last: dict[int, CanFrame] = {}
    period: dict[int, float] = {}
    t0 = None
    known: set[int] = set()
    for f in frames:
        if f.is_error:
            continue
        if t0 is None:
            t0 = f.ts
        history.append(f)
        window = [h for h in history if h.ts > f.ts - window_s]
        if f.is_remote:
            continue
        counts = Counter(h.arbitration_id for h in window)
        n = len(window)
        entropy = -sum(c / n * math.log2(c / n) for c in counts.values())
        prev = last.get(f.arbitration_id)
        if prev is None:
            dt = dev = 0.0
            ratio = 1.0
            hamming = changed = 0
        else:
            dt = f.ts - prev.ts
            p = period.get(f.arbitration_id)
            if p:
                dev, ratio = dt - p, dt / p
                period[f.arbitration_id] = p + EWMA_ALPHA * (dt - p)
            else:
                dev, ratio = 0.0, 1.0
                if dt > 0:
                    period[f.arbitration_id] = dt
            a, b = prev.data.ljust(64, b"\0"), f.data.ljust(64, b"\0")
            hamming = sum(bin(x ^ y).count("1") for x, y in zip(a, b, strict=True))
            changed = sum(x != y for x, y in zip(a, b, strict=True))
        last[f.arbitration_id] = f
        if f.ts < t0 + warmup_s:
            known.add(f.arbitration_id)
            new_id = 0
        else:
            new_id = 0 if f.arbitration_id in known else 1
        out.append([
            f.dlc, dt, dev, ratio, counts[f.arbitration_id] / window_s, n / window_s, hamming, changed,
            entropy, new_id,
        ])
    return out


def random_bus(seed: int, n: int) -> list[CanFrame]:
    """Periodic ids with jitter and changing payloads, a few remote and error frames, a late new id."""
    rng = random.Random(seed)
    ids = [(rng.randrange(0x800), rng.choice([0.01, 0.02, 0.05, 0.1])) for _ in range(12)]
    due = [rng.random() * p for _, p in ids]
    frames = []
    payload = {i: bytearray(rng.randbytes(8)) for i, _ in ids}
    for _ in range(n):
        k = min(range(len(ids)), key=due.__getitem__)
        arbitration_id, p = ids[k]
        ts = due[k]
        due[k] += p * rng.uniform(0.9, 1.1)
        roll = rng.random()
        if roll < 0.02:
            frames.append(CanFrame(ts, arbitration_id, b"", 2, is_remote=True))
        elif roll < 0.03:
            frames.append(CanFrame(ts, 0x80, bytes(8), 8, is_error=True))
        else:
            data = payload[arbitration_id]
            data[rng.randrange(8)] ^= 1 << rng.randrange(8)
            dlc = rng.choice([8, 8, 8, 4])
            frames.append(frame(ts, arbitration_id, bytes(data[:dlc])))
    frames.append(frame(frames[-1].ts + 0.001, 0x7AB, b"\x01"))  # never seen during the warm-up
    return frames


def test_temporal_equals_brute_force_reference() -> None:
    frames = random_bus(7, 3000)
    x = CanTemporalExtractor(max_ids=4096, window_s=0.5, warmup_s=2.0)
    rows = list(x.rows(frames))
    ref = reference_temporal(frames, 0.5, 2.0)
    assert len(rows) == len(ref) == sum(not f.is_error and not f.is_remote for f in frames)
    data_frames = [f for f in frames if not f.is_error and not f.is_remote]
    for i, (row, want, f) in enumerate(zip(rows, ref, data_frames, strict=True)):
        assert row[0] == f.arbitration_id and row[1:9] == list((f.data + bytes(8))[:8]), i
        assert row[9:] == pytest.approx(want, rel=1e-9, abs=1e-9), i
    assert rows[-1][-1] == 1  # the late id is flagged
    stats = x.stats()
    assert stats["rows"] == len(rows)
    assert stats["error_frames"] == sum(f.is_error for f in frames)
    assert stats["remote_frames"] == sum(f.is_remote for f in frames)
    assert stats["new_id_frames"] >= 1


def test_temporal_state_carries_across_calls() -> None:
    """A live agent feeds batches: rows must not depend on where one call ends and the next begins."""
    frames = random_bus(3, 600)
    whole = list(CanTemporalExtractor(window_s=0.3, warmup_s=1.0).rows(frames))
    x = CanTemporalExtractor(window_s=0.3, warmup_s=1.0)
    split = list(x.rows(frames[:250]))
    split += [row for f in frames[250:260] for row in x.rows([f])]
    split += list(x.rows(frames[260:]))
    assert split == whole


def test_temporal_detects_injection_and_flood() -> None:
    x = CanTemporalExtractor(window_s=1.0, warmup_s=1.0)
    stream = []
    for i in range(300):  # two ids at 100 Hz for 3 s
        stream.append(frame(i * 0.01, 0x100, bytes([i & 0xFF, 0, 0, 0, 0, 0, 0, 0])))
        stream.append(frame(i * 0.01 + 0.005, 0x200, bytes(8)))
    normal = list(x.rows(stream))[-2]
    cols = list(x.columns)
    assert normal[cols.index("dt_id")] == pytest.approx(0.01)
    assert normal[cols.index("dt_id_ratio")] == pytest.approx(1.0)
    assert normal[cols.index("id_rate_hz")] == pytest.approx(100, abs=1)
    assert normal[cols.index("bus_rate_hz")] == pytest.approx(200, abs=2)
    assert normal[cols.index("id_entropy")] == pytest.approx(1.0, abs=0.01)
    # spoofing: an extra 0x100 frame with a forged payload a quarter period after a genuine one
    x.row(frame(3.0, 0x100, bytes([300 & 0xFF, 0, 0, 0, 0, 0, 0, 0])))
    spoof = x.row(frame(3.0025, 0x100, b"\xff" * 8))
    assert spoof[cols.index("dt_id_ratio")] == pytest.approx(0.25, abs=0.01)
    assert spoof[cols.index("hamming_bits")] > 32
    assert spoof[cols.index("changed_bytes")] == 8
    # DoS: a flood of id 0 at 4 kHz drives the entropy down and the bus rate up
    flood = list(x.rows(frame(3.003 + i * 0.00025, 0x000, bytes(8)) for i in range(4000)))
    last = flood[-1]
    assert last[cols.index("new_id")] == 1
    assert last[cols.index("id_entropy")] < 0.2
    assert last[cols.index("bus_rate_hz")] > 3900


def test_temporal_state_is_bounded() -> None:
    x = CanTemporalExtractor(max_ids=8, window_s=0.1, warmup_s=0.0)
    rng = random.Random(1)
    frames = [frame(i * 0.0001, rng.randrange(0x1FFFFFFF), rng.randbytes(8), is_extended=True) for i in range(20000)]
    rows = list(x.rows(frames))
    assert len(rows) == 20000
    stats = x.stats()
    assert stats["tracked_ids"] <= 9  # 8 ids and the pool
    assert stats["pooled_frames"] == 20000 - 8
    assert stats["window_frames"] <= 1001
    assert all(0 <= r[-2] <= math.log2(1001) + 1e-9 for r in rows)


def test_changed_bytes_counts_nonzero_bytes() -> None:
    rng = random.Random(5)
    for _ in range(500):
        a = rng.randbytes(rng.choice([8, 64]))
        assert changed_bytes(int.from_bytes(a, "little")) == sum(1 for b in a if b)


def test_temporal_config_validation() -> None:
    cfg = FeaturesConfig(kind="can-temporal", can_max_ids=16, can_window_s=2.0, can_warmup_s=5.0)
    x = CanTemporalExtractor.from_config(cfg)
    assert (x.max_ids, x.window_s, x.warmup_s) == (16, 2.0, 5.0)
    with pytest.raises(FeatureError, match="can_window_s"):
        CanTemporalExtractor(window_s=0)
    with pytest.raises(FeatureError, match="can_max_ids"):
        CanTemporalExtractor(max_ids=0)


def test_temporal_on_real_capture(shared_captures: Path) -> None:
    path = shared_captures / "can" / "eldominio_camaro_engineon.log"
    if not path.exists():
        pytest.skip("camaro capture not present")
    frames = list(CanLogSource(path))
    x = CanTemporalExtractor(window_s=1.0, warmup_s=5.0)
    rows = list(x.rows(frames))
    assert len(rows) == len([m for m in can.LogReader(str(path)) if not m.is_error_frame and not m.is_remote_frame])
    cols = list(x.columns)
    # a real car's ids are periodic: the median ratio of inter-arrival to running period is ~1
    ratios = sorted(r[cols.index("dt_id_ratio")] for r in rows[len(rows) // 2:])
    assert ratios[len(ratios) // 2] == pytest.approx(1.0, abs=0.05)
    assert rows[-1][cols.index("id_entropy")] > 4  # tens of ids share the bus


# ------------------------------------------------------------------------------------------------
# the features command (another module's CLI; tested for the CAN kinds once it exists)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ciciov2024", "can-temporal"])
def test_features_command_for_can_kinds(tmp_path: Path, kind: str) -> None:
    if importlib.util.find_spec("agent.commands.features") is None:
        pytest.skip("the features command is not available yet")
    path = tmp_path / "crafted.log"
    write_log(path, crafted_messages())
    out = tmp_path / "out.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "features", "--kind", kind, "--input", str(path), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    with out.open(newline="") as f:
        table = list(csv.reader(f))
    extractor = CicIoV2024Extractor() if kind == "ciciov2024" else CanTemporalExtractor()
    assert table[0][: len(extractor.columns)] == list(extractor.columns)
    expected = expected_ciciov2024(list(can.LogReader(str(path))))
    assert [[int(v) for v in row[:9]] for row in table[1:]] == expected
