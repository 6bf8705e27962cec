"""Raw feature rows -> model feature vectors, from the manifest alone (pure numpy).

Why one module for both sides: the trainer fits the encoders and scaler on its training partition,
stores their parameters in the manifest, and then transforms *its own data through this class*. The
agent builds the same class from the same manifest. Training and serving therefore share one code
path, and a skew between them is impossible by construction rather than checked after the fact.

Value encoding (schema version 1, mirrored in ``manifest.preprocessing.value_encoding``): absent
values (empty, None, NaN) are 0; booleans are 0/1; ``0x..`` strings are their integer; ``'24.0'`` is
24; ``'a,b'`` (several occurrences of a field) is its first occurrence; whitespace is stripped. In a
numeric column a string that is none of these is 0 and counted in :attr:`Preprocessor.stats`. In a
one-hot column the canonical string is looked up in the vocabulary; unknown values give all zeros.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from agent.bundle import Manifest
from agent.errors import BundleError

_ABSENT = {"", "nan", "none", "null", "na", "n/a"}
#: one-hot values remembered per column (see :meth:`Preprocessor._onehot_learn`)
ONEHOT_SEEN = 1024
#: not among the one-hot values remembered yet
_UNSEEN = -2


def canonical_str(value: Any) -> str:
    """The category key of a raw value: ``24``, ``24.0``, ``'24.0 '`` and ``'0x18'`` all give ``'24'``."""
    if value is None:
        return "0"
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f):
            return "0"
        return str(int(f)) if f.is_integer() and abs(f) < 2**63 else repr(f)
    s = str(value).strip()
    if "," in s:
        s = s.split(",", 1)[0].strip()
    low = s.lower()
    if low in _ABSENT:
        return "0"
    if low == "true":
        return "1"
    if low == "false":
        return "0"
    if low.startswith("0x"):
        try:
            return str(int(low, 16))
        except ValueError:
            return s
    try:
        f = float(s)
    except ValueError:
        return s
    if math.isnan(f):
        return "0"
    if f.is_integer() and abs(f) < 2**63:
        return str(int(f))
    return repr(f)


def to_number(value: Any) -> float | None:
    """A raw value as a number under the project encoding; ``None`` when it is a non-numeric string."""
    if value is None:
        return 0.0
    if isinstance(value, (bool, np.bool_)):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float, np.integer, np.floating)):
        f = float(value)
        return 0.0 if math.isnan(f) else f
    key = canonical_str(value)
    try:
        return float(key)
    except ValueError:
        return None


class Preprocessor:
    """Applies a manifest's per-column encoders and scaler to raw rows.

    ``row_columns`` is the order of values in list rows (the extractor's ``columns``); the manifest's
    ``row_columns`` (or its ``features``) by default. Dict rows and column mappings (a dict of
    sequences or a pandas DataFrame) are addressed by name.
    """

    def __init__(self, manifest: Manifest, row_columns: Sequence[str] | None = None):
        self.manifest = manifest
        self.columns = manifest.preprocessing.columns
        order = list(row_columns or manifest.row_columns or manifest.features)
        try:
            self._index = np.array([order.index(c.name) for c in self.columns], dtype=np.intp)
        except ValueError as exc:
            raise BundleError(f"preprocessing: feature column missing from row columns: {exc}") from None
        self.n_features = manifest.n_features
        self._mean = np.array([c.mean for c in self.columns if c.kind == "numeric"], dtype=np.float64)
        self._scale = np.array([c.scale for c in self.columns if c.kind == "numeric"], dtype=np.float64)
        self._all_numeric = all(c.kind == "numeric" for c in self.columns)
        self._vocab = [
            {v: i for i, v in enumerate(c.vocabulary)} if c.kind == "onehot" else {} for c in self.columns
        ]
        # Output offset of each column (one-hot columns expand in place).
        widths = [c.width for c in self.columns]
        self._offset = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.intp)
        self.stats: dict[str, int] = {"unparseable_numeric": 0, "unknown_category": 0}
        numeric = [j for j, c in enumerate(self.columns) if c.kind == "numeric"]
        #: list rows' numeric feature values in one call per row, and where they go in the output
        self._numeric_values = operator.itemgetter(*(int(self._index[j]) for j in numeric)) if numeric else None
        self._numeric_at = self._offset[numeric]
        self._onehots = [(j, int(self._index[j])) for j, c in enumerate(self.columns) if c.kind == "onehot"]
        #: per one-hot column, raw value -> its vocabulary index (-1 unknown), for the values seen last
        self._onehot_seen: list[dict[Any, int]] = [{} for _ in self.columns]

    @classmethod
    def from_manifest(cls, manifest: Manifest, row_columns: Sequence[str] | None = None) -> Preprocessor:
        return cls(manifest, row_columns)

    # ------------------------------------------------------------------------------------------
    def _column_arrays(self, rows: Any) -> list[np.ndarray]:
        """One 1-D array per feature column, whatever the row container."""
        by_name = hasattr(rows, "columns") and hasattr(rows, "__getitem__") and not isinstance(rows, np.ndarray)
        if isinstance(rows, Mapping) or by_name:
            try:
                return [np.asarray(rows[c.name]) for c in self.columns]
            except KeyError as exc:
                raise BundleError(f"preprocessing: input lacks column {exc}") from None
        if isinstance(rows, np.ndarray) and rows.ndim == 2:
            return [rows[:, i] for i in self._index]
        rows = list(rows)
        if rows and isinstance(rows[0], Mapping):
            try:
                return [np.array([r[c.name] for r in rows], dtype=object) for c in self.columns]
            except KeyError as exc:
                raise BundleError(f"preprocessing: row lacks column {exc}") from None
        if not rows:
            return [np.empty(0, dtype=object) for _ in self.columns]
        try:
            arr = np.asarray(rows, dtype=np.float64)
        except (ValueError, TypeError):
            arr = np.empty((len(rows), max(len(r) for r in rows)), dtype=object)
            for i, r in enumerate(rows):
                arr[i, : len(r)] = r
        if arr.ndim != 2 or arr.shape[1] <= int(self._index.max()):
            raise BundleError(
                f"preprocessing: rows have {arr.shape[-1] if arr.ndim else 0} values, the model needs "
                f"column index {int(self._index.max())}"
            )
        return [arr[:, i] for i in self._index]

    def _numeric(self, col: np.ndarray) -> np.ndarray:
        if col.dtype.kind in "biuf":
            out = col.astype(np.float64)
            return np.nan_to_num(out, nan=0.0)
        try:
            out = col.astype(np.float64)
            return np.nan_to_num(out, nan=0.0)
        except (ValueError, TypeError):
            pass
        keys, inverse = np.unique(col.astype(str), return_inverse=True)
        values = np.empty(len(keys), dtype=np.float64)
        for i, k in enumerate(keys):
            v = to_number(k)
            if v is None:
                self.stats["unparseable_numeric"] += int(np.count_nonzero(inverse == i))
                v = 0.0
            values[i] = v
        return values[inverse.reshape(-1)]

    def _onehot_index(self, col: np.ndarray, vocab: dict[str, int]) -> np.ndarray:
        """Vocabulary index per value, -1 for unknown."""
        if col.dtype.kind == "f":
            col = np.nan_to_num(col, nan=0.0)
        keys, inverse = np.unique(col.astype(str), return_inverse=True)
        idx = np.array([vocab.get(canonical_str(k), -1) for k in keys], dtype=np.intp)
        out = idx[inverse.reshape(-1)]
        self.stats["unknown_category"] += int(np.count_nonzero(out < 0))
        return out

    def _list_rows(self, rows: list[Any]) -> np.ndarray | None:
        """List rows (the extractor's) whose numeric feature values are all numbers, encoded without
        building an array of every column: the agent's hot path. ``None`` when a numeric value needs
        the project encoding (a string that is not a number, hex): the general path then runs.

        Same output as the general path: numbers are converted as it converts them (``float`` of each
        value, absent and NaN as 0), and one-hot columns go through the same vocabulary lookup."""
        n = len(rows)
        out = np.zeros((n, self.n_features), dtype=np.float32)
        values = self._numeric_values
        if values is not None:
            k = len(self._mean)
            try:  # one flat pass: np.array over a list of row tuples costs twice as much (same values)
                flat = itertools.chain.from_iterable(map(values, rows)) if k > 1 else map(values, rows)
                x = np.fromiter(flat, dtype=np.float64, count=n * k).reshape(n, k)
            except (ValueError, TypeError, IndexError):
                return None
            out[:, self._numeric_at] = (np.nan_to_num(x, nan=0.0) - self._mean) / self._scale
        for j, i in self._onehots:
            try:
                raw = [r[i] for r in rows]
            except IndexError:
                return None
            seen = self._onehot_seen[j]
            get = seen.get
            found = [get(v, _UNSEEN) for v in raw]
            if _UNSEEN in found:
                found = [self._onehot_learn(j, v) if k == _UNSEEN else k for v, k in zip(raw, found, strict=True)]
            idx = np.array(found, dtype=np.intp)
            hit = idx >= 0
            self.stats["unknown_category"] += n - int(np.count_nonzero(hit))
            out[np.nonzero(hit)[0], int(self._offset[j]) + idx[hit]] = 1.0
        return out

    def _onehot_learn(self, j: int, value: Any) -> int:
        """The vocabulary index of ``value`` in one-hot column ``j``, as :meth:`_onehot_index` finds it
        (the text numpy makes of it, canonical), remembered for the next rows.

        Why: the column's values are few (absent, a few HTTP methods), and finding them with numpy
        (``np.unique`` over their text) cost a tenth of preprocessing a batch; values that compare equal
        (``0``, ``0.0``, ``False``) have the same canonical text, so one entry serves them all. At most
        :data:`ONEHOT_SEEN` values are kept (they come from the wire), then it starts over."""
        seen = self._onehot_seen[j]
        if len(seen) >= ONEHOT_SEEN:
            seen.clear()
        text = np.array([value], dtype=object).astype(str)[0]
        k = seen[value] = self._vocab[j].get(canonical_str(text), -1)
        return k

    def transform(self, rows: Any) -> np.ndarray:
        """Raw rows -> ``(N, n_features)`` float32 feature matrix.

        :param rows: list rows in ``row_columns`` order, a 2-D array in that order, a list of dicts,
            or a mapping / DataFrame of columns by name.
        """
        if self._all_numeric and isinstance(rows, np.ndarray) and rows.ndim == 2 and rows.dtype.kind in "biuf":
            x = rows[:, self._index].astype(np.float64)
            return ((np.nan_to_num(x, nan=0.0) - self._mean) / self._scale).astype(np.float32)
        if isinstance(rows, list) and rows and isinstance(rows[0], (list, tuple)):
            fast = self._list_rows(rows)
            if fast is not None:
                return fast
        cols = self._column_arrays(rows)
        n = len(cols[0]) if cols else 0
        out = np.zeros((n, self.n_features), dtype=np.float32)
        k = 0
        for j, (spec, col) in enumerate(zip(self.columns, cols, strict=True)):
            off = int(self._offset[j])
            if spec.kind == "numeric":
                out[:, off] = (self._numeric(col) - self._mean[k]) / self._scale[k]
                k += 1
            else:
                idx = self._onehot_index(col, self._vocab[j])
                hit = idx >= 0
                out[np.nonzero(hit)[0], off + idx[hit]] = 1.0
        return out

    def offset(self, name: str) -> int:
        """Where column ``name`` starts in a transformed row (one-hot columns before it widen it)."""
        for spec, off in zip(self.columns, self._offset, strict=True):
            if spec.name == name:
                return int(off)
        raise BundleError(f"preprocessing: no feature column {name!r}")

    def blank_input(self) -> np.ndarray | None:
        """The model input that records carrying none of the features' fields make, shaped like one
        input (``manifest.input_shape``); ``None`` for feature kinds whose rows always carry something
        (:data:`agent.features.BLANK_ROW_KINDS`).

        Why: a frame of a link-layer protocol the Edge-IIoTset columns do not describe (LLDP, STP,
        PROFINET RT, GOOSE, PTP) is the all-absent row, so a window of them is one and the same input
        whatever the frames say, on any network. (With ``edge-iiotset-context`` an IP frame is never
        blank: the context columns count its hosts' rates.) What a model answers for it is fixed by
        training alone (the lab model read it as a UDP flood on every PROFINET cycle); it is no
        evidence of anything, and the scorer answers it benign without running the model (see
        :class:`agent.scorer.Scorer`).
        """
        from agent.features import BLANK_ROW_KINDS

        if self.manifest.feature_kind not in BLANK_ROW_KINDS:
            return None
        row = self.transform([dict.fromkeys((c.name for c in self.columns), 0)])
        if self.manifest.input_layout == "record":
            return self.to_model_input(row)[0]
        return np.tile(row[0], (self.manifest.input_shape[0], 1))

    def to_model_input(self, features: np.ndarray) -> np.ndarray:
        """Record layout: ``(N, F)`` -> ``(N, F, 1)`` (the F features as a one-channel sequence).

        Window layout inputs are stacked by the runtime's windowing into ``(N, W, F)``.
        """
        if self.manifest.input_layout == "record":
            return features.reshape(features.shape[0], self.n_features, 1)
        return features
