"""Numba helpers that walk a zone's local clock in UTC microseconds.

Definition used throughout: the clock boundaries of step S are the UTC instants u with
`(u + offset(u)) mod S == 0`, i.e. local wall-clock times on the S grid, evaluated with the offset in
force at u. On a spring-forward day the skipped local hour simply has no boundaries; on a fall-back day
the repeated hour has them twice. Offsets come from `timezones.ZoneTimelines` segments.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def segment_of(segment_start_us, lo, hi, t):
    """Index k in [lo, hi) of the segment containing instant t (the last one starting at or before t)."""
    k = lo + np.searchsorted(segment_start_us[lo:hi], t, side="right") - 1
    if k < lo:
        k = lo
    return k


@njit(cache=True)
def next_boundary(t, k, segment_start_us, segment_offset_us, hi, step_us):
    """The first clock boundary strictly after t (t lies in segment k); returns (boundary, its segment)."""
    while True:
        off = segment_offset_us[k]
        candidate = ((t + off) // step_us + 1) * step_us - off
        if k + 1 < hi and candidate >= segment_start_us[k + 1]:
            # The offset changes before that candidate: continue on the new segment's grid.
            k += 1
            change = segment_start_us[k]
            if (change + segment_offset_us[k]) % step_us == 0:
                return change, k
            t = change
            continue
        return candidate, k


@njit(cache=True)
def boundary_at_or_before(t, k, segment_start_us, segment_offset_us, lo, step_us):
    """The last clock boundary at or before t (t lies in segment k)."""
    while True:
        off = segment_offset_us[k]
        candidate = ((t + off) // step_us) * step_us - off
        if k == lo or candidate >= segment_start_us[k]:
            return candidate
        # The grid point belongs to an earlier offset: look for it there.
        t = segment_start_us[k] - 1
        k -= 1
