"""Capture time made safe for state that decays and expires.

Why: a capture's clock can step back. Files joined with ``mergecap -a`` or ``cat`` of candump logs
start again at an earlier date; a gateway's clock is set back by NTP; a multi-queue NIC or a
merged multi-channel log delivers frames a few microseconds out of order. Per-host rates, peer
horizons and CAN inter-arrival times computed with a negative elapsed time go wrong in a way that
lasts: state stamped "in the future" never decays until the clock catches up (years, for joined
captures), so a few hundred ordinary frames add up like a flood.

:class:`DataClock` maps capture timestamps to a timeline that never goes back. A step back of at
most ``tolerance_s`` (reordering) holds time still; a larger one is a discontinuity, and time goes
on from where it was, as if the second part of the capture had started right after the first (an
offset stitches the two). Forward jumps need nothing: decay and expiry handle gaps. Alerts keep
reporting the frames' own timestamps; only state arithmetic uses this timeline.
"""

from __future__ import annotations

#: a step back of at most this many seconds is reordering, not a new timeline
STEP_TOLERANCE_S = 1.0


class DataClock:
    """Capture timestamps -> a non-decreasing timeline (see the module docstring)."""

    __slots__ = ("last", "offset", "steps", "tolerance_s")

    def __init__(self, tolerance_s: float = STEP_TOLERANCE_S) -> None:
        self.tolerance_s = float(tolerance_s)
        self.last = float("-inf")
        self.offset = 0.0
        #: steps back larger than the tolerance seen so far (each stitched)
        self.steps = 0

    def __call__(self, ts: float) -> float:
        """The timeline's time for a frame stamped ``ts`` (frames in arrival order)."""
        t = ts + self.offset
        last = self.last
        if t >= last:
            self.last = t
            return t
        if last - t > self.tolerance_s:
            self.offset += last - t
            self.steps += 1
        return last
