"""Preprocessed per-record vectors -> model inputs, as the bundle's manifest declares.

Two layouts:

- ``record``: one model input per record, shaped ``(F, 1)`` (the manifest's ``input_shape``).
- ``window``: ``W x F`` sliding windows with stride ``S``, kept per stream: one global stream, one per
  flow (``flow_id`` of the Ethernet context) or one per CAN channel. A stream emits its first window
  at its ``W``-th record and then one every ``S`` records, so the model runs once per ``S`` records;
  this is what lets the agent keep up with line rate on a gateway's CPU.

Why streams are bounded: flow ids come from the network, so an attacker (or a port scan) can create
them without limit. The windower keeps at most ``max_keys`` streams and evicts the least recently
seen first, and streams idle for ``idle_timeout_s`` (record time) are evicted as well; both are
counted in :meth:`Windower.stats`.

Every window carries what an alert needs but the model does not see: its stream key, the time of
its first and last record, how many records it spans, the context tuple of its last record (the
5-tuple of a packet or the CAN channel and id) and, with an Ethernet context, the flow id of each of
its records (what share of it a connection a rule read fills). For CAN windows the
``arbitration_id`` is the id most frequent in the window instead of the last one: a flood or an
injection outnumbers every real sender in the windows it triggers, so the alert names the id under
attack rather than a bystander.

The hot path is vectorised: a batch of rows is grouped by stream with numpy, each stream's rows are
appended to its tail of ``W - 1`` rows and the windows are cut with ``sliding_window_view`` (views,
one copy into the output), so Python work is per stream per batch, not per record.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from agent.lru import LruTable

KeyKind = Literal["global", "flow", "channel"]
GLOBAL_KEY = "global"


@dataclass
class WindowBatch:
    """Model inputs cut from one batch of rows, with what alerts need for each."""

    inputs: np.ndarray
    """``(N, *input_shape)`` float32."""
    keys: list[Hashable]
    """Stream key per input (``"global"``, a flow id or a CAN channel)."""
    first_ts: np.ndarray
    """float64 ``(N,)``: time of the window's first record."""
    last_ts: np.ndarray
    """float64 ``(N,)``: time of the window's last record."""
    contexts: list[tuple[Any, ...]]
    """Context tuple of the window's last record (see ``context_fields``)."""
    records: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """int64 ``(N,)``: records the window spans (``W``, or 1 for the record layout)."""
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """int64 ``(N,)``: the window's ordinal in its stream (0, 1, 2, ...; -1 in the record layout),
    so the alert policy can tell consecutive windows of a key from scattered ones."""
    flows: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    """int64 ``(N, W)``: the ``flow_id`` of each record of each window (Ethernet context; ``(N, 0)``
    without one), so a rule can tell what share of a window a connection it read fills."""

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    @classmethod
    def empty(cls, input_shape: Sequence[int]) -> WindowBatch:
        return cls(
            np.zeros((0, *input_shape), dtype=np.float32),
            [],
            np.zeros(0),
            np.zeros(0),
            [],
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
        )


class _Stream:
    """The last ``W - 1`` rows of one stream and how many records it has seen."""

    __slots__ = ("flows", "ids", "last_seen", "rows", "seen", "ts")

    def __init__(self, width: int):
        self.rows = np.zeros((0, width), dtype=np.float32)
        self.ts = np.zeros(0, dtype=np.float64)
        self.ids = np.zeros(0, dtype=np.int64)  # CAN arbitration ids of the tail (CAN context only)
        self.flows = np.zeros(0, dtype=np.int64)  # flow ids of the tail (Ethernet context only)
        self.seen = 0
        self.last_seen = 0.0


class Windower:
    """Cuts model inputs from preprocessed rows.

    :param layout: ``"record"`` or ``"window"`` (the manifest's ``input_layout``).
    :param n_features: ``F``, width of a preprocessed row.
    :param size: ``W``, records per window (1 for the record layout).
    :param stride: ``S``, records between consecutive windows of a stream.
    :param key: which stream a record belongs to: ``global``, ``flow`` or ``channel``.
    :param context_fields: names of the context tuple (``ETHERNET_CONTEXT`` / ``CAN_CONTEXT``); must
        hold ``ts``, and ``flow_id`` / ``channel`` for those keys.
    :param max_keys: most streams kept at once; the least recently seen are evicted beyond.
    :param idle_timeout_s: a stream without records for this long (record time) is evicted.
    """

    def __init__(
        self,
        layout: Literal["record", "window"],
        n_features: int,
        size: int = 1,
        stride: int = 1,
        key: KeyKind = "global",
        context_fields: Sequence[str] = ("ts",),
        max_keys: int = 65536,
        idle_timeout_s: float = 300.0,
    ):
        if size < 1 or stride < 1:
            raise ValueError(f"window size and stride must be >= 1, got {size} and {stride}")
        if layout == "record" and size != 1:
            raise ValueError("the record layout has window size 1")
        self.layout = layout
        self.n_features = int(n_features)
        self.size = int(size)
        self.stride = int(stride)
        self.key = key
        self.context_fields = tuple(context_fields)
        self.max_keys = max(1, int(max_keys))
        self.idle_timeout_s = float(idle_timeout_s)
        try:
            self._ts_index = self.context_fields.index("ts")
        except ValueError:
            raise ValueError(f"context fields {self.context_fields} lack 'ts'") from None
        self._id_index: int | None = (
            self.context_fields.index("arbitration_id") if "arbitration_id" in self.context_fields else None
        )
        self._flow_index: int | None = (
            self.context_fields.index("flow_id") if "flow_id" in self.context_fields else None
        )
        self._key_index: int | None = None
        if key != "global":
            name = "flow_id" if key == "flow" else "channel"
            if name not in self.context_fields:
                raise ValueError(f"window key {key!r} needs context field {name!r}; have {self.context_fields}")
            self._key_index = self.context_fields.index(name)
        self.input_shape: tuple[int, ...] = (
            (self.n_features, 1) if layout == "record" else (self.size, self.n_features)
        )
        self._streams: LruTable[Hashable, _Stream] = LruTable(self.max_keys)
        self._last_sweep = 0.0
        self._stats = {"windows": 0, "streams_evicted_lru": 0, "streams_evicted_idle": 0}

    @classmethod
    def from_manifest(
        cls,
        manifest: Any,
        context_fields: Sequence[str],
        max_keys: int = 65536,
        idle_timeout_s: float = 300.0,
        stride: int | None = None,
    ) -> Windower:
        """The windower a bundle's manifest asks for (``input_layout``, ``window``, ``n_features``).

        ``stride`` overrides the bundle's (``model.window_stride``: fewer inferences on small boards).
        """
        is_window = manifest.input_layout == "window"
        return cls(
            manifest.input_layout,
            manifest.n_features,
            size=manifest.window.size if is_window else 1,
            stride=(stride or manifest.window.stride) if is_window else 1,
            key=manifest.window.key,
            context_fields=context_fields,
            max_keys=max_keys,
            idle_timeout_s=idle_timeout_s,
        )

    # ------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """Windows cut, streams held and evicted."""
        return {**self._stats, "streams": len(self._streams)}

    def reset(self) -> None:
        """Forget every stream (after a model reload: old tails were scaled for the old model)."""
        self._streams.clear()

    def _stream_key(self, ctx: tuple[Any, ...]) -> Hashable:
        assert self._key_index is not None
        k = ctx[self._key_index]
        return GLOBAL_KEY if k is None else k

    def push(self, features: np.ndarray, contexts: Sequence[tuple[Any, ...]]) -> WindowBatch:
        """Add ``(N, F)`` preprocessed rows (with one context per row); return the windows completed."""
        n = len(contexts)
        if features.shape[0] != n:
            raise ValueError(f"{features.shape[0]} rows but {n} contexts")
        if n == 0:
            return WindowBatch.empty(self.input_shape)
        if features.ndim != 2 or features.shape[1] != self.n_features:
            raise ValueError(f"rows of width {features.shape[1:]} given, the model needs {self.n_features}")
        ti = self._ts_index
        ts = _field(contexts, ti, np.float64)
        if self.layout == "record":
            keys: list[Hashable] = (
                [GLOBAL_KEY] * n if self._key_index is None else [self._stream_key(c) for c in contexts]
            )
            self._stats["windows"] += n
            return WindowBatch(
                np.ascontiguousarray(features, dtype=np.float32).reshape(n, self.n_features, 1),
                keys,
                ts,
                ts.copy(),
                list(contexts),
                np.ones(n, dtype=np.int64),
                np.full(n, -1, dtype=np.int64),
            )
        features = np.asarray(features, dtype=np.float32)
        parts: list[WindowBatch | None]
        column = getattr(contexts, "column", None)  # columnar contexts (CanContexts)
        if self._key_index is None:
            parts = [self._push_stream(GLOBAL_KEY, features, ts, contexts)]
        elif column is not None and len(one := set(column(self._key_index))) == 1:
            k = one.pop()
            parts = [self._push_stream(GLOBAL_KEY if k is None else k, features, ts, contexts)]
        else:
            ids: dict[Hashable, int] = {}
            key_list: list[Hashable] = []
            codes = np.empty(n, dtype=np.int64)
            ki = self._key_index
            for i, c in enumerate(contexts):
                k = c[ki]
                if k is None:
                    k = GLOBAL_KEY
                code = ids.get(k)
                if code is None:
                    code = ids[k] = len(key_list)
                    key_list.append(k)
                codes[i] = code
            if len(key_list) == 1:
                parts = [self._push_stream(key_list[0], features, ts, contexts)]
            else:
                order = np.argsort(codes, kind="stable")
                bounds = np.flatnonzero(np.diff(codes[order])) + 1
                parts = []
                for idx in np.split(order, bounds):
                    sub_ctx = cast(Any, contexts).take(idx) if column is not None else [contexts[i] for i in idx]
                    parts.append(self._push_stream(key_list[codes[idx[0]]], features[idx], ts[idx], sub_ctx))
        self._evict(float(ts.max()))
        done = [p for p in parts if p is not None]
        if not done:
            return WindowBatch.empty(self.input_shape)
        if len(done) == 1:
            out = done[0]
        else:
            out = WindowBatch(
                np.concatenate([p.inputs for p in done]),
                [k for p in done for k in p.keys],
                np.concatenate([p.first_ts for p in done]),
                np.concatenate([p.last_ts for p in done]),
                [c for p in done for c in p.contexts],
                np.concatenate([p.records for p in done]),
                np.concatenate([p.index for p in done]),
                np.concatenate([p.flows for p in done]),
            )
        self._stats["windows"] += len(out)
        return out

    def _push_stream(
        self, key: Hashable, rows: np.ndarray, ts: np.ndarray, contexts: Sequence[tuple[Any, ...]]
    ) -> WindowBatch | None:
        """Append one stream's rows to its tail and cut the windows that end in them."""
        st = self._streams.get(key)
        if st is None:
            st = self._streams[key] = _Stream(self.n_features)
        else:
            self._streams.move_to_end(key)
        w, s = self.size, self.stride
        m = len(rows)
        tail = len(st.rows)
        seen0 = st.seen
        st.seen += m
        st.last_seen = max(st.last_seen, float(ts[-1]))
        all_rows = np.concatenate([st.rows, rows]) if tail else rows
        all_ts = np.concatenate([st.ts, ts]) if tail else ts
        all_ids = st.ids
        if self._id_index is not None:
            ids = _field(contexts, self._id_index, np.int64)
            all_ids = np.concatenate([st.ids, ids]) if tail else ids
        all_flows = st.flows
        if self._flow_index is not None:
            flows = _flow_ids(contexts, self._flow_index)
            all_flows = np.concatenate([st.flows, flows]) if tail else flows
        # Record numbers (1-based) of the new rows are seen0+1 .. seen0+m; a window ends at record n
        # when n >= W and (n - W) % S == 0.
        first_end = max(w, seen0 + 1)
        rem = (first_end - w) % s
        if rem:
            first_end += s - rem
        ends = np.arange(first_end, st.seen + 1, s, dtype=np.int64)
        out: WindowBatch | None = None
        if len(ends):
            # Position in all_rows of record n is n - (seen0 - tail) - 1.
            base = seen0 - tail + 1
            starts = ends - w - base + 1
            views = sliding_window_view(all_rows, (w, self.n_features))[:, 0]
            inputs = views[starts]
            last_pos = ends - base
            ctx = [contexts[int(p) - tail] for p in last_pos]
            if self._id_index is not None:
                ctx = self._with_top_ids(ctx, all_ids, starts, w)
            out = WindowBatch(
                np.ascontiguousarray(inputs, dtype=np.float32),
                [key] * len(ends),
                all_ts[starts],
                all_ts[last_pos],
                ctx,
                np.full(len(ends), w, dtype=np.int64),
                (ends - w) // s,
                sliding_window_view(all_flows, w)[starts] if self._flow_index is not None
                else np.zeros((len(ends), 0), dtype=np.int64),
            )
        keep = min(w - 1, len(all_rows))
        if keep:
            st.rows = all_rows[-keep:].copy()
            st.ts = all_ts[-keep:].copy()
            st.ids = all_ids[-keep:].copy()
            st.flows = all_flows[-keep:].copy()
        else:
            st.rows = all_rows[:0]
            st.ts = all_ts[:0]
            st.ids = all_ids[:0]
            st.flows = all_flows[:0]
        return out

    def _with_top_ids(
        self, ctx: list[tuple[Any, ...]], ids: np.ndarray, starts: np.ndarray, w: int
    ) -> list[tuple[Any, ...]]:
        """Contexts with ``arbitration_id`` set to the id most frequent in each window.

        Ties go to the smallest id; a window whose ids are all different keeps its last record's id.
        Vectorised (sorted ids, pairwise equality counts): this runs for every CAN window.
        """
        assert self._id_index is not None
        i = self._id_index
        win = sliding_window_view(ids, w)[starts]
        ordered = np.sort(win, axis=1)
        counts = (ordered[:, :, None] == ordered[:, None, :]).sum(axis=2)
        best = counts.argmax(axis=1)  # first of the most frequent in sorted order: the smallest id
        rows = np.arange(len(win))
        top = np.where(counts[rows, best] > 1, ordered[rows, best], win[:, -1]).tolist()
        return [c if t == c[i] else (*c[:i], t, *c[i + 1:]) for c, t in zip(ctx, top, strict=True)]

    def _evict(self, now: float) -> None:
        """Drop streams beyond ``max_keys`` (least recently seen first) and idle ones."""
        self._stats["streams_evicted_lru"] += self._streams.trim()
        if now - self._last_sweep < min(self.idle_timeout_s, 10.0) or len(self._streams) <= 1:
            return
        self._last_sweep = now
        horizon = now - self.idle_timeout_s
        # Ordered by last access, so the idle ones are at the front.
        streams = self._streams
        while streams and streams.oldest().last_seen < horizon:
            streams.evict_oldest()
            self._stats["streams_evicted_idle"] += 1


def _field(contexts: Sequence[tuple[Any, ...]], i: int, dtype: type) -> np.ndarray:
    """Field ``i`` of every context as an array: one column of columnar contexts, else gathered."""
    column = getattr(contexts, "column", None)
    if column is not None:
        return np.asarray(column(i), dtype=dtype)
    return np.fromiter((c[i] for c in contexts), dtype=dtype, count=len(contexts))


def _flow_ids(contexts: Sequence[tuple[Any, ...]], i: int) -> np.ndarray:
    """The ``flow_id`` of every context as int64, 0 (no flow) where it is not a number."""
    try:
        return _field(contexts, i, np.int64)
    except (TypeError, ValueError):
        return np.fromiter((f if isinstance(f := c[i], int) else 0 for c in contexts), dtype=np.int64,
                           count=len(contexts))
