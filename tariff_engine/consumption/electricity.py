"""Electricity rates (seed 001, electricity-rates v2.0) and the electricity cost of clock intervals.

A rate has a tax-inclusive `defaultPrice` per kWh and price periods in local wall-clock time, either per
week day (`mon`…`sun`) or for every day (`any`; the platform rejects mixing `any` with specific days),
and per calendar date (holidays, special days). Each period is `startsAt`–`endsAt` ("HH:MM"), start
inclusive, end exclusive; `endsAt` "00:00" means the end of the day, and a period whose end is before
its start covers both ends of that same local day (00:00–end and start–24:00).

Precedence (the platform does not state one; ours is documented and tested): at a given local instant
the first DATE period of that local date that covers the time wins; otherwise the first WEEK-DAY period
(specific day or `any`) that covers it; otherwise `defaultPrice`. A date entry therefore overrides the
week-day table only for the hours it covers.

Cost of an interval = energy_wh / 1000 × price at the interval's local clock start, exact in Decimal,
then rounded half-up to 4 decimals (`Decimal(18, 4)`); a session's cost is the sum of its rounded
interval costs, so interval lines always add up to the session figure. Rate edges are expected on the
interval grid (rates are published in 15/30/60-minute slots); inside an interval the start price holds.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Mapping

import polars as pl

from tariff_engine.consumption.timezones import load_zone

WEEK_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
COST_QUANTUM = Decimal("0.0001")
COST_DTYPE = pl.Decimal(18, 4)


class RateError(ValueError):
    """An electricity rate that cannot be applied as given."""


@dataclass(frozen=True)
class PricePeriod:
    """One local wall-clock slot [start_minute, end_minute) with its tax-inclusive price per kWh."""

    start_minute: int
    end_minute: int  # 1440 for "00:00" (end of day)
    price: Decimal

    def covers(self, minute: int) -> bool:
        """Whether the local minute of day falls in the slot (wrapping slots cover both day ends)."""
        if self.start_minute < self.end_minute:
            return self.start_minute <= minute < self.end_minute
        return minute >= self.start_minute or minute < self.end_minute


@dataclass(frozen=True)
class ElectricityRate:
    """A seed-001 electricity rate: default price, week-day periods and date periods (all tax-inclusive)."""

    rate_id: str
    default_price: Decimal
    tax_percentage: Decimal | None = None
    week_day_periods: Mapping[str, tuple[PricePeriod, ...]] = field(default_factory=dict)
    date_periods: Mapping[dt.date, tuple[PricePeriod, ...]] = field(default_factory=dict)

    def price_at(self, local: dt.datetime) -> Decimal:
        """Price per kWh at a local wall-clock time: date period, else week-day period, else default."""
        minute = local.hour * 60 + local.minute
        for period in self.date_periods.get(local.date(), ()):
            if period.covers(minute):
                return period.price
        day_key = "any" if "any" in self.week_day_periods else WEEK_DAYS[local.weekday()]
        for period in self.week_day_periods.get(day_key, ()):
            if period.covers(minute):
                return period.price
        return self.default_price


def _decimal(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise RateError(f"{what}: not a number: {value!r}") from exc
    if not number.is_finite():
        raise RateError(f"{what}: not a finite number: {value!r}")
    return number


def _minute(text: Any, what: str, end: bool) -> int:
    match = _HHMM.match(str(text)) if isinstance(text, str) else None
    if match is None:
        raise RateError(f"{what}: expected HH:MM, got {text!r}")
    minute = int(match.group(1)) * 60 + int(match.group(2))
    return 1440 if end and minute == 0 else minute


def _periods(items: Any, what: str) -> tuple[PricePeriod, ...]:
    if not isinstance(items, list):
        raise RateError(f"{what}: periods must be a list")
    out = []
    for i, item in enumerate(items):
        start = _minute(item.get("startsAt"), f"{what}[{i}].startsAt", end=False)
        end = _minute(item.get("endsAt"), f"{what}[{i}].endsAt", end=True)
        if start == end:
            raise RateError(f"{what}[{i}]: empty period {item.get('startsAt')}-{item.get('endsAt')}")
        out.append(PricePeriod(start, end, _decimal(item.get("price"), f"{what}[{i}].price")))
    return tuple(out)


def parse_electricity_rate(rate: Mapping[str, Any], price_periods: list[Mapping[str, Any]] | None = None) -> ElectricityRate:
    """Build a rate from the platform's rate object and its `price-periods` listing (`data[]` items).

    Each price-period item is `{weekDay, periods}` or `{date, periods}`. Raises `RateError` on anything
    malformed, on `any` mixed with specific days, and on a day or date listed twice.
    """
    if "defaultPrice" not in rate or rate.get("defaultPrice") is None:
        raise RateError(f"rate {rate.get('id')!r}: defaultPrice is required")
    rate_id = str(rate.get("id"))
    week: dict[str, tuple[PricePeriod, ...]] = {}
    dates: dict[dt.date, tuple[PricePeriod, ...]] = {}
    for item in price_periods or []:
        if "weekDay" in item:
            day = str(item["weekDay"]).lower()
            if day not in (*WEEK_DAYS, "any"):
                raise RateError(f"rate {rate_id}: unknown weekDay {item['weekDay']!r}")
            if day in week:
                raise RateError(f"rate {rate_id}: weekDay {day} listed twice")
            week[day] = _periods(item.get("periods"), f"rate {rate_id} weekDay {day}")
        elif "date" in item:
            try:
                day_date = dt.date.fromisoformat(str(item["date"]))
            except ValueError as exc:
                raise RateError(f"rate {rate_id}: bad date {item['date']!r}") from exc
            if day_date in dates:
                raise RateError(f"rate {rate_id}: date {day_date} listed twice")
            dates[day_date] = _periods(item.get("periods"), f"rate {rate_id} date {day_date}")
        else:
            raise RateError(f"rate {rate_id}: price period without weekDay or date: {item!r}")
    if "any" in week and len(week) > 1:
        raise RateError(f"rate {rate_id}: weekDay 'any' cannot be combined with specific days")
    tax = rate.get("taxPercentage")
    return ElectricityRate(
        rate_id=rate_id,
        default_price=_decimal(rate["defaultPrice"], f"rate {rate_id} defaultPrice"),
        tax_percentage=None if tax is None else _decimal(tax, f"rate {rate_id} taxPercentage"),
        week_day_periods=week,
        date_periods=dates,
    )


def interval_cost(energy_wh: int, price_per_kwh: Decimal) -> Decimal:
    """Exact cost of `energy_wh` at a per-kWh price, rounded half-up to 4 decimals."""
    return (Decimal(int(energy_wh)) * price_per_kwh / Decimal(1000)).quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


def electricity_cost(intervals: pl.DataFrame, rates: Mapping[str, ElectricityRate]) -> pl.DataFrame:
    """Price clock intervals: adds `electricity_price_per_kwh` (Decimal 18,6) and `electricity_cost` (18,4).

    `intervals` needs session_id, interval_start_utc, time_zone, energy_wh and rate_id. Rows whose
    rate_id is null or unknown get null price and cost (the caller reports them; nothing is invented).
    """
    needed = {"interval_start_utc", "time_zone", "energy_wh", "rate_id"}
    missing = needed - set(intervals.columns)
    if missing:
        raise ValueError(f"intervals lack columns {sorted(missing)}")
    keys = intervals.select("rate_id", "time_zone", "interval_start_utc").unique()
    prices = []
    for rate_id, zone, start in keys.iter_rows():
        rate = rates.get(rate_id) if rate_id is not None else None
        if rate is None:
            prices.append(None)
            continue
        prices.append(rate.price_at(start.astimezone(load_zone(zone))))
    price_table = keys.with_columns(pl.Series("electricity_price_per_kwh", prices, dtype=pl.Decimal(18, 6)))
    priced = intervals.join(price_table, on=["rate_id", "time_zone", "interval_start_utc"], how="left",
                            nulls_equal=True)
    costs = [
        None if price is None else interval_cost(wh, price)
        for wh, price in zip(priced["energy_wh"].to_list(), priced["electricity_price_per_kwh"].to_list())
    ]
    return priced.with_columns(pl.Series("electricity_cost", costs, dtype=COST_DTYPE))


def session_electricity_cost(priced_intervals: pl.DataFrame) -> pl.DataFrame:
    """Per session: energy_wh and electricity_cost as the sum of its rounded interval costs.

    The cost is null when any interval has no price: a partial sum would understate it silently.
    """
    return priced_intervals.group_by("session_id").agg(
        pl.col("energy_wh").sum(),
        pl.when(pl.col("electricity_cost").is_null().any()).then(None)
        .otherwise(pl.col("electricity_cost").sum()).cast(COST_DTYPE).alias("electricity_cost"),
        pl.col("electricity_cost").is_null().sum().alias("unpriced_intervals"),
    ).sort("session_id")


def rates_at_period_starts(periods: pl.DataFrame, zones: Mapping[str, str],
                           rates: Mapping[str, ElectricityRate]) -> dict[tuple[str, int], Decimal]:
    """Electricity price per kWh at the local start of each charging period, keyed (session_id,
    period_index), for tariffs whose energy price follows the electricity rate (`to_engine_sessions`
    takes this mapping). `zones` and `rates` are per session id; sessions without a rate are left out.
    Periods are cut at the rate's slot edges (`price_changes.rate_edges_s`), so the start price holds
    for the whole period."""
    out: dict[tuple[str, int], Decimal] = {}
    for session_id, index, start in periods.select("session_id", "period_index", "start_utc").iter_rows():
        rate = rates.get(session_id)
        if rate is None:
            continue
        out[(session_id, index)] = rate.price_at(start.astimezone(load_zone(zones[session_id])))
    return out
