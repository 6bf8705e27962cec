"""Console sink: one human-readable line per alert on standard output (or a given stream)."""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

from agent.alerts.text import format_alert
from agent.config import AgentConfig


class ConsoleSink:
    """Prints alerts for a person watching the agent; delivery is immediate, so flush is trivial."""

    name = "console"

    def __init__(self, stream: TextIO | None = None, json_lines: bool = False):
        """:param stream: where to write; standard output when not given (looked up at each write,
        so pytest's capture and redirections work).
        :param json_lines: write the raw JSON record instead of the compact line.
        """
        self._stream = stream
        self._json = json_lines
        self._lock = threading.Lock()
        self.printed = 0
        self.errors = 0

    @classmethod
    def from_config(cls, cfg: AgentConfig, **kwargs: Any) -> ConsoleSink:
        return cls(**kwargs)

    def emit(self, alert: dict[str, Any]) -> None:
        if self._json:
            import json

            line = json.dumps(alert, separators=(",", ":"))
        else:
            line = format_alert(alert)
        stream = self._stream or sys.stdout
        with self._lock:
            try:
                stream.write(line + "\n")
                stream.flush()
                self.printed += 1
            except (OSError, ValueError):
                # A closed pipe (``| head``) must not stop detection; count it instead.
                self.errors += 1

    def flush(self, timeout_s: float) -> bool:
        return True

    def stats(self) -> dict[str, int]:
        return {"printed": self.printed, "errors": self.errors}

    def close(self) -> None:
        """Nothing to release: the stream belongs to the caller."""
