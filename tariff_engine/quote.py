"""Chargeprice-style quotes (seed 002 `POST /v1/charge_prices`): what a hypothetical charge would cost.

`quote(request, tariffs)` takes a seed-002 `charge_price_request` document and tariffs (canonical
`Tariff`s, or `QuoteTariff`s from `load_tariff_directory`) and returns the seed-002 JSON:API response:
one `charge_price` per tariff with a `charge_point_prices` entry per requested charge point (`price`,
`price_distribution`, `blocking_fee_start`, `no_price_reason`) and `meta.charge_points` (the duration and
energy used). An invalid request returns the seed's error document (`{"errors": [{status, code, title}]}`,
400 BAD_REQUEST, or 404 NOT_FOUND for an unknown currency or vehicle) instead of raising.

The hypothetical charge (documented choices; the seed leaves them open):
- it starts at `options.start_time` (minutes after local midnight, default 720) on `on_date` (default:
  today) in the station's zone (`timezone`, else the zone of `station.country` when it has one);
- energy + duration: charging for the whole duration at constant power (energy / duration); no idle time,
  so idle fees never apply (and platform duration fees without an idle fee are quoted: they differ
  from charging time only while idle); vehicle + battery range: energy = battery capacity x range, charged at the
  lower of the charge point's and the vehicle's power (AC single-phase limited to 4.5 kW, 7.4 kW with
  `allow_unbalanced_load`), duration = energy / power; the peak power (MAX_POWER) is the charge point's;
- the charge is cut into periods at every tariff boundary (local time edges, kWh and duration thresholds,
  electricity-rate slots), so each period is priced at the right element;
- `price` is the total incl. taxes at the currency's minor unit (half-up); tariffs in another currency
  than the requested one are not priced (no exchange rates), reason given;
- all (tariff, charge point) pairs are priced in one numba kernel batch (`pricing.price_sessions`); a
  tariff the fixed-point kernels cannot represent is priced by the Decimal reference (same semantics).
Tariffs that cannot be priced are returned with `price: null` and a `no_price_reason` when
`show_price_unavailable` is true; otherwise they are left out of `data` and listed in
`meta.unpriced_tariffs` (an extension), so nothing disappears silently.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .adapters.ocpi import TimezoneUnresolvedError, resolve_timezone
from .documents import TariffDocumentError, TariffFile, TariffSourceError, documents_in, json_files, tariff_from_document
from .consumption.electricity import ElectricityRate, RateError, parse_electricity_rate
from .model import PricingResult, Session, SessionPeriod, Tariff, TariffModelError
from .money import RoundingPolicy
from .policy import PricingPolicy
from .pricing import price_sessions
from .reference import price_session
from .spec import THRESHOLDS

# Currencies of the ECB reference rates (the seed: "Possible values are listed at the eurofxref").
EUROFXREF_CURRENCIES = frozenset(
    "EUR USD JPY BGN CZK DKK GBP HUF PLN RON SEK CHF ISK NOK TRY AUD BRL CAD CNY HKD IDR ILS INR KRW MXN MYR "
    "NZD PHP SGD THB ZAR".split())
CHARGEPRICE_PLUGS = ("ccs", "chademo", "type2", "type1", "type3", "schuko", "tesla_ccs", "tesla_suc")
_AC_PLUGS = {"type2", "type1", "type3", "schuko"}
_DATA_ADAPTERS = ("chargeprice", "going_electric", "open_charge_map")
_SINGLE_PHASE_KW = Decimal("4.5")
_SINGLE_PHASE_UNBALANCED_KW = Decimal("7.4")
_MS_PER_HOUR = Decimal(3_600_000)
_SHARE = Decimal("0.0001")


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
class QuoteTariff:
    """A tariff offered for quotes: the canonical tariff (None when it cannot be priced, with `error`),
    display attributes and the electricity rate its periods need (energy-linked tariffs)."""

    tariff_id: str
    tariff: Tariff | None
    provider: str = ""
    tariff_name: str | None = None
    direct_payment: bool = False
    electricity_rate: ElectricityRate | None = None
    error: str | None = None


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
class _Request:
    charge_points: list[ChargePoint]
    currency: str
    start_minute: int
    zone: str
    local_day: date
    show_unavailable: bool
    tariff_filter: list[str] | None
    include_mode: str
    raw_options: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# Request validation.


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


def _parse_request(body: Any, vehicles: Mapping[str, Mapping[str, Any]], zone: str | None, on_date: date | None) -> _Request:
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
    return _Request(charge_points, currency, start_minute, zone, on_date or local_today, show_unavailable,
                    tariff_filter, include_mode, options)


# ---------------------------------------------------------------------------------------------------------
# The hypothetical session.


def _epoch_ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)


def _local_edges(tariff: Tariff, rate: ElectricityRate | None) -> tuple[set[int], bool]:
    """Minutes of the local day where a price may change, and whether local midnight matters."""
    minutes: set[int] = set()
    midnight = False
    for element in tariff.elements:
        r = element.restrictions
        if r is None:
            continue
        for value in (r.start_time, r.end_time):
            if value is not None:
                minutes.add(value.hour * 60 + value.minute)
        if r.start_date or r.end_date or r.day_of_week or r.end_time is not None or r.start_time is not None:
            midnight = True
    if rate is not None and tariff.electricity_rate_required:
        for slots in list(rate.week_day_periods.values()) + list(rate.date_periods.values()):
            for slot in slots:
                minutes.update((slot.start_minute % 1440, slot.end_minute % 1440))
        midnight = True
    if midnight:
        minutes.add(0)
    return minutes, midnight


def _cuts(tariff: Tariff, start: datetime, zone: ZoneInfo, duration_ms: int, energy_kwh: Decimal,
          rate: ElectricityRate | None) -> dict[int, Decimal | None]:
    """Cut instants (ms after the start) mapped to the exact cumulative kWh there (None: proportional)."""
    cuts: dict[int, Decimal | None] = {}
    minutes, _ = _local_edges(tariff, rate)
    local_start = start.astimezone(zone)
    end = start + timedelta(milliseconds=duration_ms)
    day = local_start.date() - timedelta(days=1)
    while day <= end.astimezone(zone).date() + timedelta(days=1):
        for minute in minutes:
            edge = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone).astimezone(timezone.utc)
            offset = _epoch_ms(edge) - _epoch_ms(start)
            if 0 < offset < duration_ms:
                cuts.setdefault(offset, None)
        day += timedelta(days=1)
    for element in tariff.elements:
        r = element.restrictions
        if r is None:
            continue
        # the thresholds a charge crosses while it runs (spec rows with cuts_periods)
        for spec in THRESHOLDS:
            value = getattr(r, spec.name)
            if not spec.cuts_periods or value is None:
                continue
            if spec.quantity == "since_start":
                if 0 < value * 1000 < duration_ms:
                    cuts.setdefault(value * 1000, None)
                continue
            if spec.quantity != "energy_before":
                raise ValueError(f"the quote cutter has no edge for {spec.quantity!r}")  # a new cutting quantity
            kwh = value
            if 0 < kwh < energy_kwh:
                # At constant power the threshold is crossed at kwh / energy of the way; cut at the next whole
                # ms and pin the cumulative energy there to the threshold so the next period starts at it.
                offset = int((kwh * duration_ms / energy_kwh).to_integral_value(rounding=ROUND_CEILING))
                if 0 < offset < duration_ms:
                    cuts[offset] = kwh
    return cuts


def build_quote_session(tariff: Tariff, point: ChargePoint, start: datetime, zone_name: str,
                        rate: ElectricityRate | None, session_id: str) -> Session:
    """The charge of `point` from `start` as a priceable session, cut at every price boundary of `tariff`."""
    zone = ZoneInfo(zone_name)
    duration_ms = int((point.duration_min * 60_000).to_integral_value(rounding=ROUND_HALF_UP))
    cuts = _cuts(tariff, start, zone, duration_ms, point.energy_kwh, rate)
    offsets = [0] + sorted(cuts) + [duration_ms]
    cumulative = [Decimal(0)]
    for offset in offsets[1:-1]:
        pinned = cuts[offset]
        value = pinned if pinned is not None else (point.energy_kwh * offset / duration_ms).quantize(Decimal("0.000001"))
        cumulative.append(max(value, cumulative[-1]))
    cumulative.append(point.energy_kwh)
    periods = []
    for i in range(len(offsets) - 1):
        moment = start + timedelta(milliseconds=offsets[i])
        electricity = None
        if rate is not None and tariff.electricity_rate_required:
            electricity = rate.price_at(moment.astimezone(zone))
        periods.append(SessionPeriod(
            start=moment,
            energy_kwh=cumulative[i + 1] - cumulative[i],
            time_h=Decimal(offsets[i + 1] - offsets[i]) / _MS_PER_HOUR,
            max_power=point.peak_kw,
            electricity_rate=electricity,
        ))
    return Session(id=session_id, start=start, end=start + timedelta(milliseconds=duration_ms), timezone=zone_name,
                   periods=tuple(periods))


# ---------------------------------------------------------------------------------------------------------
# Pricing and the response.


def blocking_fee_start(tariff: Tariff, charge_minutes: Decimal) -> int | None:
    """Minutes after the start of charge when a blocking fee starts to count, per the seed's definition: a
    minute-based component starting after the start, and no minute-based component from the start.

    TIME components count from `min_duration` (0 when absent); PARKING_TIME ones from the end of the charge
    (plus `min_idle_duration`) or from `min_duration` if later. Only components with a price count."""
    starts: list[Decimal] = []
    for element in tariff.elements:
        r = element.restrictions
        if r is not None and r.reservation is not None:
            continue
        for component in element.price_components:
            if component.type not in ("TIME", "PARKING_TIME") or component.price <= 0:
                continue
            since_start = Decimal(r.min_duration if r and r.min_duration else 0) / 60
            if component.type == "PARKING_TIME":
                idle = Decimal(r.min_idle_duration if r and r.min_idle_duration else 0) / 60
                since_start = max(since_start, charge_minutes + idle)
            starts.append(since_start)
    if not starts or min(starts) == 0:
        return None
    return int(min(starts).to_integral_value(rounding=ROUND_CEILING))


def _distribution(result: PricingResult, total: Decimal) -> dict[str, float]:
    """Shares of the total by session / kwh / minute (4 decimals, summing to 1); a minimum-price top-up
    counts as a session share."""
    parts = {
        "session": result.total_fixed_cost.incl_vat + result.total_reservation_cost.incl_vat,
        "kwh": result.total_energy_cost.incl_vat,
        "minute": result.total_time_cost.incl_vat + result.total_parking_cost.incl_vat,
    }
    parts["session"] += total - sum(parts.values())
    parts = {key: value for key, value in parts.items() if value > 0}
    if total <= 0 or not parts:
        return {}
    shares = {key: (value / total).quantize(_SHARE, rounding=ROUND_HALF_UP) for key, value in parts.items()}
    largest = max(shares, key=lambda key: (parts[key], key))
    shares[largest] += 1 - sum(shares.values())
    return {key: float(value) for key, value in shares.items()}


def _number_out(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _unavailable(base: dict[str, Any], reason: str | None) -> dict[str, Any]:
    return {**base, "price": None, "price_distribution": {}, "blocking_fee_start": None, "no_price_reason": reason}


def _session_or_reason(entry: QuoteTariff, point: ChargePoint, request: _Request) -> Session | str:
    """The quoted charge as a session under this tariff, or why it cannot be priced."""
    tariff = entry.tariff
    if tariff is None:
        return entry.error or "the tariff cannot be priced"
    if tariff.currency != request.currency:
        return f"tariff is priced in {tariff.currency}, not {request.currency} (no exchange rates)"
    if tariff.electricity_rate_required and entry.electricity_rate is None:
        return "the tariff follows an electricity rate and none was provided"
    zone = ZoneInfo(request.zone)
    local = datetime.combine(request.local_day, time(request.start_minute // 60, request.start_minute % 60), tzinfo=zone)
    return build_quote_session(tariff, point, local.astimezone(timezone.utc), request.zone, entry.electricity_rate,
                               f"quote:{entry.tariff_id}:{point.plug}:{point.power_kw}")


def _price_all(jobs: list[tuple[QuoteTariff, ChargePoint]], request: _Request, policy: PricingPolicy) -> list[dict[str, Any]]:
    """Price every (tariff, charge point) in one kernel batch; a tariff the fixed-point kernels cannot
    represent is priced by the Decimal reference instead (same semantics, same result)."""
    prepared = [_session_or_reason(entry, point, request) for entry, point in jobs]
    batch = [(i, prepared[i]) for i in range(len(jobs)) if isinstance(prepared[i], Session)]
    tariffs = [jobs[i][0].tariff for i, _ in batch]
    results: dict[int, PricingResult] = {}
    if batch:
        priced = price_sessions(tariffs, [session for _, session in batch], list(range(len(batch))), policy, breakdown=False)
        for (i, session), result in zip(batch, priced):
            if result.error_code == "TARIFF_NOT_COMPILABLE":
                result = price_session(jobs[i][0].tariff, session, policy)
            results[i] = result
    out = []
    for i, (entry, point) in enumerate(jobs):
        base = {"power": point.request_power, "plug": point.plug}
        if i not in results:
            out.append(_unavailable(base, prepared[i]))
            continue
        result = results[i]
        if result.error_code is not None:
            out.append(_unavailable(base, f"{result.error_code}: {result.error}"))
            continue
        total = result.total_cost.incl_vat
        out.append({**base, "price": total, "price_distribution": _distribution(result, total),
                    "blocking_fee_start": blocking_fee_start(entry.tariff, point.duration_min), "no_price_reason": None})
    return out


def _selected(entries: Sequence[QuoteTariff], request: _Request) -> list[tuple[QuoteTariff, bool]]:
    """(tariff, always shown) pairs after the request's tariff relationship filter."""
    if request.tariff_filter is None:
        return [(entry, False) for entry in entries]
    listed = set(request.tariff_filter)
    if request.include_mode == "always":
        return [(entry, entry.tariff_id in listed) for entry in entries]
    return [(entry, request.include_mode == "exclusive") for entry in entries if entry.tariff_id in listed]


def _as_entries(tariffs: Iterable[Tariff | QuoteTariff]) -> list[QuoteTariff]:
    entries = []
    for item in tariffs:
        if isinstance(item, QuoteTariff):
            entries.append(item)
        elif isinstance(item, Tariff):
            entries.append(QuoteTariff(tariff_id=item.id, tariff=item, provider=item.party_id or item.source))
        else:
            raise TypeError(f"expected Tariff or QuoteTariff, got {type(item).__name__}")
    return entries


def quote(
    request: Mapping[str, Any],
    tariffs: Iterable[Tariff | QuoteTariff],
    *,
    vehicles: Mapping[str, Mapping[str, Any]] | None = None,
    timezone_name: str | None = None,
    on_date: date | None = None,
) -> dict[str, Any]:
    """Price a seed-002 `charge_price_request` under every tariff; the seed-002 response, or its error
    document (`{"errors": […]}`) for an invalid request.

    `vehicles`: id -> {battery_capacity_kwh, max_ac_kw, max_dc_kw} for battery-range requests;
    `timezone_name`: the station's IANA zone (else derived from its country); `on_date`: the local day of
    the charge (default today). Prices are `Decimal`s (use `dumps` for JSON text).
    """
    entries = _as_entries(tariffs)
    try:
        parsed = _parse_request(request, vehicles or {}, timezone_name, on_date)
    except QuoteRequestError as error:
        return error.document()
    policy = PricingPolicy(rounding=RoundingPolicy(mode="HALF_UP", stage="TOTAL", decimals=None))
    selected = _selected(entries, parsed)
    jobs = [(entry, point) for entry, _ in selected for point in parsed.charge_points]
    all_prices = _price_all(jobs, parsed, policy)
    per_tariff = len(parsed.charge_points)
    data, unpriced = [], []
    for position, (entry, always) in enumerate(selected):
        prices = all_prices[position * per_tariff:(position + 1) * per_tariff]
        priceable = any(p["price"] is not None for p in prices)
        if not priceable and not (parsed.show_unavailable or always):
            unpriced.append({"tariff": entry.tariff_id, "reason": prices[0]["no_price_reason"]})
            continue
        if not parsed.show_unavailable and not always:
            prices = [p for p in prices if p["price"] is not None]
        data.append(_charge_price(entry, parsed, prices))
    meta: dict[str, Any] = {"charge_points": [
        {"power": point.request_power, "plug": point.plug, "duration": float(point.duration_min),
         "energy": float(point.energy_kwh)} for point in parsed.charge_points]}
    if unpriced:
        meta["unpriced_tariffs"] = unpriced
    return {"data": data, "meta": meta}


def _charge_price(entry: QuoteTariff, request: _Request, prices: list[dict[str, Any]]) -> dict[str, Any]:
    currency = entry.tariff.currency if entry.tariff is not None else request.currency
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"chargeledger:tariff:{entry.tariff_id}")),
        "type": "charge_price",
        "attributes": {
            "provider": entry.provider,
            "tariff_name": entry.tariff_name,
            "url": None,
            "monthly_min_sales": 0,
            "total_monthly_fee": 0,
            "flat_rate": False,
            "direct_payment": entry.direct_payment,
            "provider_customer_tariff": False,
            "currency": currency,
            "start_time": request.start_minute,
            "tags": [],
            "branding": None,
            "charge_point_prices": prices,
        },
        "relationships": {"tariff": {"data": {"id": entry.tariff_id, "type": "tariff"}}},
    }


def dumps(document: Mapping[str, Any]) -> str:
    """JSON text of a quote response; Decimal prices are written as exact JSON numbers."""

    def encode(value: Any) -> Any:
        if isinstance(value, Decimal):
            return _number_out(value)
        raise TypeError(f"not JSON serializable: {type(value).__name__}")

    return json.dumps(document, default=encode, ensure_ascii=False, indent=2)


# ---------------------------------------------------------------------------------------------------------
# Loading tariffs from a directory.


def _entry(item: TariffFile, zone: str | None, currency: str | None, rates: dict[str, ElectricityRate]) -> QuoteTariff:
    """The quote entry of one tariff document (any family, see `documents`); refusals keep their reason."""
    document = item.document
    name = document.get("name") if isinstance(document, Mapping) else None
    tariff_id = str(document.get("id") or item.origin) if isinstance(document, Mapping) else item.origin
    rate = _platform_rate(document, rates) if item.family == "platform" else _single_rate(rates)
    if item.family == "eevion" and isinstance(document.get("tariff"), Mapping):
        tariff_id, name = str(document["tariff"].get("id") or item.origin), document["tariff"].get("name")
    try:
        # a quote never idles: platform duration fees without an idle fee are priced as charging time only
        tariff = tariff_from_document(document, timezone_name=zone, currency=currency, electricity_rate=rate,
                                      never_idle=True)
    except TariffDocumentError as error:
        return QuoteTariff(tariff_id, None, tariff_name=name, error=f"{item.origin}: {error}")
    if item.family == "ocpi":
        party = "*".join(str(document[k]) for k in ("country_code", "party_id") if document.get(k))
        return QuoteTariff(tariff.id, tariff, provider=party, direct_payment=document.get("type") == "AD_HOC_PAYMENT",
                           electricity_rate=rate)
    if item.family == "platform":
        restrictions = document.get("restrictions") or {}
        return QuoteTariff(tariff_id, tariff, provider=f"operator {document.get('operatorId')}", tariff_name=name,
                           direct_payment=bool(restrictions.get("applyToAdHocUsers")), electricity_rate=rate)
    return QuoteTariff(tariff_id, tariff, provider="Eevion", tariff_name=name)


def _single_rate(rates: dict[str, ElectricityRate]) -> ElectricityRate | None:
    return next(iter(rates.values())) if len(rates) == 1 else None


def _platform_rate(document: Mapping[str, Any], rates: dict[str, ElectricityRate]) -> ElectricityRate | None:
    pricing = document.get("pricing") or {}
    wanted = pricing.get("fallbackElectricityRateId")
    if wanted is not None and str(wanted) in rates:
        return rates[str(wanted)]
    return _single_rate(rates)


def load_tariff_directory(directory: Path | str, timezone_name: str | None = None,
                          currency: str | None = None) -> list[QuoteTariff]:
    """Every tariff in `directory` and its subfolders (*.json, sorted by path), of any family (OCPI,
    platform, Eevion: `documents`); `currency` is the currency of bare Eevion tariffs, which carry none.
    Electricity rates (objects with `defaultPrice` and optional `pricePeriods`) in the same tree feed
    energy-linked tariffs. A file that cannot be read or priced becomes an entry with an `error`, never a
    silent skip; a missing folder or one without JSON files raises `TariffSourceError`."""
    root = Path(directory)
    documents, rates, entries = [], {}, []
    for path in json_files(root):
        origin = str(path.relative_to(root))
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            entries.append(QuoteTariff(path.stem, None, error=f"{origin}: unreadable JSON ({error})"))
            continue
        if isinstance(content, Mapping) and "defaultPrice" in content:
            try:
                rate = parse_electricity_rate(content, content.get("pricePeriods"))
            except RateError as error:
                entries.append(QuoteTariff(path.stem, None, error=f"{origin}: {error}"))
                continue
            rates[rate.rate_id] = rate
            continue
        documents += documents_in(content, origin)
    for item in documents:
        entries.append(_entry(item, timezone_name, currency, rates))
    return entries


# ---------------------------------------------------------------------------------------------------------
# Command line: `python -m tariff_engine quote --request FILE --tariffs DIR`.


def _command(args: argparse.Namespace) -> int:
    try:
        request = json.loads(Path(args.request).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(dumps(QuoteRequestError(f"cannot read the request: {error}").document()))
        return 2
    try:
        entries = load_tariff_directory(args.tariffs, args.timezone, args.currency)
        vehicles = json.loads(Path(args.vehicles).read_text(encoding="utf-8")) if args.vehicles else {}
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        on_date = date.fromisoformat(args.date) if args.date else None
    except ValueError:
        print(dumps(QuoteRequestError(f"--date must be YYYY-MM-DD, got {args.date!r}").document()))
        return 2
    response = quote(request, entries, vehicles=vehicles, timezone_name=args.timezone, on_date=on_date)
    print(dumps(response))
    return 2 if "errors" in response else 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `quote` subcommand to the `python -m tariff_engine` parser."""
    parser = subparsers.add_parser("quote", help="Chargeprice-style prices of a hypothetical charge (seed 002)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--request", required=True, help="charge_price_request JSON file")
    parser.add_argument("--tariffs", required=True,
                        help="folder of tariff JSON files, read recursively (OCPI, platform, Eevion, as delivered)")
    parser.add_argument("--currency", help="currency of bare Eevion tariffs, which carry none (e.g. CAD)")
    parser.add_argument("--timezone", help="the station's IANA time zone (default: from the station's country)")
    parser.add_argument("--date", help="local date of the charge, YYYY-MM-DD (default: today)")
    parser.add_argument("--vehicles", help="JSON file: vehicle id -> {battery_capacity_kwh, max_ac_kw, max_dc_kw}")
    parser.set_defaults(func=_command)
    return parser
