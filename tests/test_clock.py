"""Capture time that steps back: the data clock, and the stateful features and alert policy using it.

Why: capture files joined end to end (``mergecap -a``, ``cat`` of candump logs) and clocks set back
are common in the field; decayed rates and horizons computed with negative elapsed times keep state
"in the future" and inflate every later value, which looked like floods and brute forces.
"""

from __future__ import annotations

import pytest

from agent.features.can_temporal import CanTemporalExtractor
from agent.features.clock import STEP_TOLERANCE_S, DataClock


def test_clock_holds_still_on_reordering_and_stitches_a_step_back() -> None:
    c = DataClock()
    assert [c(t) for t in (100.0, 100.5, 100.4, 100.6)] == [100.0, 100.5, 100.5, 100.6]
    assert c.steps == 0
    # a step back of a day: the second part goes on from where the first ended
    assert c(100.6 - 86400) == 100.6
    assert c(100.6 - 86400 + 2.0) == pytest.approx(102.6)
    assert c.steps == 1
    # a forward jump is just a gap
    assert c(1e6) == pytest.approx(1e6 + 86400)
    assert c.steps == 1


def test_clock_tolerance_is_the_boundary() -> None:
    c = DataClock()
    c(10.0)
    assert c(10.0 - STEP_TOLERANCE_S) == 10.0 and c.steps == 0
    assert c(10.0 - STEP_TOLERANCE_S - 0.5) == 10.0 and c.steps == 1


def _periodic(t0: float, n: int) -> list:
    from test_can_features import frame

    return [frame(t0 + i * 0.01, 0x100, bytes([i & 0xFF, 0, 0, 0, 0, 0, 0, 0])) for i in range(n)]


def test_can_temporal_rows_of_joined_logs_equal_the_parts_back_to_back() -> None:
    """Two 100 Hz logs, the second recorded a year earlier but appended after the first: the rows
    equal those of the same frames with the second part's timestamps moved to follow the first
    (timing features stay ~10 ms and 100 Hz); the context keeps the frames' own timestamps."""
    first, second = _periodic(1000.0, 300), _periodic(1000.0 - 365 * 86400, 300)
    joined = list(CanTemporalExtractor(window_s=1.0, warmup_s=1.0).rows_with_context(first + second))
    shift = first[-1].ts - second[0].ts
    moved = [f._replace(ts=f.ts + shift) for f in second]
    reference = list(CanTemporalExtractor(window_s=1.0, warmup_s=1.0).rows(first + moved))
    assert [row for row, _ in joined] == reference
    assert [ctx[0] for _, ctx in joined[300:]] == [f.ts for f in second]
    cols = CanTemporalExtractor.columns
    rate = [row[cols.index("id_rate_hz")] for row, _ in joined[400:]]
    assert max(rate) <= 102  # one duplicated instant where the parts meet; without the clock it climbs to 600


def test_host_context_of_joined_captures_equals_the_parts_back_to_back() -> None:
    """Connection attempts every 0.5 s, then the same attempts stamped a year earlier appended: the
    context columns equal those of the parts back to back. Without the clock the earlier copy adds
    to state that never decays, and rates and peer counts climb."""
    from test_host_context import VICTIM, ctx_rows, syn

    from agent.features.host_context import CONTEXT_COLUMNS

    part = [syn(i * 0.5, "10.0.0.7", VICTIM, 40000 + i, 1883 + i % 3) for i in range(40)]
    early = [f._replace(ts=f.ts - 365 * 86400) for f in part]
    shift = part[-1].ts - early[0].ts
    moved = [f._replace(ts=f.ts + shift) for f in early]
    joined, reference = ctx_rows(part + early), ctx_rows(part + moved)
    assert [[r[c] for c in CONTEXT_COLUMNS] for r in joined] == [[r[c] for c in CONTEXT_COLUMNS] for r in reference]


def test_policy_ends_open_incidents_when_data_time_steps_back() -> None:
    """Windows a year apart never merge into one incident: a step back beyond the merge gap ends
    what is open (its end record is sent) and the next window starts a new incident."""
    from test_alert_policy import FLOW, policy, probs

    p = policy()
    assert len(p.observe("g", probs("DDoS_UDP"), 1000.0, 1001.0, FLOW)) == 1
    assert p.observe("g", probs("DDoS_UDP"), 1001.0, 1002.0, FLOW) == []
    out = p.observe("g", probs("DDoS_UDP"), 1000.0 - 86400, 1001.0 - 86400, FLOW)
    assert [a["edge_ids"]["phase"] for a in out] == ["end", "start"]
    assert out[0]["edge_ids"]["count"] == 2 and out[1]["edge_ids"]["count"] == 1
    assert p.stats()["clock_steps_back"] == 1
    # reordering within the merge gap is not a step
    p.observe("g", probs("DDoS_UDP"), 1000.5 - 86400, 1000.8 - 86400, FLOW)
    assert p.stats()["clock_steps_back"] == 1
