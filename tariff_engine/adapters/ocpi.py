"""OCPI adapter: tariff JSON (2.1.1, 2.2.1, 2.3.0; snake_case or camelCase) and CDRs into the canonical model.

Every key is checked: a field the engine does not know, or knows but cannot price, is refused with an
`OcpiFormatError` naming its JSON path (e.g. `$.elements[1].restrictions.foo`). Fields that never change a
price (alt texts, URLs, energy mix, party ids, `last_updated`, `type`, `preauthorize_amount`) are accepted.
The canonical model's extension fields (`billing_increment`, `max_amount`, `price_basis`, idle and session
restrictions, `taxes`, …) are accepted under their model names, so `tariff_to_json` round-trips any
canonical tariff (the other adapters' output can be stored and re-read as JSON).

Numbers are read through `str()` so a JSON float 0.25 becomes Decimal("0.25"), never a binary fraction.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from decimal import Decimal
from collections.abc import Mapping
from typing import Any

from .fields import json_decimal, json_object
from ..spec import DECIMAL_THRESHOLDS, RESTRICTION_FIELDS, SECONDS_THRESHOLDS
from ..model import (
    Amount,
    TaxAmount,
    DIMENSIONS,
    WEEKDAYS,
    PriceComponent,
    PriceLimit,
    Session,
    SessionPeriod,
    Tariff,
    TariffElement,
    TariffModelError,
    TariffRestrictions,
    TaxRate,
)
from ..money import UnknownCurrencyError, minor_units


class OcpiFormatError(ValueError):
    """Malformed or unsupported OCPI input; the message starts with the JSON path of the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")

# Fields accepted but not priced (informational, or for choosing a tariff rather than pricing it).
_TARIFF_INFO = {"country_code", "party_id", "type", "tariff_alt_text", "tariff_alt_url", "energy_mix",
                "last_updated", "preauthorize_amount"}
_TARIFF_FIELDS = {"id", "currency", "elements", "tax_included", "min_price", "max_price", "start_date_time",
                  "end_date_time", "taxes", "source"} | _TARIFF_INFO
_COMPONENT_FIELDS = {"type", "price", "vat", "step_size", "billing_increment", "max_amount", "price_basis",
                     "markup_fixed", "markup_percent"}
# restriction fields and their JSON types: from the spec table (spec.py)
_DECIMAL_RESTRICTIONS = DECIMAL_THRESHOLDS
_INT_RESTRICTIONS = SECONDS_THRESHOLDS
_RESTRICTION_FIELDS = RESTRICTION_FIELDS
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


_SNAKE_NAMES: dict[str, str] = {}


def _snake_name(key: str) -> str:
    """One key in snake_case; memoised (bounded, so hostile input cannot grow it without end) because CDRs and
    tariffs repeat the same few dozen keys and the regex was most of `snake_keys`' cost."""
    name = _SNAKE_NAMES.get(key)
    if name is None:
        name = _CAMEL.sub("_", key).lower()
        if len(_SNAKE_NAMES) < 100_000:
            _SNAKE_NAMES[key] = name
    return name


# values with no keys inside: returned as they are without the (slower) Mapping check
_LEAVES = frozenset({str, int, float, bool, type(None), Decimal})


def snake_keys(value: Any) -> Any:
    """A JSON value with every object key converted from camelCase to snake_case (recursively)."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {_snake_name(key): item if type(item) in _LEAVES else snake_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [item if type(item) in _LEAVES else snake_keys(item) for item in value]
    return value


def _object(value: Any, path: str, allowed: set[str]) -> Mapping[str, Any]:
    return json_object(value, path, allowed, OcpiFormatError)


def _decimal(value: Any, path: str) -> Decimal:
    return json_decimal(value, path, OcpiFormatError)


def _int(value: Any, path: str) -> int:
    number = _decimal(value, path)
    if number != number.to_integral_value():
        raise OcpiFormatError(path, f"expected an integer, got {value!r}")
    return int(number)


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise OcpiFormatError(path, f"expected a string, got {value!r}")
    return value


def parse_datetime(value: Any, path: str) -> datetime:
    """An OCPI DateTime (RFC 3339; no zone designator means UTC) as an aware UTC datetime."""
    text = _string(value, path)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise OcpiFormatError(path, f"not a DateTime: {text!r}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _price_limit(value: Any, path: str) -> PriceLimit:
    data = _object(value, path, {"excl_vat", "incl_vat", "before_taxes", "after_taxes"})
    if "excl_vat" in data and "before_taxes" in data:
        raise OcpiFormatError(path, "both excl_vat and before_taxes given")
    key_excl = "before_taxes" if "before_taxes" in data else "excl_vat"
    key_incl = "after_taxes" if key_excl == "before_taxes" else "incl_vat"
    if key_excl not in data:
        raise OcpiFormatError(f"{path}.{key_excl}", "required")
    incl = data.get(key_incl)
    try:
        return PriceLimit(_decimal(data[key_excl], f"{path}.{key_excl}"),
                          None if incl is None else _decimal(incl, f"{path}.{key_incl}"))
    except TariffModelError as error:
        raise OcpiFormatError(path, str(error)) from None


def _component(value: Any, path: str) -> PriceComponent:
    data = _object(value, path, _COMPONENT_FIELDS)
    for required in ("type", "price"):
        if required not in data:
            raise OcpiFormatError(f"{path}.{required}", "required")
    kind = _string(data["type"], f"{path}.type")
    if kind not in DIMENSIONS:
        raise OcpiFormatError(f"{path}.type", f"unknown dimension {kind!r}")
    price = _decimal(data["price"], f"{path}.price")  # may be negative: a credit (V2G, negative-price hours)
    vat = data.get("vat")
    max_amount = data.get("max_amount")
    try:
        return PriceComponent(
            type=kind,
            price=price,
            vat=None if vat is None else _decimal(vat, f"{path}.vat"),
            step_size=_int(data.get("step_size", 0), f"{path}.step_size"),
            billing_increment=_int(data.get("billing_increment", 0), f"{path}.billing_increment"),
            max_amount=None if max_amount is None else _decimal(max_amount, f"{path}.max_amount"),
            price_basis=data.get("price_basis", "FIXED"),
            markup_fixed=_decimal(data.get("markup_fixed", 0), f"{path}.markup_fixed"),
            markup_percent=_decimal(data.get("markup_percent", 0), f"{path}.markup_percent"),
        )
    except TariffModelError as error:
        raise OcpiFormatError(path, str(error)) from None


def _restrictions(value: Any, path: str) -> TariffRestrictions | None:
    if value is None:
        return None
    data = _object(value, path, _RESTRICTION_FIELDS)
    fields: dict[str, Any] = {}
    for key in ("start_time", "end_time"):
        if data.get(key) is not None:
            text = _string(data[key], f"{path}.{key}")
            match = _TIME_RE.match(text)
            if not match:
                raise OcpiFormatError(f"{path}.{key}", f"not a time HH:MM: {text!r}")
            fields[key] = time(int(match.group(1)), int(match.group(2)))
    for key in ("start_date", "end_date"):
        if data.get(key) is not None:
            text = _string(data[key], f"{path}.{key}")
            try:
                if not _DATE_RE.match(text):
                    raise ValueError
                fields[key] = date.fromisoformat(text)
            except ValueError:
                raise OcpiFormatError(f"{path}.{key}", f"not a date YYYY-MM-DD: {text!r}") from None
    for key in _DECIMAL_RESTRICTIONS:
        if data.get(key) is not None:
            fields[key] = _decimal(data[key], f"{path}.{key}")
    for key in _INT_RESTRICTIONS:
        if data.get(key) is not None:
            fields[key] = _int(data[key], f"{path}.{key}")
    if data.get("day_of_week") is not None:
        days = data["day_of_week"]
        if not isinstance(days, list):
            raise OcpiFormatError(f"{path}.day_of_week", "expected a list")
        for index, day in enumerate(days):
            if day not in WEEKDAYS:
                raise OcpiFormatError(f"{path}.day_of_week[{index}]", f"unknown weekday {day!r}")
        fields["day_of_week"] = tuple(days)
    if data.get("reservation") is not None:
        if data["reservation"] not in ("RESERVATION", "RESERVATION_EXPIRES"):
            raise OcpiFormatError(f"{path}.reservation", f"unknown value {data['reservation']!r}")
        fields["reservation"] = data["reservation"]
    try:
        return TariffRestrictions(**fields) if fields else None
    except TariffModelError as error:
        raise OcpiFormatError(path, str(error)) from None


def parse_tariff(document: Mapping[str, Any], source: str = "ocpi") -> Tariff:
    """An OCPI tariff object (2.1.1, 2.2.1 or 2.3.0, snake_case or camelCase) as a canonical `Tariff`.

    Raises `OcpiFormatError` naming the JSON path of the first problem.
    """
    data = _object(snake_keys(document), "$", _TARIFF_FIELDS)
    for required in ("id", "currency", "elements"):
        if required not in data:
            raise OcpiFormatError(f"$.{required}", "required")
    currency = _string(data["currency"], "$.currency")
    try:
        minor_units(currency)
    except UnknownCurrencyError as error:
        raise OcpiFormatError("$.currency", str(error)) from None
    elements_json = data["elements"]
    if not isinstance(elements_json, list) or not elements_json:
        raise OcpiFormatError("$.elements", "expected a non-empty list")
    elements = []
    for index, element_json in enumerate(elements_json):
        path = f"$.elements[{index}]"
        element = _object(element_json, path, {"price_components", "restrictions"})
        components_json = element.get("price_components")
        if not isinstance(components_json, list) or not components_json:
            raise OcpiFormatError(f"{path}.price_components", "expected a non-empty list")
        components = tuple(_component(c, f"{path}.price_components[{i}]") for i, c in enumerate(components_json))
        elements.append(TariffElement(components, _restrictions(element.get("restrictions"), f"{path}.restrictions")))
    tax_included = data.get("tax_included")
    if tax_included not in (None, "YES", "NO", "N/A"):
        raise OcpiFormatError("$.tax_included", f"unknown value {tax_included!r}")
    taxes = []
    for index, tax in enumerate(data.get("taxes") or []):
        tax_data = _object(tax, f"$.taxes[{index}]", {"name", "percentage"})
        taxes.append(TaxRate(_string(tax_data.get("name"), f"$.taxes[{index}].name"),
                             _decimal(tax_data.get("percentage"), f"$.taxes[{index}].percentage")))
    return Tariff(
        id=str(data["id"]),
        currency=currency,
        elements=tuple(elements),
        tax_included=tax_included,
        min_price=None if data.get("min_price") is None else _price_limit(data["min_price"], "$.min_price"),
        max_price=None if data.get("max_price") is None else _price_limit(data["max_price"], "$.max_price"),
        start_date_time=None if data.get("start_date_time") is None else parse_datetime(data["start_date_time"], "$.start_date_time"),
        end_date_time=None if data.get("end_date_time") is None else parse_datetime(data["end_date_time"], "$.end_date_time"),
        source=str(data.get("source", source)),
        taxes=tuple(taxes),
        country_code=data.get("country_code"),
        party_id=data.get("party_id"),
    )


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def tariff_to_json(tariff: Tariff) -> dict[str, Any]:
    """A canonical tariff as JSON (OCPI 2.2.1 field names plus extensions; numbers as decimal strings)."""
    def component(c: PriceComponent) -> dict[str, Any]:
        out: dict[str, Any] = {"type": c.type, "price": _number(c.price), "step_size": c.step_size}
        if c.vat is not None:
            out["vat"] = _number(c.vat)
        if c.billing_increment:
            out["billing_increment"] = c.billing_increment
        if c.max_amount is not None:
            out["max_amount"] = _number(c.max_amount)
        if c.price_basis != "FIXED":
            out.update(price_basis=c.price_basis, markup_fixed=_number(c.markup_fixed),
                       markup_percent=_number(c.markup_percent))
        return out

    def restrictions(r: TariffRestrictions) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in vars(r).items():
            if value is None:
                continue
            if isinstance(value, time):
                out[key] = value.strftime("%H:%M")
            elif isinstance(value, date):
                out[key] = value.isoformat()
            elif isinstance(value, Decimal):
                out[key] = _number(value)
            elif isinstance(value, tuple):
                out[key] = list(value)
            else:
                out[key] = value
        return out

    def limit(p: PriceLimit) -> dict[str, Any]:
        out = {"excl_vat": _number(p.excl_vat)}
        if p.incl_vat is not None:
            out["incl_vat"] = _number(p.incl_vat)
        return out

    document: dict[str, Any] = {"id": tariff.id, "currency": tariff.currency, "source": tariff.source, "elements": []}
    for element in tariff.elements:
        item: dict[str, Any] = {"price_components": [component(c) for c in element.price_components]}
        if element.restrictions is not None:
            item["restrictions"] = restrictions(element.restrictions)
        document["elements"].append(item)
    for key in ("country_code", "party_id", "tax_included"):
        if getattr(tariff, key) is not None:
            document[key] = getattr(tariff, key)
    if tariff.min_price is not None:
        document["min_price"] = limit(tariff.min_price)
    if tariff.max_price is not None:
        document["max_price"] = limit(tariff.max_price)
    for key in ("start_date_time", "end_date_time"):
        if getattr(tariff, key) is not None:
            document[key] = getattr(tariff, key).strftime("%Y-%m-%dT%H:%M:%SZ")
    if tariff.taxes:
        document["taxes"] = [{"name": t.name, "percentage": _number(t.percentage)} for t in tariff.taxes]
    return document


# ---- CDRs -------------------------------------------------------------------------------------------------

# Countries with exactly one IANA zone (ISO 3166 alpha-3 as in OCPI 2.2+, alpha-2 as in some 2.1.1 feeds).
# Countries spanning several zones (US, CA, AU, BR, MX, RU, ES, PT, FR with overseas, …) need the Location.
_SINGLE_ZONE_COUNTRIES: dict[str, str] = {
    "AUT": "Europe/Vienna", "BEL": "Europe/Brussels", "BGR": "Europe/Sofia", "CHE": "Europe/Zurich",
    "CZE": "Europe/Prague", "DEU": "Europe/Berlin", "DNK": "Europe/Copenhagen", "EST": "Europe/Tallinn",
    "FIN": "Europe/Helsinki", "GBR": "Europe/London", "GRC": "Europe/Athens", "HRV": "Europe/Zagreb",
    "HUN": "Europe/Budapest", "IRL": "Europe/Dublin", "ISL": "Atlantic/Reykjavik", "ITA": "Europe/Rome",
    "LIE": "Europe/Vaduz", "LTU": "Europe/Vilnius", "LUX": "Europe/Luxembourg", "LVA": "Europe/Riga",
    "NLD": "Europe/Amsterdam", "NOR": "Europe/Oslo", "POL": "Europe/Warsaw", "ROU": "Europe/Bucharest",
    "SVK": "Europe/Bratislava", "SVN": "Europe/Ljubljana", "SWE": "Europe/Stockholm", "JPN": "Asia/Tokyo",
    "SGP": "Asia/Singapore", "KOR": "Asia/Seoul", "IND": "Asia/Kolkata", "ISR": "Asia/Jerusalem",
    "TUR": "Europe/Istanbul", "NZL": "Pacific/Auckland", "ZAF": "Africa/Johannesburg",
}
_ALPHA2 = {"AT": "AUT", "BE": "BEL", "BG": "BGR", "CH": "CHE", "CZ": "CZE", "DE": "DEU", "DK": "DNK",
           "EE": "EST", "FI": "FIN", "GB": "GBR", "GR": "GRC", "HR": "HRV", "HU": "HUN", "IE": "IRL",
           "IS": "ISL", "IT": "ITA", "LI": "LIE", "LT": "LTU", "LU": "LUX", "LV": "LVA", "NL": "NLD",
           "NO": "NOR", "PL": "POL", "RO": "ROU", "SK": "SVK", "SI": "SVN", "SE": "SWE", "JP": "JPN",
           "SG": "SGP", "KR": "KOR", "IN": "IND", "IL": "ISR", "TR": "TUR", "NZ": "NZL", "ZA": "ZAF"}

_CDR_VOLUME_DIMS = {"ENERGY": "energy_kwh", "TIME": "time_h", "PARKING_TIME": "parking_h",
                    "RESERVATION_TIME": "reservation_h"}
_CDR_MEASUREMENTS = {"MIN_CURRENT": "min_current", "MAX_CURRENT": "max_current", "MIN_POWER": "min_power",
                     "MAX_POWER": "max_power"}
# Dimensions a CDR may carry that do not take part in pricing (2.1.1 FLAT, session-only measurands).
_CDR_IGNORED_DIMS = {"FLAT", "CURRENT", "ENERGY_EXPORT", "ENERGY_IMPORT", "POWER", "STATE_OF_CHARGE"}


def country_time_zone(country: str | None) -> str | None:
    """The IANA zone of a country (alpha-2 or alpha-3) that has a single zone, else None."""
    code = (country or "").upper()
    return _SINGLE_ZONE_COUNTRIES.get(_ALPHA2.get(code, code))


class TimezoneUnresolvedError(OcpiFormatError):
    """No IANA time zone for a CDR: none given, none on its location, and its country spans several zones."""


def resolve_timezone(cdr: Mapping[str, Any]) -> str:
    """The IANA zone of a CDR: its location's `time_zone` (2.1.1 `location`, or a `cdr_location` carrying
    one), else its country when that country has a single zone; never a silent UTC fallback."""
    data = snake_keys(cdr)
    for key in ("cdr_location", "location"):
        location = data.get(key)
        if isinstance(location, Mapping):
            if isinstance(location.get("time_zone"), str):
                return location["time_zone"]
            country = location.get("country")
            if isinstance(country, str):
                zone = country_time_zone(country)
                if zone:
                    return zone
                raise TimezoneUnresolvedError(
                    f"$.{key}.country", f"country {country!r} has no single time zone; pass the location's zone")
    raise TimezoneUnresolvedError("$.cdr_location", "no time zone and no country to derive one from")


def parse_cdr(document: Mapping[str, Any], timezone_name: str | None = None) -> Session:
    """An OCPI CDR (2.1.1, 2.2.1 or 2.3.0) as a `Session` to price: its `charging_periods` and times.

    The zone is `timezone_name` when given, else `resolve_timezone(cdr)`. Raises `OcpiFormatError`.
    """
    data = snake_keys(document)
    if not isinstance(data, Mapping):
        raise OcpiFormatError("$", "expected an object")
    zone = timezone_name or resolve_timezone(data)
    for required in ("start_date_time", "end_date_time", "charging_periods"):
        if required not in data:
            raise OcpiFormatError(f"$.{required}", "required")
    start = parse_datetime(data["start_date_time"], "$.start_date_time")
    end = parse_datetime(data["end_date_time"], "$.end_date_time")
    periods_json = data["charging_periods"]
    if not isinstance(periods_json, list):
        raise OcpiFormatError("$.charging_periods", "expected a list")
    periods = []
    for index, period_json in enumerate(periods_json):
        path = f"$.charging_periods[{index}]"
        period = _object(period_json, path, {"start_date_time", "dimensions", "tariff_id"})
        if "start_date_time" not in period:
            raise OcpiFormatError(f"{path}.start_date_time", "required")
        fields: dict[str, Any] = {"start": parse_datetime(period["start_date_time"], f"{path}.start_date_time")}
        dimensions = period.get("dimensions")
        if not isinstance(dimensions, list):
            raise OcpiFormatError(f"{path}.dimensions", "expected a list")
        for d_index, dimension_json in enumerate(dimensions):
            d_path = f"{path}.dimensions[{d_index}]"
            dimension = _object(dimension_json, d_path, {"type", "volume"})
            kind = dimension.get("type")
            volume = _decimal(dimension.get("volume"), f"{d_path}.volume")
            if kind in _CDR_VOLUME_DIMS:
                name = _CDR_VOLUME_DIMS[kind]
                fields[name] = fields.get(name, Decimal(0)) + volume
            elif kind in _CDR_MEASUREMENTS:
                fields[_CDR_MEASUREMENTS[kind]] = volume
            elif kind not in _CDR_IGNORED_DIMS:
                raise OcpiFormatError(f"{d_path}.type", f"unknown dimension type {kind!r}")
        periods.append(SessionPeriod(**fields))
    cdr_id = data.get("id", "")
    party = "-".join(str(data[k]) for k in ("country_code", "party_id") if data.get(k))
    session_id = f"ocpi:{party}:{cdr_id}" if party else f"ocpi:{cdr_id}"
    return Session(id=session_id, start=start, end=end, timezone=zone, periods=tuple(periods))


def cdr_tariff_ids(document: Mapping[str, Any]) -> list[str]:
    """The distinct `tariff_id`s the CDR's charging periods reference, in order of appearance."""
    ids: list[str] = []
    for period in snake_keys(document).get("charging_periods") or []:
        if isinstance(period, Mapping) and period.get("tariff_id") and period["tariff_id"] not in ids:
            ids.append(period["tariff_id"])
    return ids


_CDR_PRICE_TOTALS = ("total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost",
                     "total_reservation_cost")
_CDR_QUANTITY_TOTALS = ("total_energy", "total_time", "total_parking_time")


def _cdr_price(value: Any, path: str) -> Amount:
    """An OCPI price: 2.1.1 number, 2.2.1 `{excl_vat, incl_vat?}` or 2.3.0 `{before_taxes, taxes[]}`."""
    if not isinstance(value, Mapping):
        number = _decimal(value, path)
        return Amount(number, number)
    data = _object(value, path, {"excl_vat", "incl_vat", "before_taxes", "taxes"})
    if "before_taxes" in data:
        before = _decimal(data["before_taxes"], f"{path}.before_taxes")
        taxes = []
        for index, tax in enumerate(data.get("taxes") or []):
            t_path = f"{path}.taxes[{index}]"
            tax_data = _object(tax, t_path, {"name", "account_number", "percentage", "amount"})
            percentage = tax_data.get("percentage")
            taxes.append(TaxAmount(_string(tax_data.get("name"), f"{t_path}.name"),
                                   _decimal(tax_data.get("amount"), f"{t_path}.amount"),
                                   None if percentage is None else _decimal(percentage, f"{t_path}.percentage")))
        return Amount(before, before + sum((t.amount for t in taxes), Decimal(0)), tuple(taxes))
    if "excl_vat" not in data:
        raise OcpiFormatError(f"{path}.excl_vat", "required")
    excl = _decimal(data["excl_vat"], f"{path}.excl_vat")
    incl = data.get("incl_vat")
    return Amount(excl, excl if incl is None else _decimal(incl, f"{path}.incl_vat"))


def cdr_totals(document: Mapping[str, Any]) -> dict[str, Amount | Decimal]:
    """The totals a CDR states (to reconcile against the engine's): prices as `Amount`, quantities as Decimal
    (kWh, hours); fields the CDR omits are absent. Raises `OcpiFormatError` naming the path."""
    data = snake_keys(document)
    totals: dict[str, Amount | Decimal] = {}
    for name in _CDR_PRICE_TOTALS:
        if data.get(name) is not None:
            totals[name] = _cdr_price(data[name], f"$.{name}")
    for name in _CDR_QUANTITY_TOTALS:
        if data.get(name) is not None:
            totals[name] = _decimal(data[name], f"$.{name}")
    return totals
