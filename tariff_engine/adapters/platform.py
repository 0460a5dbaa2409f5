"""Platform adapter: the 11 tariff types of the charging platform (seed 001, Tariff v1.0) as canonical tariffs.

`tariff_from_platform(document)` maps one tariff object (the `data` of `GET tariffs/v1.0/{id}` or a tariff
snapshot) into `tariff_engine.model.Tariff`. Every field of `pricing` is checked against the fields its type
uses; a price-affecting field the mapping cannot express faithfully is refused with `PlatformTariffError`,
whose message starts with the field's JSON path. "charging not allowed" is refused too (never a silent 0).

Mapping (prices per minute or per block become per-hour prices, the model's unit; each concept bounds a
quantity of the spec table, and `spec.bounds` names the restriction, see the concept table below):
- connection fees: FLAT, gated by minimum session duration / energy; the per-tier flat fees of
  `standard` tariffs (`multiPricePerKwh[].flatFee`, `multiPricePerDuration[].flatFee`) are folded with the
  connection fee into cumulative FLAT elements ordered so the first one that matches the session totals
  charges exactly the sum of the fees reached (the model charges one FLAT per session);
- block billing (`pricePeriodInMinutes`, `idlePricingPeriodInMinutes`): `billing_increment` in seconds, so
  every continuous run is billed per STARTED block; `durationFeeLimit` / `idleFeeLimit`: `max_amount`;
- idle fees: PARKING_TIME; grace `idle_detection` -> a minimum idle time (counted from the end of charging),
  `session_start` -> a minimum time since the session start; an idle fee replaces the duration fee while idle (d+e types);
- time windows (`durationFeeFrom/To`, `idleFeePeriodStart/End`, day/night, `timePeriods`, rate slots):
  start/end time restrictions; windows that wrap past midnight are split at 00:00 so dates and weekdays
  always refer to the calendar day of the instant, whatever the `wrap_weekday` policy;
- `energy tou`: ENERGY with `price_basis` ELECTRICITY_RATE and the markups (the rate comes with each
  session period); `optimised dynamic pricing`: the caller's electricity rate turned into time windows
  (slots at or below `thresholdPriceForEnergy` are "optimised");
- power levels: TIME elements bounded above in average / peak power ("up to" is inclusive: the bound is
  the level + 1e-6 kW, the precision the engine compares at); the highest level is open-ended;
- `minPrice`: the tariff's `min_price`; `restrictions.startDate`/`endDate` (local dates, end inclusive):
  the tariff's validity in UTC (needs the location's zone).

Taxes: the spec does not say whether tariff prices are gross; electricity-rate and markup prices are
(the spec says "must include tax"). Callers pass `tax_percentage` and `prices_include_tax` (default True).
Who a tariff applies to (`restrictions.applyTo…`), display texts, pre-authorisation, idle-detection
thresholds and stop limits do not change a price and are not mapped.
"""

from __future__ import annotations

import decimal
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..consumption.electricity import ElectricityRate
from .fields import json_decimal
from ..spec import bounds
from ..model import (
    WEEKDAYS,
    PriceComponent,
    PriceLimit,
    Tariff,
    TariffElement,
    TariffModelError,
    TariffRestrictions,
)

PLATFORM_TYPES = (
    "free", "charging not allowed", "flat rate", "duration+energy", "duration+energy time of day", "energy tou",
    "standard", "standard_tod", "average power levels", "peak power levels", "optimised dynamic pricing",
)
_BLOCK_MINUTES = (1, 15, 30, 60, 240, 360)
# What each platform concept bounds: a quantity of the spec table, which names the restriction (`spec.bounds`);
# a new restriction on one of these quantities needs no edit here.
ENERGY_SO_FAR = "energy_before"        # multiPricePerKwh tiers (firstKwh / lastKwh)
SINCE_START = "since_start"            # duration tiers and grace, regularUsePeriod, idle grace `session_start`
IDLE = "idle"                          # multiIdleFee tiers, idle grace `idle_detection`
SESSION_DURATION = "session_duration"  # connectionFeeMinimumSessionDuration
SESSION_ENERGY = "session_energy"      # connectionFeeMinimumSessionEnergy
AVERAGE_POWER = "average_power"        # averagePowerLevels ("up to" is inclusive)
PEAK_POWER = "peak_power"              # peakPowerLevels ("up to" is inclusive)
_MAX_FLAT_COMBINATIONS = 400

# Pricing fields that never change the price of a given session (payment, display, idle detection, where the
# electricity rate comes from) and are therefore accepted for every type.
_NEUTRAL_FIELDS = {
    "preAuthorizeAmount", "taxID", "stateOfChargeIdleThreshold", "averagePowerIdleThreshold",
    "chargePointElectricityRate", "fallbackElectricityRateId", "optimisedLabel",
}
_CONNECTION = {"connectionFee", "connectionFeeMinimumSessionDuration", "connectionFeeMinimumSessionEnergy"}
_IDLE = {"idleFeeGracePeriodMinutes", "idleFeeGracePeriodMode", "idlePricingPeriodInMinutes", "idleFeeLimit"}
_TYPE_FIELDS: dict[str, set[str]] = {
    "free": set(),
    "flat rate": {"pricePerSession"},
    "duration+energy": _CONNECTION | _IDLE | {
        "pricePerKwh", "pricePeriodInMinutes", "pricePerPeriod", "durationFeeGracePeriod", "durationFeeLimit",
        "durationFeeFrom", "durationFeeTo", "idleFeePerMinute", "idleFeePeriodStart", "idleFeePeriodEnd"},
    "duration+energy time of day": _CONNECTION | _IDLE | {
        "dayPricePerKwh", "nightPricePerKwh", "pricePeriodInMinutes", "dayPricePerPeriod", "nightPricePerPeriod",
        "dayIdleFeePerMinute", "nightIdleFeePerMinute", "durationFeeGracePeriod", "durationFeeLimit",
        "lockPriceOnSessionStart"},
    "energy tou": _IDLE | {
        "markupPercentagePerKwh", "markupFixedFeePerKwh", "flexibleMarkUpAsFixedPerKwh", "idleFeePerMinute",
        "idleFeePeriodStart", "idleFeePeriodEnd", "lockPriceOnSessionStart", "subsidyIntegrationId"},
    "standard": _CONNECTION | {"pricePeriodInMinutes", "multiPricePerKwh", "multiPricePerDuration", "multiIdleFee"},
    "standard_tod": _IDLE | {
        "connectionFeeMinimumSessionDuration", "connectionFeeMinimumSessionEnergy", "durationFeeGracePeriod",
        "pricePeriodInMinutes", "timePeriods", "pricePeriods", "daysWhenApplied", "lockEnergyPriceOnSessionStart",
        "lockDurationPriceOnSessionStart", "lockIdlePriceOnSessionStart"},
    "average power levels": {"averagePowerLevels"},
    "peak power levels": {"regularUsePeriod", "peakPowerLevels"},
    "optimised dynamic pricing": {"pricePerKwh", "thresholdPriceForEnergy", "priceForEnergyWhenOptimized"},
}
# Fields of the tariff object itself (outside `pricing`) that take part in pricing or are informational.
_TOP_LEVEL_FIELDS = {
    "id", "operatorId", "name", "type", "description", "additionalInformation", "learnMoreUrl", "dayTariffStart",
    "nightTariffStart", "pricing", "currency", "stopSession", "restrictions", "partner", "lastUpdatedAt",
    "display", "integrationId", "externalId", "tariffId",
}
_DAY_OVERRIDE_FIELDS = {
    "name", "specialDates", "idleFeeGracePeriodMinutes", "idlePricingPeriodInMinutes",
    "connectionFeeMinimumSessionDuration", "connectionFeeMinimumSessionEnergy", "durationFeeGracePeriod",
    "pricePeriodInMinutes", "pricePeriods",
}
_FEE_PERIOD_KEYS = ("connectionFeePeriods", "energyFeePeriods", "durationFeePeriods", "idleFeePeriods")


class PlatformTariffError(TariffModelError):
    """A platform tariff that cannot be priced as given; the message starts with the offending JSON path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


# ---------------------------------------------------------------------------------------------------------
# Small readers: every number goes through str() so 0.45 is Decimal("0.45"), never a binary fraction.


def _is_set(value: Any) -> bool:
    """A field counts as configured unless null, false, empty or numerically zero."""
    if value is None or value is False or value == "" or value == [] or value == {}:
        return False
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value != 0
    return True


def _decimal(value: Any, path: str, *, minimum: Decimal | None = Decimal(0)) -> Decimal:
    return json_decimal(value, path, PlatformTariffError, minimum=minimum)


def _optional_decimal(data: Mapping[str, Any], key: str, path: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else _decimal(value, f"{path}.{key}")


def _seconds_from_minutes(value: Any, path: str) -> int:
    """Whole seconds of a minute count (the platform allows decimal minutes for grace periods)."""
    seconds = _decimal(value, path) * 60
    if seconds != seconds.to_integral_value():
        raise PlatformTariffError(path, f"{value!r} minutes is not a whole number of seconds")
    return int(seconds)


def _block_minutes(value: Any, path: str, default: int) -> int:
    if value is None:
        return default
    number = _decimal(value, path)
    if number not in _BLOCK_MINUTES:
        raise PlatformTariffError(path, f"must be one of {_BLOCK_MINUTES}, got {value!r}")
    return int(number)


def _clock(value: Any, path: str) -> time:
    """A local wall-clock time "HH:MM" (or "HH:MM:SS" with 00 seconds)."""
    if not isinstance(value, str):
        raise PlatformTariffError(path, f"expected a time \"HH:MM\", got {value!r}")
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        raise PlatformTariffError(path, f"not a time \"HH:MM\": {value!r}") from None
    if parsed.second or parsed.microsecond or parsed.tzinfo is not None:
        raise PlatformTariffError(path, f"only whole minutes are supported: {value!r}")
    return parsed


def _date(value: Any, path: str) -> date:
    if not isinstance(value, str):
        raise PlatformTariffError(path, f"expected a date \"YYYY-MM-DD\", got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PlatformTariffError(path, f"not a date \"YYYY-MM-DD\": {value!r}") from None


def _per_hour(price: Decimal, minutes: int) -> Decimal:
    """A price per block of `minutes` as a price per hour. Exact for blocks dividing 4 h; for 360-minute
    blocks the division by 6 keeps 40 significant digits, so a billed block (6 h x price/6) still comes to
    the block price at the engine's 1e-9 internal precision."""
    with decimal.localcontext() as context:
        context.prec = 40
        return price * 60 / minutes


def _minute(t: time) -> int:
    return t.hour * 60 + t.minute


def _time_of(minute: int) -> time:
    return time(0, 0) if minute in (0, 1440) else time(minute // 60, minute % 60)


def _windows(start: time | None, end: time | None) -> list[tuple[time | None, time | None]]:
    """A daily window as non-wrapping pieces: [(start, end)], or two pieces split at midnight when it wraps.
    None stands for the start or the end of the day. Raises ValueError for an empty window."""
    start_minute = 0 if start is None else _minute(start)
    end_minute = 1440 if end is None or _minute(end) == 0 else _minute(end)
    if start_minute == end_minute:
        raise ValueError("empty window")
    if start_minute < end_minute:
        return [(start if start_minute else None, None if end_minute == 1440 else end)]
    return [(start, None), (None, end)]


def _restrictions(**fields: Any) -> TariffRestrictions | None:
    present = {key: value for key, value in fields.items() if value is not None}
    return TariffRestrictions(**present) if present else None


def _element(component: PriceComponent, **restrictions: Any) -> TariffElement:
    return TariffElement((component,), _restrictions(**restrictions))


def _windowed(component: PriceComponent, start: time | None, end: time | None, path: str, **restrictions: Any) -> list[TariffElement]:
    """One element per non-wrapping piece of the window [start, end)."""
    try:
        pieces = _windows(start, end)
    except ValueError:
        raise PlatformTariffError(path, "time window is empty (start equals end)") from None
    return [_element(component, start_time=s, end_time=e, **restrictions) for s, e in pieces]


# ---------------------------------------------------------------------------------------------------------
# Shared building blocks.


class _Context:
    """Per-tariff settings every builder needs: the JSON path of `pricing` and the tax of components."""

    def __init__(self, pricing: Mapping[str, Any], vat: Decimal | None, split_blocks_at_idle: bool,
                 never_idle: bool = False) -> None:
        self.pricing = pricing
        self.path = "$.pricing"
        self.vat = vat
        self.split_blocks_at_idle = split_blocks_at_idle
        self.never_idle = never_idle

    def component(self, kind: str, price: Decimal, **extra: Any) -> PriceComponent:
        return PriceComponent(type=kind, price=price, vat=self.vat, **extra)


def _idle_grace(pricing: Mapping[str, Any], path: str, grace_value: Any = None) -> dict[str, int]:
    """Restrictions of an idle fee's grace period: counted from the end of charging (`idle_detection`, the
    default) or from the session start (`session_start`)."""
    grace = pricing.get("idleFeeGracePeriodMinutes") if grace_value is None else grace_value
    if grace is None:
        return {}
    seconds = _seconds_from_minutes(grace, f"{path}.idleFeeGracePeriodMinutes")
    mode = pricing.get("idleFeeGracePeriodMode") or "idle_detection"
    if mode not in ("idle_detection", "session_start"):
        raise PlatformTariffError(f"{path}.idleFeeGracePeriodMode", f"unknown mode {mode!r}")
    if seconds == 0:
        return {}
    return bounds(IDLE if mode == "idle_detection" else SINCE_START, low=seconds)


def _connection_conditions(data: Mapping[str, Any], path: str, fallback: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The restrictions gating a connection fee: the session's minimum duration and energy."""
    return {**bounds(SESSION_DURATION, low=_session_minimum_seconds(data, path, fallback)),
            **bounds(SESSION_ENERGY, low=_session_minimum_kwh(data, path, fallback))}


def _picked(data: Mapping[str, Any], key: str, fallback: Mapping[str, Any] | None) -> Any:
    value = data.get(key)
    return fallback.get(key) if value is None and fallback is not None else value


def _session_minimum_seconds(data: Mapping[str, Any], path: str, fallback: Mapping[str, Any] | None = None) -> int | None:
    """`connectionFeeMinimumSessionDuration` in whole seconds (None when not set)."""
    minutes = _picked(data, "connectionFeeMinimumSessionDuration", fallback)
    return _seconds_from_minutes(minutes, f"{path}.connectionFeeMinimumSessionDuration") if _is_set(minutes) else None


def _session_minimum_kwh(data: Mapping[str, Any], path: str, fallback: Mapping[str, Any] | None = None) -> Decimal | None:
    """`connectionFeeMinimumSessionEnergy` in kWh (None when not set)."""
    energy = _picked(data, "connectionFeeMinimumSessionEnergy", fallback)
    return _decimal(energy, f"{path}.connectionFeeMinimumSessionEnergy") if _is_set(energy) else None


def _check_lock(pricing: Mapping[str, Any], key: str) -> None:
    if pricing.get(key):
        raise PlatformTariffError(
            f"$.pricing.{key}",
            "locking the price at session start cannot be expressed (restrictions are evaluated per period)")


def _duration_through_idle(ctx: _Context, component: PriceComponent, path: str, limit_set: bool) -> PriceComponent:
    """The PARKING_TIME twin of a duration fee that keeps running while idle (no idle fee configured)."""
    if not ctx.split_blocks_at_idle:
        raise PlatformTariffError(
            path, "a duration fee that keeps running through idle periods is billed in blocks counted over "
            "charging and idle time together, which the model cannot express (blocks would restart at the "
            "charging/idle switch); pass split_blocks_at_idle=True to accept that")
    if limit_set:
        raise PlatformTariffError(
            "$.pricing.durationFeeLimit",
            "the limit would have to cap charging and idle duration fees together, which the model cannot express")
    return PriceComponent(type="PARKING_TIME", price=component.price, vat=component.vat,
                          billing_increment=component.billing_increment)


# ---------------------------------------------------------------------------------------------------------
# Builders per type. Each returns the tariff's elements in priority order.


def _flat_rate(ctx: _Context) -> list[TariffElement]:
    price = ctx.pricing.get("pricePerSession")
    if price is None:
        raise PlatformTariffError("$.pricing.pricePerSession", "required for a flat rate tariff")
    return [_element(ctx.component("FLAT", _decimal(price, "$.pricing.pricePerSession")))]


def _connection_elements(ctx: _Context) -> list[TariffElement]:
    fee = ctx.pricing.get("connectionFee")
    if not _is_set(fee):
        return []
    component = ctx.component("FLAT", _decimal(fee, "$.pricing.connectionFee"))
    return [_element(component, **_connection_conditions(ctx.pricing, ctx.path))]


def _duration_energy(ctx: _Context) -> list[TariffElement]:
    p, path = ctx.pricing, ctx.path
    elements = _connection_elements(ctx)
    if p.get("pricePerKwh") is not None:
        elements.append(_element(ctx.component("ENERGY", _decimal(p["pricePerKwh"], f"{path}.pricePerKwh"))))
    idle_configured = p.get("idleFeePerMinute") is not None
    if p.get("pricePerPeriod") is not None:
        block = _block_minutes(p.get("pricePeriodInMinutes"), f"{path}.pricePeriodInMinutes", 1)
        limit = _optional_decimal(p, "durationFeeLimit", path)
        duration = ctx.component("TIME", _per_hour(_decimal(p["pricePerPeriod"], f"{path}.pricePerPeriod"), block),
                                 billing_increment=block * 60, max_amount=limit)
        start = _clock(p["durationFeeFrom"], f"{path}.durationFeeFrom") if p.get("durationFeeFrom") else None
        end = _clock(p["durationFeeTo"], f"{path}.durationFeeTo") if p.get("durationFeeTo") else None
        grace = {}
        if _is_set(p.get("durationFeeGracePeriod")):
            grace = bounds(SINCE_START, low=_seconds_from_minutes(p["durationFeeGracePeriod"], f"{path}.durationFeeGracePeriod"))
        elements += _windowed(duration, start, end, f"{path}.durationFeeFrom", **grace)
        if not idle_configured and duration.price > 0 and not ctx.never_idle:
            twin = _duration_through_idle(ctx, duration, f"{path}.pricePerPeriod", limit is not None)
            elements += _windowed(twin, start, end, f"{path}.durationFeeFrom", **grace)
    if idle_configured:
        elements += _idle_elements(ctx, _decimal(p["idleFeePerMinute"], f"{path}.idleFeePerMinute"),
                                   *_idle_window(p, path))
    return elements


def _idle_window(p: Mapping[str, Any], path: str) -> tuple[time | None, time | None]:
    start = _clock(p["idleFeePeriodStart"], f"{path}.idleFeePeriodStart") if p.get("idleFeePeriodStart") else None
    end = _clock(p["idleFeePeriodEnd"], f"{path}.idleFeePeriodEnd") if p.get("idleFeePeriodEnd") else None
    return start, end


def _idle_elements(ctx: _Context, per_minute: Decimal, start: time | None, end: time | None) -> list[TariffElement]:
    """The idle fee: PARKING_TIME per minute, billed per started idle block, after the grace period."""
    p, path = ctx.pricing, ctx.path
    block = _block_minutes(p.get("idlePricingPeriodInMinutes"), f"{path}.idlePricingPeriodInMinutes", 1)
    component = ctx.component("PARKING_TIME", per_minute * 60, billing_increment=block * 60,
                              max_amount=_optional_decimal(p, "idleFeeLimit", path))
    return _windowed(component, start, end, f"{path}.idleFeePeriodStart", **_idle_grace(p, path))


def _day_night(ctx: _Context, document: Mapping[str, Any]) -> list[TariffElement]:
    p, path = ctx.pricing, ctx.path
    _check_lock(p, "lockPriceOnSessionStart")
    for key in ("dayTariffStart", "nightTariffStart"):
        if not document.get(key):
            raise PlatformTariffError(f"$.{key}", "required for a duration+energy time of day tariff")
    day_start = _clock(document["dayTariffStart"], "$.dayTariffStart")
    night_start = _clock(document["nightTariffStart"], "$.nightTariffStart")
    if day_start == night_start:
        raise PlatformTariffError("$.nightTariffStart", "day and night cannot start at the same time")
    elements = _connection_elements(ctx)
    block = _block_minutes(p.get("pricePeriodInMinutes"), f"{path}.pricePeriodInMinutes", 1)
    limit = _optional_decimal(p, "durationFeeLimit", path)
    grace = {}
    if _is_set(p.get("durationFeeGracePeriod")):
        grace = bounds(SINCE_START, low=_seconds_from_minutes(p["durationFeeGracePeriod"], f"{path}.durationFeeGracePeriod"))
    for part, start, end in (("day", day_start, night_start), ("night", night_start, day_start)):
        energy_key, period_key, idle_key = f"{part}PricePerKwh", f"{part}PricePerPeriod", f"{part}IdleFeePerMinute"
        if p.get(energy_key) is not None:
            energy = ctx.component("ENERGY", _decimal(p[energy_key], f"{path}.{energy_key}"))
            elements += _windowed(energy, start, end, f"$.{part}TariffStart")
        if p.get(period_key) is not None:
            duration = ctx.component("TIME", _per_hour(_decimal(p[period_key], f"{path}.{period_key}"), block),
                                     billing_increment=block * 60, max_amount=limit)
            elements += _windowed(duration, start, end, f"$.{part}TariffStart", **grace)
            if p.get(idle_key) is None and duration.price > 0 and not ctx.never_idle:
                twin = _duration_through_idle(ctx, duration, f"{path}.{period_key}", limit is not None)
                elements += _windowed(twin, start, end, f"$.{part}TariffStart", **grace)
        if p.get(idle_key) is not None:
            elements += _idle_elements(ctx, _decimal(p[idle_key], f"{path}.{idle_key}"), start, end)
    return elements


def _energy_tou(ctx: _Context) -> list[TariffElement]:
    p, path = ctx.pricing, ctx.path
    _check_lock(p, "lockPriceOnSessionStart")
    if p.get("subsidyIntegrationId") is not None:
        raise PlatformTariffError(f"{path}.subsidyIntegrationId", "subsidy integrations cannot be priced")
    percent = _optional_decimal(p, "markupPercentagePerKwh", path) or Decimal(0)
    fixed = _optional_decimal(p, "markupFixedFeePerKwh", path) or Decimal(0)

    def energy(markup_fixed: Decimal) -> PriceComponent:
        return ctx.component("ENERGY", Decimal(0), price_basis="ELECTRICITY_RATE", markup_fixed=markup_fixed,
                             markup_percent=percent)

    elements: list[TariffElement] = []
    flexible = p.get("flexibleMarkUpAsFixedPerKwh")
    if flexible is not None:
        fpath = f"{path}.flexibleMarkUpAsFixedPerKwh"
        if not isinstance(flexible, Mapping):
            raise PlatformTariffError(fpath, "expected an object")
        unknown = set(flexible) - {"defaultPrice", "intervalPricing"}
        if unknown:
            raise PlatformTariffError(f"{fpath}.{sorted(unknown)[0]}", "unknown field")
        for i, interval in enumerate(flexible.get("intervalPricing") or []):
            ipath = f"{fpath}.intervalPricing[{i}]"
            if not isinstance(interval, Mapping):
                raise PlatformTariffError(ipath, "expected an object")
            price = _decimal(interval.get("price"), f"{ipath}.price")
            start, end = _clock(interval.get("startsAt"), f"{ipath}.startsAt"), _clock(interval.get("endsAt"), f"{ipath}.endsAt")
            elements += _windowed(energy(price), start, end, f"{ipath}.startsAt")
        if flexible.get("defaultPrice") is not None:
            fixed = _decimal(flexible["defaultPrice"], f"{fpath}.defaultPrice")
    elements.append(_element(energy(fixed)))
    if p.get("idleFeePerMinute") is not None:
        elements += _idle_elements(ctx, _decimal(p["idleFeePerMinute"], f"{path}.idleFeePerMinute"),
                                   *_idle_window(p, path))
    return elements


def _tiers(items: Any, path: str, first: str, last: str, fee: str, contiguous_step: int) -> list[tuple[Decimal, Decimal | None, Decimal, Decimal]]:
    """Validated tier rows (first, last, fee, flat): the first starts at 0, each starts where the previous
    ended (+ `contiguous_step`), only the last is open-ended."""
    if not isinstance(items, list) or not items:
        raise PlatformTariffError(path, "expected a non-empty list of levels")
    rows = []
    expected = Decimal(0)
    for i, item in enumerate(items):
        ipath = f"{path}[{i}]"
        if not isinstance(item, Mapping):
            raise PlatformTariffError(ipath, "expected an object")
        unknown = set(item) - {first, last, fee, "flatFee"}
        if unknown:
            raise PlatformTariffError(f"{ipath}.{sorted(unknown)[0]}", "unknown field")
        low = _decimal(item.get(first), f"{ipath}.{first}")
        if low != expected:
            raise PlatformTariffError(f"{ipath}.{first}", f"expected {expected} (levels must be contiguous)")
        high = None if item.get(last) is None else _decimal(item[last], f"{ipath}.{last}")
        if high is None and i != len(items) - 1:
            raise PlatformTariffError(f"{ipath}.{last}", "only the last level may be open-ended")
        if high is not None and high < low:
            raise PlatformTariffError(f"{ipath}.{last}", "must not be below the level's start")
        if high is not None and i == len(items) - 1:
            raise PlatformTariffError(f"{ipath}.{last}", "the last level must be open-ended (null)")
        rows.append((low, high, _decimal(item.get(fee) or 0, f"{ipath}.{fee}"),
                     _decimal(item.get("flatFee") or 0, f"{ipath}.flatFee")))
        if high is not None:
            expected = high + contiguous_step
    return rows


def _cumulative_flats(contributions: list[tuple[Decimal, Decimal, int]], vat: Decimal | None) -> list[TariffElement]:
    """FLAT elements charging the sum of every fee whose session condition holds.

    `contributions`: (amount, minimum session kWh, minimum session seconds). For each pair of thresholds
    (kWh level i, duration level j) one element charges the fees reached at (i, j); ordered by descending
    i then j, the first element whose session minimums hold is exactly the highest pair the session reached.
    """
    kwh_levels = sorted({c[1] for c in contributions}, reverse=True)
    duration_levels = sorted({c[2] for c in contributions}, reverse=True)
    if len(kwh_levels) * len(duration_levels) > _MAX_FLAT_COMBINATIONS:
        raise PlatformTariffError("$.pricing", "too many flat-fee levels to combine")
    elements = []
    for kwh in kwh_levels:
        for seconds in duration_levels:
            amount = sum((c[0] for c in contributions if c[1] <= kwh and c[2] <= seconds), Decimal(0))
            if amount == 0:
                continue  # fees are >= 0: every lower combination is 0 too
            elements.append(_element(PriceComponent(type="FLAT", price=amount, vat=vat),
                                     **bounds(SESSION_ENERGY, low=kwh if kwh > 0 else None),
                                     **bounds(SESSION_DURATION, low=seconds if seconds > 0 else None)))
    return elements


def _standard(ctx: _Context) -> list[TariffElement]:
    p, path = ctx.pricing, ctx.path
    block = _block_minutes(p.get("pricePeriodInMinutes"), f"{path}.pricePeriodInMinutes", 15)
    block_s = block * 60
    flats: list[tuple[Decimal, Decimal, int]] = []
    if _is_set(p.get("connectionFee")):
        flats.append((_decimal(p["connectionFee"], f"{path}.connectionFee"),
                      _session_minimum_kwh(p, path) or Decimal(0), _session_minimum_seconds(p, path) or 0))
    elements: list[TariffElement] = []
    if p.get("multiPricePerKwh") is not None:
        for i, (low, high, fee, flat) in enumerate(_tiers(p["multiPricePerKwh"], f"{path}.multiPricePerKwh",
                                                          "firstKwh", "lastKwh", "feePerKwh", 0)):
            if fee > 0:
                elements.append(_element(ctx.component("ENERGY", fee), **bounds(ENERGY_SO_FAR, low if low > 0 else None, high)))
            if flat > 0:
                flats.append((flat, low, 0))
    if p.get("multiPricePerDuration") is not None:
        for low, high, fee, flat in _tiers(p["multiPricePerDuration"], f"{path}.multiPricePerDuration",
                                           "firstUnit", "lastUnit", "feePerUnit", 1):
            start_s, end_s = int(low) * block_s, None if high is None else (int(high) + 1) * block_s
            if fee > 0:
                component = ctx.component("TIME", _per_hour(fee, block), billing_increment=block_s)
                elements.append(_element(component, **bounds(SINCE_START, start_s or None, end_s)))
            if flat > 0:
                flats.append((flat, Decimal(0), start_s))
    if p.get("multiIdleFee") is not None:
        ipath = f"{path}.multiIdleFee"
        for i, (low, high, fee, flat) in enumerate(_tiers(p["multiIdleFee"], ipath, "firstUnit", "lastUnit", "feePerUnit", 1)):
            if flat > 0:
                raise PlatformTariffError(f"{ipath}[{i}].flatFee", "a flat fee per idle level depends on the idle "
                                          "duration, which session-level conditions cannot express")
            start_s, end_s = int(low) * block_s, None if high is None else (int(high) + 1) * block_s
            if fee > 0:
                component = ctx.component("PARKING_TIME", _per_hour(fee, block), billing_increment=block_s)
                elements.append(_element(component, **bounds(IDLE, start_s, end_s)))
    return _cumulative_flats(flats, ctx.vat) + elements


def _date_ranges(dates: Sequence[date]) -> list[tuple[date, date]]:
    """Sorted dates as [start, end) ranges of consecutive days."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(dates)):
        if ranges and ranges[-1][1] == day:
            ranges[-1] = (ranges[-1][0], day + timedelta(days=1))
        else:
            ranges.append((day, day + timedelta(days=1)))
    return ranges


def _slots(p: Mapping[str, Any], path: str) -> list[tuple[time, time]]:
    """`timePeriods` as (start, end) slots; they must cover the day exactly once (else a slice is unpriced)."""
    items = p.get("timePeriods")
    if not isinstance(items, list) or not items:
        raise PlatformTariffError(f"{path}.timePeriods", "expected a non-empty list")
    slots, covered = [], [0] * 1440
    for i, item in enumerate(items):
        ipath = f"{path}.timePeriods[{i}]"
        if not isinstance(item, Mapping):
            raise PlatformTariffError(ipath, "expected an object")
        start, end = _clock(item.get("startTime"), f"{ipath}.startTime"), _clock(item.get("endTime"), f"{ipath}.endTime")
        s, e = _minute(start), _minute(end) or 1440
        if s == e:
            raise PlatformTariffError(ipath, "empty slot")
        for minute in (range(s, e) if s < e else list(range(s, 1440)) + list(range(0, e))):
            covered[minute] += 1
        slots.append((start, end))
    if any(count != 1 for count in covered):
        first = next(m for m, count in enumerate(covered) if count != 1)
        raise PlatformTariffError(f"{path}.timePeriods", f"slots must cover every minute of the day exactly once "
                                  f"(minute {first // 60:02d}:{first % 60:02d} is covered {covered[first]} times)")
    return slots


def _tod_fees(periods: Any, path: str, count: int) -> dict[str, list[Decimal | None]]:
    if not isinstance(periods, Mapping):
        raise PlatformTariffError(path, "expected an object")
    unknown = set(periods) - set(_FEE_PERIOD_KEYS)
    if unknown:
        raise PlatformTariffError(f"{path}.{sorted(unknown)[0]}", "unknown field")
    fees: dict[str, list[Decimal | None]] = {}
    for key in _FEE_PERIOD_KEYS:
        entry = periods.get(key)
        if entry is None:
            fees[key] = [None] * count
            continue
        values = entry.get("fee") if isinstance(entry, Mapping) else None
        if not isinstance(values, list) or len(values) != count:
            raise PlatformTariffError(f"{path}.{key}.fee", f"expected one fee per time period ({count})")
        fees[key] = [None if v is None else _decimal(v, f"{path}.{key}.fee[{i}]") for i, v in enumerate(values)]
    return fees


def _tod_day(ctx: _Context, slots: list[tuple[time, time]], settings: Mapping[str, Any], path: str,
             dates: dict[str, date] | None) -> list[TariffElement]:
    """Elements of one standard_tod day table (the default one, or a special-days override)."""
    p = ctx.pricing

    def pick(key: str) -> Any:
        return settings.get(key) if settings.get(key) is not None else p.get(key)

    fees = _tod_fees(settings.get("pricePeriods"), f"{path}.pricePeriods", len(slots))
    block = _block_minutes(pick("pricePeriodInMinutes"), f"{path}.pricePeriodInMinutes", 15)
    idle_block = _block_minutes(pick("idlePricingPeriodInMinutes"), f"{path}.idlePricingPeriodInMinutes", 1)
    date_limits = dates or {}
    duration_grace = {}
    if _is_set(pick("durationFeeGracePeriod")):
        duration_grace = bounds(SINCE_START, low=_seconds_from_minutes(pick("durationFeeGracePeriod"), f"{path}.durationFeeGracePeriod"))
    idle_grace = _idle_grace(p, ctx.path, pick("idleFeeGracePeriodMinutes"))
    connection = _connection_conditions(settings, path, fallback=p)
    elements: list[TariffElement] = []
    for i, (start, end) in enumerate(slots):
        where = f"{path}.timePeriods[{i}]"
        # Zero fees still get elements: on special days they must shadow the regular day's fees.
        if fees["connectionFeePeriods"][i] is not None:
            elements += _windowed(ctx.component("FLAT", fees["connectionFeePeriods"][i]), start, end, where,
                                  **connection, **date_limits)
        if fees["energyFeePeriods"][i] is not None:
            elements += _windowed(ctx.component("ENERGY", fees["energyFeePeriods"][i]), start, end, where, **date_limits)
        if fees["durationFeePeriods"][i] is not None:
            component = ctx.component("TIME", _per_hour(fees["durationFeePeriods"][i], block), billing_increment=block * 60)
            elements += _windowed(component, start, end, where, **duration_grace, **date_limits)
        if fees["idleFeePeriods"][i] is not None:
            component = ctx.component("PARKING_TIME", fees["idleFeePeriods"][i] * 60, billing_increment=idle_block * 60,
                                      max_amount=_optional_decimal(p, "idleFeeLimit", ctx.path))
            elements += _windowed(component, start, end, where, **idle_grace, **date_limits)
    return elements


def _standard_tod(ctx: _Context) -> list[TariffElement]:
    p, path = ctx.pricing, ctx.path
    for key in ("lockEnergyPriceOnSessionStart", "lockDurationPriceOnSessionStart", "lockIdlePriceOnSessionStart"):
        _check_lock(p, key)
    slots = _slots(p, path)
    elements: list[TariffElement] = []
    overrides = p.get("daysWhenApplied") or []
    if not isinstance(overrides, list):
        raise PlatformTariffError(f"{path}.daysWhenApplied", "expected a list")
    for i, override in enumerate(overrides):
        opath = f"{path}.daysWhenApplied[{i}]"
        if not isinstance(override, Mapping):
            raise PlatformTariffError(opath, "expected an object")
        unknown = set(override) - _DAY_OVERRIDE_FIELDS
        if unknown:
            raise PlatformTariffError(f"{opath}.{sorted(unknown)[0]}", "unknown field")
        special = override.get("specialDates")
        if not isinstance(special, list) or not special:
            raise PlatformTariffError(f"{opath}.specialDates", "an override without special dates applies to no day")
        days = [_date(d, f"{opath}.specialDates[{j}]") for j, d in enumerate(special)]
        for first, end in _date_ranges(days):
            elements += _tod_day(ctx, slots, override, opath, {"start_date": first, "end_date": end})
    return elements + _tod_day(ctx, slots, p, path, None)


def _levels(items: Any, path: str, bound_key: str, price_keys: tuple[str, ...]) -> list[tuple[Decimal, tuple[Decimal, ...]]]:
    if not isinstance(items, list) or not items:
        raise PlatformTariffError(path, "expected a non-empty list of levels")
    levels = []
    for i, item in enumerate(items):
        ipath = f"{path}[{i}]"
        if not isinstance(item, Mapping):
            raise PlatformTariffError(ipath, "expected an object")
        unknown = set(item) - {bound_key, *price_keys}
        if unknown:
            raise PlatformTariffError(f"{ipath}.{sorted(unknown)[0]}", "unknown field")
        levels.append((_decimal(item.get(bound_key), f"{ipath}.{bound_key}"),
                       tuple(_decimal(item.get(key), f"{ipath}.{key}") for key in price_keys)))
    bounds = [level[0] for level in levels]
    if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
        raise PlatformTariffError(path, f"levels must have strictly increasing {bound_key}")
    return levels


def _average_power(ctx: _Context) -> list[TariffElement]:
    path = f"{ctx.path}.averagePowerLevels"
    levels = _levels(ctx.pricing.get("averagePowerLevels"), path, "averagePowerUpToKw", ("pricePerMinute",))
    elements = []
    for i, (bound, (per_minute,)) in enumerate(levels):
        top = i == len(levels) - 1  # open-ended: a session above the highest level pays the highest price
        elements.append(_element(ctx.component("TIME", per_minute * 60),
                                 **bounds(AVERAGE_POWER, high=None if top else bound, high_inclusive=True)))
    return elements


def _peak_power(ctx: _Context) -> list[TariffElement]:
    p, path = ctx.pricing, ctx.path
    levels = _levels(p.get("peakPowerLevels"), f"{path}.peakPowerLevels", "peakPowerUpToKw",
                     ("regularPricePerMinute", "excessUsePricePerMin"))
    regular_s = None
    if _is_set(p.get("regularUsePeriod")):
        regular_s = _seconds_from_minutes(p["regularUsePeriod"], f"{path}.regularUsePeriod")
    elements = []
    for i, (bound, (regular, excess)) in enumerate(levels):
        level = bounds(PEAK_POWER, high=None if i == len(levels) - 1 else bound, high_inclusive=True)
        if regular_s is None:
            # Without a regular-use period there is no excess use: the regular price applies throughout.
            elements.append(_element(ctx.component("TIME", regular * 60), **level))
            continue
        elements.append(_element(ctx.component("TIME", regular * 60), **level, **bounds(SINCE_START, high=regular_s)))
        elements.append(_element(ctx.component("TIME", excess * 60), **level))
    return elements


def _optimised(ctx: _Context, rate: ElectricityRate | None) -> list[TariffElement]:
    p, path = ctx.pricing, ctx.path
    for key in ("pricePerKwh", "thresholdPriceForEnergy", "priceForEnergyWhenOptimized"):
        if p.get(key) is None:
            raise PlatformTariffError(f"{path}.{key}", "required for an optimised dynamic pricing tariff")
    if rate is None:
        raise PlatformTariffError(f"{path}.thresholdPriceForEnergy",
                                  "optimised periods follow the electricity rate: pass the charge point's rate")
    boosted = ctx.component("ENERGY", _decimal(p["pricePerKwh"], f"{path}.pricePerKwh"))
    optimised = ctx.component("ENERGY", _decimal(p["priceForEnergyWhenOptimized"], f"{path}.priceForEnergyWhenOptimized"))
    threshold = _decimal(p["thresholdPriceForEnergy"], f"{path}.thresholdPriceForEnergy")

    def pick(price: Decimal) -> PriceComponent:
        return optimised if price <= threshold else boosted

    # Same precedence as ElectricityRate.price_at: date slots, then week-day slots, then the default price.
    elements: list[TariffElement] = []
    for day, slots in sorted(rate.date_periods.items()):
        for slot in slots:
            elements += _windowed(pick(slot.price), _time_of(slot.start_minute), _time_of(slot.end_minute),
                                  f"{path}.thresholdPriceForEnergy", start_date=day, end_date=day + timedelta(days=1))
    for key, slots in rate.week_day_periods.items():
        weekdays = None if key == "any" else (WEEKDAYS[("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(key)],)
        for slot in slots:
            elements += _windowed(pick(slot.price), _time_of(slot.start_minute), _time_of(slot.end_minute),
                                  f"{path}.thresholdPriceForEnergy", day_of_week=weekdays)
    elements.append(_element(pick(rate.default_price)))
    return elements


# ---------------------------------------------------------------------------------------------------------
# Entry point.


def _check_fields(document: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for key in document:
        if key not in _TOP_LEVEL_FIELDS:
            raise PlatformTariffError(f"$.{key}", "unknown field")
    if kind != "duration+energy time of day":
        for key in ("dayTariffStart", "nightTariffStart"):
            if _is_set(document.get(key)):
                raise PlatformTariffError(f"$.{key}", f"not used by a {kind!r} tariff")
    pricing = document.get("pricing") or {}
    if not isinstance(pricing, Mapping):
        raise PlatformTariffError("$.pricing", "expected an object")
    allowed = _TYPE_FIELDS[kind] | _NEUTRAL_FIELDS | {"minPrice"}
    known = set().union(*_TYPE_FIELDS.values()) | _NEUTRAL_FIELDS | {"minPrice", "pricePerSession"}
    for key, value in pricing.items():
        if key not in known:
            raise PlatformTariffError(f"$.pricing.{key}", "unknown field")
        if key not in allowed and _is_set(value):
            raise PlatformTariffError(f"$.pricing.{key}", f"not used by a {kind!r} tariff; refusing to ignore it")
    return pricing


def _validity(document: Mapping[str, Any], zone_name: str | None) -> tuple[datetime | None, datetime | None]:
    """`restrictions.startDate` / `endDate` (local dates, end inclusive) as UTC instants (end exclusive)."""
    restrictions = document.get("restrictions") or {}
    if not isinstance(restrictions, Mapping):
        raise PlatformTariffError("$.restrictions", "expected an object")
    dates = {key: restrictions.get(key) for key in ("startDate", "endDate") if restrictions.get(key)}
    if not dates:
        return None, None
    if zone_name is None:
        key = next(iter(dates))
        raise PlatformTariffError(f"$.restrictions.{key}", "a local validity date needs the location's time zone")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PlatformTariffError("$.restrictions", f"unknown time zone {zone_name!r}") from None

    def midnight(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(timezone.utc)

    start = midnight(_date(dates["startDate"], "$.restrictions.startDate")) if "startDate" in dates else None
    end = None
    if "endDate" in dates:
        end = midnight(_date(dates["endDate"], "$.restrictions.endDate") + timedelta(days=1))
    return start, end


def tariff_from_platform(
    document: Mapping[str, Any],
    *,
    tax_percentage: Decimal | int | str | None = None,
    prices_include_tax: bool = True,
    timezone_name: str | None = None,
    electricity_rate: ElectricityRate | None = None,
    split_blocks_at_idle: bool = False,
    never_idle: bool = False,
) -> Tariff:
    """One platform tariff (seed 001 Tariff v1.0 object) as a canonical `Tariff`.

    - `tax_percentage`: the operator's tax for the tariff (per-component `vat`); None = no tax split.
    - `prices_include_tax`: whether `pricing.*` amounts are gross (default True, see module docstring).
    - `timezone_name`: the location's IANA zone, needed only when `restrictions.startDate/endDate` are set.
    - `electricity_rate`: the charge point's rate, needed by `optimised dynamic pricing`.
    - `split_blocks_at_idle`: accept a duration fee that keeps running while idle by billing charging and
      idle blocks separately (blocks restart at the switch); refused by default as not faithful.
    - `never_idle`: the tariff only prices sessions without idle time (quotes: a hypothetical charge charges
      until it ends), so a duration fee without an idle fee needs no idle twin and is accepted as is.
    Raises `PlatformTariffError` (a `TariffModelError`) naming the field it cannot price.
    """
    if not isinstance(document, Mapping):
        raise PlatformTariffError("$", "expected a tariff object")
    kind = document.get("type")
    if kind not in PLATFORM_TYPES:
        raise PlatformTariffError("$.type", f"unknown tariff type {kind!r}")
    if kind == "charging not allowed":
        raise PlatformTariffError("$.type", "charging is not allowed under this tariff: a session cannot be priced")
    pricing = _check_fields(document, kind)
    currency = document.get("currency")
    if not isinstance(currency, str):
        raise PlatformTariffError("$.currency", "required (ISO 4217 code)")
    vat = None if tax_percentage is None else _decimal(tax_percentage, "tax_percentage")
    if vat is not None and vat > 100:
        raise PlatformTariffError("tax_percentage", "must be within 0..100")
    ctx = _Context(pricing, vat, split_blocks_at_idle, never_idle)
    builders = {
        "free": lambda: [_element(ctx.component("FLAT", Decimal(0)))],
        "flat rate": lambda: _flat_rate(ctx),
        "duration+energy": lambda: _duration_energy(ctx),
        "duration+energy time of day": lambda: _day_night(ctx, document),
        "energy tou": lambda: _energy_tou(ctx),
        "standard": lambda: _standard(ctx),
        "standard_tod": lambda: _standard_tod(ctx),
        "average power levels": lambda: _average_power(ctx),
        "peak power levels": lambda: _peak_power(ctx),
        "optimised dynamic pricing": lambda: _optimised(ctx, electricity_rate),
    }
    elements = builders[kind]()
    if not elements:
        # A tariff whose every price is zero or absent is free, but say so explicitly with a 0 FLAT.
        elements = [_element(ctx.component("FLAT", Decimal(0)))]
    start, end = _validity(document, timezone_name)
    min_price = None
    if _is_set(pricing.get("minPrice")):
        min_price = _min_price(_decimal(pricing["minPrice"], "$.pricing.minPrice"), vat, prices_include_tax)
    tax_included = "YES" if prices_include_tax else "NO"
    if kind == "energy tou":
        tax_included = "YES"  # electricity-rate and markup prices "must include tax" (spec)
    try:
        return Tariff(
            id=str(document.get("id", "")),
            currency=currency,
            elements=tuple(elements),
            tax_included=tax_included,
            min_price=min_price,
            start_date_time=start,
            end_date_time=end,
            source="platform",
        )
    except TariffModelError as error:
        if isinstance(error, PlatformTariffError):
            raise
        raise PlatformTariffError("$", str(error)) from None


def _min_price(amount: Decimal, vat: Decimal | None, gross: bool) -> PriceLimit:
    """`minPrice` as a bound on both totals: the other side derived with the tariff's tax (1e-9 half-up)."""
    if vat is None:
        return PriceLimit(excl_vat=amount, incl_vat=amount)
    factor = 1 + vat / 100
    nano = Decimal("0.000000001")
    if gross:
        return PriceLimit(excl_vat=(amount / factor).quantize(nano, rounding=ROUND_HALF_UP), incl_vat=amount)
    return PriceLimit(excl_vat=amount, incl_vat=(amount * factor).quantize(nano, rounding=ROUND_HALF_UP))

