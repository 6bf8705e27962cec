"""Loaders for the published datasets and for the agent's feature CSVs.

Every loader returns a :class:`Dataset`: the raw feature columns normalised to the project encoding
(absent -> 0, ``0x..`` -> integer, booleans -> 0/1, ``'24.0'`` -> 24, spaces stripped), the labels,
optional groups, and a :class:`LoadReport` that says what was dropped and why. Numeric columns are
held as float64 and categorical ones as pandas categoricals, so the 2.2M-row Edge-IIoTset file,
read in chunks, fits in a few GB.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from agent.errors import EdgeIdsError
from agent.preprocess import canonical_str, to_number
from trainer.config import DataConfig

log = logging.getLogger(__name__)


class DataError(EdgeIdsError):
    """A dataset file is missing or does not have the expected schema."""


EDGE_LABEL = "Attack_label"
EDGE_TARGET = "Attack_type"
#: The dataset authors' step 1: identifiers, timestamps and payloads.
EDGE_AUTHORS_DROP = [
    "frame.time", "ip.src_host", "ip.dst_host", "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "http.file_data",
    "http.request.full_uri", "icmp.transmit_timestamp", "http.request.uri.query", "tcp.options", "tcp.payload",
    "tcp.srcport", "tcp.dstport", "udp.port", "mqtt.msg",
]
#: The dataset authors' one-hot encoded columns.
EDGE_ONEHOT = [
    "http.request.method", "http.referer", "http.request.version", "dns.qry.name.len", "mqtt.conack.flags",
    "mqtt.protoname", "mqtt.topic",
]
#: Fields that correlate 0.88-0.97 with the label (public re-analyses): a linear model reaches 100% on them.
EDGE_SHORTCUTS = ["dns.qry.name.len", "mqtt.topic", "mqtt.protoname", "mqtt.conack.flags"]
#: Columns that hold text in the published files (kept as categories when not dropped).
EDGE_TEXT = [*EDGE_ONEHOT, "frame.time", "ip.src_host", "ip.dst_host", "arp.src.proto_ipv4", "arp.dst.proto_ipv4",
             "http.file_data", "http.request.full_uri", "http.request.uri.query", "tcp.options", "tcp.payload",
             "mqtt.msg", "dns.qry.name"]
EDGE_CLASSES = [
    "Normal", "Backdoor", "DDoS_HTTP", "DDoS_ICMP", "DDoS_TCP", "DDoS_UDP", "Fingerprinting", "MITM", "Password",
    "Port_Scanning", "Ransomware", "SQL_injection", "Uploading", "Vulnerability_scanner", "XSS",
]
CIC_COLUMNS = ["ID", *[f"DATA_{i}" for i in range(8)]]
CIC_LABELS = ["label", "category", "specific_class"]
CIC_CLASSES = ["BENIGN", "DoS", "GAS", "RPM", "SPEED", "STEERING_WHEEL"]


def edge_columns() -> list[str]:
    """The 61 Edge-IIoTset feature columns in file order (the edge-iiotset extractor's columns)."""
    return list(_EDGE_COLUMNS)


_EDGE_COLUMNS = [
    'frame.time', 'ip.src_host', 'ip.dst_host', 'arp.dst.proto_ipv4', 'arp.opcode', 'arp.hw.size',
    'arp.src.proto_ipv4', 'icmp.checksum', 'icmp.seq_le', 'icmp.transmit_timestamp', 'icmp.unused',
    'http.file_data', 'http.content_length', 'http.request.uri.query', 'http.request.method', 'http.referer',
    'http.request.full_uri', 'http.request.version', 'http.response', 'http.tls_port', 'tcp.ack', 'tcp.ack_raw',
    'tcp.checksum', 'tcp.connection.fin', 'tcp.connection.rst', 'tcp.connection.syn', 'tcp.connection.synack',
    'tcp.dstport', 'tcp.flags', 'tcp.flags.ack', 'tcp.len', 'tcp.options', 'tcp.payload', 'tcp.seq',
    'tcp.srcport', 'udp.port', 'udp.stream', 'udp.time_delta', 'dns.qry.name', 'dns.qry.name.len', 'dns.qry.qu',
    'dns.qry.type', 'dns.retransmission', 'dns.retransmit_request', 'dns.retransmit_request_in',
    'mqtt.conack.flags', 'mqtt.conflag.cleansess', 'mqtt.conflags', 'mqtt.hdrflags', 'mqtt.len',
    'mqtt.msg_decoded_as', 'mqtt.msg', 'mqtt.msgtype', 'mqtt.proto_len', 'mqtt.protoname', 'mqtt.topic',
    'mqtt.topic_len', 'mqtt.ver', 'mbtcp.len', 'mbtcp.trans_id', 'mbtcp.unit_id',
]


@dataclass
class LoadReport:
    """What a loader read, kept and dropped (and why); written into the run directory."""

    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_kept: int = 0
    dropped_rows: dict[str, int] = field(default_factory=dict)
    dropped_columns: dict[str, str] = field(default_factory=dict)
    unparseable_values: dict[str, int] = field(default_factory=dict)
    empty_cells: dict[str, int] = field(default_factory=dict)
    conflicting_duplicates: int = 0
    #: Edge-IIoTset rows read from the wrong columns (see :func:`column_shifted`), dropped or kept
    column_shifted_rows: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, n: int) -> None:
        if n:
            self.dropped_rows[reason] = self.dropped_rows.get(reason, 0) + int(n)


@dataclass
class Dataset:
    """Normalised raw feature columns, labels, optional groups, and where they came from."""

    frame: pd.DataFrame
    labels: np.ndarray
    dataset: str
    feature_kind: str
    row_columns: list[str]
    categorical: list[str]
    groups: np.ndarray | None = None
    report: LoadReport = field(default_factory=LoadReport)

    @property
    def features(self) -> list[str]:
        return list(self.frame.columns)


# ------------------------------------------------------------------------------------------------
# Normalisation
# ------------------------------------------------------------------------------------------------


def normalise_numeric(col: pd.Series, name: str, report: LoadReport, missing: list[bool] | None = None) -> pd.Series:
    """Text cells -> numbers under the project encoding; unparseable text -> 0, counted per column."""
    if col.dtype.kind in "biuf":
        return col.astype(np.float64).fillna(0.0)
    s = col.astype("string").str.strip()
    empty = s.isna() | (s == "")
    if empty.any():
        report.empty_cells[name] = report.empty_cells.get(name, 0) + int(empty.sum())
    out = pd.to_numeric(s, errors="coerce")
    todo = out.isna() & ~empty
    if todo.any():
        fixed = {}
        for v in pd.unique(s[todo]):
            n = to_number(v)
            fixed[v] = np.nan if n is None else n
        out.loc[todo] = s[todo].map(fixed)
        bad = out.isna() & ~empty
        if bad.any():
            report.unparseable_values[name] = report.unparseable_values.get(name, 0) + int(bad.sum())
    return out.astype(np.float64).fillna(0.0)


def normalise_text(col: pd.Series) -> pd.Series:
    """Text cells -> canonical category keys ('24.0 ' -> '24', '' -> '0'), stored as a categorical."""
    s = col.astype("string").fillna("")
    uniq = pd.unique(s)
    mapping = {u: canonical_str(u) for u in uniq}
    return s.map(mapping).astype("category")


def _empty_mask(chunk: pd.DataFrame, cols: list[str]) -> pd.Series:
    sub = chunk[cols].astype("string")
    return (sub.isna() | (sub.apply(lambda c: c.str.strip()) == "")).any(axis=1)


# ------------------------------------------------------------------------------------------------
# Edge-IIoTset
# ------------------------------------------------------------------------------------------------


EDGE_TIME = "frame.time"
SHIFTED_REASON = ("column-shifted row: frame.time holds a bare number (e.g. '0.0') instead of a capture time, so "
                  "every field is read from the wrong column (a defect of the published MITM_attack.csv); dropped "
                  "(data.shifted_rows=drop), since the right columns cannot be told")


def column_shifted(frame_time: pd.Series) -> pd.Series:
    """Rows whose ``frame.time`` is a bare number: the published files always hold a capture time there
    (`` 2021 22:14:30.939803000 ``), and rows of the raw MITM file, whose values sit in other fields'
    columns (ports under ``tcp.len``, DNS names under ``tcp.srcport``), hold ``0.0`` or ``6.0``."""
    s = frame_time.astype("string").str.strip()
    return (pd.to_numeric(s, errors="coerce").notna() & (s != "")).fillna(False)


def _read_edge_chunks(fh: IO[bytes], f: Path, usecols: list[str], keep: list[str], text: list[str], target: str,
                      cfg: DataConfig, report: LoadReport) -> tuple[list[pd.DataFrame], list[np.ndarray],
                                                                    list[np.ndarray]]:
    """One Edge-IIoTset file's rows, chunk by chunk, normalised to the project encoding."""
    parts: list[pd.DataFrame] = []
    labels: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    reader = pd.read_csv(fh, dtype=str, usecols=usecols, chunksize=cfg.chunk_rows, keep_default_na=False,
                         skipinitialspace=True, low_memory=False)
    for chunk in reader:
        if cfg.max_rows is not None and report.rows_read >= cfg.max_rows:
            break
        if cfg.max_rows is not None:
            chunk = chunk.iloc[: cfg.max_rows - report.rows_read]
        report.rows_read += len(chunk)
        y = chunk[target].astype("string").str.strip()
        bad = y.isna() | (y == "")
        report.drop(f"empty label ({target})", int(bad.sum()))
        keep_rows = ~bad
        if cfg.missing == "drop":
            empty = _empty_mask(chunk, keep) & keep_rows
            report.drop("missing values (data.missing=drop)", int(empty.sum()))
            keep_rows &= ~empty
        if EDGE_TIME in chunk.columns:
            shifted = column_shifted(chunk[EDGE_TIME]) & keep_rows
            if shifted.any():
                report.column_shifted_rows[f.name] = report.column_shifted_rows.get(f.name, 0) + int(shifted.sum())
            if cfg.shifted_rows == "drop":
                report.drop(f"{f.name}: {SHIFTED_REASON}", int(shifted.sum()))
                keep_rows &= ~shifted
        chunk = chunk[keep_rows.to_numpy()]
        y = y[keep_rows.to_numpy()]
        if not len(chunk):
            continue
        out = pd.DataFrame(index=chunk.index)
        for c in keep:
            out[c] = normalise_text(chunk[c]) if c in text else normalise_numeric(chunk[c], c, report)
        parts.append(out)
        labels.append(y.to_numpy(dtype=object))
        if cfg.group_column:
            groups.append(chunk[cfg.group_column].astype(str).to_numpy())
    return parts, labels, groups


def load_edge_iiotset(path: str | Path, cfg: DataConfig) -> Dataset:
    """Edge-IIoTset DNN/ML CSV (or a directory of them), streamed in chunks of ``cfg.chunk_rows``."""
    files = _csv_files(path)
    report = LoadReport(files=[str(f) for f in files])
    target = cfg.target or EDGE_TARGET
    drop = set(cfg.exclude)
    if cfg.recipe == "authors":
        drop |= set(EDGE_AUTHORS_DROP)
        for c in EDGE_AUTHORS_DROP:
            report.dropped_columns[c] = "dataset authors' recipe: identifier, timestamp or payload"
    if cfg.exclude_shortcuts:
        drop |= set(EDGE_SHORTCUTS)
        for c in EDGE_SHORTCUTS:
            report.dropped_columns[c] = "shortcut field (correlates 0.88-0.97 with the label)"
    for c in cfg.exclude:
        report.dropped_columns.setdefault(c, "excluded by data.exclude")
    keep = [c for c in _EDGE_COLUMNS if c not in drop]
    text = [c for c in keep if c in EDGE_TEXT]
    parts: list[pd.DataFrame] = []
    labels: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    for f in files:
        header = _header(f)
        missing = [c for c in [*keep, target] if c not in header]
        if missing:
            raise DataError(f"{f}: not an Edge-IIoTset CSV: missing column(s) {', '.join(missing[:5])}")
        if cfg.group_column and cfg.group_column not in header:
            raise DataError(f"{f}: data.group_column {cfg.group_column!r} is not a column")
        check = [EDGE_TIME] if EDGE_TIME in header else []
        usecols = list(dict.fromkeys([*keep, target, *check, *([cfg.group_column] if cfg.group_column else [])]))
        with open_csv(f) as fh:
            parts_f, labels_f, groups_f = _read_edge_chunks(fh, f, usecols, keep, text, target, cfg, report)
        if not parts_f:
            log.warning("%s: no row kept (see the load report's dropped rows)", f)
        parts += parts_f
        labels += labels_f
        groups += groups_f
    if not parts:
        why = "; ".join(f"{n} {reason}" for reason, n in report.dropped_rows.items())
        raise DataError(f"{path}: no row kept of {report.rows_read} read" + (f" ({why})" if why else ""))
    frame = pd.concat(parts, ignore_index=True)
    for c in text:
        frame[c] = frame[c].astype("category")
    ds = Dataset(frame, np.concatenate(labels).astype(str), "edge-iiotset", "edge-iiotset", edge_columns(),
                 text, np.concatenate(groups) if groups else None, report)
    return _finish(ds, cfg)


# ------------------------------------------------------------------------------------------------
# CICIoV2024
# ------------------------------------------------------------------------------------------------

_BIT_FIELD = re.compile(r"^(ID|DATA[_ ]?(\d))", re.IGNORECASE)


def _decode_binary(chunk: pd.DataFrame, f: Path) -> pd.DataFrame:
    """Binary files: bits -> ID and DATA_0..7 integers.

    Accepts one column per field holding a bit string ('00010100'), or several single-bit columns per
    field (``ID_0..``, ``DATA_0_0..``), most significant bit first in file order.
    """
    fields: dict[str, list[str]] = {}
    for c in chunk.columns:
        if c.strip().lower() in CIC_LABELS:
            continue
        m = _BIT_FIELD.match(c.strip())
        if not m:
            continue
        key = "ID" if m.group(1).upper().startswith("ID") else f"DATA_{m.group(2)}"
        fields.setdefault(key, []).append(c)
    missing = [c for c in CIC_COLUMNS if c not in fields]
    if missing:
        raise DataError(f"{f}: binary CICIoV2024 file lacks bit columns for {', '.join(missing)}")
    out = pd.DataFrame(index=chunk.index)
    for key in CIC_COLUMNS:
        cols = fields[key]
        bits = chunk[cols].astype(str).apply(lambda s: s.str.strip().str.replace(r"\.0$", "", regex=True))
        joined = bits.agg("".join, axis=1) if len(cols) > 1 else bits[cols[0]]
        try:
            out[key] = joined.map(lambda b: int(b, 2) if b else 0).astype(np.float64)
        except ValueError as exc:
            raise DataError(f"{f}: column(s) {cols[0]}..: not bits: {exc}") from None
    return out


def load_ciciov2024(path: str | Path, cfg: DataConfig) -> Dataset:
    """CICIoV2024 ``decimal/`` or ``binary/`` folder (or one CSV); groups are the source files."""
    files = _csv_files(path)
    report = LoadReport(files=[str(f) for f in files])
    target = cfg.target or "specific_class"
    parts, labels, groups = [], [], []
    for f in files:
        header = [h.strip() for h in _header(f)]
        if target not in header:
            raise DataError(f"{f}: not a CICIoV2024 CSV: no {target!r} column (columns: {', '.join(header[:12])})")
        # The binary variant is told by its name (binary/ folder, binary_*.csv): its headers may equal
        # the decimal ones while every cell holds bits.
        binary = "binary" in f.name.lower() or f.parent.name.lower() == "binary" or not all(
            c in header for c in CIC_COLUMNS)
        with open_csv(f) as fh:
            reader = pd.read_csv(fh, dtype=str, chunksize=cfg.chunk_rows, keep_default_na=False,
                                 skipinitialspace=True)
            for chunk in reader:
                chunk.columns = [c.strip() for c in chunk.columns]
                if cfg.max_rows is not None and report.rows_read >= cfg.max_rows:
                    break
                report.rows_read += len(chunk)
                y = chunk[target].astype("string").str.strip()
                bad = (y.isna() | (y == "")).to_numpy()
                report.drop(f"empty label ({target})", int(bad.sum()))
                chunk, y = chunk[~bad], y[~bad]
                if binary:
                    out = _decode_binary(chunk, f)
                else:
                    out = pd.DataFrame({c: normalise_numeric(chunk[c], c, report) for c in CIC_COLUMNS},
                                       index=chunk.index)
                parts.append(out)
                labels.append(y.to_numpy(dtype=object))
                groups.append(np.full(len(out), f.name, dtype=object))
                log.info("%s: %d rows read", f.name, report.rows_read)
    if not parts:
        raise DataError(f"{path}: no rows read")
    frame = pd.concat(parts, ignore_index=True)[[c for c in CIC_COLUMNS if c not in cfg.exclude]]
    for c in cfg.exclude:
        report.dropped_columns[c] = "excluded by data.exclude"
    ds = Dataset(frame, np.concatenate(labels).astype(str), "ciciov2024", "ciciov2024", list(CIC_COLUMNS), [],
                 np.concatenate(groups).astype(str), report)
    return _finish(ds, cfg)


# ------------------------------------------------------------------------------------------------
# Feature CSVs written by `edge-ids-agent features`
# ------------------------------------------------------------------------------------------------


def load_feature_csv(path: str | Path, cfg: DataConfig, dataset: str, feature_kind: str | None = None) -> Dataset:
    """A feature CSV from ``edge-ids-agent features`` with labels from a column or a labels file."""
    files = _csv_files(path)
    report = LoadReport(files=[str(f) for f in files])
    frames = []
    for f in files:
        with open_csv(f) as fh:
            frames.append(pd.read_csv(fh, dtype=str, keep_default_na=False, skipinitialspace=True,
                                      nrows=cfg.max_rows))
    raw = pd.concat(frames, ignore_index=True)
    raw.columns = [c.strip() for c in raw.columns]
    report.rows_read = len(raw)
    if cfg.label_column:
        if cfg.label_column not in raw.columns:
            raise DataError(f"{files[0]}: data.label_column {cfg.label_column!r} is not a column")
        y = raw.pop(cfg.label_column).astype(str).str.strip().to_numpy()
    elif cfg.labels_file:
        y = _read_labels(Path(cfg.labels_file))
        if len(y) != len(raw):
            raise DataError(f"{cfg.labels_file}: {len(y)} labels for {len(raw)} feature rows")
    else:
        raise DataError(f"{path}: feature CSVs need data.label_column or data.labels_file")
    groups = raw.pop(cfg.group_column).astype(str).to_numpy() if cfg.group_column else None
    return rows_dataset(raw, y, groups, cfg, dataset, feature_kind, report)


def rows_dataset(raw: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None, cfg: DataConfig, dataset: str,
                 feature_kind: str | None, report: LoadReport) -> Dataset:
    """Extractor rows (one column per extractor column), their labels and groups -> :class:`Dataset`.

    Shared by feature CSVs and the lab's captures (``make models``), so a user's rows and the lab's
    are cleaned, typed and deduplicated by the same code.
    """
    row_columns = list(raw.columns)
    kind = feature_kind or kind_of_columns(row_columns) or dataset
    frame, text = feature_frame(raw, cfg, report)
    bad = np.array([v == "" for v in y], dtype=bool)
    report.drop("empty label", int(bad.sum()))
    ds = Dataset(frame[~bad].reset_index(drop=True), np.asarray(y)[~bad].astype(str), dataset, kind, row_columns,
                 text, None if groups is None else groups[~bad], report)
    return _finish(ds, cfg)


def kind_of_columns(columns: list[str]) -> str | None:
    """The registered feature kind whose extractor writes exactly these columns (a features CSV's
    header names its kind, so the bundle trained on it records the kind the agent must run)."""
    from agent.features import FEATURE_KINDS

    for name in FEATURE_KINDS.names():
        if set(FEATURE_KINDS.load(name).columns) == set(columns):
            return name
    return None


def feature_frame(raw: pd.DataFrame, cfg: DataConfig, report: LoadReport) -> tuple[pd.DataFrame, list[str]]:
    """Extractor rows (as text or values) -> the model's raw columns in the project encoding.

    Drops what ``cfg`` excludes (the authors' identifier columns with ``recipe: authors``, the shortcut
    fields, ``data.exclude``); text columns become categoricals, the rest float64. Shared by feature
    CSVs and the lab, so both see the same columns the same way.
    """
    cols = [c for c in raw.columns if c not in cfg.exclude and not (cfg.recipe == "authors" and c in EDGE_AUTHORS_DROP)]
    if cfg.exclude_shortcuts:
        cols = [c for c in cols if c not in EDGE_SHORTCUTS]
    text = [c for c in cols if c in EDGE_TEXT or not _mostly_numeric(raw[c])]
    frame = pd.DataFrame({c: normalise_text(raw[c]) if c in text else normalise_numeric(raw[c], c, report)
                          for c in cols})
    return frame, text


def _mostly_numeric(col: pd.Series) -> bool:
    sample = pd.unique(col.head(5000))
    return all(to_number(v) is not None for v in sample)


def _read_labels(p: Path) -> np.ndarray:
    try:
        text = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"{p}: cannot read labels: {exc.strerror or exc}") from None
    rows = list(csv.reader(text))
    if rows and "label" in [c.strip() for c in rows[0]]:
        i = [c.strip() for c in rows[0]].index("label")
        return np.array([r[i].strip() for r in rows[1:]], dtype=object)
    return np.array([r[0].strip() if r else "" for r in rows], dtype=object)


# ------------------------------------------------------------------------------------------------


def _csv_files(path: str | Path) -> list[Path]:
    """The CSV files of ``path`` (a file or a folder, searched recursively), zipped CSVs included.

    Why zips: CICIoV2024's benign file is published as ``decimal_benign.csv.zip`` (with a macOS
    ``__MACOSX/`` entry beside the CSV). A zip is skipped when its CSV lies unzipped beside it, so
    one file is never read twice.
    """
    p = Path(path)
    if p.is_dir():
        csvs = sorted(p.rglob("*.csv"))
        names = {(q.parent, q.name) for q in csvs}
        zips = [z for z in sorted(p.rglob("*.zip")) if (z.parent, z.name.removesuffix(".zip")) not in names]
        files = sorted([*csvs, *zips])
        if not files:
            raise DataError(f"{p}: no .csv files in this directory")
        return files
    if not p.is_file():
        raise DataError(f"{p}: no such file or directory")
    return [p]


def _zip_member(f: Path, zf: zipfile.ZipFile) -> str:
    """The one CSV inside a zip, ignoring macOS resource forks (``__MACOSX/``, ``._*``)."""
    members = [n for n in zf.namelist() if n.lower().endswith(".csv") and not n.startswith("__MACOSX/")
               and not Path(n).name.startswith("._")]
    if len(members) != 1:
        raise DataError(f"{f}: expected one CSV inside the zip, found {len(members)} "
                        f"({', '.join(members[:3]) or 'none'})")
    return members[0]


@contextlib.contextmanager
def open_csv(f: Path) -> Iterator[IO[bytes]]:
    """A binary handle on a CSV file or on the CSV inside a ``.zip``; read errors name the file."""
    try:
        if f.suffix.lower() == ".zip":
            with zipfile.ZipFile(f) as zf, zf.open(_zip_member(f, zf)) as fh:
                yield fh
        else:
            with open(f, "rb") as fh:
                yield fh
    except zipfile.BadZipFile as exc:
        raise DataError(f"{f}: not a readable zip: {exc}") from None
    except OSError as exc:
        raise DataError(f"{f}: cannot read: {exc.strerror or exc}") from None


def _header(f: Path) -> list[str]:
    with open_csv(f) as fh:
        line = fh.readline().decode("utf-8", errors="replace")
    return [h.strip() for h in next(csv.reader([line]), [])]


def _finish(ds: Dataset, cfg: DataConfig) -> Dataset:
    """Dedupe (features + label) after identifier columns were dropped; report conflicting duplicates."""
    if cfg.dedupe if cfg.dedupe is not None else ds.dataset == "edge-iiotset":
        key = ds.frame.copy()
        key["__label__"] = ds.labels
        dup = key.duplicated().to_numpy()
        feat_dup = ds.frame.duplicated(keep=False).to_numpy()
        both = key.duplicated(keep=False).to_numpy()
        ds.report.conflicting_duplicates = int((feat_dup & ~both).sum())
        ds.report.drop("duplicate row after dropping identifier columns", int(dup.sum()))
        keep = ~dup
        ds.frame = ds.frame[keep].reset_index(drop=True)
        ds.labels = ds.labels[keep]
        if ds.groups is not None:
            ds.groups = ds.groups[keep]
    ds.report.rows_kept = len(ds.frame)
    counts = Counter(ds.labels.tolist())
    log.info("loaded %d rows (%s)", len(ds.frame), dict(counts))
    return ds


#: label columns of the published files (Edge-IIoTset, CICIoV2024): with only these beside the
#: extractor's columns, a file is the published dataset, read by its own loader
PUBLISHED_LABELS = frozenset({"Attack_label", "Attack_type", "label", "category", "specific_class"})


def infer_label_column(path: str | Path, dataset: str) -> str | None:
    """The label column of an ``edge-ids-agent features`` CSV given without ``data.label_column``.

    Why: such a CSV, with its label appended, was sent to the published dataset's loader, which
    reported the very columns the file has as missing. A header holding a feature kind's columns
    (the largest kind that fits) is a features CSV; one column beside them is its label. ``None``
    when the file is a published dataset (only the published label columns beside the raw ones)
    or no kind fits. :raises DataError: a features CSV whose label column cannot be told, naming
    the options to set.
    """
    from agent.features import FEATURE_KINDS

    first = _csv_files(path)[0]
    header = _header(first)
    fits = [(len(cols), name, cols) for name in FEATURE_KINDS.names()
            if (cols := set(FEATURE_KINDS.load(name).columns)) <= set(header)]
    if not fits:
        return None
    _, kind, cols = max(fits)
    extras = [h for h in header if h not in cols]
    if kind == dataset and extras and set(extras) <= PUBLISHED_LABELS:
        return None
    if len(extras) == 1:
        log.info("%s: a %s features CSV; its label column is %r", first, kind, extras[0])
        return extras[0]
    what = f"columns {', '.join(extras[:5])} beside them" if extras else "no label column"
    raise DataError(f"{first}: a features CSV (the {kind} columns) with {what}; say which column holds the "
                    "label with --set data.label_column=NAME, or give --set data.labels_file=FILE")


def load_dataset(dataset: str, path: str | Path, cfg: DataConfig, feature_kind: str | None = None) -> Dataset:
    """Dispatch on the file: published Edge-IIoTset / CICIoV2024 files, or agent feature CSVs (whose
    label column is inferred when not given, see :func:`infer_label_column`)."""
    if not (cfg.label_column or cfg.labels_file):
        cfg.label_column = infer_label_column(path, dataset)
    if cfg.label_column or cfg.labels_file:
        return load_feature_csv(path, cfg, dataset, feature_kind or cfg.feature_kind)
    if dataset == "edge-iiotset":
        return load_edge_iiotset(path, cfg)
    if dataset == "ciciov2024":
        return load_ciciov2024(path, cfg)
    raise DataError(f"unknown dataset {dataset!r}; choose edge-iiotset or ciciov2024")


def summary(ds: Dataset) -> dict[str, Any]:
    """The load report plus class counts, for run directories."""
    from agent.config import to_dict

    out: dict[str, Any] = to_dict(ds.report)
    out["class_counts"] = dict(Counter(ds.labels.tolist()))
    out["features"] = ds.features
    return out
