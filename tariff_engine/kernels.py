"""numba kernels: price a whole batch of sessions in one call, in exact fixed-point integer arithmetic.

The kernel follows `reference.py` step by step (same selection, increments, step_size, caps, taxes, rounding
and bounds), on the arrays built by `compile.py`. Every product that could exceed 64 bits is split
(a*b/d = (a//d)*b + (a%d)*b/d), so results equal the Decimal reference exactly; an amount beyond 2**62
nano units becomes the per-session error AMOUNT_OVERFLOW. A bad session sets its error code and the batch
goes on. Outputs and scratch space are allocated once per batch by `price_batch`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .compile import (
    C_BASIS, C_DECIMALS, C_ELEMENT, C_PRICE_FACTOR, C_INCR, C_LOCAL_INDEX, C_MARKUP_FIXED, C_MARKUP_PCT, C_MAX_AMOUNT, C_PRICE, C_STEP, C_VAT,
    E_DOW, E_END_DAY, E_MAX_AVG, E_MAX_CUR, E_MAX_DUR, E_MAX_IDLE, E_MAX_KWH, E_MAX_PEAK, E_MAX_POW, E_MIN_AVG,
    E_MIN_CUR, E_MIN_DUR, E_MIN_IDLE, E_MIN_KWH, E_MIN_PEAK, E_MIN_POW, E_RES, E_SESS_MIN_DUR, E_SESS_MIN_KWH,
    E_HAS_RESTR, E_START_DAY, E_WIN_END, E_WIN_START, ERROR_INDEX, MAX_TAX_SLOTS, NONE, P_ENERGY, P_MAX_CUR, P_MAX_POW,
    P_MIN_CUR, P_MIN_POW, P_PARKING, P_RATE, P_RESERVATION, P_START, P_TIME, S_END, S_ERROR, S_EXPIRED, S_START,
    S_TARIFF, S_ZONE, T_BOUND_RATE, T_COMP_OFF, T_END, T_MAX_EXCL, T_MAX_INCL, T_MIN_EXCL, T_MIN_INCL, T_HAS_INCR, T_NCOMP, T_NEEDS_LOCAL, T_NTAX,
    T_RATE_REQ, T_START, T_TAX_INCLUDED, T_UNIT, CompiledTariffs, SessionBatch,
)

from .policy import WARN_EARLY_PERIOD as WARN_EARLY, WARN_OUT_OF_ORDER as WARN_ORDER  # noqa: E402

LIMIT = 2**62
OVERFLOW = NONE  # -2**62: never a legitimate amount (every amount is within (-2**62, 2**62))
DAY_MS = 86_400_000
ROW_FIELDS = 8  # element, component, raw volume, billed volume, price, excl (nano), tax (nano), price decimals
ERR_INVALID_TIMES = ERROR_INDEX["INVALID_SESSION_TIMES"]
ERR_NOT_ACTIVE = ERROR_INDEX["TARIFF_NOT_ACTIVE"]
ERR_NO_PERIODS = ERROR_INDEX["NO_PERIODS"]
ERR_OUTSIDE = ERROR_INDEX["PERIOD_OUTSIDE_SESSION"]
ERR_NON_MONOTONIC = ERROR_INDEX["NON_MONOTONIC_PERIODS"]
ERR_NEGATIVE_VOLUME = ERROR_INDEX["NEGATIVE_VOLUME"]
ERR_NEGATIVE_MEASUREMENT = ERROR_INDEX["NEGATIVE_MEASUREMENT"]
ERR_MISSING_RATE = ERROR_INDEX["MISSING_ELECTRICITY_RATE"]
ERR_OVERFLOW = ERROR_INDEX["AMOUNT_OVERFLOW"]
ERR_BOUND_TAX = ERROR_INDEX["BOUND_TAX_AMBIGUOUS"]
# Column of the selection scratch per volume dimension (ENERGY, TIME, PARKING, RESERVATION time); FLAT is 3.
SEL_FLAT = 3  # the session's FLAT (charging elements)
SEL_RES_FLAT = 5  # the reservation's FLAT (reservation elements); also the breakdown row slot of that FLAT
SEL_WIDTH = 6


@njit(cache=True, inline="always")
def div_half_up(numerator, denominator):
    """numerator / denominator rounded half-up, both >= 0 (denominator > 0)."""
    quotient = numerator // denominator
    if 2 * (numerator - quotient * denominator) >= denominator:
        quotient += 1
    return quotient


@njit(cache=True)
def _wide_mul_div_half_up(r, b, d):
    """r * b / d rounded half-up for 0 <= r < d < 2**62 and 0 <= b < 2**62, where r * b may exceed 64 bits:
    shift-and-add over the bits of b, keeping quotient and remainder (every intermediate stays < 2**63)."""
    quotient = 0
    remainder = 0
    for bit in range(61, -1, -1):
        quotient *= 2
        remainder *= 2
        if remainder >= d:
            remainder -= d
            quotient += 1
        if (b >> bit) & 1:
            remainder += r
            if remainder >= d:
                remainder -= d
                quotient += 1
    if 2 * remainder >= d:
        quotient += 1
    return quotient


@njit(cache=True, inline="always")
def mul_div_half_up(a, b, d):
    """a * b / d (d > 0) rounded half away from zero (Decimal ROUND_HALF_UP) without 64-bit overflow;
    OVERFLOW when |result| >= 2**62. Signed: credits and negative prices go through the same path."""
    negative = (a < 0) != (b < 0)
    if a < 0:
        a = -a
    if b < 0:
        b = -b
    quotient = a // d
    remainder = a - quotient * d
    # the common case needs no division for the overflow check: both factors below 2**31
    if (quotient >= 2_147_483_648 or b >= 2_147_483_648) and quotient > 0 and b > LIMIT // quotient:
        return OVERFLOW
    if b <= LIMIT // d:
        result = quotient * b + div_half_up(remainder * b, d)
    else:
        result = quotient * b + _wide_mul_div_half_up(remainder, b, d)
    if result >= LIMIT:
        return OVERFLOW
    return -result if negative else result


@njit(cache=True, inline="always")
def round_unit(value, unit, mode):
    """Round value to a multiple of unit (floor division, so any sign): mode 0 HALF_UP (half away from
    zero), 1 HALF_EVEN, 2 UP (toward +inf), 3 DOWN (toward -inf); as `money.round_nano_int`."""
    quotient = value // unit
    remainder = value - quotient * unit
    if remainder == 0:
        return value
    if mode == 3:
        return quotient * unit
    if mode == 2:
        return (quotient + 1) * unit
    twice = 2 * remainder
    if twice > unit or (twice == unit and ((mode == 0 and value >= 0) or (mode == 1 and quotient % 2 == 1))):
        return (quotient + 1) * unit
    return quotient * unit


@njit(cache=True, inline="always")
def ceil_to(value, step):
    """Smallest multiple of step >= value (value >= 0, step > 0)."""
    return (value + step - 1) // step * step


@njit(cache=True, inline="always")
def _element_matches(elements, e, tod, day, weekday, energy_before, since_start, idle, min_current, max_current,
                     min_power, max_power, sess_duration, sess_energy, charging, peak, wrap_policy):
    """All restrictions of element `e` hold for a period with these values (reservation handled by the
    caller). Scalars rather than the period array: no array views (atomic refcounts) in the hot loop."""
    if elements[e, E_WIN_START] != NONE:
        start = elements[e, E_WIN_START]
        end = elements[e, E_WIN_END]
        if start < end:
            if not (start <= tod < end):
                return False
        else:
            if not (tod >= start or tod < end):
                return False
            if wrap_policy == 1 and tod < end:
                weekday = (weekday + 6) % 7
                day = day - 1
    if elements[e, E_START_DAY] != NONE and day < elements[e, E_START_DAY]:
        return False
    if elements[e, E_END_DAY] != NONE and day >= elements[e, E_END_DAY]:
        return False
    if (elements[e, E_DOW] >> weekday) & 1 == 0:
        return False
    if elements[e, E_MIN_KWH] != NONE and energy_before < elements[e, E_MIN_KWH]:
        return False
    if elements[e, E_MAX_KWH] != NONE and energy_before >= elements[e, E_MAX_KWH]:
        return False
    if elements[e, E_MIN_CUR] != NONE and (min_current == NONE or min_current < elements[e, E_MIN_CUR]):
        return False
    if elements[e, E_MAX_CUR] != NONE and (max_current == NONE or max_current >= elements[e, E_MAX_CUR]):
        return False
    if elements[e, E_MIN_POW] != NONE and (min_power == NONE or min_power < elements[e, E_MIN_POW]):
        return False
    if elements[e, E_MAX_POW] != NONE and (max_power == NONE or max_power >= elements[e, E_MAX_POW]):
        return False
    if elements[e, E_MIN_DUR] != NONE and since_start < elements[e, E_MIN_DUR]:
        return False
    if elements[e, E_MAX_DUR] != NONE and since_start >= elements[e, E_MAX_DUR]:
        return False
    if elements[e, E_MIN_IDLE] != NONE and (idle == NONE or idle < elements[e, E_MIN_IDLE]):
        return False
    if elements[e, E_MAX_IDLE] != NONE and (idle == NONE or idle >= elements[e, E_MAX_IDLE]):
        return False
    if elements[e, E_SESS_MIN_DUR] != NONE and sess_duration < elements[e, E_SESS_MIN_DUR]:
        return False
    if elements[e, E_SESS_MIN_KWH] != NONE and sess_energy < elements[e, E_SESS_MIN_KWH]:
        return False
    # average power >= / < threshold, cross-multiplied: energy_mWh * 3.6e6 vs threshold_micro_kW * charging_ms
    if elements[e, E_MIN_AVG] != NONE:
        if charging == 0:
            if elements[e, E_MIN_AVG] > 0:
                return False
        elif sess_energy * 3_600_000 < elements[e, E_MIN_AVG] * charging:
            return False
    if elements[e, E_MAX_AVG] != NONE:
        if charging == 0:
            if elements[e, E_MAX_AVG] <= 0:
                return False
        elif sess_energy * 3_600_000 >= elements[e, E_MAX_AVG] * charging:
            return False
    if elements[e, E_MIN_PEAK] != NONE and (peak == NONE or peak < elements[e, E_MIN_PEAK]):
        return False
    if elements[e, E_MAX_PEAK] != NONE and (peak == NONE or peak >= elements[e, E_MAX_PEAK]):
        return False
    return True


@njit(cache=True, inline="always")
def _is_reservation(periods, p):
    return (periods[p, P_RESERVATION] > 0 and periods[p, P_TIME] == 0 and periods[p, P_PARKING] == 0
            and periods[p, P_ENERGY] == 0)


@njit(cache=True)
def _validate(tariffs, t, sessions, s, periods, p0, p1):
    """Mirror of reference._validate (after the glitch repair): the first error code, 0 when none."""
    start = sessions[s, S_START]
    end = sessions[s, S_END]
    if end < start:
        return ERR_INVALID_TIMES
    if tariffs[t, T_START] != NONE and start < tariffs[t, T_START]:
        return ERR_NOT_ACTIVE
    if tariffs[t, T_END] != NONE and start >= tariffs[t, T_END]:
        return ERR_NOT_ACTIVE
    if p1 == p0:
        return ERR_NO_PERIODS
    previous = start
    for p in range(p0, p1):
        if periods[p, P_START] < start or periods[p, P_START] > end:
            return ERR_OUTSIDE
        if periods[p, P_START] < previous:
            return ERR_NON_MONOTONIC
        previous = periods[p, P_START]
        # energy may be negative (V2G); elapsed times may not
        if periods[p, P_TIME] < 0 or periods[p, P_PARKING] < 0 or periods[p, P_RESERVATION] < 0:
            return ERR_NEGATIVE_VOLUME
        # NONE (missing) is the only legitimate negative measurement; electricity rates may be negative
        if ((periods[p, P_MIN_CUR] < 0 and periods[p, P_MIN_CUR] != NONE) or (periods[p, P_MAX_CUR] < 0 and periods[p, P_MAX_CUR] != NONE)
                or (periods[p, P_MIN_POW] < 0 and periods[p, P_MIN_POW] != NONE) or (periods[p, P_MAX_POW] < 0 and periods[p, P_MAX_POW] != NONE)):
            return ERR_NEGATIVE_MEASUREMENT
        if tariffs[t, T_RATE_REQ] == 1 and not _is_reservation(periods, p) and periods[p, P_RATE] == NONE:
            return ERR_MISSING_RATE
    return 0


@njit(cache=True)
def repair_glitches(session_int, period_offsets, period_int, tolerance_ms, out_warn):
    """The WARN glitch policy (reference._repair_glitches), in place on `period_int`: periods starting at
    most `tolerance_ms` before their session start move to it, then each session's periods are stably
    sorted by start (insertion sort: sessions have few periods); sets warning bits per session."""
    n_columns = period_int.shape[1]
    for s in range(session_int.shape[0]):
        p0 = period_offsets[s]
        p1 = period_offsets[s + 1]
        start = session_int[s, S_START]
        mask = 0
        for p in range(p0, p1):
            if start - tolerance_ms <= period_int[p, P_START] < start:
                period_int[p, P_START] = start
                mask |= WARN_EARLY
        for p in range(p0 + 1, p1):
            if period_int[p, P_START] < period_int[p - 1, P_START]:
                mask |= WARN_ORDER
                q = p
                while q > p0 and period_int[q, P_START] < period_int[q - 1, P_START]:
                    for c in range(n_columns):
                        held = period_int[q, c]
                        period_int[q, c] = period_int[q - 1, c]
                        period_int[q - 1, c] = held
                    q -= 1
        out_warn[s] = mask


@njit(cache=True)
def has_glitches(session_int, period_offsets, period_int):
    """Whether any session has a period before its start or periods out of order (repair needed)."""
    for s in range(session_int.shape[0]):
        start = session_int[s, S_START]
        for p in range(period_offsets[s], period_offsets[s + 1]):
            if period_int[p, P_START] < start or (p > period_offsets[s] and period_int[p, P_START] < period_int[p - 1, P_START]):
                return True
    return False


@njit(cache=True, inline="always")
def _split_tax(amount, tax_included, vat, rate1, rate2, rate3, n_taxes):
    """Split a line amount (in the price's tax basis) into (excl, tax slot 0, 1, 2, 3); excl OVERFLOW on
    overflow.

    Slot 0 is the component's `vat`; slots 1..n_taxes the tariff's named taxes (when the component has no
    vat). With taxes included, excl = amount / (1 + rates) and the last tax takes the remainder.
    """
    if tax_included == 2 or (vat == NONE and n_taxes == 0):
        return amount, 0, 0, 0, 0
    if vat != NONE:
        if tax_included == 1:
            excl = mul_div_half_up(amount, 1_000_000, 1_000_000 + vat)
            if excl == OVERFLOW:
                return OVERFLOW, 0, 0, 0, 0
            return excl, amount - excl, 0, 0, 0
        tax = mul_div_half_up(amount, vat, 1_000_000)
        return (amount if tax != OVERFLOW else OVERFLOW), tax, 0, 0, 0
    total_rate = rate1 + (rate2 if n_taxes >= 2 else 0) + (rate3 if n_taxes >= 3 else 0)
    excl = amount
    if tax_included == 1:
        excl = mul_div_half_up(amount, 1_000_000, 1_000_000 + total_rate)
        if excl == OVERFLOW:
            return OVERFLOW, 0, 0, 0, 0
    left = amount - excl
    taxes1 = taxes2 = taxes3 = 0
    for slot in range(1, n_taxes + 1):
        rate = rate1 if slot == 1 else (rate2 if slot == 2 else rate3)
        if tax_included == 1 and slot == n_taxes:
            part = left
        else:
            part = mul_div_half_up(excl, rate, 1_000_000)
            if part == OVERFLOW:
                return OVERFLOW, 0, 0, 0, 0
            left -= part
        if slot == 1:
            taxes1 = part
        elif slot == 2:
            taxes2 = part
        else:
            taxes3 = part
    return excl, 0, taxes1, taxes2, taxes3


@njit(cache=True, inline="always")
def _bound(excl, incl, limit_excl, limit_incl, lower, tariff_rate):
    """Integer twin of bounds.apply_bound: returns (excl, incl, moved, error); error 1 = BOUND_TAX_AMBIGUOUS,
    2 = overflow."""
    moved_excl = excl < limit_excl if lower else excl > limit_excl
    new_excl = limit_excl if moved_excl else excl
    if limit_incl != NONE:
        moved_incl = incl < limit_incl if lower else incl > limit_incl
        return new_excl, limit_incl if moved_incl else incl, moved_excl or moved_incl, 0
    if not moved_excl:
        return excl, incl, False, 0
    if excl != 0:
        # incl x new_excl / excl: the taxes scale with the adjusted base
        scaled = mul_div_half_up(incl if excl > 0 else -incl, new_excl, excl if excl > 0 else -excl)
        return new_excl, scaled, True, 2 if scaled == OVERFLOW else 0
    if tariff_rate == NONE:
        return new_excl, incl, True, 1
    tax = mul_div_half_up(new_excl, tariff_rate, 1_000_000)
    return new_excl, new_excl + tax, True, 2 if tax == OVERFLOW else 0


@njit(cache=True)
def price_kernel(tariff_int, tariff_tax_rates, element_offsets, element_int, element_components, component_int,
                 session_int, period_offsets, period_int, zone_offsets, zone_instants, zone_utc_offsets, policy,
                 want_rows, out_err, out_cat_excl, out_cat_incl, out_cat_tax, out_totals, out_flags, out_qty,
                 rows, sel, billed, cap_used, slot_taxes, totals, reservation_flags):
    """Price every session of the batch; see the module docstring. Scratch arrays are reused per session."""
    mode = policy[0]
    line_stage = policy[1] == 1
    apply_step = policy[2] == 1
    wrap_policy = policy[3]
    for s in range(session_int.shape[0]):
        if session_int[s, S_ERROR] != 0:
            out_err[s] = session_int[s, S_ERROR]
            continue
        t = session_int[s, S_TARIFF]
        p0 = period_offsets[s]
        p1 = period_offsets[s + 1]
        n = p1 - p0
        err = _validate(tariff_int, t, session_int, s, period_int, p0, p1)
        if err != 0:
            out_err[s] = err
            continue
        start = session_int[s, S_START]
        end = session_int[s, S_END]
        e0 = element_offsets[t]
        e1 = element_offsets[t + 1]
        c0 = tariff_int[t, T_COMP_OFF]
        unit = tariff_int[t, T_UNIT]
        needs_local = tariff_int[t, T_NEEDS_LOCAL] == 1
        zone = session_int[s, S_ZONE]
        # session context
        charging_end = start
        energy_total = 0
        charging_total = 0
        parking_total = 0
        peak = NONE
        has_reservation = False
        all_reservation = True
        for i in range(n):
            period_end = period_int[p0 + i + 1, P_START] if i + 1 < n else end
            if period_int[p0 + i, P_TIME] > 0:
                charging_end = period_end
            energy_total += period_int[p0 + i, P_ENERGY]
            charging_total += period_int[p0 + i, P_TIME]
            parking_total += period_int[p0 + i, P_PARKING]
            if period_int[p0 + i, P_MAX_POW] != NONE and (peak == NONE or period_int[p0 + i, P_MAX_POW] > peak):
                peak = period_int[p0 + i, P_MAX_POW]
            reservation_flags[i] = _is_reservation(period_int, p0 + i)
            if reservation_flags[i]:
                has_reservation = True
            else:
                all_reservation = False
        expired = (has_reservation and all_reservation) if session_int[s, S_EXPIRED] < 0 else session_int[s, S_EXPIRED] == 1
        duration = end - start
        # 1. selection
        energy_before = 0
        for i in range(n):
            for d in range(SEL_WIDTH):
                sel[i, d] = -1
            instant = period_int[p0 + i, P_START]
            day = 0
            tod = 0
            weekday = 0
            if needs_local:
                # the zone's UTC offset at `instant`: binary search of its transitions (written out here rather
                # than in a helper taking the arrays: no array views, i.e. no atomic refcounts, in the period loop)
                low = zone_offsets[zone]
                high = zone_offsets[zone + 1] - 1
                while low < high:
                    middle = (low + high + 1) // 2
                    if zone_instants[middle] <= instant:
                        low = middle
                    else:
                        high = middle - 1
                local = instant + zone_utc_offsets[low]
                day = local // DAY_MS
                tod = local - day * DAY_MS
                weekday = (day + 3) % 7
            idle = instant - charging_end if instant >= charging_end else NONE
            # A period has a charging part unless it is a pure reservation period, and a reservation part when
            # it carries reservation time (a mixed period has both, each priced by its own elements).
            # part 0: charging elements (no reservation restriction) fill ENERGY, TIME, PARKING and the FLAT;
            # part 1: reservation elements fill RESERVATION_TIME and the reservation FLAT, for an expired
            # reservation the RESERVATION_EXPIRES elements first (sweep 0), then the RESERVATION ones.
            # Restrictions are only evaluated for elements that could still fill a free dimension.
            for part in range(2):
                if part == 0 and reservation_flags[i]:
                    continue
                if part == 1 and period_int[p0 + i, P_RESERVATION] <= 0:
                    continue
                for sweep in range(2):
                    if sweep == 1 and not (part == 1 and expired):
                        break
                    for e in range(e0, e1):
                        kind = element_int[e, E_RES]
                        if part == 1:
                            if expired:
                                if (sweep == 0 and kind != 2) or (sweep == 1 and kind != 1):
                                    continue
                            elif kind != 1:
                                continue
                        elif kind != 0:
                            continue
                        useful = False
                        if part == 1:
                            useful = ((sel[i, SEL_RES_FLAT] < 0 and element_components[e, 3] >= 0)
                                      or (sel[i, 4] < 0 and element_components[e, 4] >= 0))
                        else:
                            for d in range(4):
                                if sel[i, d] < 0 and element_components[e, d] >= 0:
                                    useful = True
                        if not useful:
                            continue
                        if element_int[e, E_HAS_RESTR] == 1 and not _element_matches(
                                element_int, e, tod, day, weekday, energy_before, instant - start, idle,
                                period_int[p0 + i, P_MIN_CUR], period_int[p0 + i, P_MAX_CUR], period_int[p0 + i, P_MIN_POW],
                                period_int[p0 + i, P_MAX_POW], duration, energy_total, charging_total, peak, wrap_policy):
                            continue
                        if part == 1:
                            if sel[i, SEL_RES_FLAT] < 0:
                                sel[i, SEL_RES_FLAT] = element_components[e, 3]
                            if sel[i, 4] < 0:
                                sel[i, 4] = element_components[e, 4]
                        else:
                            for d in range(4):
                                if sel[i, d] < 0:
                                    sel[i, d] = element_components[e, d]
            energy_before += period_int[p0 + i, P_ENERGY]
        # 2. billed volumes: increments per run, then step_size on totals (totals[0:4]: billed totals,
        # totals[4:8]: last period billing each dimension)
        for d in range(4):
            totals[d] = 0
        for i in range(n):
            billed[i, 0] = period_int[p0 + i, P_ENERGY] if sel[i, 0] >= 0 else 0
            billed[i, 1] = period_int[p0 + i, P_TIME] if sel[i, 1] >= 0 else 0
            billed[i, 2] = period_int[p0 + i, P_PARKING] if sel[i, 2] >= 0 else 0
            billed[i, 3] = period_int[p0 + i, P_RESERVATION] if sel[i, 4] >= 0 else 0
            for d in range(4):
                totals[d] += billed[i, d]
        if tariff_int[t, T_HAS_INCR] == 1:
            for d in range(4):
                column = d if d < 3 else 4
                i = 0
                while i < n:
                    choice = sel[i, column]
                    if choice < 0 or billed[i, d] == 0:
                        i += 1
                        continue
                    last = i
                    while last + 1 < n and sel[last + 1, column] == choice and billed[last + 1, d] != 0:
                        last += 1
                    increment = component_int[choice, C_INCR]
                    if increment > 0:
                        run_total = 0
                        for k in range(i, last + 1):
                            run_total += billed[k, d]
                        extra = ceil_to(run_total, increment) - run_total
                        billed[last, d] += extra
                        totals[d] += extra
                    i = last + 1
        # The last period billing each dimension, once the increments are in: an increment can bring a period to 0
        # (a negative energy glitch rounded up to nothing), and the step then goes to the last one still billing.
        for d in range(4):
            totals[4 + d] = -1
            for i in range(n):
                if billed[i, d] != 0:
                    totals[4 + d] = i
        if apply_step:
            for d in range(4):
                if d == 1 and not (totals[1] > 0 and totals[2] == 0):
                    continue  # TIME is only rounded when no parking was billed
                if d == 2 and totals[2] == 0:
                    continue
                column = d if d < 3 else 4
                last = totals[4 + d]
                if totals[d] == 0 or last < 0:
                    continue
                step = component_int[sel[last, column], C_STEP]
                if step > 0:
                    billed[last, d] += ceil_to(totals[d], step) - totals[d]
        # 3. line amounts
        for k in range(tariff_int[t, T_NCOMP]):
            cap_used[k] = 0
        for cat in range(5):
            out_cat_excl[s, cat] = 0
            for slot in range(MAX_TAX_SLOTS):
                out_cat_tax[s, cat, slot] = 0
        flat_charged_session = False
        flat_charged_reservation = False
        overflow = False
        for i in range(n):
            for step_index in range(6):
                # order of rows: FLAT, reservation FLAT, ENERGY, TIME, PARKING_TIME, RESERVATION_TIME
                if step_index < 2:
                    if step_index == 0:
                        comp = sel[i, SEL_FLAT]
                        if comp < 0 or flat_charged_session:
                            continue
                        flat_charged_session = True
                        category = 3
                        slot_row = SEL_FLAT
                    else:
                        comp = sel[i, SEL_RES_FLAT]
                        if comp < 0 or flat_charged_reservation:
                            continue
                        flat_charged_reservation = True
                        category = 4
                        slot_row = SEL_RES_FLAT
                    raw = 1
                    volume = 1
                else:
                    d = step_index - 2
                    column = d if d < 3 else 4
                    comp = sel[i, column]
                    if comp < 0 or billed[i, d] == 0:
                        continue
                    volume = billed[i, d]
                    raw = period_int[p0 + i, P_ENERGY + d]  # ENERGY, TIME, PARKING, RESERVATION columns are consecutive
                    category = d if d < 3 else 4
                    slot_row = column
                price = component_int[comp, C_PRICE]  # in 10**-C_DECIMALS currency units
                factor = component_int[comp, C_PRICE_FACTOR]  # 10**(C_DECIMALS - 6)
                if component_int[comp, C_BASIS] == 1:
                    marked = mul_div_half_up(period_int[p0 + i, P_RATE], 1_000_000 + component_int[comp, C_MARKUP_PCT],
                                             1_000_000)
                    if marked == OVERFLOW or abs(marked) >= LIMIT // factor:
                        overflow = True
                        break
                    price = marked * factor + component_int[comp, C_MARKUP_FIXED]
                if step_index < 2:
                    amount = mul_div_half_up(price, 1000, factor)
                elif step_index == 2:
                    amount = mul_div_half_up(volume, price, 1000 * factor)
                else:
                    amount = mul_div_half_up(volume, price, 3600 * factor)
                if amount == OVERFLOW:
                    overflow = True
                    break
                if component_int[comp, C_MAX_AMOUNT] != NONE:
                    room = component_int[comp, C_MAX_AMOUNT] - cap_used[comp - c0]
                    amount = min(amount, room)  # credits (negative lines) pass the cap
                    cap_used[comp - c0] += amount
                excl, slot_taxes[0], slot_taxes[1], slot_taxes[2], slot_taxes[3] = _split_tax(
                    amount, tariff_int[t, T_TAX_INCLUDED], component_int[comp, C_VAT], tariff_tax_rates[t, 1],
                    tariff_tax_rates[t, 2], tariff_tax_rates[t, 3], tariff_int[t, T_NTAX])
                if excl == OVERFLOW:
                    overflow = True
                    break
                if line_stage:
                    excl = round_unit(excl, unit, mode)
                    for slot in range(MAX_TAX_SLOTS):
                        slot_taxes[slot] = round_unit(slot_taxes[slot], unit, mode)
                out_cat_excl[s, category] += excl
                tax_sum = 0
                for slot in range(MAX_TAX_SLOTS):
                    out_cat_tax[s, category, slot] += slot_taxes[slot]
                    tax_sum += slot_taxes[slot]
                if want_rows:
                    rows[p0 + i, slot_row, 0] = component_int[comp, C_ELEMENT]
                    rows[p0 + i, slot_row, 1] = component_int[comp, C_LOCAL_INDEX]
                    rows[p0 + i, slot_row, 2] = raw
                    rows[p0 + i, slot_row, 3] = volume
                    rows[p0 + i, slot_row, 4] = price
                    rows[p0 + i, slot_row, 5] = excl
                    rows[p0 + i, slot_row, 6] = tax_sum
                    rows[p0 + i, slot_row, 7] = component_int[comp, C_DECIMALS]
            if overflow:
                break
        if overflow:
            out_err[s] = ERR_OVERFLOW
            continue
        # 4. round, then bound the totals
        total_excl = 0
        total_incl = 0
        for cat in range(5):
            incl = out_cat_excl[s, cat]
            for slot in range(MAX_TAX_SLOTS):
                incl += out_cat_tax[s, cat, slot]
            total_excl += out_cat_excl[s, cat]
            total_incl += incl
            out_cat_incl[s, cat] = round_unit(incl, unit, mode)
            out_cat_excl[s, cat] = round_unit(out_cat_excl[s, cat], unit, mode)
        flags = 0
        bound_error = 0
        if tariff_int[t, T_MIN_EXCL] != NONE:
            total_excl, total_incl, moved, bound_error = _bound(total_excl, total_incl, tariff_int[t, T_MIN_EXCL],
                                                                tariff_int[t, T_MIN_INCL], True, tariff_int[t, T_BOUND_RATE])
            if moved:
                flags |= 1
        if tariff_int[t, T_MAX_EXCL] != NONE and bound_error == 0:
            total_excl, total_incl, moved, bound_error = _bound(total_excl, total_incl, tariff_int[t, T_MAX_EXCL],
                                                                tariff_int[t, T_MAX_INCL], False, tariff_int[t, T_BOUND_RATE])
            if moved:
                flags |= 2
        if bound_error != 0:
            out_err[s] = ERR_BOUND_TAX if bound_error == 1 else ERR_OVERFLOW
            continue
        out_totals[s, 0] = round_unit(total_excl, unit, mode)
        out_totals[s, 1] = round_unit(total_incl, unit, mode)
        out_flags[s] = flags
        out_qty[s, 0] = energy_total
        out_qty[s, 1] = charging_total
        out_qty[s, 2] = parking_total
        out_err[s] = 0


class BatchOutput:
    """The kernel's outputs for one batch (arrays indexed by session; rows by period when requested)."""

    def __init__(self, n_sessions: int, n_periods: int, want_rows: bool) -> None:
        self.error = np.zeros(n_sessions, dtype=np.int64)
        self.category_excl = np.zeros((n_sessions, 5), dtype=np.int64)
        self.category_incl = np.zeros((n_sessions, 5), dtype=np.int64)
        self.category_tax = np.zeros((n_sessions, 5, MAX_TAX_SLOTS), dtype=np.int64)
        self.totals = np.zeros((n_sessions, 2), dtype=np.int64)
        self.flags = np.zeros(n_sessions, dtype=np.int64)
        self.warnings = np.zeros(n_sessions, dtype=np.int64)  # glitch warning bits (policy.GLITCH_WARNINGS)
        self.quantities = np.zeros((n_sessions, 3), dtype=np.int64)
        self.rows = np.full((n_periods if want_rows else 1, SEL_WIDTH, ROW_FIELDS), -1, dtype=np.int64)
        self.period_int: np.ndarray | None = None  # the periods as priced (after the glitch repair)


def price_batch(tariffs: CompiledTariffs, batch: SessionBatch, policy_codes: np.ndarray, want_rows: bool = False) -> BatchOutput:
    """Price a compiled batch in one kernel call; outputs and scratch are allocated once here.

    Under the WARN glitch policy (policy_codes[4] == 0) glitches are repaired first on a copy of the periods
    (the caller's arrays are never changed); `output.period_int` is the array that was priced (breakdown rows
    index it)."""
    n_sessions = batch.session_int.shape[0]
    n_periods = batch.period_int.shape[0]
    output = BatchOutput(n_sessions, n_periods, want_rows)
    period_int = batch.period_int
    if policy_codes[4] == 0 and has_glitches(batch.session_int, batch.period_offsets, period_int):
        period_int = period_int.copy()
        repair_glitches(batch.session_int, batch.period_offsets, period_int, policy_codes[5], output.warnings)
    output.period_int = period_int
    counts = np.diff(batch.period_offsets)
    max_periods = int(counts.max()) if n_sessions else 1
    sel = np.empty((max(max_periods, 1), SEL_WIDTH), dtype=np.int64)
    billed = np.empty((max(max_periods, 1), 4), dtype=np.int64)
    cap_used = np.empty(tariffs.max_components, dtype=np.int64)
    slot_taxes = np.empty(MAX_TAX_SLOTS, dtype=np.int64)
    totals = np.empty(8, dtype=np.int64)
    price_kernel(
        tariffs.tariff_int, tariffs.tariff_tax_rates, tariffs.element_offsets, tariffs.element_int,
        tariffs.element_components, tariffs.component_int, batch.session_int, batch.period_offsets,
        period_int, batch.zones.offsets, batch.zones.instants_ms, batch.zones.utc_offsets_ms, policy_codes,
        want_rows, output.error, output.category_excl, output.category_incl, output.category_tax, output.totals,
        output.flags, output.quantities, output.rows, sel, billed, cap_used, slot_taxes, totals,
        np.empty(max(max_periods, 1), dtype=np.bool_),
    )
    output.warnings[output.error != 0] = 0  # an unpriced session reports its error, not repairs
    return output
