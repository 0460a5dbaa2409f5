"""Chargeprice quote requests (seed 002 `charge_price_request`): validation into a `QuoteRequest`.

An invalid request raises `QuoteRequestError`, whose `document()` is the seed's error body (400 BAD_REQUEST,
or 404 NOT_FOUND for an unknown currency or vehicle). The charge each charge point would deliver:
- energy + duration: charging for the whole duration at constant power (energy / duration);
- vehicle + battery range: energy = battery capacity x range, charged at the lower of the charge point's and
  the vehicle's power (AC single-phase limited to 4.5 kW, 7.4 kW with `allow_unbalanced_load`), duration =
  energy / power; the peak power (MAX_POWER) is the charge point's;
- it starts at `options.start_time` (minutes after local midnight, default 720) on `on_date` (default:
  today) in the station's zone (`timezone`, else the zone of `station.country` when it has one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..adapters.ocpi import TimezoneUnresolvedError, resolve_timezone

# Currencies of the ECB reference rates (the seed: "Possible values are listed at the eurofxref").
EUROFXREF_CURRENCIES = frozenset(
    "EUR USD JPY BGN CZK DKK GBP HUF PLN RON SEK CHF ISK NOK TRY AUD BRL CAD CNY HKD IDR ILS INR KRW MXN MYR "
    "NZD PHP SGD THB ZAR".split())
CHARGEPRICE_PLUGS = ("ccs", "chademo", "type2", "type1", "type3", "schuko", "tesla_ccs", "tesla_suc")
_AC_PLUGS = {"type2", "type1", "type3", "schuko"}
_DATA_ADAPTERS = ("chargeprice", "going_electric", "open_charge_map")
_SINGLE_PHASE_KW = Decimal("4.5")
_SINGLE_PHASE_UNBALANCED_KW = Decimal("7.4")


class QuoteRequestError(ValueError):
    """An invalid `charge_price_request`; `document()` is the seed's error body."""

    def __init__(self, title: str, status: int = 400) -> None:
        super().__init__(title)
        self.status = status
        self.title = title

    def document(self) -> dict[str, Any]:
        """The seed-002 error document."""
        code = {400: "BAD_REQUEST", 404: "NOT_FOUND"}.get(self.status, "BAD_REQUEST")
        return {"errors": [{"status": str(self.status), "code": code, "title": self.title}]}


@dataclass(frozen=True)


class ChargePoint:
    """One requested charge point and the charge it would deliver."""

    power_kw: Decimal
    plug: str
    duration_min: Decimal
    energy_kwh: Decimal
    peak_kw: Decimal
    request_power: Any  # the power exactly as requested, echoed back


@dataclass


class QuoteRequest:
    """A validated request: the charge points and their charges, currency, start, zone and day, filters."""

    charge_points: list[ChargePoint]
    currency: str
    start_minute: int
    zone: str
    local_day: date
    show_unavailable: bool
    tariff_filter: list[str] | None
    include_mode: str
    raw_options: Mapping[str, Any] = field(default_factory=dict)


def _number(value: Any, what: str, *, positive: bool = False) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise QuoteRequestError(f"{what} must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise QuoteRequestError(f"{what} must be a number") from None
    if not number.is_finite() or (positive and number <= 0) or number < 0:
        raise QuoteRequestError(f"{what} must be {'greater than 0' if positive else 'at least 0'}")
    return number


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise QuoteRequestError(f"{what} is required and must be an object")
    return value


def _boolean(options: Mapping[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise QuoteRequestError(f"options.{key} must be a boolean")
    return value


def _vehicle_power(plug: str, cp_power: Decimal, vehicle: Mapping[str, Any], phases: int, unbalanced: bool, vid: str) -> Decimal:
    key = "max_ac_kw" if plug in _AC_PLUGS else "max_dc_kw"
    if vehicle.get(key) is None:
        raise QuoteRequestError(f"vehicle {vid} has no {key} for plug {plug}")
    power = min(cp_power, _number(vehicle[key], f"vehicle {vid} {key}", positive=True))
    if plug in _AC_PLUGS and phases == 1:
        power = min(power, _SINGLE_PHASE_UNBALANCED_KW if unbalanced else _SINGLE_PHASE_KW)
    return power


def parse_request(body: Any, vehicles: Mapping[str, Mapping[str, Any]], zone: str | None, on_date: date | None) -> QuoteRequest:
    data = _mapping(body.get("data") if isinstance(body, Mapping) else None, "data")
    if data.get("type") != "charge_price_request":
        raise QuoteRequestError("data.type must be charge_price_request")
    attributes = _mapping(data.get("attributes"), "data.attributes")
    adapter = attributes.get("data_adapter")
    if adapter not in _DATA_ADAPTERS:
        raise QuoteRequestError(f"data_adapter must be one of {', '.join(_DATA_ADAPTERS)}")
    station = _mapping(attributes.get("station"), "station")
    for key in ("longitude", "latitude"):
        if isinstance(station.get(key), bool) or not isinstance(station.get(key), (int, float)):
            raise QuoteRequestError(f"station.{key} is required and must be a number")
    for key in ("country", "network"):
        if not isinstance(station.get(key), str) or not station[key]:
            raise QuoteRequestError(f"station.{key} is required and must be a string")
    points = station.get("charge_points")
    if not isinstance(points, list) or not points:
        raise QuoteRequestError("station.charge_points must be a non-empty array")
    options = _mapping(attributes.get("options"), "options")
    relationships = data.get("relationships") or {}
    if not isinstance(relationships, Mapping):
        raise QuoteRequestError("data.relationships must be an object")

    currency = options.get("currency", "EUR")
    if not isinstance(currency, str) or len(currency) != 3:
        raise QuoteRequestError("options.currency must be a 3-letter ISO code")
    if currency not in EUROFXREF_CURRENCIES:
        raise QuoteRequestError(f"No currency with iso {currency}", status=404)
    start_minute = options.get("start_time", 720)
    if isinstance(start_minute, bool) or not isinstance(start_minute, int) or not 0 <= start_minute <= 1439:
        raise QuoteRequestError("options.start_time must be an integer between 0 and 1439")
    phases = options.get("car_ac_phases", 3)
    if phases not in (1, 3) or isinstance(phases, bool):
        raise QuoteRequestError("options.car_ac_phases must be 1 or 3")
    unbalanced = _boolean(options, "allow_unbalanced_load", False)
    show_unavailable = _boolean(options, "show_price_unavailable", False)
    for key in ("provider_customer_tariffs", "show_all_brand_restricted_tariffs"):
        _boolean(options, key, False)
    _boolean(options, "foreign_tariffs", True)
    if "max_monthly_fees" in options:
        _number(options["max_monthly_fees"], "options.max_monthly_fees")  # our tariffs carry no monthly fees

    has_energy_duration = "energy" in options or "duration" in options
    has_range = "battery_range" in options
    if has_energy_duration == has_range:
        raise QuoteRequestError("give either energy and duration, or vehicle and battery_range")
    vehicle, vehicle_id = None, None
    if has_energy_duration:
        if "energy" not in options or "duration" not in options:
            raise QuoteRequestError("energy and duration must be given together")
        energy = _number(options["energy"], "options.energy", positive=True)
        duration = _number(options["duration"], "options.duration", positive=True)
    else:
        battery = options["battery_range"]
        if (not isinstance(battery, list) or len(battery) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in battery)
                or not 0 <= battery[0] < battery[1] <= 100):
            raise QuoteRequestError("options.battery_range must be [start, end] percentages with start < end")
        link = relationships.get("vehicle")
        vehicle_data = link.get("data") if isinstance(link, Mapping) else None
        if not isinstance(vehicle_data, Mapping) or not vehicle_data.get("id"):
            raise QuoteRequestError("battery_range needs a vehicle relationship")
        vehicle_id = str(vehicle_data["id"])
        vehicle = vehicles.get(vehicle_id)
        if vehicle is None:
            raise QuoteRequestError(f"No vehicle with id {vehicle_id}", status=404)
        capacity = _number(vehicle.get("battery_capacity_kwh"), f"vehicle {vehicle_id} battery_capacity_kwh", positive=True)
        energy = capacity * (Decimal(str(battery[1])) - Decimal(str(battery[0]))) / 100

    charge_points = []
    for i, point in enumerate(points):
        if not isinstance(point, Mapping):
            raise QuoteRequestError(f"station.charge_points[{i}] must be an object")
        power = _number(point.get("power"), f"station.charge_points[{i}].power", positive=True)
        plug = point.get("plug")
        if not isinstance(plug, str) or (adapter == "chargeprice" and plug not in CHARGEPRICE_PLUGS):
            raise QuoteRequestError(f"station.charge_points[{i}].plug must be one of {', '.join(CHARGEPRICE_PLUGS)}")
        peak = min(power, _SINGLE_PHASE_UNBALANCED_KW if unbalanced else _SINGLE_PHASE_KW) \
            if plug.lower() in _AC_PLUGS and phases == 1 else power
        if vehicle is None:
            minutes = duration
        else:
            charge_power = _vehicle_power(plug.lower(), power, vehicle, phases, unbalanced, vehicle_id)
            peak = charge_power
            minutes = (energy / charge_power * 60).quantize(Decimal("0.1"), rounding=ROUND_CEILING)
        charge_points.append(ChargePoint(power, plug, minutes, energy, peak, point.get("power")))

    tariff_filter, include_mode = None, "filter"
    link = relationships.get("tariffs")
    if link is not None:
        items = link.get("data") if isinstance(link, Mapping) else None
        if not isinstance(items, list) or not all(isinstance(t, Mapping) and t.get("id") for t in items):
            raise QuoteRequestError("relationships.tariffs.data must be an array of {id, type}")
        tariff_filter = [str(t["id"]) for t in items]
        include_mode = ((link.get("meta") or {}).get("include") or "filter")
        if include_mode not in ("filter", "always", "exclusive"):
            raise QuoteRequestError("relationships.tariffs.meta.include must be filter, always or exclusive")

    if zone is None:
        try:
            zone = resolve_timezone({"cdr_location": {"country": station["country"]}})
        except TimezoneUnresolvedError:
            raise QuoteRequestError(f"cannot tell the time zone of country {station['country']!r}; "
                                    "give the station's time zone") from None
    try:
        local_today = datetime.now(ZoneInfo(zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        raise QuoteRequestError(f"unknown time zone {zone!r}") from None
    return QuoteRequest(charge_points, currency, start_minute, zone, on_date or local_today, show_unavailable,
                    tariff_filter, include_mode, options)

