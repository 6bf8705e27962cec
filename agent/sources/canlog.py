"""CAN frames from recorded logs: every format python-can reads, a fast candump path, CICIoV2024 CSVs.

Why three paths:

* **candump ``-L`` .log** (also ``.log.gz``) is what a Linux gateway records and what the feature
  pipeline replays most. python-can's ``CanutilsLogReader`` builds a full ``can.Message`` per line
  (~4 µs); the pipeline budget is ~6.7 µs per frame *including* feature extraction, so this module
  parses candump lines itself (split, ``int(.., 16)``, ``bytes.fromhex``) in well under 1 µs. Any
  line the fast path does not recognise at once (CAN FD ``##``, remote ``R``, error frames, an
  ``R``/``T`` direction column, odd hex) goes through a line parser that follows python-can's rules,
  so the frames equal python-can's reading of the same file.
* **Vector .asc/.blf, PEAK .trc, python-can .csv/.db, ASAM .mf4** (``.mf4`` only when ``asammdf`` is
  installed) are read with python-can's own readers, unchanged, so every dialect they accept is
  accepted here. Text formats are fed through a line counter, so a line a reader chokes on is
  reported as ``file:line``.
* **CICIoV2024 decimal CSVs** (``ID,DATA_0..DATA_7,label,category,specific_class``) carry no
  timestamps: frames are replayed with synthetic timestamps ``i / nominal_rate_hz`` (capture order is
  all the files keep). :meth:`CanLogSource.iter_labeled` also returns the labels for training.
* **The HCRL vehicle datasets**, the real-car recordings most CAN intrusion work is measured on, in
  the layouts they are published in: the Car-Hacking / Survival-Analysis CSVs (no header;
  ``timestamp,ID,DLC,byte,...,byte,flag`` with as many byte columns as the DLC and flag ``T`` for an
  injected frame, ``R`` for a normal one), their text recordings (``.txt``: ``Timestamp: 1479121434.850202
  ID: 0350    000    DLC: 8    05 28 84 66 6d 00 00 a2``, also OTIDS) and the Car Hacking Challenge 2020
  CSV (``Timestamp,Arbitration_ID,DLC,Data,Class,SubClass``). A team can replay the logs it already
  has without converting them; :meth:`CanLogSource.iter_labeled` returns their label columns.

Malformed input: with ``on_malformed="error"`` a :class:`~agent.errors.CaptureError` names the file
and line (frames yielded before it are already delivered: this is a generator); with ``"skip"`` the
line is skipped, counted in ``stats()["malformed"]`` and logged once per 1,000.

Deliberate difference from python-can 4.x on candump logs: every id with ``CAN_ERR_FLAG``
(0x20000000) set is an error frame, as SocketCAN defines it; python-can only recognises the
bus-error class and reports the other classes (controller, protocol, transceiver...) as data frames
with a small id. Error frames keep the error class in ``arbitration_id`` and the detail bytes in
``data``.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar

from agent.canbatch import CanBatch
from agent.errors import BackendError, CaptureError
from agent.records import CanFrame
from agent.sources.candump_chunk import parse_plain_chunk

if TYPE_CHECKING:
    from agent.config import SourceConfig

log = logging.getLogger(__name__)
_T = TypeVar("_T")

CAN_ERR_FLAG = 0x20000000
CAN_EFF_MASK = 0x1FFFFFFF
#: python-can readers by suffix (the table of ``can.io.player``; imported lazily there)
_PYTHON_CAN_SUFFIXES = (".asc", ".blf", ".csv", ".db", ".mf4", ".trc")
_TEXT_SUFFIXES = (".asc", ".csv", ".trc")
#: CICIoV2024 decimal header (the label columns after these are optional)
CICIOV2024_COLUMNS = ("ID", *(f"DATA_{i}" for i in range(8)))
#: Car Hacking Challenge 2020 header (HCRL)
HCRL_CHALLENGE_COLUMNS = ("Timestamp", "Arbitration_ID", "DLC", "Data")
#: formats whose rows carry labels (:meth:`CanLogSource.iter_labeled`; the HCRL ones in _HCRL_PARSERS)
_LABELED_FORMATS = ("ciciov2024", "hcrl-csv", "hcrl-text", "hcrl-challenge")
#: lines per run a chunk with some line that is not a plain frame is parsed in (iter_batches)
_SUB_CHUNK = 256

_new_frame: Callable[[type, tuple[Any, ...]], CanFrame] = tuple.__new__


def parse_candump_line(line: str) -> CanFrame | None:
    """Parse one candump ``-L`` line the way python-can's ``CanutilsLogReader`` does.

    Returns ``None`` for a blank line; raises :class:`ValueError` (with a reason) for a line that is
    not a candump frame. This is the reference path; :class:`CanLogSource` uses it for the lines its
    fast path declines, and the property tests compare the two.
    """
    temp = line.strip()
    if not temp:
        return None
    parts = temp.split()
    if temp[-2:].lower() in (" r", " t"):
        if len(parts) != 4:
            raise ValueError(f"expected '(timestamp) channel id#data R|T', got {len(parts)} fields")
        ts_s, channel, frame = parts[0], parts[1], parts[2]
    else:
        if len(parts) != 3:
            raise ValueError(f"expected '(timestamp) channel id#data', got {len(parts)} fields")
        ts_s, channel, frame = parts
    if len(ts_s) < 3 or ts_s[0] != "(" or ts_s[-1] != ")":
        raise ValueError(f"timestamp {ts_s!r} is not '(seconds)'")
    ts = float(ts_s[1:-1])
    id_s, sep, data = frame.partition("#")
    if not sep:
        raise ValueError(f"frame {frame!r} has no '#' between id and data")
    if not id_s or len(id_s) > 8:
        raise ValueError(f"CAN id {id_s!r} is not 1-8 hex digits")
    can_id = int(id_s, 16)
    is_extended = len(id_s) > 3
    is_fd = False
    if data and data[0] == "#":
        if len(data) < 2:
            raise ValueError("CAN FD frame without its flags digit")
        int(data[1], 16)  # BRS/ESI flags: validated, not kept
        is_fd = True
        data = data[2:]
    if data and data[0] in "rR" and not is_fd:
        dlc = int(data[1:]) if len(data) > 1 else 0
        if not 0 <= dlc <= 15:
            raise ValueError(f"remote frame DLC {dlc} outside 0..15")
        return _new_frame(CanFrame, (ts, can_id & CAN_EFF_MASK, b"", dlc, is_extended, False, True, False, channel))
    # python-can reads a trailing single nibble as a byte; candump never writes one.
    payload = bytes.fromhex(data[:-1]) + bytes((int(data[-1], 16),)) if len(data) % 2 else bytes.fromhex(data)
    if len(payload) > 64 or (not is_fd and len(payload) > 8):
        raise ValueError(f"{len(payload)} data bytes is too long for a {'CAN FD' if is_fd else 'CAN'} frame")
    arbitration_id = can_id & CAN_EFF_MASK
    if can_id & CAN_ERR_FLAG:
        return _new_frame(CanFrame, (ts, arbitration_id, payload, len(payload), True, False, False, True, channel))
    return _new_frame(CanFrame, (ts, arbitration_id, payload, len(payload), is_extended, is_fd, False, False, channel))


def _hcrl_frame(ts: str, id_s: str, dlc_s: str, data: list[str], remote: bool = False) -> CanFrame:
    """One frame of an HCRL recording from its text fields (raises ValueError with a reason)."""
    if not id_s or len(id_s) > 8:
        raise ValueError(f"CAN id {id_s!r} is not 1-8 hex digits")
    can_id = int(id_s, 16)
    if can_id > CAN_EFF_MASK:
        raise ValueError(f"CAN id {id_s!r} is above 0x1FFFFFFF")
    dlc = int(dlc_s)
    if not 0 <= dlc <= 8:
        raise ValueError(f"DLC {dlc} outside 0..8")
    if remote:
        payload = b""
    else:
        if len(data) != dlc:
            raise ValueError(f"DLC {dlc} but {len(data)} data bytes")
        if any(len(b) > 2 for b in data):
            raise ValueError(f"data bytes {' '.join(data)!r} are not two hex digits each")
        payload = bytes(int(b, 16) for b in data)
    # HCRL recordings write 11-bit ids as 3-4 digits ("0316"): extended only when the value needs it
    return _new_frame(CanFrame, (float(ts), can_id, payload, dlc, can_id > 0x7FF, False, remote, False, None))


# One parser per HCRL layout: a row -> the frame and the row's label columns, None for a blank line,
# ValueError naming what is wrong.
HcrlRow = tuple[CanFrame, tuple[str, ...]]


def parse_car_hacking_row(line: str) -> HcrlRow | None:
    """A Car-Hacking CSV row; its label is the ``T``/``R`` flag (``()`` when the row has none)."""
    temp = line.strip()
    if not temp:
        return None
    cells = [c.strip() for c in temp.split(",")]
    if len(cells) < 3:
        raise ValueError(f"{len(cells)} columns, expected timestamp,ID,DLC,bytes...,flag")
    rest = cells[3:]
    while rest and not rest[-1]:  # rows padded to the widest row's column count
        rest.pop()
    flag: tuple[str, ...] = ()
    if rest and rest[-1] in ("T", "R"):  # neither is a hex byte
        flag = (rest[-1],)
        rest = rest[:-1]
    return _hcrl_frame(cells[0], cells[1], cells[2], rest), flag


def parse_hcrl_text_row(line: str) -> HcrlRow | None:
    """A ``Timestamp: t ID: id flags DLC: n bytes...`` recording line (no label)."""
    parts = line.split()
    if not parts:
        return None
    if len(parts) < 7 or parts[0] != "Timestamp:" or parts[2] != "ID:" or parts[5] != "DLC:":
        raise ValueError("expected 'Timestamp: t ID: id flags DLC: n bytes...'")
    # the 3-digit field after the id is the frame's flag bits; the first is the remote-request bit
    remote = parts[4][:1] == "1"
    return _hcrl_frame(parts[1], parts[3], parts[6], parts[7:], remote=remote), ()


def parse_challenge_row(line: str) -> HcrlRow | None:
    """A Car Hacking Challenge row; its labels are ``Class, SubClass``."""
    temp = line.strip()
    if not temp:
        return None
    cells = [c.strip() for c in temp.split(",")]
    if len(cells) < 4:
        raise ValueError(f"{len(cells)} columns, expected Timestamp,Arbitration_ID,DLC,Data,...")
    return _hcrl_frame(cells[0], cells[1], cells[2], cells[3].split()), tuple(cells[4:])


_HCRL_PARSERS: dict[str, Callable[[str], HcrlRow | None]] = {
    "hcrl-csv": parse_car_hacking_row,
    "hcrl-text": parse_hcrl_text_row,
    "hcrl-challenge": parse_challenge_row,
}


def _looks_like_hcrl_csv(line: str) -> bool:
    """A headerless Car-Hacking row (``timestamp,ID,DLC,bytes...,T|R``)?"""
    try:
        return parse_car_hacking_row(line) is not None
    except ValueError:
        return False


class _LineTap:
    """A text file as python-can's readers see it, counting lines and optionally replaying a header.

    python-can's text readers iterate ``self.file`` line by line, so the line number at the moment
    a reader raises is the offending line. To *skip* that line, a fresh reader is started on the
    rest of the file, with the header lines (those before the first frame) replayed first so it
    knows the base, start time and columns again.
    """

    def __init__(self, f: IO[str], start_line: int, header: list[str]) -> None:
        self._next = iter(f).__next__
        self._header = list(header)
        self.lineno = start_line
        self.recorded: list[str] | None = [] if not header else None
        self.last: str | None = None

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        if self._header:
            return self._header.pop(0)
        line = self._next()
        self.lineno += 1
        self.last = line
        if self.recorded is not None:
            self.recorded.append(line)
        return line

    def close(self) -> None:
        """The source owns the real file; python-can's ``stop()`` must not close it mid-recovery."""


class CanLogSource:
    """Iterate the CAN frames of a log file as :class:`~agent.records.CanFrame`.

    :param path: the log; the format comes from the suffix (``.log``, ``.log.gz``, ``.asc``, ``.blf``,
        ``.trc``, ``.csv``, ``.db``, ``.mf4``) and, for ``.csv``, from the header line.
    :param on_malformed: ``"error"`` (raise :class:`CaptureError` naming ``file:line``) or ``"skip"``.
    :param nominal_rate_hz: frames/s for files without timestamps (CICIoV2024 CSV).
    :param fast: use the candump fast path (``False`` reads candump logs with the reference line
        parser; only for comparisons).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        on_malformed: Literal["error", "skip"] = "error",
        nominal_rate_hz: float = 2000.0,
        fast: bool = True,
    ) -> None:
        self.path = Path(path)
        if on_malformed not in ("error", "skip"):
            raise CaptureError(f"on_malformed must be 'error' or 'skip', got {on_malformed!r}")
        if nominal_rate_hz <= 0:
            raise CaptureError(f"nominal_rate_hz must be positive, got {nominal_rate_hz}")
        self.on_malformed = on_malformed
        self.nominal_rate_hz = float(nominal_rate_hz)
        self.fast = fast
        self._closed = False
        self._stats = {
            "frames": 0,
            "data_frames": 0,
            "remote_frames": 0,
            "error_frames": 0,
            "fd_frames": 0,
            "malformed": 0,
            "lines": 0,
        }
        if not self.path.is_file():
            raise CaptureError(f"{self.path}: no such CAN log file")
        self.format = self._detect_format()

    @classmethod
    def from_config(cls, config: SourceConfig) -> CanLogSource:
        """Build from the ``source`` section (``path``, ``on_malformed``, ``nominal_rate_hz``)."""
        if not config.path:
            raise CaptureError("source.path: the canlog backend needs a log file path")
        return cls(config.path, on_malformed=config.on_malformed, nominal_rate_hz=config.nominal_rate_hz)

    # ------------------------------------------------------------------------------------------
    # format detection
    # ------------------------------------------------------------------------------------------

    def _suffix(self) -> tuple[str, bool]:
        suffixes = [s.lower() for s in self.path.suffixes]
        if suffixes and suffixes[-1] == ".gz":
            return (suffixes[-2] if len(suffixes) >= 2 else ""), True
        return (suffixes[-1] if suffixes else ""), False

    def _open_text(self) -> IO[str]:
        # latin-1 never fails to decode: a corrupt byte becomes a malformed *line* with a number.
        _suffix, gz = self._suffix()
        if gz:
            return gzip.open(self.path, "rt", encoding="latin-1", newline=None)
        return self.path.open("r", encoding="latin-1", newline=None)

    def _detect_format(self) -> str:
        suffix, gz = self._suffix()
        if suffix == ".log":
            return "candump"
        if suffix == ".csv":
            with self._open_text() as f:
                header = f.readline().strip().lstrip("\ufeff\xef\xbb\xbf")
            cells = [c.strip() for c in header.split(",")]
            if tuple(cells[:9]) == CICIOV2024_COLUMNS:
                return "ciciov2024"
            if cells[:2] == ["timestamp", "arbitration_id"]:
                return "python-can"
            if tuple(cells[:4]) == HCRL_CHALLENGE_COLUMNS:
                return "hcrl-challenge"
            if _looks_like_hcrl_csv(header):
                return "hcrl-csv"
            raise CaptureError(
                f"{self.path}:1: unknown CSV header {header[:80]!r}; expected python-can's "
                "'timestamp,arbitration_id,...', CICIoV2024 decimal 'ID,DATA_0,...,DATA_7,...', "
                "HCRL Car-Hacking rows 'timestamp,ID,DLC,bytes...,T|R' or the Car Hacking Challenge's "
                "'Timestamp,Arbitration_ID,DLC,Data,...' (the binary/hex CICIoV2024 variants are not "
                "supported: use the decimal files)"
            )
        if suffix == ".txt":
            with self._open_text() as f:
                first = next((ln for ln in f if ln.strip()), "")
            if first.lstrip().startswith("Timestamp:"):
                return "hcrl-text"
            raise CaptureError(
                f"{self.path}:1: unknown text CAN log {first.strip()[:80]!r}; the .txt logs read are "
                "HCRL/OTIDS recordings ('Timestamp: t ID: id 000 DLC: n bytes...')"
            )
        if suffix in _PYTHON_CAN_SUFFIXES:
            if gz and suffix not in _TEXT_SUFFIXES:
                raise CaptureError(f"{self.path}: compressed {suffix} is not supported; decompress it first")
            return "python-can"
        raise CaptureError(
            f"{self.path}: unknown CAN log format {suffix or '(no suffix)'!r}; supported: .log (candump -L), "
            ".asc, .blf, .trc, .csv (python-can, CICIoV2024 decimal, HCRL Car-Hacking or Car Hacking "
            "Challenge), .txt (HCRL/OTIDS), .db, .mf4 (with asammdf)"
        )

    # ------------------------------------------------------------------------------------------
    # iteration
    # ------------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[CanFrame]:
        if self.format == "candump":
            return self._iter_candump()
        if self.format in _LABELED_FORMATS:
            return (frame for frame, _labels in self.iter_labeled())
        return self._iter_python_can()

    def iter_batches(self, chunk_chars: int = 1 << 18) -> Iterator[CanBatch]:
        """The frames as :class:`~agent.canbatch.CanBatch` es, in order (the replay's hot path).

        A candump log is read a chunk of ``chunk_chars`` characters at a time; a chunk of plain data
        frames is parsed at once (:func:`~agent.sources.candump_chunk.parse_plain_chunk`), any other
        chunk line by line, so the frames, counters and errors are the line reader's. With
        ``on_malformed="error"`` the frames before a bad line come out as a batch before the error
        is raised, so nothing already accepted is lost. Other formats: their frames in batches.
        """
        if self.format != "candump" or not self.fast:
            it = iter(self)
            while chunk := list(islice(it, 4096)):
                yield CanBatch.from_frames(chunk)
            return
        st = self._stats
        at = [0]
        rest = ""
        with self._candump_file(at) as f:
            while not self._closed:
                text = f.read(chunk_chars)
                if not text:
                    if not rest:
                        break
                    text, rest = rest + "\n", ""
                else:
                    text = rest + text
                    end = text.rfind("\n") + 1
                    if not end:  # no whole line yet
                        rest = text
                        continue
                    text, rest = text[:end], text[end:]
                n = text.count("\n")
                batch = parse_plain_chunk(text, n)
                if batch is None:
                    yield from self._mixed_chunk(text.split("\n")[:n], at)
                    continue
                at[0] += n
                st["frames"] += n
                st["data_frames"] += n
                st["lines"] = at[0]
                yield batch

    def _mixed_chunk(self, lines: list[str], at: list[int]) -> Iterator[CanBatch]:
        """A chunk with some line that is not a plain frame, as one batch: runs of ``_SUB_CHUNK`` plain
        lines still parsed at once, the others line by line (all of the rest after two such runs in a
        row: a log of CAN FD or remote frames). The frames before a malformed line come out before
        the error."""
        st = self._stats
        parts: list[CanBatch] = []
        misses = 0
        try:
            for lo in range(0, len(lines), _SUB_CHUNK):
                sub = lines[lo : lo + _SUB_CHUNK] if misses < 2 else lines[lo:]
                batch = parse_plain_chunk("\n".join(sub) + "\n", len(sub)) if misses < 2 else None
                if batch is not None:
                    misses = 0
                    at[0] += len(sub)
                    st["frames"] += len(sub)
                    st["data_frames"] += len(sub)
                    st["lines"] = at[0]
                    parts.append(batch)
                    continue
                misses += 1
                frames: list[CanFrame] = []
                try:
                    frames.extend(self._candump_lines(sub, at))
                finally:
                    if frames:
                        parts.append(CanBatch.from_frames(frames))
                if misses > 2:
                    break
        finally:  # also when a malformed line raises: what was read before it goes on first
            if parts:
                yield CanBatch.concat(parts)

    def iter_labeled(self) -> Iterator[tuple[CanFrame, tuple[str, ...]]]:
        """Each frame with its row's label columns, for the formats that carry labels.

        CICIoV2024: ``(label, category, specific_class)``; HCRL Car-Hacking CSV: ``(flag,)`` (``T``
        injected, ``R`` normal; ``()`` for a row without one); Car Hacking Challenge:
        ``(Class, SubClass)``; HCRL text: ``()``.
        """
        if self.format not in _LABELED_FORMATS:
            raise CaptureError(
                f"{self.path}: labels exist only in CICIoV2024 and HCRL files, this is {self.format}"
            )
        if self.format == "ciciov2024":
            return self._iter_ciciov2024()
        return self._iter_hcrl()

    def stats(self) -> dict[str, int]:
        """Counters: frames (all kinds), data/remote/error/FD frames, malformed lines, lines read."""
        return dict(self._stats)

    def close(self) -> None:
        """End iteration: a running iteration stops within a few thousand frames and closes its file.

        The file is not closed under a running generator (that would turn a clean stop into an I/O
        error); the generator's ``finally`` closes it, also when the generator is discarded.
        """
        self._closed = True

    def _malformed(self, lineno: int | None, reason: str, line: str | None = None) -> None:
        """Raise or count one malformed line (``lineno`` None: a binary file, no lines)."""
        where = f"{self.path}:{lineno}" if lineno is not None else str(self.path)
        shown = f": {line.strip()[:120]!r}" if line is not None else ""
        if self.on_malformed == "error":
            raise CaptureError(
                f"{where}: malformed {self.format} record ({reason}){shown}; "
                "fix the line or set source.on_malformed: skip"
            )
        self._stats["malformed"] += 1
        if self._stats["malformed"] % 1000 == 1:
            log.warning("%s: skipped malformed %s record (%s)%s", where, self.format, reason, shown)

    def _parse_line(self, lineno: int, line: str, parse: Callable[[str], _T | None]) -> _T | None:
        """``parse(line)``, or ``None`` for a blank line and for a malformed one (raised or counted)."""
        try:
            return parse(line)
        except ValueError as exc:
            self._stats["lines"] = lineno
            self._malformed(lineno, str(exc), line)
            return None

    def _count(self, frame: CanFrame) -> None:
        st = self._stats
        st["frames"] += 1
        if frame.is_error:
            st["error_frames"] += 1
        elif frame.is_remote:
            st["remote_frames"] += 1
        else:
            st["data_frames"] += 1
        if frame.is_fd:
            st["fd_frames"] += 1

    def _iter_candump(self) -> Iterator[CanFrame]:
        """Every frame of a candump log, line by line (:meth:`_candump_lines` over the file)."""
        at = [0]
        with self._candump_file(at) as f:
            yield from self._candump_lines(f, at)

    @contextlib.contextmanager
    def _candump_file(self, at: list[int]) -> Iterator[IO[str]]:
        """The candump log, open for reading by line or by chunk (``at[0]``: the last line read). A corrupt
        .gz stream ends it as a malformed line; a read error is a :class:`CaptureError` naming the line."""
        f = self._open_text()
        try:
            yield f
        except UnicodeDecodeError as exc:  # only possible for a corrupt .gz stream
            self._malformed(at[0] + 1, f"undecodable: {exc}")
        except (OSError, EOFError) as exc:
            raise CaptureError(f"{self.path}:{at[0] + 1}: cannot read: {exc}") from exc
        finally:
            f.close()

    def _candump_lines(self, lines: Iterable[str], at: list[int]) -> Iterator[CanFrame]:
        """The fast path: plain classic data frames inline, everything else via the reference parser.

        ``at[0]`` is the number of the line before the first of ``lines`` and is kept at the last line
        read. Counters for fast-path frames are kept in locals and written back per 4,096 lines and at
        the end, so ``stats()`` during iteration lags by at most that many frames.
        """
        st = self._stats
        new = _new_frame
        cls = CanFrame
        fromhex = bytes.fromhex
        slow = parse_candump_line
        fast = self.fast
        lineno = at[0]
        plain = 0  # fast-path frames not yet added to stats
        try:
            for line in lines:
                lineno += 1
                at[0] = lineno
                if fast:
                    try:
                        ts_s, channel, frame = line.split()
                        id_s, _, data = frame.partition("#")
                        ext = len(id_s) == 8
                        if (ext or len(id_s) == 3) and ts_s[0] == "(" and ts_s[-1] == ")" and len(data) <= 16:
                            can_id = int(id_s, 16)
                            if not ext or can_id <= CAN_EFF_MASK:  # else an error frame: reference parser
                                payload = fromhex(data)  # ValueError for FD '##', remote 'R', odd hex
                                yield new(
                                    cls,
                                    (float(ts_s[1:-1]), can_id, payload, len(payload),
                                     ext, False, False, False, channel),
                                )
                                plain += 1
                                if not plain & 4095:
                                    st["frames"] += plain
                                    st["data_frames"] += plain
                                    st["lines"] = lineno
                                    plain = 0
                                    if self._closed:
                                        return
                                continue
                    except ValueError:
                        pass  # not a plain frame: the reference parser decides (and names the reason)
                parsed = self._parse_line(lineno, line, slow)
                if parsed is None:
                    continue
                self._count(parsed)
                yield parsed
                if self._closed:
                    return
        finally:
            st["frames"] += plain
            st["data_frames"] += plain
            st["lines"] = max(st["lines"], lineno)

    def _iter_ciciov2024(self) -> Iterator[tuple[CanFrame, tuple[str, ...]]]:
        """CICIoV2024 decimal rows as frames at ``nominal_rate_hz``, with their label columns."""
        f = self._open_text()
        period = 1.0 / self.nominal_rate_hz
        st = self._stats
        new = _new_frame
        cls = CanFrame
        index = 0
        lineno = 1
        try:
            f.readline()  # header, checked by _detect_format
            for line in f:
                lineno += 1
                cells = line.rstrip("\r\n").split(",")
                if len(cells) == 1 and not cells[0].strip():
                    continue
                try:
                    if len(cells) < 9:
                        raise ValueError(f"{len(cells)} columns, expected at least 9 (ID, DATA_0..DATA_7)")
                    can_id = int(cells[0])
                    if not 0 <= can_id <= CAN_EFF_MASK:
                        raise ValueError(f"ID {can_id} outside 0..0x1FFFFFFF")
                    payload = bytes([int(c) for c in cells[1:9]])
                except ValueError as exc:
                    st["lines"] = lineno
                    self._malformed(lineno, str(exc), line)
                    continue
                frame = new(cls, (index * period, can_id, payload, 8, can_id > 0x7FF, False, False, False, None))
                index += 1
                st["frames"] += 1
                st["data_frames"] += 1
                yield frame, tuple(c.strip() for c in cells[9:])
                if self._closed:
                    return
        finally:
            st["lines"] = max(st["lines"], lineno)
            f.close()

    def _iter_hcrl(self) -> Iterator[tuple[CanFrame, tuple[str, ...]]]:
        """HCRL rows (CSV, text or challenge CSV) with their label columns."""
        f = self._open_text()
        fmt = self.format
        parse = _HCRL_PARSERS[fmt]
        st = self._stats
        lineno = 0
        try:
            if fmt == "hcrl-challenge":
                f.readline()  # header, checked by _detect_format
                lineno = 1
            for line in f:
                lineno += 1
                parsed = self._parse_line(lineno, line, parse)
                if parsed is None:
                    continue
                self._count(parsed[0])
                yield parsed
                if self._closed:
                    return
        finally:
            st["lines"] = max(st["lines"], lineno)
            f.close()

    def _iter_python_can(self) -> Iterator[CanFrame]:
        """Any format python-can reads, through its own reader classes."""
        try:
            from can.io.player import MESSAGE_READERS
        except ImportError as exc:  # pragma: no cover - python-can is a runtime dependency
            raise BackendError("reading CAN logs needs python-can (pip install python-can)") from exc
        suffix, _gz = self._suffix()
        reader_cls = MESSAGE_READERS.get(suffix)
        if reader_cls is None:
            raise CaptureError(f"{self.path}: python-can has no reader for {suffix!r}")
        if suffix in _TEXT_SUFFIXES:
            yield from self._iter_text_reader(reader_cls)
            return
        try:
            reader = reader_cls(str(self.path))
        except NotImplementedError as exc:
            raise BackendError(f"{self.path}: {exc} (for .mf4: pip install asammdf)") from exc
        except Exception as exc:
            raise CaptureError(f"{self.path}: python-can cannot open it: {exc}") from exc
        count = 0
        try:
            it = iter(reader)
            while not self._closed:
                try:
                    msg = next(it)
                except StopIteration:
                    break
                except _reader_errors() as exc:  # a corrupt binary object: no line to resume at
                    self._malformed(None, f"after frame {count}: {type(exc).__name__}: {exc}")
                    log.warning("%s: stopped at a corrupt object after frame %d", self.path, count)
                    break
                frame = _from_message(msg)
                count += 1
                self._count(frame)
                yield frame
        finally:
            reader.stop()

    def _iter_text_reader(self, reader_cls: Any) -> Iterator[CanFrame]:
        """A python-can text reader over a line counter; on a bad line, name it or resume after it."""
        f = self._open_text()
        header: list[str] = []
        start_line = 0
        try:
            while not self._closed:
                tap = _LineTap(f, start_line, header)
                reader = reader_cls(tap)
                it = iter(reader)
                while True:
                    try:
                        msg = next(it)
                    except StopIteration:
                        self._stats["lines"] = tap.lineno
                        return
                    except _reader_errors() as exc:
                        if tap.recorded is not None:
                            header = tap.recorded[:-1]
                        self._stats["lines"] = tap.lineno
                        if tap.lineno == start_line:  # nothing consumed: resuming would loop
                            raise CaptureError(
                                f"{self.path}:{tap.lineno}: python-can cannot read it: {type(exc).__name__}: {exc}"
                            ) from exc
                        self._malformed(tap.lineno, f"{type(exc).__name__}: {exc}", tap.last)
                        start_line = tap.lineno
                        break
                    if tap.recorded is not None:
                        # the lines before this frame's line are the header a restart replays
                        header = tap.recorded[:-1]
                        tap.recorded = None
                    frame = _from_message(msg)
                    self._count(frame)
                    yield frame
                    if self._closed:
                        return
        finally:
            f.close()


def _reader_errors() -> tuple[type[BaseException], ...]:
    """What python-can's readers raise on bad input (parsing errors, truncated/corrupt binary objects)."""
    import struct
    import zlib

    errors: list[type[BaseException]] = [
        ValueError, LookupError, TypeError, ArithmeticError, EOFError, OSError, struct.error, zlib.error
    ]
    try:
        from can.io.blf import BLFParseError

        errors.append(BLFParseError)
    except ImportError:  # pragma: no cover - older python-can
        log.debug("python-can has no BLFParseError")
    return tuple(errors)


def _from_message(msg: Any) -> CanFrame:
    """A python-can ``Message`` as a :class:`CanFrame` (channel as text, as candump names it)."""
    channel = msg.channel
    return _new_frame(
        CanFrame,
        (
            float(msg.timestamp),
            int(msg.arbitration_id),
            bytes(msg.data or b""),
            int(msg.dlc),
            bool(msg.is_extended_id),
            bool(msg.is_fd),
            bool(msg.is_remote_frame),
            bool(msg.is_error_frame),
            None if channel is None else str(channel),
        ),
    )


def read_frames(path: str | os.PathLike[str], **kwargs: Any) -> Iterable[CanFrame]:
    """Convenience: all frames of a log (for tests and small files)."""
    return list(CanLogSource(path, **kwargs))
