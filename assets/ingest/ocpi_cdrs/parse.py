"""OCPI CDR parsing: one CDR body (2.1.1, 2.2.1 or 2.3.0, either key casing) → one session-shaped record.

Pure functions; every rejection raises `Rejected` with a stable reason code:

| code | rule |
|---|---|
| MALFORMED_JSON | the line or file is not JSON |
| NOT_AN_OBJECT | the JSON is not an object |
| MISSING_FIELD | a field the settlement needs is absent (named in the reason) |
| INVALID_TIMESTAMP | a DateTime does not parse |
| END_BEFORE_START | the session ends before it starts |
| INVALID_VALUE | a number field holds something else |
| NEGATIVE_ENERGY | total_energy is negative |
| NEGATIVE_DURATION | total_time or total_parking_time is negative |
| INVALID_CURRENCY | currency is not a three-letter ISO 4217 code |
| CURRENCY_MISMATCH | a tariff attached to the CDR is in another currency than the CDR |
| UNKNOWN_TARIFF | a charging period refers to a tariff neither attached nor known |
| NO_TIME_ZONE | neither the location nor the country gives an IANA zone |
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from assets.ocpi_json import decimal_of, parse_utc, snake_keys
from assets.quarantine import Rejected
from assets.reference.timezones import resolve_time_zone


@dataclass(frozen=True)
class LocationInfo:
    """What the CDR parser needs to know of a location from the reference data."""

    time_zone: str | None
    operator_id: str | None


def _require(obj: dict, *names: str) -> Any:
    for name in names:
        if obj.get(name) not in (None, ""):
            return obj[name]
    raise Rejected("MISSING_FIELD", f"field {' or '.join(names)} is missing")


def _timestamp(obj: dict, *names: str) -> dt.datetime:
    raw = _require(obj, *names)
    try:
        return parse_utc(raw)
    except ValueError as exc:
        raise Rejected("INVALID_TIMESTAMP", f"{names[0]} {raw!r} is not an OCPI DateTime") from exc


def _number(value: Any, field: str) -> Decimal:
    try:
        return decimal_of(value)
    except ValueError as exc:
        raise Rejected("MISSING_FIELD" if value is None else "INVALID_VALUE", f"{field} {value!r} is not a number") from exc


def _price(value: Any, field: str) -> tuple[Decimal | None, Decimal | None]:
    """OCPI 2.1.1 prices are plain numbers (excl. VAT); 2.2.1 `Price{excl_vat, incl_vat}`;
    2.3.0 `Price{before_taxes, taxes[]}`."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        if "before_taxes" in value:
            before = _number(value["before_taxes"], f"{field}.before_taxes")
            taxes = sum((_number(t.get("amount"), f"{field}.taxes.amount") for t in value.get("taxes") or []), Decimal(0))
            return before, before + taxes
        excl = _number(value.get("excl_vat"), f"{field}.excl_vat")
        incl = _number(value["incl_vat"], f"{field}.incl_vat") if value.get("incl_vat") is not None else None
        return excl, incl
    return _number(value, field), None


def token_party(token: Any) -> str | None:
    """The eMSP of an OCPI 2.2+ token as COUNTRY-PARTY (the form operator ids take), or None."""
    if not isinstance(token, dict) or not token.get("country_code") or not token.get("party_id"):
        return None
    return f"{token['country_code']}-{token['party_id']}"


def detect_version(cdr: dict) -> str:
    """2.1.1 CDRs embed the whole `location` and end with `stop_date_time`; 2.2.1+ use `cdr_location`."""
    if "cdr_location" in cdr or "end_date_time" in cdr:
        return "2.3.0" if "tax_included" in json.dumps(cdr.get("tariffs") or []) or "before_taxes" in json.dumps(cdr.get("total_cost")) else "2.2.1"
    return "2.1.1"


def parse_cdr(
    raw_text: str,
    locations: dict[str, LocationInfo],
    known_tariffs: dict[str, str],
) -> dict[str, Any]:
    """Parse one CDR body into a session-shaped record.

    `locations` maps location id → reference info; `known_tariffs` maps tariff id → currency of the
    OCPI tariffs known to the pipeline (landed tariff files). Raises `Rejected`.
    """
    try:
        body = json.loads(raw_text)
    except json.JSONDecodeError as exc:
        raise Rejected("MALFORMED_JSON", f"not JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(body, dict):
        raise Rejected("NOT_AN_OBJECT", f"a CDR must be a JSON object, got {type(body).__name__}")
    cdr = snake_keys(body)
    version = detect_version(cdr)

    cdr_id = str(_require(cdr, "id"))
    country = cdr.get("country_code")
    party = cdr.get("party_id")
    start = _timestamp(cdr, "start_date_time")
    end = _timestamp(cdr, "end_date_time", "stop_date_time")
    if end < start:
        raise Rejected("END_BEFORE_START", f"end {end.isoformat()} is before start {start.isoformat()}")

    currency = str(_require(cdr, "currency"))
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise Rejected("INVALID_CURRENCY", f"currency {currency!r} is not an ISO 4217 code")

    energy_kwh = _number(_require(cdr, "total_energy"), "total_energy")
    if energy_kwh < 0:
        raise Rejected("NEGATIVE_ENERGY", f"total_energy {energy_kwh} kWh is negative")
    total_time_h = _number(cdr.get("total_time", 0), "total_time")
    parking_h = _number(cdr.get("total_parking_time") or 0, "total_parking_time")
    if total_time_h < 0 or parking_h < 0:
        raise Rejected("NEGATIVE_DURATION", f"total_time {total_time_h} h or total_parking_time {parking_h} h is negative")

    cost_excl, cost_incl = _price(_require(cdr, "total_cost"), "total_cost")

    if version == "2.1.1":
        location = _require(cdr, "location")
        location_id = str(location.get("id") or "")
        location_zone = location.get("time_zone")
        location_country = location.get("country")
        evse = (location.get("evses") or [{}])[0]
        evse_uid = evse.get("uid")
        connector_id = ((evse.get("connectors") or [{}])[0]).get("id")
        auth_id = cdr.get("auth_id")
        auth_method = cdr.get("auth_method")
        emsp_id, customer_id = None, auth_id
    else:
        location = _require(cdr, "cdr_location")
        location_id = str(location.get("id") or "")
        location_zone = location.get("time_zone")  # not in the spec, but some senders add it
        location_country = location.get("country")
        evse_uid = location.get("evse_uid")
        connector_id = location.get("connector_id")
        token = cdr.get("cdr_token") or {}
        auth_id = token.get("uid") or cdr.get("auth_id")
        auth_method = cdr.get("auth_method")
        # The token belongs to the eMSP that issued it: that party is who the CPO settles with.
        emsp_id = token_party(token)
        customer_id = token.get("contract_id") or auth_id

    ref = locations.get(location_id)
    zone = resolve_time_zone(ref.time_zone if ref else location_zone, location_country or country)
    if zone is None:
        raise Rejected("NO_TIME_ZONE", f"location {location_id!r} is unknown and country {location_country or country!r} has no single time zone")

    tariffs = cdr.get("tariffs") or []
    attached = {}
    for tariff in tariffs:
        if isinstance(tariff, dict) and tariff.get("id") is not None:
            attached[str(tariff["id"])] = tariff.get("currency")
    for tariff_id, tariff_currency in attached.items():
        if tariff_currency and tariff_currency != currency:
            raise Rejected("CURRENCY_MISMATCH", f"tariff {tariff_id} is in {tariff_currency}, the CDR in {currency}")
    period_tariffs = sorted({str(p["tariff_id"]) for p in cdr.get("charging_periods") or [] if isinstance(p, dict) and p.get("tariff_id")})
    for tariff_id in period_tariffs:
        if tariff_id not in attached and tariff_id not in known_tariffs:
            raise Rejected("UNKNOWN_TARIFF", f"charging period refers to tariff {tariff_id!r}, which is neither attached nor known")
        known_currency = attached.get(tariff_id) or known_tariffs.get(tariff_id)
        if known_currency and known_currency != currency:
            raise Rejected("CURRENCY_MISMATCH", f"tariff {tariff_id} is in {known_currency}, the CDR in {currency}")

    last_updated_raw = cdr.get("last_updated")
    last_updated = parse_utc(last_updated_raw) if last_updated_raw else end
    settlement_date = end.astimezone(ZoneInfo(zone)).date()
    # 2.1.1 CDRs name no party: fall back to the location's operator, then to the location's country.
    if country and party:
        party_ref = f"{country}-{party}"
    else:
        party_ref = (ref.operator_id if ref and ref.operator_id else None) or location_country or "unknown"
    operator_id = (ref.operator_id if ref and ref.operator_id else None) or party_ref

    return {
        "session_id": f"ocpi:{party_ref}:{cdr_id}",
        "source": "ocpi_cdr",
        "source_id": cdr_id,
        "session_ref": str(cdr["session_id"]) if cdr.get("session_id") is not None else None,
        "ocpi_version": version,
        "operator_id": operator_id,
        "location_id": location_id or None,
        "evse_uid": str(evse_uid) if evse_uid is not None else None,
        "connector_id": str(connector_id) if connector_id is not None else None,
        "auth_id": str(auth_id) if auth_id is not None else None,
        "auth_method": auth_method,
        "emsp_id": emsp_id,
        "customer_id": str(customer_id) if customer_id is not None else None,
        "start_utc": start,
        "end_utc": end,
        "time_zone": zone,
        "settlement_date": settlement_date,
        "energy_wh": float(energy_kwh * 1000),
        "total_time_s": int((total_time_h * 3600).to_integral_value()),
        "parking_time_s": int((parking_h * 3600).to_integral_value()),
        "currency": currency,
        "tariff_ids": sorted(set(attached) | set(period_tariffs)),
        "reported_cost_excl_vat": cost_excl,
        "reported_cost_incl_vat": cost_incl,
        **{f"reported_{part}_cost": _price(cdr[f"total_{part}_cost"], f"total_{part}_cost")[0]
           for part in ("energy", "time", "parking", "fixed") if cdr.get(f"total_{part}_cost") is not None},
        "is_credit": bool(cdr.get("credit", False)),
        "credit_reference_id": cdr.get("credit_reference_id"),
        "last_updated": last_updated,
    }
