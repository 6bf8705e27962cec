"""Waiting for what another thread or process does: polling with a deadline, never a fixed sleep.

Why: a fixed sleep is too short on a loaded CI machine and wastes time everywhere else; polling a
condition with a deadline returns as soon as the condition holds and fails with what was awaited.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll ``predicate`` every ``step`` seconds until it holds or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
