"""ARP cache poisoning: repeated ARP replies that answer no request.

What poisoners do: arpspoof, ettercap, bettercap and MITMf keep a victim's ARP cache pointing at the
attacker by sending it ARP replies, unasked, that claim another host's address (usually the
gateway's), one every one to ten seconds for as long as the attack runs. A host that answers a
request sends one reply; a host that announces itself sends a gratuitous reply whose sender and
target addresses are equal. So the evidence is: at least ``min_replies`` replies claiming the same
address to the same host within ``window_s`` seconds, none of them answering a request seen from
that host (the extractor's ``ctx.arp_unsolicited``, which already leaves out gratuitous replies).

Why a rule and not only the model: see :mod:`agent.rules`. The model still scores the same frames;
both report the same class (``MITM`` by default) under the Ethernet stream's key, so an attack both
see is one incident.

What it cannot see: poisoning by forged ARP *requests* (ettercap's optional mode), which is
indistinguishable from a request without the hardware addresses the Edge-IIoTset columns leave out;
the model is left to judge those. Memory is bounded: at most ``max_pairs`` (claimed, target) pairs are
tracked, the least recently seen dropped beyond and counted.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.config import ArpPoisoningConfig
from agent.rules import Finding, check_settings, column_indices
from agent.windows import GLOBAL_KEY

#: the columns the rule reads
COLUMNS = ("ctx.arp_unsolicited", "arp.src.proto_ipv4", "arp.dst.proto_ipv4")


@dataclass
class _Pair:
    """Unasked replies claiming one address to one host."""

    times: deque[float]
    first_ts: float
    replies: int = 0
    reported: bool = False


class ArpPoisoningRule:
    """Finds ARP poisoning in Edge-IIoTset-context rows (see the module docstring)."""

    name = "arp_poisoning"

    def __init__(
        self,
        columns: Sequence[str],
        class_name: str = "MITM",
        min_replies: int = 3,
        window_s: float = 60.0,
        max_pairs: int = 4096,
    ) -> None:
        self._flag, self._sender, self._target = column_indices(self.name, COLUMNS, columns)
        check_settings(self.name, {"min_replies": (min_replies, 1), "max_pairs": (max_pairs, 1)},
                       {"window_s": window_s})
        self.class_name = class_name
        self.min_replies = int(min_replies)
        self.window_s = float(window_s)
        self.max_pairs = int(max_pairs)
        self._pairs: OrderedDict[tuple[str, str], _Pair] = OrderedDict()
        self._counters = {"arp_unasked_replies": 0, "arp_poisoning_findings": 0, "arp_pairs_evicted": 0}

    @staticmethod
    def needs(columns: Sequence[str]) -> bool:
        """Whether ``columns`` has what the rule reads."""
        return all(c in columns for c in COLUMNS)

    @classmethod
    def from_config(cls, config: ArpPoisoningConfig, columns: Sequence[str]) -> ArpPoisoningRule:
        """Build from the ``rules.arp_poisoning`` section."""
        return cls(columns, config.class_name, config.min_replies, config.window_s, config.max_pairs)

    def stats(self) -> dict[str, int]:
        """Unasked replies seen, findings raised, pairs tracked and evicted."""
        return {**self._counters, "arp_pairs_tracked": len(self._pairs)}

    def scan(self, rows: Sequence[Sequence[Any]], contexts: Sequence[tuple[Any, ...]]) -> list[Finding]:
        """Findings of ``rows``: one per unasked reply that completes or extends the evidence."""
        flag = self._flag
        out: list[Finding] = []
        for i, row in enumerate(rows):
            if row[flag]:
                found = self._reply(row[self._sender], row[self._target], float(contexts[i][0]))
                if found is not None:
                    out.append(found)
        return out

    def _reply(self, claimed: str, target: str, ts: float) -> Finding | None:
        self._counters["arp_unasked_replies"] += 1
        pairs = self._pairs
        key = (claimed, target)
        pair = pairs.get(key)
        if pair is None or ts < pair.times[-1] or ts - pair.times[-1] > self.window_s:
            # new, or quiet for a whole window (or the clock went back): the evidence starts again
            pair = _Pair(deque(maxlen=max(2, self.min_replies)), ts)
            pairs[key] = pair
            if len(pairs) > self.max_pairs:
                pairs.popitem(last=False)
                self._counters["arp_pairs_evicted"] += 1
        pairs.move_to_end(key)
        pair.times.append(ts)
        pair.replies += 1
        times = pair.times
        if pair.reported:
            since = times[-2]  # what this reply adds: the time since the one before
        elif len(times) < self.min_replies or ts - times[-self.min_replies] > self.window_s:
            return None
        else:
            pair.reported = True
            since = pair.first_ts
        self._counters["arp_poisoning_findings"] += 1
        span = ts - pair.first_ts
        return Finding(
            key=GLOBAL_KEY,
            cls=self.class_name,
            first_ts=since,
            last_ts=ts,
            context={"src_ip": claimed, "dest_ip": target, "proto": "ARP"},
            quiet_s=self.window_s,
            evidence=(
                f"{pair.replies} ARP replies nobody asked for told {target} that {claimed} is at the "
                f"sender's MAC address, over {span:.1f} s (ARP cache poisoning, as arpspoof or ettercap do)"
            ),
        )
