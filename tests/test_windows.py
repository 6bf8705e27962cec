"""Windows: per-record inputs and keyed W x F sliding windows, checked against a naive reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.features import CAN_CONTEXT, ETHERNET_CONTEXT
from agent.windows import Windower


def _eth_ctx(i: int, flow: str | None) -> tuple:
    return (1000.0 + i, "10.0.0.1", 1000 + i, "10.0.0.2", 502, "tcp", "modbus", flow)


def _reference(rows: np.ndarray, keys: list, w: int, s: int) -> list[tuple[object, list[int]]]:
    """Every window as (key, record indices), in the order a stream completes them."""
    per_key: dict[object, list[int]] = {}
    out = []
    for i, k in enumerate(keys):
        idx = per_key.setdefault(k, [])
        idx.append(i)
        n = len(idx)
        if n >= w and (n - w) % s == 0:
            out.append((k, idx[-w:]))
    return out


def test_record_layout_shapes_and_context() -> None:
    win = Windower("record", 3, context_fields=ETHERNET_CONTEXT)
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    ctx = [_eth_ctx(i, "f1") for i in range(4)]
    out = win.push(rows, ctx)
    assert out.inputs.shape == (4, 3, 1)
    assert np.array_equal(out.inputs[:, :, 0], rows)
    assert out.keys == ["global"] * 4
    assert list(out.first_ts) == [1000.0, 1001.0, 1002.0, 1003.0]
    assert out.contexts[2] == ctx[2]
    assert win.stats()["windows"] == 4


def test_global_window_across_batches_matches_reference() -> None:
    w, s = 5, 2
    win = Windower("window", 2, size=w, stride=s, context_fields=CAN_CONTEXT)
    rows = np.arange(40, dtype=np.float32).reshape(20, 2)
    ctx = [(float(i), "vcan0", 0x100 + i) for i in range(20)]
    got, index = [], []
    for lo, hi in ((0, 3), (3, 4), (4, 11), (11, 20)):  # batch boundaries inside windows
        b = win.push(rows[lo:hi], ctx[lo:hi])
        got.extend(zip(b.inputs, b.first_ts, b.last_ts, b.contexts, strict=True))
        index.extend(b.index.tolist())
    ref = _reference(rows, ["g"] * 20, w, s)
    assert len(got) == len(ref) == 8  # windows end at records 5, 7, ..., 19
    assert index == list(range(8))  # each window's ordinal in its stream, across batches
    for (inp, first, last, c), (_, idx) in zip(got, ref, strict=True):
        assert np.array_equal(inp, rows[idx])
        assert first == float(idx[0]) and last == float(idx[-1])
        assert c == ctx[idx[-1]]


def test_can_window_names_its_most_frequent_id_across_batches() -> None:
    w, s = 8, 4
    win = Windower("window", 1, size=w, stride=s, key="channel", context_fields=CAN_CONTEXT)
    # a 0x201 injection interleaved with two real senders: every window that holds it names 0x201
    ids = [0x130, 0x201, 0x201, 0x4F0, 0x201, 0x201, 0x130, 0x201, 0x201, 0x4F0, 0x201, 0x130]
    ids += [0x130, 0x4F0, 0x2A0, 0x310, 0x130, 0x4F0, 0x2A0, 0x310]  # then benign again
    rows = np.zeros((len(ids), 1), dtype=np.float32)
    ctx = [(float(i), "can0", cid) for i, cid in enumerate(ids)]
    got = []
    for lo, hi in ((0, 3), (3, 10), (10, len(ids))):
        got.extend(win.push(rows[lo:hi], ctx[lo:hi]).contexts)
    assert [c[2] for c in got] == [0x201, 0x201, 0x130, 0x130]  # windows end at records 8, 12, 16, 20
    assert [c[0] for c in got] == [7.0, 11.0, 15.0, 19.0]  # the rest of the context is the last record's


@settings(max_examples=60, deadline=None)
@given(
    w=st.integers(1, 6),
    s=st.integers(1, 4),
    keys=st.lists(st.sampled_from(["a", "b", "c", None]), min_size=0, max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=5),
)
def test_flow_windows_match_reference(w: int, s: int, keys: list, cuts: list[int]) -> None:
    n = len(keys)
    rows = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    ctx = [_eth_ctx(i, k) for i, k in enumerate(keys)]
    win = Windower("window", 3, size=w, stride=s, key="flow", context_fields=ETHERNET_CONTEXT)
    bounds = sorted({0, n, *[c for c in cuts if c <= n]})
    got: list[tuple[object, np.ndarray, tuple, int]] = []
    for lo, hi in itertools.pairwise(bounds):
        b = win.push(rows[lo:hi], ctx[lo:hi])
        assert b.inputs.shape[1:] == (w, 3)
        got.extend(zip(b.keys, b.inputs, b.contexts, b.index.tolist(), strict=True))
    ref = _reference(rows, ["global" if k is None else k for k in keys], w, s)
    # Across streams the order may differ within a batch; compare as multisets keyed by last record.
    got_by_last = {c[2]: (k, inp, i) for k, inp, c, i in got}
    assert len(got_by_last) == len(got) == len(ref)
    ordinal: dict[object, int] = {}
    for k, idx in ref:
        gk, inp, i = got_by_last[ctx[idx[-1]][2]]
        assert gk == k
        assert np.array_equal(inp, rows[idx])
        assert i == ordinal.get(k, 0)  # the window's ordinal in its own stream
        ordinal[k] = i + 1


def test_streams_are_bounded_and_idle_ones_evicted() -> None:
    win = Windower("window", 1, size=4, stride=1, key="channel", context_fields=CAN_CONTEXT, max_keys=3,
                   idle_timeout_s=5.0)
    for i in range(10):  # ten channels, one frame each: only the three most recent are kept
        win.push(np.zeros((1, 1), np.float32), [(float(i), f"can{i}", 1)])
    assert win.stats()["streams"] == 3
    assert win.stats()["streams_evicted_lru"] == 7
    win.push(np.zeros((1, 1), np.float32), [(100.0, "can9", 1)])  # the others are now idle for > 5 s
    assert win.stats()["streams"] == 1
    assert win.stats()["streams_evicted_idle"] == 2


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="flow_id"):
        Windower("window", 2, size=3, key="flow", context_fields=CAN_CONTEXT)
    win = Windower("window", 2, size=3, context_fields=CAN_CONTEXT)
    with pytest.raises(ValueError, match="width"):
        win.push(np.zeros((1, 5), np.float32), [(0.0, "c", 1)])
    assert len(win.push(np.zeros((0, 2), np.float32), [])) == 0


def test_windows_carry_their_records_flow_ids_across_batches() -> None:
    """A rule reads which connections fill a window (``WindowBatch.flows``): the ``flow_id`` of each of
    its records, the tail of the batch before included; a flow id that is no number counts as 0."""
    w, s = 4, 2
    win = Windower("window", 1, size=w, stride=s, context_fields=ETHERNET_CONTEXT)
    flows = [7, 7, 0, 9, 7, 9, 9, None, 3]
    ctx = [_eth_ctx(i, f) for i, f in enumerate(flows)]
    rows = np.zeros((len(flows), 1), np.float32)
    batches = [win.push(rows[lo:hi], ctx[lo:hi]) for lo, hi in ((0, 3), (3, 7), (7, 9))]
    got = np.concatenate([b.flows for b in batches if len(b)])
    assert got.tolist() == [[7, 7, 0, 9], [0, 9, 7, 9], [7, 9, 9, 0]]  # windows end at records 4, 6, 8
    can = Windower("window", 1, size=2, stride=1, context_fields=CAN_CONTEXT)
    assert can.push(np.zeros((3, 1), np.float32), [(float(i), "can0", 1) for i in range(3)]).flows.shape == (2, 0)
