"""The MQTT outbox: alerts stored on disk before they are published, deleted only on PUBACK.

Why sqlite in WAL mode: one file in ``state_dir``, atomic appends and deletes, readers never block
the writer, and a process killed with SIGKILL (or a watchdog restart) leaves every committed row
readable by the next start. With ``synchronous=NORMAL`` (the default here) a commit survives a
process crash; only a power cut may lose the last few commits. ``synchronous=FULL`` (the
``mqtt.outbox_synchronous`` key) survives that too, at the cost of an fsync per alert, which is
slow on SD cards.

Rows have an increasing ``seq`` (AUTOINCREMENT: never reused, even after deletes), so "in order"
means "by seq", across restarts.

Bounded: at most ``max_rows`` rows. When full, the oldest rows *not currently handed to the
network* are deleted and counted in :attr:`Outbox.dropped` (reported in health). Rows already handed
to the MQTT client (at most its in-flight window) are not dropped, as the client will deliver them
anyway; so the outbox may exceed ``max_rows`` by that window while the broker is slow to ack.

Thread-safe: one connection, guarded by a lock (the scoring thread appends, the network thread
deletes on PUBACK and reads the next rows to send).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import NamedTuple

from agent.errors import DeliveryError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Row(NamedTuple):
    """One stored publication."""

    seq: int
    topic: str
    payload: bytes
    qos: int


class Outbox:
    """A bounded, durable FIFO of MQTT publications (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str], max_rows: int = 100_000, synchronous: str = "NORMAL"):
        """:param path: the sqlite file; its directory is created.
        :param max_rows: rows kept at most; the oldest not in flight are dropped beyond.
        :param synchronous: sqlite ``synchronous`` pragma, ``NORMAL`` or ``FULL``.
        :raises DeliveryError: the file cannot be created or opened.
        """
        self.path = Path(path)
        self.max_rows = max(1, int(max_rows))
        self._lock = threading.Lock()
        self.dropped = 0
        self.stored = 0
        self.acked = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous.upper() == 'FULL' else 'NORMAL'}")
            self._db.executescript(_SCHEMA)
            (self._count,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
            row = self._db.execute("SELECT value FROM meta WHERE key='dropped_total'").fetchone()
            self.dropped_total = int(row[0]) if row else 0
        except sqlite3.Error as exc:
            raise DeliveryError(
                f"state_dir: cannot open the MQTT outbox {self.path}: {exc}; "
                "make state_dir a writable directory on persistent storage"
            ) from exc
        except OSError as exc:
            raise DeliveryError(
                f"state_dir: cannot create {self.path.parent} for the MQTT outbox: {exc.strerror or exc}"
            ) from exc
        if self._count:
            log.info("MQTT outbox %s holds %d alert(s) from before; they are sent first", self.path, self._count)

    def __len__(self) -> int:
        return self._count

    def put(self, topic: str, payload: bytes, qos: int, in_flight_upto: int = 0) -> int:
        """Store one publication; returns its seq. Drops the oldest rows above ``in_flight_upto``
        (rows with a seq at or below it are in flight) when over :attr:`max_rows`."""
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO outbox (topic, payload, qos, created) VALUES (?, ?, ?, ?)",
                (topic, payload, qos, time.time()),
            )
            seq = int(cur.lastrowid or 0)
            self._count += 1
            self.stored += 1
            excess = self._count - self.max_rows
            if excess > 0:
                cur = self._db.execute(
                    "DELETE FROM outbox WHERE seq IN "
                    "(SELECT seq FROM outbox WHERE seq > ? AND seq != ? ORDER BY seq LIMIT ?)",
                    (in_flight_upto, seq, excess),
                )
                n = cur.rowcount
                if n > 0:
                    self._count -= n
                    self.dropped += n
                    self.dropped_total += n
                    self._db.execute(
                        "INSERT INTO meta (key, value) VALUES ('dropped_total', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (self.dropped_total,),
                    )
                    log.warning(
                        "MQTT outbox full (%d alerts): dropped the %d oldest undelivered alert(s), %d so far",
                        self.max_rows, n, self.dropped,
                    )
            return seq

    def after(self, seq: int, limit: int) -> list[Row]:
        """Up to ``limit`` rows with a seq greater than ``seq``, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload, qos FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            ).fetchall()
        return [Row(int(s), str(t), bytes(p), int(q)) for s, t, p, q in rows]

    def delete(self, seq: int) -> bool:
        """Remove a delivered row; False when it was no longer there (dropped meanwhile)."""
        with self._lock:
            n = self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,)).rowcount
            if n:
                self._count -= n
                self.acked += n
            return n > 0

    def seqs(self) -> list[int]:
        """Every stored seq, in order (tests and diagnostics)."""
        with self._lock:
            return [int(r[0]) for r in self._db.execute("SELECT seq FROM outbox ORDER BY seq")]

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error as exc:
                log.warning("closing the MQTT outbox %s: %s", self.path, exc)
