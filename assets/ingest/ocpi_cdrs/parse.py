"""OCPI CDR parsing: one CDR body (2.1.1, 2.2.1 or 2.3.0, either key casing) → one session-shaped record.

Pure functions; every rejection raises `Rejected` with a stable reason code (the value guards'
codes are tabled in assets/ingest/common/guards.py):

| code | rule |
|---|---|
| NOT_AN_OBJECT | the JSON is not an object |
| MISSING_FIELD | a field the settlement needs is absent (named in the reason) |
| INVALID_VALUE | a field has the wrong JSON type (e.g. `cdr_location` a string) or a number field holds something else |
| INVALID_TIMESTAMP | a DateTime does not parse |
| TIMESTAMP_OUT_OF_RANGE | a DateTime (start, end, last_updated) lies outside the landing day's window |
| END_BEFORE_START | the session ends before it starts |
| NEGATIVE_ENERGY | total_energy is negative |
| NEGATIVE_DURATION | total_time or total_parking_time is negative |
| VALUE_OUT_OF_RANGE | energy beyond 10 MWh, a duration beyond 31 days, an amount beyond DECIMAL(18,4) |
| PRECISION_LOSS | an amount has more than 4 decimals |
| INVALID_CURRENCY | currency is not an ISO 4217 code |
| CURRENCY_MISMATCH | a tariff attached to the CDR is in another currency than the CDR |
| UNKNOWN_TARIFF | a charging period refers to a tariff neither attached nor known |
| NO_TIME_ZONE | neither the location nor the country gives an IANA zone |

Files and duplicates are the framework's (MALFORMED_JSON, NESTING_TOO_DEEP, UNSUPPORTED_FILE,
DUPLICATE_RECORD, CONFLICTING_VERSION; see assets/ingest/ocpi_cdrs/assets.py for the version rule).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from assets.ingest.common import guards
from assets.ingest.common.guards import DEFAULT_WINDOW, TimeWindow
from assets.ocpi_json import snake_keys
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


def _money(value: Any, field: str) -> Decimal:
    result = guards.money(value, field)
    if result is None:
        raise Rejected("MISSING_FIELD", f"field {field} is missing")
    return result


def _price(value: Any, field: str) -> tuple[Decimal | None, Decimal | None]:
    """OCPI 2.1.1 prices are plain numbers (excl. VAT); 2.2.1 `Price{excl_vat, incl_vat}`;
    2.3.0 `Price{before_taxes, taxes[]}`."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        if "before_taxes" in value:
            before = _money(value["before_taxes"], f"{field}.before_taxes")
            taxes = guards.array(value.get("taxes"), f"{field}.taxes")
            amounts = [_money(guards.obj(t, f"{field}.taxes[]").get("amount"), f"{field}.taxes.amount") for t in taxes]
            return before, guards.money(before + sum(amounts, Decimal(0)), f"{field} incl. taxes")
        excl = _money(value.get("excl_vat"), f"{field}.excl_vat")
        return excl, guards.money(value.get("incl_vat"), f"{field}.incl_vat")
    return _money(value, field), None


def token_party(token: Any) -> str | None:
    """The eMSP of an OCPI 2.2+ token as COUNTRY-PARTY (the form operator ids take), or None."""
    if not isinstance(token, dict) or not token.get("country_code") or not token.get("party_id"):
        return None
    return f"{guards.text(token['country_code'], 'cdr_token.country_code')}-{guards.text(token['party_id'], 'cdr_token.party_id')}"


def detect_version(cdr: dict) -> str:
    """2.1.1 CDRs embed the whole `location` and end with `stop_date_time`; 2.2.1+ use `cdr_location`;
    2.3.0 prices are `{before_taxes, taxes}` and its tariffs say `tax_included`."""
    if "cdr_location" not in cdr and "end_date_time" not in cdr:
        return "2.1.1"
    tariffs = cdr.get("tariffs") if isinstance(cdr.get("tariffs"), list) else []
    total = cdr.get("total_cost")
    if any(isinstance(t, dict) and "tax_included" in t for t in tariffs) or (isinstance(total, dict) and "before_taxes" in total):
        return "2.3.0"
    return "2.2.1"


def _first(items: Any, field: str) -> dict:
    """The first element of an array of objects ({} when empty or absent)."""
    values = guards.array(items, field)
    return guards.obj(values[0], f"{field}[0]") if values else {}


def _duration_s(value: Any, field: str) -> int:
    """OCPI durations are hours (decimal) → whole seconds, inside the duration range."""
    return guards.duration_s(guards.number(value, field) * 3600, field)


def parse_cdr(
    body: Any,
    locations: dict[str, LocationInfo],
    known_tariffs: dict[str, str],
    window: TimeWindow = DEFAULT_WINDOW,
) -> dict[str, Any]:
    """Parse one decoded CDR body into a session-shaped record.

    `locations` maps location id → reference info; `known_tariffs` maps tariff id → currency of the
    OCPI tariffs known to the pipeline (landed tariff files); instants must lie in `window`. Raises `Rejected`.
    """
    if not isinstance(body, dict):
        raise Rejected("NOT_AN_OBJECT", f"a CDR must be a JSON object, got {type(body).__name__}")
    cdr = snake_keys(body)
    version = detect_version(cdr)

    cdr_id = guards.text(_require(cdr, "id"), "id")
    country = guards.text(cdr.get("country_code"), "country_code")
    party = guards.text(cdr.get("party_id"), "party_id")
    start = guards.timestamp(_require(cdr, "start_date_time"), "start_date_time", window)
    end_field = "end_date_time" if cdr.get("end_date_time") not in (None, "") else "stop_date_time"
    end = guards.timestamp(_require(cdr, "end_date_time", "stop_date_time"), end_field, window)
    if end < start:
        raise Rejected("END_BEFORE_START", f"end {end.isoformat()} is before start {start.isoformat()}")

    currency = guards.currency(_require(cdr, "currency"))
    energy_wh = guards.energy_wh(guards.number(_require(cdr, "total_energy"), "total_energy") * 1000, "total_energy")
    total_time_s = _duration_s(cdr.get("total_time", 0), "total_time")
    parking_s = _duration_s(cdr.get("total_parking_time") or 0, "total_parking_time")

    cost_excl, cost_incl = _price(_require(cdr, "total_cost"), "total_cost")

    if version == "2.1.1":
        location = guards.obj(_require(cdr, "location"), "location")
        evse = _first(location.get("evses"), "location.evses")
        evse_uid = evse.get("uid")
        connector_id = _first(evse.get("connectors"), "location.evses[0].connectors").get("id")
        auth_id = cdr.get("auth_id")
        emsp_id, customer_id = None, auth_id
    else:
        location = guards.obj(_require(cdr, "cdr_location"), "cdr_location")
        evse_uid = location.get("evse_uid")
        connector_id = location.get("connector_id")
        token = guards.obj(cdr.get("cdr_token"), "cdr_token")
        auth_id = token.get("uid") or cdr.get("auth_id")
        # The token belongs to the eMSP that issued it: that party is who the CPO settles with.
        emsp_id = token_party(token)
        customer_id = token.get("contract_id") or auth_id
    location_id = guards.text(location.get("id"), "location.id") or ""
    # `time_zone` is not in the 2.2.1 cdr_location, but some senders add it
    location_zone = guards.text(location.get("time_zone"), "location.time_zone")
    location_country = guards.text(location.get("country"), "location.country")

    ref = locations.get(location_id)
    zone = resolve_time_zone(ref.time_zone if ref else location_zone, location_country or country)
    if zone is None:
        raise Rejected("NO_TIME_ZONE", f"location {location_id!r} is unknown and country {location_country or country!r} has no single time zone")

    attached: dict[str, Any] = {}
    for tariff in guards.array(cdr.get("tariffs"), "tariffs"):
        if isinstance(tariff, dict) and tariff.get("id") is not None:
            attached[guards.text(tariff["id"], "tariffs[].id")] = tariff.get("currency")
    for tariff_id, tariff_currency in attached.items():
        if tariff_currency and tariff_currency != currency:
            raise Rejected("CURRENCY_MISMATCH", f"tariff {tariff_id} is in {tariff_currency}, the CDR in {currency}")
    periods = guards.array(cdr.get("charging_periods"), "charging_periods")
    period_tariffs = sorted({guards.text(p["tariff_id"], "charging_periods[].tariff_id")
                             for p in periods if isinstance(p, dict) and p.get("tariff_id")})
    for tariff_id in period_tariffs:
        if tariff_id not in attached and tariff_id not in known_tariffs:
            raise Rejected("UNKNOWN_TARIFF", f"charging period refers to tariff {tariff_id!r}, which is neither attached nor known")
        known_currency = attached.get(tariff_id) or known_tariffs.get(tariff_id)
        if known_currency and known_currency != currency:
            raise Rejected("CURRENCY_MISMATCH", f"tariff {tariff_id} is in {known_currency}, the CDR in {currency}")

    last_updated = guards.optional_timestamp(cdr.get("last_updated"), "last_updated", window) or end
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
        "session_ref": guards.text(cdr.get("session_id"), "session_id"),
        "ocpi_version": version,
        "operator_id": operator_id,
        "location_id": location_id or None,
        "evse_uid": guards.text(evse_uid, "evse_uid"),
        "connector_id": guards.text(connector_id, "connector_id"),
        "auth_id": guards.text(auth_id, "auth_id"),
        "auth_method": guards.text(cdr.get("auth_method"), "auth_method"),
        "emsp_id": emsp_id,
        "customer_id": guards.text(customer_id, "contract_id"),
        "start_utc": start,
        "end_utc": end,
        "time_zone": zone,
        "settlement_date": settlement_date,
        "energy_wh": float(energy_wh),
        "total_time_s": total_time_s,
        "parking_time_s": parking_s,
        "currency": currency,
        "tariff_ids": sorted(set(attached) | set(period_tariffs)),
        "reported_cost_excl_vat": cost_excl,
        "reported_cost_incl_vat": cost_incl,
        **{f"reported_{part}_cost": _price(cdr[f"total_{part}_cost"], f"total_{part}_cost")[0]
           for part in ("energy", "time", "parking", "fixed") if cdr.get(f"total_{part}_cost") is not None},
        "is_credit": cdr.get("credit") is True,
        "credit_reference_id": guards.text(cdr.get("credit_reference_id"), "credit_reference_id"),
        "last_updated": last_updated,
    }
