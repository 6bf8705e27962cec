"""One bounded table for every piece of per-key state the agent keeps (streams, conversations, hosts).

Why one helper: the agent keeps state per flow, per host and per DNS transaction, and a spoofed-source
flood must not grow any of it without limit. Each such table keeps its keys least recently used
first, evicts from that end beyond ``max_keys`` (or, at the caller's choice, while the oldest entry is
idle), and counts what it evicted so the counters can say so.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruTable(OrderedDict[K, V]):
    """key -> value, least recently used first, at most ``max_keys`` keys once :meth:`trim` has run.

    It is an :class:`~collections.OrderedDict` (lookups, inserts and :meth:`move_to_end` stay the C
    ones on hot paths); what it adds is the bound and :attr:`evicted`, the number of entries it dropped.
    """

    def __init__(self, max_keys: int) -> None:
        super().__init__()
        self.max_keys = max_keys
        self.evicted = 0

    def oldest(self) -> V:
        """The value of the least recently used key (the table must not be empty)."""
        return next(iter(self.values()))

    def evict_oldest(self) -> tuple[K, V]:
        """Drop the least recently used entry, counted; returns it."""
        self.evicted += 1
        return self.popitem(last=False)

    def trim(self) -> int:
        """Evict least recently used entries while there are more than ``max_keys``; how many went."""
        n = 0
        while len(self) > self.max_keys:
            self.popitem(last=False)
            n += 1
        self.evicted += n
        return n

    def expire(self, now: float, idle: float, last_seen: Callable[[V], float]) -> int:
        """Evict least recently used entries while the oldest one was last seen (``last_seen(value)``)
        more than ``idle`` seconds before ``now``; how many went."""
        n = 0
        values = self.values
        while self and now - last_seen(next(iter(values()))) > idle:
            self.popitem(last=False)
            n += 1
        self.evicted += n
        return n

    def take(self, key: K) -> V | None:
        """``key``'s value, removed from the table (the caller puts it back, as most recent), or None
        for a new key, after evicting the least recently used one if the table is full."""
        value = self.pop(key, None)
        if value is None and len(self) >= self.max_keys:
            self.popitem(last=False)
            self.evicted += 1
        return value


class DecayingCounts(LruTable[K, list[float]]):
    """key -> [exponentially decayed event count, last ts] (time constant ``tau``), bounded as any table.

    A time before a key's last event counts as that time: a count never grows by looking back (a
    capture's clock stepping back, or a window scored after its batch was read ahead)."""

    def __init__(self, max_keys: int, tau: float) -> None:
        super().__init__(max_keys)
        self.tau = tau

    def add(self, key: K, ts: float) -> None:
        """One event of ``key`` at ``ts``."""
        st = self.take(key)
        if st is None:
            st = [1.0, ts]
        else:
            st[0] = st[0] * math.exp(min(0.0, st[1] - ts) / self.tau) + 1.0
            st[1] = max(st[1], ts)
        self[key] = st

    def count(self, key: K, ts: float) -> float:
        """The decayed count of ``key`` at ``ts`` (0 for an unknown key)."""
        st = self.get(key)
        return 0.0 if st is None else st[0] * math.exp(min(0.0, st[1] - ts) / self.tau)
