"""Numba kernel cutting sessions into OCPI charging periods (see `periods` for the polars front end).

Per session the cut points are: start and end; local wall-clock edges of its rule set (a wall time that a
spring-forward jump skips cuts at the jump itself); kWh thresholds (interpolated on the cumulative
register, rounded up to the microsecond so the threshold is reached when the period starts); duration
thresholds; idle thresholds after the end of charging; power and current threshold crossings (linear
interpolation between samples; with no power samples, the average power of each register span, which
changes at readings); and charging/parking switches. Each period then gets integer Wh (cumulative
rounding, so periods sum exactly to the session register delta like the clock intervals do), its state at
the start, and MIN/MAX power and current over the period (samples inside plus interpolated values at
both edges; NaN when the session has no such measurement).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tariff_engine.consumption.allocation import _register_at
from tariff_engine.consumption.clock_kernels import segment_of

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000.0


@njit(cache=True)
def _push(buf, n, value):
    if n == buf.shape[0]:
        bigger = np.empty(buf.shape[0] * 2, dtype=buf.dtype)
        bigger[:n] = buf[:n]
        buf = bigger
    buf[n] = value
    return buf, n + 1


@njit(cache=True)
def _crossing_time(t0, t1, v0, v1, level):
    """Instant (us, rounded up) where the line from (t0, v0) to (t1, v1) reaches `level`."""
    frac = (level - v0) / (v1 - v0)
    return t0 + np.int64(np.ceil(frac * (t1 - t0)))


@njit(cache=True)
def _sample_at(times, values, lo, hi, t):
    """Linear interpolation of samples at t, clamped to the first/last sample outside their range."""
    if t <= times[lo]:
        return values[lo]
    if t >= times[hi - 1]:
        return values[hi - 1]
    j = lo + np.searchsorted(times[lo:hi], t, side="right") - 1
    t0 = times[j]
    t1 = times[j + 1]
    if t1 == t0:
        return values[j]
    return values[j] + (values[j + 1] - values[j]) * ((t - t0) / (t1 - t0))


@njit(cache=True)
def _span_power(r_time, r_wh, lo, hi, j):
    """Average power (W) of register span j..j+1."""
    dt = r_time[j + 1] - r_time[j]
    if dt <= 0:
        return 0.0
    return (r_wh[j + 1] - r_wh[j]) / (dt / US_PER_HOUR)


@njit(cache=True)
def _is_parking_at(st_time, st_parking, slo, shi, r_time, r_wh, rlo, rhi, threshold_w, t):
    """Parking state at instant t: from explicit state changes if any, else from register power."""
    if shi > slo:
        j = slo + np.searchsorted(st_time[slo:shi], t, side="right") - 1
        if j < slo:
            j = slo
        return st_parking[j] != 0
    if rhi - rlo < 2 or t < r_time[rlo] or t >= r_time[rhi - 1]:
        return True  # the register is flat outside the readings: no power requested
    j = rlo + np.searchsorted(r_time[rlo:rhi], t, side="right") - 1
    return _span_power(r_time, r_wh, rlo, rhi, j) < threshold_w


@njit(cache=True)
def _add_crossings(buf, n, times, values, lo, hi, thr, tlo, thi, start, end):
    for a in range(tlo, thi):
        level = thr[a]
        for i in range(lo, hi - 1):
            v0 = values[i]
            v1 = values[i + 1]
            if (v0 < level) != (v1 < level):
                c = _crossing_time(times[i], times[i + 1], v0, v1, level)
                if start < c < end:
                    buf, n = _push(buf, n, c)
    return buf, n


@njit(cache=True)
def _session_cuts(buf, start, end, rlo, rhi, r_time, r_wh, plo, phi, p_time, p_w, clo, chi, c_time, c_a,
                  slo, shi, st_time, st_parking, rule, edge_ptr, edge_s, kwh_ptr, kwh_wh, dur_ptr, dur_s,
                  idle_ptr, idle_s, pow_ptr, pow_w, cur_ptr, cur_a, zlo, zhi, seg_start, seg_off, threshold_w):
    """Sorted unique cut points of one session in buf[:n] (start first; end excluded)."""
    n = 0
    buf, n = _push(buf, n, start)
    # Local wall-clock edges, segment by segment of the zone's offset timeline.
    elo = edge_ptr[rule]
    ehi = edge_ptr[rule + 1]
    if ehi > elo:
        k = segment_of(seg_start, zlo, zhi, start)
        while k < zhi:
            a = seg_start[k] if seg_start[k] > start else start
            b = seg_start[k + 1] if k + 1 < zhi else end
            if b > end:
                b = end
            off = seg_off[k]
            for day in range((a + off) // US_PER_DAY, (b + off) // US_PER_DAY + 1):
                for e in range(elo, ehi):
                    u = day * US_PER_DAY + edge_s[e] * US_PER_SECOND - off
                    if a <= u < b and u > start:
                        buf, n = _push(buf, n, u)
            if k + 1 >= zhi or seg_start[k + 1] >= end:
                break
            # A forward jump skips wall times: an edge inside the skipped range cuts at the jump.
            jump = seg_start[k + 1]
            gap_lo = jump + off
            gap_hi = jump + seg_off[k + 1]
            if gap_hi > gap_lo and jump > start:
                for e in range(elo, ehi):
                    w = edge_s[e] * US_PER_SECOND
                    d0 = gap_lo // US_PER_DAY
                    for d in range(d0, d0 + 2):
                        if gap_lo <= d * US_PER_DAY + w < gap_hi:
                            buf, n = _push(buf, n, jump)
            k += 1
    # Energy thresholds on the interpolated register.
    if rhi > rlo:
        r0, _ = _register_at(r_time, r_wh, rlo, rhi, rlo, start)
        for a in range(kwh_ptr[rule], kwh_ptr[rule + 1]):
            level = r0 + kwh_wh[a]
            prev_t = start
            prev_v = r0
            for i in range(rlo, rhi):
                if r_time[i] <= start:
                    continue
                if r_wh[i] >= level:
                    c = _crossing_time(prev_t, r_time[i], prev_v, r_wh[i], level) if r_wh[i] > prev_v else r_time[i]
                    if start < c < end:
                        buf, n = _push(buf, n, c)
                    break
                prev_t = r_time[i]
                prev_v = r_wh[i]
    for a in range(dur_ptr[rule], dur_ptr[rule + 1]):
        c = start + dur_s[a] * US_PER_SECOND
        if start < c < end:
            buf, n = _push(buf, n, c)
    # Charging/parking switches, and the end of charging for idle thresholds.
    charging_end = -1
    if shi > slo:
        for i in range(slo, shi):
            if start < st_time[i] < end:
                before = st_parking[i - 1] if i > slo else st_parking[i]
                if before != st_parking[i]:
                    buf, n = _push(buf, n, st_time[i])
        last_charging = False
        for i in range(slo, shi):
            if st_parking[i] == 0:
                last_charging = True
                charging_end = -1
            elif last_charging and charging_end < 0:
                charging_end = st_time[i]
        if charging_end < start:
            charging_end = -1
    elif rhi - rlo >= 2:
        previous = True
        for j in range(rlo, rhi - 1):
            parking = _span_power(r_time, r_wh, rlo, rhi, j) < threshold_w
            t = r_time[j]
            if parking != previous and start < t < end:
                buf, n = _push(buf, n, t)
            if parking and not previous:
                charging_end = t
            if not parking:
                charging_end = -1
            previous = parking
        t = r_time[rhi - 1]
        if not previous:
            charging_end = t
            if start < t < end:
                buf, n = _push(buf, n, t)
    if charging_end >= 0:
        for a in range(idle_ptr[rule], idle_ptr[rule + 1]):
            c = charging_end + idle_s[a] * US_PER_SECOND
            if start < c < end:
                buf, n = _push(buf, n, c)
    # Power and current crossings.
    if pow_ptr[rule + 1] > pow_ptr[rule]:
        if phi - plo >= 2:
            buf, n = _add_crossings(buf, n, p_time, p_w, plo, phi, pow_w, pow_ptr[rule], pow_ptr[rule + 1], start, end)
        elif phi == plo and rhi - rlo >= 2:
            for a in range(pow_ptr[rule], pow_ptr[rule + 1]):
                level = pow_w[a]
                previous = 0.0
                for j in range(rlo, rhi):
                    p = _span_power(r_time, r_wh, rlo, rhi, j) if j < rhi - 1 else 0.0
                    if (p < level) != (previous < level) and start < r_time[j] < end:
                        buf, n = _push(buf, n, r_time[j])
                    previous = p
    if chi - clo >= 2 and cur_ptr[rule + 1] > cur_ptr[rule]:
        buf, n = _add_crossings(buf, n, c_time, c_a, clo, chi, cur_a, cur_ptr[rule], cur_ptr[rule + 1], start, end)
    # Insertion sort (a session has few cuts) and de-duplication.
    for i in range(1, n):
        v = buf[i]
        j = i - 1
        while j >= 0 and buf[j] > v:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = v
    m = 1
    for i in range(1, n):
        if buf[i] != buf[m - 1]:
            buf[m] = buf[i]
            m += 1
    return buf, m


@njit(cache=True)
def _range_min_max(times, values, lo, hi, a, b):
    """Min and max of the sampled curve over [a, b]: edge interpolations plus samples inside."""
    va = _sample_at(times, values, lo, hi, a)
    vb = _sample_at(times, values, lo, hi, b)
    mn = min(va, vb)
    mx = max(va, vb)
    j = lo + np.searchsorted(times[lo:hi], a, side="right")
    while j < hi and times[j] < b:
        v = values[j]
        if v < mn:
            mn = v
        if v > mx:
            mx = v
        j += 1
    return mn, mx


@njit(cache=True)
def _register_power_min_max(r_time, r_wh, rlo, rhi, a, b):
    """Min and max average register power (W) over the spans overlapping [a, b); 0 outside the readings."""
    mn = np.inf
    mx = -np.inf
    if rhi - rlo < 2 or a < r_time[rlo] or b > r_time[rhi - 1]:
        mn = 0.0
        mx = 0.0
    if rhi - rlo >= 2:
        j = rlo + np.searchsorted(r_time[rlo:rhi], a, side="right") - 1
        if j < rlo:
            j = rlo
        while j < rhi - 1 and r_time[j] < b:
            if r_time[j + 1] > a:
                p = _span_power(r_time, r_wh, rlo, rhi, j)
                mn = min(mn, p)
                mx = max(mx, p)
            j += 1
    if mn == np.inf:
        mn = 0.0
        mx = 0.0
    return mn, mx


@njit(cache=True)
def split_sessions(session_start_us, session_end_us, session_zone, session_rule,
                   r_ptr, r_time, r_wh, p_ptr, p_time, p_w, c_ptr, c_time, c_a, st_ptr, st_time, st_parking,
                   edge_ptr, edge_s, kwh_ptr, kwh_wh, dur_ptr, dur_s, idle_ptr, idle_s, pow_ptr, pow_w,
                   cur_ptr, cur_a, zone_ptr, seg_start, seg_off, parking_threshold_w):
    """Charging periods of every session, CSR by session: returns (out_ptr, start_us, end_us, energy_wh,
    parking, min_power_w, max_power_w, min_current_a, max_current_a)."""
    n_sessions = session_start_us.shape[0]
    cap = max(16, n_sessions * 4)
    o_start = np.empty(cap, dtype=np.int64)
    o_end = np.empty(cap, dtype=np.int64)
    o_energy = np.empty(cap, dtype=np.int64)
    o_parking = np.empty(cap, dtype=np.bool_)
    o_pmin = np.empty(cap, dtype=np.float64)
    o_pmax = np.empty(cap, dtype=np.float64)
    o_cmin = np.empty(cap, dtype=np.float64)
    o_cmax = np.empty(cap, dtype=np.float64)
    out_ptr = np.zeros(n_sessions + 1, dtype=np.int64)
    buf = np.empty(64, dtype=np.int64)
    w = 0
    for s in range(n_sessions):
        start = session_start_us[s]
        end = session_end_us[s]
        rlo = r_ptr[s]
        rhi = r_ptr[s + 1]
        plo = p_ptr[s]
        phi = p_ptr[s + 1]
        clo = c_ptr[s]
        chi = c_ptr[s + 1]
        slo = st_ptr[s]
        shi = st_ptr[s + 1]
        z = session_zone[s]
        buf, m = _session_cuts(buf, start, end, rlo, rhi, r_time, r_wh, plo, phi, p_time, p_w, clo, chi,
                               c_time, c_a, slo, shi, st_time, st_parking, session_rule[s], edge_ptr, edge_s,
                               kwh_ptr, kwh_wh, dur_ptr, dur_s, idle_ptr, idle_s, pow_ptr, pow_w, cur_ptr,
                               cur_a, zone_ptr[z], zone_ptr[z + 1], seg_start, seg_off, parking_threshold_w)
        if w + m > cap:
            while w + m > cap:
                cap *= 2
            o_start = _grow_i(o_start, cap, w)
            o_end = _grow_i(o_end, cap, w)
            o_energy = _grow_i(o_energy, cap, w)
            o_parking = _grow_b(o_parking, cap, w)
            o_pmin = _grow_f(o_pmin, cap, w)
            o_pmax = _grow_f(o_pmax, cap, w)
            o_cmin = _grow_f(o_cmin, cap, w)
            o_cmax = _grow_f(o_cmax, cap, w)
        j = rlo
        r0 = 0.0
        if rhi > rlo:
            r0, j = _register_at(r_time, r_wh, rlo, rhi, j, start)
        rounded_before = 0
        for i in range(m):
            a = buf[i]
            b = buf[i + 1] if i + 1 < m else end
            o_start[w] = a
            o_end[w] = b
            if rhi > rlo:
                r, j = _register_at(r_time, r_wh, rlo, rhi, j, b)
                rounded = np.int64(np.floor(r - r0 + 0.5))
            else:
                rounded = 0
            o_energy[w] = rounded - rounded_before
            rounded_before = rounded
            o_parking[w] = _is_parking_at(st_time, st_parking, slo, shi, r_time, r_wh, rlo, rhi,
                                          parking_threshold_w, a)
            if phi > plo:
                o_pmin[w], o_pmax[w] = _range_min_max(p_time, p_w, plo, phi, a, b)
            else:
                o_pmin[w], o_pmax[w] = _register_power_min_max(r_time, r_wh, rlo, rhi, a, b)
            if chi > clo:
                o_cmin[w], o_cmax[w] = _range_min_max(c_time, c_a, clo, chi, a, b)
            else:
                o_cmin[w] = np.nan
                o_cmax[w] = np.nan
            w += 1
        out_ptr[s + 1] = w
    return (out_ptr, o_start[:w].copy(), o_end[:w].copy(), o_energy[:w].copy(), o_parking[:w].copy(),
            o_pmin[:w].copy(), o_pmax[:w].copy(), o_cmin[:w].copy(), o_cmax[:w].copy())


@njit(cache=True)
def _grow_i(arr, cap, used):
    out = np.empty(cap, dtype=np.int64)
    out[:used] = arr[:used]
    return out


@njit(cache=True)
def _grow_f(arr, cap, used):
    out = np.empty(cap, dtype=np.float64)
    out[:used] = arr[:used]
    return out


@njit(cache=True)
def _grow_b(arr, cap, used):
    out = np.empty(cap, dtype=np.bool_)
    out[:used] = arr[:used]
    return out
