"""Eevion adapter: the `tariff` object of Eevion sessions (seed 003) as canonical tariffs.

The seed documents the tariff fields `type` (flat, time, kwh, tiered, time-tiered), `price`, `unit`,
`occupancyFee` and `idleFee` (`price`, `unit`, `maxPrice`, `minPrice`, `isActive`), `paymentCycleUnit`
and `priceIncrement`, plus the session's `currency`, `taxIncluded` and `taxes`. Readings (inferred where the
seed is silent; each is a documented choice, not a guess hidden in code):

- `price` is per `unit` (hour, minute, second; kWh for energy types; per session for flat); time prices
  are prorated to the millisecond (no rounding up to whole units);
- `time` prices charging time (TIME); `kwh` prices energy (ENERGY); `flat` is one FLAT per session;
- `tiered` (kWh) and `time-tiered` carry `tiers: [{"upTo": <kWh or units, null on the last>, "price": …}]`
  priced graduated (each tier prices the volume inside it); the seed names these types but not their
  fields, so any other shape is refused;
- occupancy fee (kwh type only): the whole stay at the station (TIME and PARKING_TIME) from the session
  start; idle fee: PARKING_TIME after charging ended, after `gracePeriod` (minutes; `gracePeriodUnit`
  may say otherwise);
- `priceIncrement` per `paymentCycleUnit` raises the occupancy and idle fee RATE every started cycle since
  the fee began ("the amount by which the occupancy and idle fees should be increased each
  paymentCycleUnit"), up to the fee's `maxPrice` (the seed: "the maximum price that the … fee can reach
  inclusive of time-based priceIncrements"). Each step is an element bounded in time since the session start
  (occupancy) or in idle time (idle). An increment without a positive `maxPrice` would grow
  forever and is refused;
- `isActive` is a live status flag ("currently being applied"), not configuration: a fee is priced when its
  price or increment is positive; `minPrice` is internal (the lowest fee a back-office user may set);
- taxes: `taxIncluded` gives `tax_included` YES/NO; each `taxes[]` entry becomes a named tax whose rate is
  its `percentage`, else the percentage written in its `description` ("TVH/HST 13% #…"); no taxes: N/A.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Mapping, Sequence

from .fields import json_decimal, json_object
from ..spec import bounds
from ..model import PriceComponent, Tariff, TariffElement, TariffModelError, TariffRestrictions, TaxRate

EEVION_TYPES = ("flat", "time", "kwh", "tiered", "time-tiered")
_UNIT_SECONDS = {"hour": 3600, "minute": 60, "second": 1}
_TARIFF_FIELDS = {"type", "price", "unit", "occupancyFee", "idleFee", "paymentCycleUnit", "priceIncrement", "id",
                  "name", "isPrivate", "tiers"}
_FEE_FIELDS = {"minPrice", "maxPrice", "price", "unit", "isActive", "gracePeriod", "gracePeriodUnit",
               "gracePeriodMinutes"}
_PERCENT_IN_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
# An escalating fee is spelled out one element per step; more steps than this is a configuration error.
_MAX_STEPS = 1000
# What each Eevion concept bounds: a quantity of the spec table, which names the restriction (`spec.bounds`);
# a new restriction on one of these quantities needs no edit here.
ENERGY_SO_FAR = "energy_before"  # `tiered` charging fees (tiers[].upTo, kWh)
SINCE_START = "since_start"      # `time-tiered` fees and occupancy-fee steps (time at the station)
IDLE = "idle"                    # idle-fee steps (time since charging ended)


class EevionTariffError(TariffModelError):
    """An Eevion tariff that cannot be priced as given; the message starts with the offending JSON path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _decimal(value: Any, path: str) -> Decimal:
    return json_decimal(value, path, EevionTariffError, minimum=Decimal(0))


def _unit_seconds(value: Any, path: str) -> int:
    """Seconds of a time unit; accepts singular/plural and any case ("hours", "Minute")."""
    if not isinstance(value, str):
        raise EevionTariffError(path, f"expected hour, minute or second, got {value!r}")
    key = value.strip().lower().rstrip("s")
    if key not in _UNIT_SECONDS:
        raise EevionTariffError(path, f"expected hour, minute or second, got {value!r}")
    return _UNIT_SECONDS[key]


def _per_hour(price: Decimal, unit_seconds: int) -> Decimal:
    """A price per unit as a price per hour; exact, since every unit divides an hour."""
    return price * (3600 // unit_seconds)


def _object(value: Any, path: str, allowed: set[str]) -> Mapping[str, Any]:
    return json_object(value, path, allowed, EevionTariffError)


def _element(component: PriceComponent, **restrictions: Any) -> TariffElement:
    present = {key: value for key, value in restrictions.items() if value is not None}
    return TariffElement((component,), TariffRestrictions(**present) if present else None)


def _tiers(tariff: Mapping[str, Any], path: str) -> list[tuple[Decimal | None, Decimal]]:
    """`tiers` as (upper bound or None, price), bounds strictly increasing, only the last open-ended."""
    items = tariff.get("tiers")
    if not isinstance(items, list) or not items:
        raise EevionTariffError(f"{path}.tiers", "expected a non-empty list of {upTo, price}")
    tiers, previous = [], Decimal(0)
    for i, item in enumerate(items):
        ipath = f"{path}.tiers[{i}]"
        data = _object(item, ipath, {"upTo", "price"})
        bound = None if data.get("upTo") is None else _decimal(data["upTo"], f"{ipath}.upTo")
        if (bound is None) != (i == len(items) - 1):
            raise EevionTariffError(f"{ipath}.upTo", "only the last tier is open-ended (null)")
        if bound is not None and bound <= previous:
            raise EevionTariffError(f"{ipath}.upTo", "tier bounds must be strictly increasing and > 0")
        tiers.append((bound, _decimal(data.get("price"), f"{ipath}.price")))
        previous = bound if bound is not None else previous
    return tiers


def _charging_fee(tariff: Mapping[str, Any], path: str) -> list[TariffElement]:
    kind = tariff["type"]
    if kind == "tiered":
        elements, low = [], Decimal(0)
        for bound, price in _tiers(tariff, path):
            elements.append(_element(PriceComponent("ENERGY", price), **bounds(ENERGY_SO_FAR, low or None, bound)))
            low = bound if bound is not None else low
        return elements
    if kind == "time-tiered":
        unit = _unit_seconds(tariff.get("unit"), f"{path}.unit")
        elements, low = [], 0
        for i, (bound, price) in enumerate(_tiers(tariff, path)):
            high = None
            if bound is not None:
                seconds = bound * unit
                if seconds != seconds.to_integral_value():
                    raise EevionTariffError(f"{path}.tiers[{i}].upTo", "must be a whole number of seconds")
                high = int(seconds)
            elements.append(_element(PriceComponent("TIME", _per_hour(price, unit)), **bounds(SINCE_START, low or None, high)))
            low = high if high is not None else low
        return elements
    if "tiers" in tariff:
        raise EevionTariffError(f"{path}.tiers", f"not used by a {kind!r} tariff")
    price = _decimal(tariff.get("price"), f"{path}.price")
    if kind == "flat":
        return [_element(PriceComponent("FLAT", price))]
    if kind == "kwh":
        unit = tariff.get("unit")
        if unit is not None and str(unit).lower() != "kwh":
            raise EevionTariffError(f"{path}.unit", f"a kwh tariff is priced per kWh, got {unit!r}")
        return [_element(PriceComponent("ENERGY", price))]
    unit = _unit_seconds(tariff.get("unit"), f"{path}.unit")
    return [_element(PriceComponent("TIME", _per_hour(price, unit)))]


def _increment(tariff: Mapping[str, Any], path: str) -> tuple[Decimal, int]:
    """(priceIncrement, cycle seconds); (0, 0) when no increment is configured."""
    raw = tariff.get("priceIncrement")
    increment = Decimal(0) if raw is None else _decimal(raw, f"{path}.priceIncrement")
    if increment == 0:
        return increment, 0
    return increment, _unit_seconds(tariff.get("paymentCycleUnit"), f"{path}.paymentCycleUnit")


def _fee_steps(fee: Mapping[str, Any], fpath: str, increment: Decimal, cycle: int, tpath: str) -> list[tuple[int, int | None, Decimal]]:
    """The fee's rate per unit as (from s, to s or None, rate): constant, or rising by `increment` every
    cycle up to `maxPrice`."""
    price = _decimal(fee.get("price") or 0, f"{fpath}.price")
    maximum = None if fee.get("maxPrice") is None else _decimal(fee["maxPrice"], f"{fpath}.maxPrice")
    if increment == 0:
        if maximum is not None and maximum > 0:
            price = min(price, maximum)
        return [(0, None, price)]
    if maximum is None or maximum == 0:
        raise EevionTariffError(f"{fpath}.maxPrice", f"{tpath}.priceIncrement raises the fee without limit; "
                                "a positive maxPrice is required")
    if price >= maximum:
        return [(0, None, maximum)]
    steps, rate, start = [], price, 0
    while rate < maximum:
        if len(steps) >= _MAX_STEPS:
            raise EevionTariffError(f"{tpath}.priceIncrement", f"more than {_MAX_STEPS} increments before maxPrice")
        steps.append((start, start + cycle, rate))
        start, rate = start + cycle, rate + increment
    steps.append((start, None, maximum))
    return steps


def _fee_unit(fee: Mapping[str, Any], fpath: str) -> int:
    return _unit_seconds(fee.get("unit"), f"{fpath}.unit")


# A fee as steps of a per-hour rate: (from s, to s or None, price per hour), relative to when it starts.
_Steps = list[tuple[int, int | None, Decimal]]


def _occupancy_steps(tariff: Mapping[str, Any], path: str, increment: Decimal, cycle: int) -> _Steps:
    fpath = f"{path}.occupancyFee"
    fee = _object(tariff["occupancyFee"], fpath, _FEE_FIELDS - {"gracePeriod", "gracePeriodUnit", "gracePeriodMinutes"})
    if not _priced(fee, increment, fpath):
        return []
    if tariff["type"] != "kwh":
        raise EevionTariffError(fpath, "occupancy fees apply only to the kwh fee type (seed 003)")
    unit = _fee_unit(fee, fpath)
    return [(start, end, _per_hour(rate, unit)) for start, end, rate in _fee_steps(fee, fpath, increment, cycle, path)]


def _idle_steps(tariff: Mapping[str, Any], path: str, increment: Decimal, cycle: int) -> tuple[_Steps, bool]:
    """Idle fee steps counted in idle time (grace included), and whether the fee is plain (no grace, no
    escalation), in which case every idle period is priced, also idle spells before charging ended."""
    fpath = f"{path}.idleFee"
    fee = _object(tariff["idleFee"], fpath, _FEE_FIELDS)
    if not _priced(fee, increment, fpath):
        return [], False
    unit = _fee_unit(fee, fpath)
    grace = 0
    if fee.get("gracePeriod") is not None and fee.get("gracePeriodMinutes") is not None:
        raise EevionTariffError(f"{fpath}.gracePeriodMinutes", "give gracePeriod or gracePeriodMinutes, not both")
    if fee.get("gracePeriodMinutes") is not None:
        # Spelling seen in exports that name the unit in the key; the seed documents only "a grace period".
        minutes = _decimal(fee["gracePeriodMinutes"], f"{fpath}.gracePeriodMinutes")
        if minutes * 60 != (minutes * 60).to_integral_value():
            raise EevionTariffError(f"{fpath}.gracePeriodMinutes", "must be a whole number of seconds")
        grace = int(minutes * 60)
    elif fee.get("gracePeriod") is not None:
        grace_unit = 60 if fee.get("gracePeriodUnit") is None else _unit_seconds(fee["gracePeriodUnit"], f"{fpath}.gracePeriodUnit")
        seconds = _decimal(fee["gracePeriod"], f"{fpath}.gracePeriod") * grace_unit
        if seconds != seconds.to_integral_value():
            raise EevionTariffError(f"{fpath}.gracePeriod", "must be a whole number of seconds")
        grace = int(seconds)
    steps = [(grace + start, None if end is None else grace + end, _per_hour(rate, unit))
             for start, end, rate in _fee_steps(fee, fpath, increment, cycle, path)]
    return steps, grace == 0 and len(steps) == 1


def _stay_fees(occupancy: _Steps, idle: _Steps, plain_idle: bool) -> list[TariffElement]:
    """Occupancy (TIME and PARKING_TIME since session start) and idle (PARKING_TIME since charging ended)
    elements. While both apply, one PARKING_TIME component charges their sum: the model prices one
    component per dimension and period, so every (idle step, occupancy step) pair gets its own element,
    placed before the occupancy-only ones."""

    def idle_bounds(start: int, end: int | None) -> dict[str, Any]:
        return {} if plain_idle else bounds(IDLE, start, end)

    elements = []
    for idle_start, idle_end, idle_rate in idle:
        if occupancy:
            for start, end, rate in occupancy:
                elements.append(_element(PriceComponent("PARKING_TIME", rate + idle_rate),
                                         **bounds(SINCE_START, start or None, end), **idle_bounds(idle_start, idle_end)))
        else:
            elements.append(_element(PriceComponent("PARKING_TIME", idle_rate), **idle_bounds(idle_start, idle_end)))
    for start, end, rate in occupancy:
        for dimension in ("TIME", "PARKING_TIME"):  # the stay at the station, charging or not
            elements.append(_element(PriceComponent(dimension, rate), **bounds(SINCE_START, start or None, end)))
    return elements


def _priced(fee: Mapping[str, Any], increment: Decimal, fpath: str) -> bool:
    price = _decimal(fee.get("price") or 0, f"{fpath}.price")
    return price > 0 or increment > 0


def _taxes(taxes: Any) -> tuple[TaxRate, ...]:
    if taxes is None:
        return ()
    if not isinstance(taxes, list):
        raise EevionTariffError("$.taxes", "expected a list")
    rates = []
    for i, tax in enumerate(taxes):
        tpath = f"$.taxes[{i}]"
        if not isinstance(tax, Mapping):
            raise EevionTariffError(tpath, "expected an object")
        name = str(tax.get("description") or tax.get("name") or f"tax {i + 1}")
        if tax.get("percentage") is not None:
            percentage = _decimal(tax["percentage"], f"{tpath}.percentage")
        else:
            match = _PERCENT_IN_TEXT.search(name)
            if match is None:
                raise EevionTariffError(f"{tpath}.description", f"no tax percentage given or written in {name!r}")
            percentage = Decimal(match.group(1))
        if percentage > 100:
            raise EevionTariffError(f"{tpath}.percentage", "must be within 0..100")
        rates.append(TaxRate(name=name, percentage=percentage))
    return tuple(rates)


def tariff_from_eevion(
    tariff: Mapping[str, Any],
    *,
    currency: str,
    tax_included: bool = True,
    taxes: Sequence[Mapping[str, Any]] | None = None,
) -> Tariff:
    """An Eevion `tariff` object as a canonical `Tariff`, in `currency` (the session's "CAD"/"USD").

    `tax_included` and `taxes` are the session's `taxIncluded` and `taxes` (see the module docstring).
    Raises `EevionTariffError` (a `TariffModelError`) naming the field it cannot price.
    """
    path = "$.tariff"
    data = _object(tariff, path, _TARIFF_FIELDS)
    if data.get("type") not in EEVION_TYPES:
        raise EevionTariffError(f"{path}.type", f"unknown tariff type {data.get('type')!r}")
    rates = _taxes(taxes)
    increment, cycle = _increment(data, path)
    elements = _charging_fee(data, path)
    occupancy = _occupancy_steps(data, path, increment, cycle) if data.get("occupancyFee") is not None else []
    idle, plain_idle = _idle_steps(data, path, increment, cycle) if data.get("idleFee") is not None else ([], False)
    elements += _stay_fees(occupancy, idle, plain_idle)
    if increment > 0 and data.get("occupancyFee") is None and data.get("idleFee") is None:
        raise EevionTariffError(f"{path}.priceIncrement", "increments apply to occupancy and idle fees; none is set")
    try:
        return Tariff(
            id=str(data.get("id") or data.get("name") or ""),
            currency=currency,
            elements=tuple(elements),
            tax_included=("YES" if tax_included else "NO") if rates else "N/A",
            taxes=rates,
            source="eevion",
        )
    except TariffModelError as error:
        if isinstance(error, EevionTariffError):
            raise
        raise EevionTariffError("$", str(error)) from None


def tariff_from_eevion_session(session: Mapping[str, Any]) -> Tariff:
    """The tariff of an Eevion session object (`GET session/{id}` or a listing item), with the session's
    currency, `taxIncluded` and `taxes`."""
    if not isinstance(session, Mapping) or not isinstance(session.get("tariff"), Mapping):
        raise EevionTariffError("$.tariff", "the session carries no tariff object")
    currency = session.get("currency")
    if not isinstance(currency, str):
        raise EevionTariffError("$.currency", "required (\"CAD\" or \"USD\")")
    included = session.get("taxIncluded", True)
    if not isinstance(included, bool):
        raise EevionTariffError("$.taxIncluded", f"expected a boolean, got {included!r}")
    return tariff_from_eevion(session["tariff"], currency=currency, tax_included=included, taxes=session.get("taxes"))
