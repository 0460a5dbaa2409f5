"""Clock-aligned allocation: a session's cumulative register split into local-clock intervals.

Algorithm (tariffs-and-metering.md §5.3): the boundaries of a session are its start, every clock
boundary strictly inside it (15, 30 or 60 minutes on the site's local clock) and its end. The register is
linearly interpolated at each boundary (flat before the first and after the last reading); an interval's
energy is the difference of the interpolated register at its two ends.

Integer Wh: the interpolated energy since session start is rounded half-up at every boundary and the
intervals are the differences of those rounded cumulative values. This is a largest-remainder rule in
cumulative form: the integers sum exactly to round(R(end) - R(start)) (the session total, exact when the
register values are whole Wh), and because the register is non-decreasing after cleaning, no interval is
ever negative.

Each interval is labelled by its clock start (the boundary at or before the session start for the first
one), so intervals of different sessions aggregate on the same key.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tariff_engine.consumption.clock_kernels import boundary_at_or_before, next_boundary, segment_of

ALLOWED_INTERVAL_MINUTES = (15, 30, 60)
US_PER_MINUTE = 60_000_000


def interval_us(minutes: int) -> int:
    """The interval length in microseconds; only 15, 30 and 60 minutes are settlement intervals."""
    if minutes not in ALLOWED_INTERVAL_MINUTES:
        raise ValueError(f"interval must be one of {ALLOWED_INTERVAL_MINUTES} minutes, got {minutes}")
    return minutes * US_PER_MINUTE


@njit(cache=True)
def _register_at(times, registers, lo, hi, j, t):
    """Register interpolated at t, scanning forward from reading j; returns (value, new j)."""
    if t <= times[lo]:
        return registers[lo], j
    if t >= times[hi - 1]:
        return registers[hi - 1], hi - 1
    while j + 1 < hi and times[j + 1] <= t:
        j += 1
    t0 = times[j]
    t1 = times[j + 1]
    r0 = registers[j]
    if t == t0 or t1 == t0:
        return r0, j
    return r0 + (registers[j + 1] - r0) * ((t - t0) / (t1 - t0)), j


@njit(cache=True)
def count_intervals(session_start_us, session_end_us, session_zone, zone_ptr, segment_start_us,
                    segment_offset_us, step_us):
    """CSR offsets of the output: session s owns intervals out_ptr[s]:out_ptr[s+1]."""
    n = session_start_us.shape[0]
    out_ptr = np.zeros(n + 1, dtype=np.int64)
    for s in range(n):
        z = session_zone[s]
        lo = zone_ptr[z]
        hi = zone_ptr[z + 1]
        start = session_start_us[s]
        end = session_end_us[s]
        k = segment_of(segment_start_us, lo, hi, start)
        count = 1
        b, k = next_boundary(start, k, segment_start_us, segment_offset_us, hi, step_us)
        while b < end:
            count += 1
            b, k = next_boundary(b, k, segment_start_us, segment_offset_us, hi, step_us)
        out_ptr[s + 1] = out_ptr[s] + count
    return out_ptr


@njit(cache=True)
def allocate_intervals(reading_ptr, reading_time_us, register_wh, session_start_us, session_end_us,
                       session_zone, zone_ptr, segment_start_us, segment_offset_us, step_us, out_ptr):
    """Fill interval labels (UTC clock start) and integer Wh for every session (see module docstring).

    Sessions without readings get intervals of 0 Wh. Readings must be sorted by time within a session.
    """
    m = out_ptr[-1]
    label_us = np.empty(m, dtype=np.int64)
    energy_wh = np.empty(m, dtype=np.int64)
    for s in range(session_start_us.shape[0]):
        z = session_zone[s]
        zlo = zone_ptr[z]
        zhi = zone_ptr[z + 1]
        start = session_start_us[s]
        end = session_end_us[s]
        lo = reading_ptr[s]
        hi = reading_ptr[s + 1]
        k = segment_of(segment_start_us, zlo, zhi, start)
        o = out_ptr[s]
        label_us[o] = boundary_at_or_before(start, k, segment_start_us, segment_offset_us, zlo, step_us)
        if hi == lo:
            for i in range(o, out_ptr[s + 1]):
                energy_wh[i] = 0
            b = start
            kk = k
            for i in range(o + 1, out_ptr[s + 1]):
                b, kk = next_boundary(b, kk, segment_start_us, segment_offset_us, zhi, step_us)
                label_us[i] = b
            continue
        j = lo
        r_start, j = _register_at(reading_time_us, register_wh, lo, hi, j, start)
        rounded_before = 0
        b, k = next_boundary(start, k, segment_start_us, segment_offset_us, zhi, step_us)
        i = o
        while True:
            edge = b if b < end else end
            r, j = _register_at(reading_time_us, register_wh, lo, hi, j, edge)
            rounded = np.int64(np.floor(r - r_start + 0.5))
            energy_wh[i] = rounded - rounded_before
            rounded_before = rounded
            if b >= end:
                break
            i += 1
            label_us[i] = b
            b, k = next_boundary(b, k, segment_start_us, segment_offset_us, zhi, step_us)
    return label_us, energy_wh


@njit(cache=True)
def session_deltas(reading_ptr, reading_time_us, register_wh, session_start_us, session_end_us):
    """round(R(end) - R(start)) per session, the total every allocation of it must conserve."""
    n = session_start_us.shape[0]
    out = np.zeros(n, dtype=np.int64)
    for s in range(n):
        lo = reading_ptr[s]
        hi = reading_ptr[s + 1]
        if hi == lo:
            continue
        r0, j = _register_at(reading_time_us, register_wh, lo, hi, lo, session_start_us[s])
        r1, j = _register_at(reading_time_us, register_wh, lo, hi, j, session_end_us[s])
        out[s] = np.int64(np.floor(r1 - r0 + 0.5))
    return out
