"""The Decimal reference pricer: the readable oracle the numba kernels must equal to the last decimal.

Semantics (tariffs-and-metering.md §0-§2, policy choices in `policy.py`):
1. Every period is priced at the elements active at its START. For each dimension separately, the price is
   the first element whose restrictions all hold and which has a component of that dimension; no match means
   that dimension is free in that period. Reservation periods only consider elements with a `reservation`
   restriction (RESERVATION_EXPIRES elements first, and only when the reservation expired); other periods only
   consider elements without one. A period carrying RESERVATION_TIME together with energy, charging or parking
   time is priced as both: its reservation time (and the reservation FLAT) by the reservation elements, the
   rest by the others; nothing of it is dropped.
2. FLAT is charged once per session (the first FLAT that becomes active); a reservation FLAT is charged on
   top, once.
3. Billing increments round every continuous run of one component up to started increments (extra volume on
   the run's last period). Then step_size rounds the session totals once: ENERGY; TIME and PARKING_TIME
   together (when both were billed only the parking total is rounded); reservation time. The step of the
   last component used applies and the extra volume is billed on the last period that used it.
4. Line amount = billed volume x unit price, to 1e-9 half-up; `max_amount` caps each component's session
   total; taxes per line (component `vat`, else the tariff's named taxes; `tax_included` YES means the line
   includes them, N/A means none).
5. Totals are rounded per the rounding policy (stage LINE or TOTAL), then min/max bound the pre-tax and
   post-tax totals independently (a missing post-tax bound moves the post-tax total with the pre-tax one).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .spec import THRESHOLDS
from .bounds import BoundTaxAmbiguous, apply_bound, bound_tax_rate
from .model import BreakdownRow, PriceComponent, PricingResult, Session, SessionPeriod, Tariff, TariffElement
from .money import INTERNAL_DECIMALS, UnknownCurrencyError, decimal_to_nano, minor_units
from .outcome import (
    ENERGY_CAT,
    FIXED_CAT,
    PARKING_CAT,
    RESERVATION_CAT,
    TIME_CAT,
    SessionOutcome,
    assemble,
    tax_slot_names,
    volume_decimal,
)
from .policy import DEFAULT_POLICY, WARN_EARLY_PERIOD, WARN_OUT_OF_ORDER, PricingPolicy, warning_codes

_NANO_EXP = Decimal(1).scaleb(-INTERNAL_DECIMALS)
_MICRO_EXP = Decimal("0.000001")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DAY_MS = 86_400_000
_AMOUNT_LIMIT = 2**62  # the kernels' integer range for a line amount in nano units
# Volume dimensions priced per period, with the component types that may price them.
_VOLUME_DIMS = ("ENERGY", "TIME", "PARKING_TIME", "RESERVATION_TIME")
_CATEGORY = {"ENERGY": ENERGY_CAT, "TIME": TIME_CAT, "PARKING_TIME": PARKING_CAT, "RESERVATION_TIME": RESERVATION_CAT}


class SessionError(Exception):
    """A session that cannot be priced; `code` is the stable per-session error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, truncated (floor) to whole milliseconds; naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def micro(value: Decimal) -> Decimal:
    """A measurement or threshold quantized half-up to 1e-6 (the precision the kernels compare at)."""
    return value.quantize(_MICRO_EXP, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class _LocalMoment:
    day: int  # local days since 1970-01-01
    time_of_day_ms: int
    weekday: int  # Monday = 0


@dataclass(frozen=True)
class _PeriodContext:
    """What the restrictions of one period are evaluated against."""

    local: _LocalMoment
    energy_before_mwh: int
    since_start_ms: int
    idle_ms: int | None  # None before charging ended
    period: SessionPeriod


@dataclass(frozen=True)
class _SessionContext:
    duration_ms: int
    energy_mwh: int
    charging_ms: int
    peak_power: Decimal | None
    expired: bool


def _local_moment(instant_ms: int, zone: ZoneInfo) -> _LocalMoment:
    local = (_EPOCH + timedelta(milliseconds=instant_ms)).astimezone(zone)
    day = (local.date() - _EPOCH.date()).days
    tod = ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 + local.microsecond // 1000
    return _LocalMoment(day, tod, local.weekday())


def _time_ms(value) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000


def _window(element: TariffElement) -> tuple[int, int] | None:
    """The daily window (start, end) in ms of day, end 24h for open ends; None without a time restriction."""
    r = element.restrictions
    if r is None or (r.start_time is None and r.end_time is None):
        return None
    start = _time_ms(r.start_time) if r.start_time is not None else 0
    end = _time_ms(r.end_time) if r.end_time is not None else 0
    return start, end if end != 0 else _DAY_MS


def _in_window(window: tuple[int, int], tod: int) -> bool:
    start, end = window
    if start < end:
        return start <= tod < end
    return tod >= start or tod < end  # wraps past midnight


def _element_matches(element: TariffElement, ctx: _PeriodContext, sctx: _SessionContext, policy: PricingPolicy) -> bool:
    """All restrictions of `element` hold for this period (reservation handled by the caller)."""
    r = element.restrictions
    if r is None:
        return True
    local = ctx.local
    weekday, day = local.weekday, local.day
    window = _window(element)
    if window is not None:
        if not _in_window(window, local.time_of_day_ms):
            return False
        wraps = window[0] >= window[1]
        if policy.wrap_weekday == "WINDOW_START" and wraps and local.time_of_day_ms < window[1]:
            weekday, day = (weekday - 1) % 7, day - 1  # after midnight: the window belongs to yesterday
    if r.start_date is not None and day < (r.start_date - _EPOCH.date()).days:
        return False
    if r.end_date is not None and day >= (r.end_date - _EPOCH.date()).days:
        return False
    if r.day_of_week is not None and ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")[weekday] not in r.day_of_week:
        return False
    return _thresholds_hold(r, ctx, sctx)


def _quantity(name: str, ctx: _PeriodContext, sctx: _SessionContext) -> Fraction | None:
    """The exact value of a spec quantity (spec.Quantity) for this period; None when it is not known."""
    p = ctx.period
    if name == "energy_before":
        return Fraction(ctx.energy_before_mwh, 1_000_000)
    if name == "since_start":
        return Fraction(ctx.since_start_ms, 1000)
    if name == "idle":
        return None if ctx.idle_ms is None else Fraction(ctx.idle_ms, 1000)
    if name in ("min_current", "max_current", "min_power", "max_power"):
        value = getattr(p, name)
        return None if value is None else Fraction(micro(value))
    if name == "session_duration":
        return Fraction(sctx.duration_ms, 1000)
    if name == "session_energy":
        return Fraction(sctx.energy_mwh, 1_000_000)
    if name == "average_power":  # kWh per charging hour; 0 without charging
        return Fraction(sctx.energy_mwh * 3_600, sctx.charging_ms * 1000) if sctx.charging_ms else Fraction(0)
    if name == "peak_power":
        return None if sctx.peak_power is None else Fraction(sctx.peak_power)
    raise ValueError(f"unknown spec quantity {name!r}")


def _thresholds_hold(r, ctx: _PeriodContext, sctx: _SessionContext) -> bool:
    """Every threshold restriction of `r` holds, each checked as its spec row says (spec.THRESHOLDS): MIN
    needs quantity >= threshold, MAX quantity < threshold, and an unknown quantity never holds."""
    for spec in THRESHOLDS:
        value = getattr(r, spec.name)
        if value is None:
            continue
        threshold = Fraction(micro(value)) if spec.kind == "DECIMAL" else Fraction(value)
        quantity = _quantity(spec.quantity, ctx, sctx)
        if quantity is None or (quantity < threshold if spec.compare == "MIN" else quantity >= threshold):
            return False
    return True


def _component_of(element: TariffElement, types: tuple[str, ...]) -> int | None:
    for index, component in enumerate(element.price_components):
        if component.type in types:
            return index
    return None


def _candidate_elements(tariff: Tariff, reservation_period: bool, expired: bool) -> list[int]:
    """Element indexes allowed for a period, in priority order."""
    indexes = range(len(tariff.elements))

    def kind(i: int) -> str | None:
        r = tariff.elements[i].restrictions
        return None if r is None else r.reservation

    if not reservation_period:
        return [i for i in indexes if kind(i) is None]
    expiring = [i for i in indexes if kind(i) == "RESERVATION_EXPIRES"] if expired else []
    return expiring + [i for i in indexes if kind(i) == "RESERVATION"]


def _select(tariff: Tariff, candidates: list[int], matching: set[int], types: tuple[str, ...]) -> tuple[int, int] | None:
    for element_index in candidates:
        if element_index in matching:
            component_index = _component_of(tariff.elements[element_index], types)
            if component_index is not None:
                return element_index, component_index
    return None


def _ceil_to(value: int, step: int) -> int:
    return -(-value // step) * step


def _repair_glitches(session: Session, policy: PricingPolicy) -> tuple[list[SessionPeriod], tuple[str, ...]]:
    """The periods with the glitches of `policy.glitches` repaired (see policy.py), and the warning codes.

    Under WARN, a period starting at most `early_period_tolerance_s` before the session start is moved to the
    start, then periods out of order are stably sorted by start. STRICT changes nothing (`_validate` refuses).
    """
    periods = list(session.periods)
    if policy.glitches == "STRICT":
        return periods, ()
    start_ms = epoch_ms(session.start)
    tolerance_ms = policy.early_period_tolerance_s * 1000
    mask = 0
    for index, period in enumerate(periods):
        if start_ms - tolerance_ms <= epoch_ms(period.start) < start_ms:
            periods[index] = replace(period, start=_EPOCH + timedelta(milliseconds=start_ms))
            mask |= WARN_EARLY_PERIOD
    starts = [epoch_ms(p.start) for p in periods]
    if any(later < earlier for earlier, later in zip(starts, starts[1:])):
        order = sorted(range(len(periods)), key=lambda i: starts[i])  # stable: equal starts keep their order
        periods = [periods[i] for i in order]
        mask |= WARN_OUT_OF_ORDER
    return periods, warning_codes(mask)


def _validate(tariff: Tariff, session: Session, periods: list[SessionPeriod]) -> ZoneInfo:
    try:
        minor_units(tariff.currency)
    except UnknownCurrencyError as error:
        raise SessionError("UNKNOWN_CURRENCY", str(error)) from None
    try:
        zone = ZoneInfo(session.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SessionError("UNKNOWN_TIMEZONE", f"unknown time zone {session.timezone!r}") from None
    start_ms, end_ms = epoch_ms(session.start), epoch_ms(session.end)
    if end_ms < start_ms:
        raise SessionError("INVALID_SESSION_TIMES", "session ends before it starts")
    if tariff.start_date_time is not None and start_ms < epoch_ms(tariff.start_date_time):
        raise SessionError("TARIFF_NOT_ACTIVE", "session starts before the tariff's start_date_time")
    if tariff.end_date_time is not None and start_ms >= epoch_ms(tariff.end_date_time):
        raise SessionError("TARIFF_NOT_ACTIVE", "session starts at or after the tariff's end_date_time")
    if not periods:
        raise SessionError("NO_PERIODS", "session has no charging periods")
    previous = start_ms
    for index, period in enumerate(periods):
        period_ms = epoch_ms(period.start)
        if period_ms < start_ms or period_ms > end_ms:
            raise SessionError("PERIOD_OUTSIDE_SESSION", f"charging_periods[{index}] starts outside the session")
        if period_ms < previous:
            raise SessionError("NON_MONOTONIC_PERIODS", f"charging_periods[{index}] starts before the previous one")
        previous = period_ms
        # energy may be negative (V2G: energy back to the grid); elapsed times may not
        if min(period.time_ms, period.parking_ms, period.reservation_ms) < 0:
            raise SessionError("NEGATIVE_VOLUME", f"charging_periods[{index}] has a negative time volume")
        # electricity rates may be negative (dynamic tariffs); measured currents and powers may not
        for value in (period.min_current, period.max_current, period.min_power, period.max_power):
            if value is not None and value < 0:
                raise SessionError("NEGATIVE_MEASUREMENT", f"charging_periods[{index}] has a negative measurement")
        if tariff.electricity_rate_required and not period.is_reservation and period.electricity_rate is None:
            raise SessionError("MISSING_ELECTRICITY_RATE", f"charging_periods[{index}] has no electricity rate")
    return zone


def _unit_price(component: PriceComponent, period: SessionPeriod) -> Decimal:
    """The component's price per unit for this period (electricity-rate prices marked up, to 1e-6 half-up)."""
    if component.price_basis == "ELECTRICITY_RATE":
        rate = micro(period.electricity_rate)
        marked_up = (rate * (1 + component.markup_percent / 100)).quantize(_MICRO_EXP, rounding=ROUND_HALF_UP)
        return marked_up + component.markup_fixed
    return component.price


def _line_nano(dimension: str, billed: int, price: Decimal) -> int:
    """billed volume (mWh or ms) x unit price, in nano units half-up; multiply before dividing so the
    Decimal division is exact whenever the result is a half-way value."""
    if dimension == "ENERGY":
        exact = Decimal(billed) * price / Decimal(1_000_000)
    elif dimension == "FLAT":
        exact = price
    else:
        exact = Decimal(billed) * price / Decimal(3_600_000)
    return int(exact.quantize(_NANO_EXP, rounding=ROUND_HALF_UP).scaleb(INTERNAL_DECIMALS))


def _split_tax(tariff: Tariff, component: PriceComponent, amount: int) -> tuple[int, list[int]]:
    """(excl, taxes per slot) of a line amount in the price's tax basis."""
    slots = [0] * len(tax_slot_names(tariff))
    if tariff.tax_included == "N/A":
        return amount, slots
    if component.vat is not None:
        rates = [(0, component.vat)]
    else:
        rates = [(i + 1, tax.percentage) for i, tax in enumerate(tariff.taxes)]
    if not rates:
        return amount, slots
    if tariff.tax_included == "YES":
        total_rate = sum((rate for _, rate in rates), Decimal(0))
        excl = int((Decimal(amount) / (1 + total_rate / 100)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        left = amount - excl
        for position, (slot, rate) in enumerate(rates):
            if position == len(rates) - 1:
                slots[slot] += left
            else:
                part = int((Decimal(excl) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
                slots[slot] += part
                left -= part
        return excl, slots
    for slot, rate in rates:
        slots[slot] += int((Decimal(amount) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return amount, slots


def _reference_outcome(tariff: Tariff, session: Session, policy: PricingPolicy) -> SessionOutcome:
    periods, warnings = _repair_glitches(session, policy)
    zone = _validate(tariff, session, periods)
    n = len(periods)
    start_ms, end_ms = epoch_ms(session.start), epoch_ms(session.end)
    starts = [epoch_ms(p.start) for p in periods]
    ends = starts[1:] + [end_ms]
    charging_end = start_ms
    for index, period in enumerate(periods):
        if period.time_ms > 0:
            charging_end = ends[index]
    powers = [micro(p.max_power) for p in periods if p.max_power is not None]
    sctx = _SessionContext(
        duration_ms=end_ms - start_ms,
        energy_mwh=sum(p.energy_mwh for p in periods),
        charging_ms=sum(p.time_ms for p in periods),
        peak_power=max(powers) if powers else None,
        expired=replace(session, periods=tuple(periods)).expired,
    )

    # 1. Select a component per period and dimension.
    # FLAT: the session's fixed fee (charging elements); RESERVATION_FLAT: the reservation's (reservation elements)
    selected: dict[str, list[tuple[int, int] | None]] = {d: [None] * n for d in _VOLUME_DIMS + ("FLAT", "RESERVATION_FLAT")}
    volumes: dict[str, list[int]] = {
        "ENERGY": [p.energy_mwh for p in periods],
        "TIME": [p.time_ms for p in periods],
        "PARKING_TIME": [p.parking_ms for p in periods],
        "RESERVATION_TIME": [p.reservation_ms for p in periods],
    }
    energy_before = 0
    for index, period in enumerate(periods):
        ctx = _PeriodContext(
            local=_local_moment(starts[index], zone),
            energy_before_mwh=energy_before,
            since_start_ms=starts[index] - start_ms,
            idle_ms=starts[index] - charging_end if starts[index] >= charging_end else None,
            period=period,
        )
        energy_before += period.energy_mwh
        # A period has a charging part unless it is a pure reservation period, and a reservation part when it
        # carries reservation time: a period with both (mixed) prices each part by its own elements.
        if not period.is_reservation:
            candidates = _candidate_elements(tariff, False, sctx.expired)
            matching = {i for i in candidates if _element_matches(tariff.elements[i], ctx, sctx, policy)}
            selected["FLAT"][index] = _select(tariff, candidates, matching, ("FLAT",))
            for dimension in ("ENERGY", "TIME", "PARKING_TIME"):
                selected[dimension][index] = _select(tariff, candidates, matching, (dimension,))
        if period.reservation_ms > 0:
            candidates = _candidate_elements(tariff, True, sctx.expired)
            matching = {i for i in candidates if _element_matches(tariff.elements[i], ctx, sctx, policy)}
            selected["RESERVATION_FLAT"][index] = _select(tariff, candidates, matching, ("FLAT",))
            selected["RESERVATION_TIME"][index] = _select(tariff, candidates, matching, ("TIME", "RESERVATION"))

    # 2. Billed volumes: billing increments per continuous run, then step_size on session totals.
    billed = {d: [volumes[d][i] if selected[d][i] else 0 for i in range(n)] for d in _VOLUME_DIMS}
    unit = {"ENERGY": 1000, "TIME": 1000, "PARKING_TIME": 1000, "RESERVATION_TIME": 1000}  # Wh->mWh, s->ms
    for dimension in _VOLUME_DIMS:
        index = 0
        while index < n:
            choice = selected[dimension][index]
            if choice is None or billed[dimension][index] == 0:
                index += 1
                continue
            last = index
            while last + 1 < n and selected[dimension][last + 1] == choice and billed[dimension][last + 1] != 0:
                last += 1
            increment = tariff.elements[choice[0]].price_components[choice[1]].billing_increment * unit[dimension]
            if increment > 0:
                run_total = sum(billed[dimension][index : last + 1])
                billed[dimension][last] += _ceil_to(run_total, increment) - run_total
            index = last + 1

    def step_round(dimension: str) -> None:
        total = sum(billed[dimension])
        users = [i for i in range(n) if selected[dimension][i] is not None and billed[dimension][i] != 0]
        if total == 0 or not users or not policy.apply_step_size:
            return
        last = users[-1]
        element_index, component_index = selected[dimension][last]
        step = tariff.elements[element_index].price_components[component_index].step_size * unit[dimension]
        if step > 0:
            billed[dimension][last] += _ceil_to(total, step) - total

    step_round("ENERGY")
    step_round("RESERVATION_TIME")
    if sum(billed["TIME"]) > 0 and sum(billed["PARKING_TIME"]) > 0:
        step_round("PARKING_TIME")  # charging followed by parking: only parking is rounded
    elif sum(billed["TIME"]) > 0:
        step_round("TIME")
    else:
        step_round("PARKING_TIME")

    # 3. Line amounts, caps and taxes, in period order.
    slot_count = len(tax_slot_names(tariff))
    cat_excl = [0] * 5
    cat_taxes = [[0] * slot_count for _ in range(5)]
    cap_used: dict[tuple[int, int], int] = {}
    rows: list[BreakdownRow] = []
    rounding = policy.rounding
    line_stage = rounding.stage == "LINE"

    def book(index: int, dimension: str, category: int, choice: tuple[int, int], raw: int, billed_volume: int, reservation: bool) -> None:
        component = tariff.elements[choice[0]].price_components[choice[1]]
        price = _unit_price(component, periods[index])
        amount = _line_nano(dimension, billed_volume, price)
        if abs(amount) >= _AMOUNT_LIMIT:
            raise SessionError("AMOUNT_OVERFLOW", "an amount exceeds the engine's range (2**62 nano units)")
        if component.max_amount is not None:
            cap = decimal_to_nano(component.max_amount)
            amount = min(amount, cap - cap_used.get(choice, 0))  # credits (negative lines) pass the cap
            cap_used[choice] = cap_used.get(choice, 0) + amount
        excl, taxes = _split_tax(tariff, component, amount)
        if line_stage:
            excl = rounding.round_nano(excl, tariff.currency)
            taxes = [rounding.round_nano(t, tariff.currency) for t in taxes]
        cat_excl[category] += excl
        for slot, tax in enumerate(taxes):
            cat_taxes[category][slot] += tax
        rows.append(
            BreakdownRow(
                period_index=index,
                dimension=dimension,
                element_index=choice[0],
                component_index=choice[1],
                raw_volume=volume_decimal(raw, dimension),
                billed_volume=volume_decimal(billed_volume, dimension),
                step_volume=volume_decimal(billed_volume - raw, dimension),
                price=price,
                excl_vat=Decimal(excl).scaleb(-INTERNAL_DECIMALS),
                tax=Decimal(sum(taxes)).scaleb(-INTERNAL_DECIMALS),
                reservation=reservation,
            )
        )

    flat_charged = {False: False, True: False}  # keyed by "is the reservation's FLAT"
    for index in range(n):
        for reservation, key, category in ((False, "FLAT", FIXED_CAT), (True, "RESERVATION_FLAT", RESERVATION_CAT)):
            flat = selected[key][index]
            if flat is not None and not flat_charged[reservation]:
                flat_charged[reservation] = True
                book(index, "FLAT", category, flat, 1, 1, reservation)
        for dimension in _VOLUME_DIMS:
            choice = selected[dimension][index]
            if choice is not None and billed[dimension][index] != 0:
                book(index, dimension, _CATEGORY[dimension], choice, volumes[dimension][index], billed[dimension][index], dimension == "RESERVATION_TIME")

    # 4. Round, then bound the totals.
    cat_incl = [cat_excl[c] + sum(cat_taxes[c]) for c in range(5)]
    total_excl, total_incl = sum(cat_excl), sum(cat_incl)
    rounded_excl = [rounding.round_nano(v, tariff.currency) for v in cat_excl]
    rounded_incl = [rounding.round_nano(v, tariff.currency) for v in cat_incl]
    min_applied = max_applied = False
    rate = bound_tax_rate(tariff)
    try:
        if tariff.min_price is not None:
            total_excl, total_incl, min_applied = apply_bound(total_excl, total_incl, tariff.min_price, True, rate)
        if tariff.max_price is not None:
            total_excl, total_incl, max_applied = apply_bound(total_excl, total_incl, tariff.max_price, False, rate)
    except BoundTaxAmbiguous as error:
        raise SessionError("BOUND_TAX_AMBIGUOUS", str(error)) from None
    return SessionOutcome(
        category_excl=tuple(rounded_excl),
        category_incl=tuple(rounded_incl),
        category_taxes=tuple(tuple(t) for t in cat_taxes),
        total_excl=rounding.round_nano(total_excl, tariff.currency),
        total_incl=rounding.round_nano(total_incl, tariff.currency),
        min_price_applied=min_applied,
        max_price_applied=max_applied,
        energy_mwh=sctx.energy_mwh,
        time_ms=sctx.charging_ms,
        parking_ms=sum(p.parking_ms for p in periods),
        rows=tuple(rows),
        warnings=warnings,
    )


def price_session(tariff: Tariff, session: Session, policy: PricingPolicy = DEFAULT_POLICY) -> PricingResult:
    """Price one session under one tariff with the Decimal reference; errors become a result error code."""
    with decimal.localcontext() as context:
        context.prec = 60
        try:
            outcome = _reference_outcome(tariff, session, policy)
        except SessionError as error:
            outcome = SessionOutcome((0,) * 5, (0,) * 5, ((),) * 5, 0, 0, False, False, 0, 0, 0, error_code=error.code, error=str(error))
    return assemble(session.id, tariff, outcome, policy)
