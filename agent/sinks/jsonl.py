"""JSONL sink: alerts appended to a file, one EVE record per line, rotated by size.

Why flush per alert: the file is what a local SIEM forwarder (Filebeat, Fluent Bit) tails, and what
an engineer reads after a power cut; an alert sitting in a userspace buffer helps neither. Rotation
works like ``logging.handlers.RotatingFileHandler`` (``eve.jsonl`` -> ``eve.jsonl.1`` -> ... ->
``eve.jsonl.<backups>``, the oldest deleted) so a gateway's small disk cannot fill up; a line is never
split across two files.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import IO, Any

from agent.config import AgentConfig
from agent.errors import DeliveryError

log = logging.getLogger(__name__)


class JsonlSink:
    """Appends alerts to ``path`` (flushed per line), rotating at ``max_bytes`` keeping ``backups``."""

    name = "jsonl"

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = 50_000_000, backups: int = 5):
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self.backups = max(0, int(backups))
        self._lock = threading.Lock()
        self.written = 0
        self.rotations = 0
        self.errors = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh: IO[bytes] | None = open(self.path, "ab")  # noqa: SIM115 - kept open for appends
        except OSError as exc:
            raise DeliveryError(
                f"sinks.jsonl.path: cannot open {self.path} for appending: {exc.strerror or exc}; "
                "choose a writable path"
            ) from exc
        self._size = self._fh.tell()

    @classmethod
    def from_config(cls, cfg: AgentConfig, **kwargs: Any) -> JsonlSink:
        path = kwargs.pop("path", None) or cfg.sinks.jsonl.path
        if not path:
            raise DeliveryError("sinks.jsonl.path: no file given for the JSONL sink")
        return cls(path, max_bytes=cfg.sinks.jsonl.max_bytes, backups=cfg.sinks.jsonl.backups, **kwargs)

    def emit(self, alert: dict[str, Any]) -> None:
        line = (json.dumps(alert, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            try:
                if self._fh is None:
                    self._fh = open(self.path, "ab")  # noqa: SIM115
                    self._size = self._fh.tell()
                if self.max_bytes > 0 and self._size > 0 and self._size + len(line) > self.max_bytes:
                    self._rotate()
                assert self._fh is not None
                self._fh.write(line)
                self._fh.flush()
                self._size += len(line)
                self.written += 1
            except OSError as exc:
                # A full disk must not stop detection (MQTT may still deliver); log and count.
                self.errors += 1
                log.error("JSONL sink: cannot write %s: %s", self.path, exc)

    def _rotate(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            for i in range(self.backups - 1, 0, -1):
                src = self.path.with_name(f"{self.path.name}.{i}")
                if src.exists():
                    os.replace(src, self.path.with_name(f"{self.path.name}.{i + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._fh = open(self.path, "ab")  # noqa: SIM115
        self._size = 0
        self.rotations += 1

    def flush(self, timeout_s: float) -> bool:
        """Lines are flushed as they are written; True unless the last write failed to open the file."""
        with self._lock:
            return self._fh is not None

    def stats(self) -> dict[str, int]:
        return {"written": self.written, "rotations": self.rotations, "errors": self.errors}

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
