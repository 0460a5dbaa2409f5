"""Parsing platform API records (seed 001) into table rows. Pure functions; rejections raise `Rejected`.

| code | rule |
|---|---|
| NOT_AN_OBJECT | the record is not a JSON object |
| MISSING_FIELD | a field the pipeline needs is absent (named in the reason) |
| INVALID_TIMESTAMP | a date-time does not parse |
| INVALID_VALUE | a number field holds something else |
| END_BEFORE_START | the session or CDR ends before it starts |
| NEGATIVE_ENERGY | energy is negative |
| NEGATIVE_DURATION | a duration is negative |
| INVALID_CURRENCY | currency is not a three-letter ISO 4217 code |
| UNSUPPORTED_PROTOCOL | a CDR is neither OCPI 2.1.1/2.2 nor OICP (Hubject) |
| PRECISION_LOSS | an amount has more decimals than its DECIMAL column keeps (never truncated silently) |
| NO_TIME_ZONE | no IANA zone from the reference location, the CDR location, the operator or the country |

Units (digest §1.5): CDR energy is kWh and times are hours → Wh and seconds here; session energy is Wh.
Money stays Decimal from the JSON text; CDR totals are excl. VAT; session totals have both.
Credit CDRs (`credit: true`) are reversals: senders disagree on the sign of their amounts, so they are
stored negative (-|amount|) whatever sign was sent.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from assets.ingest.ocpi_cdrs.parse import LocationInfo, Rejected, token_party
from assets.ocpi_json import decimal_of, parse_utc
from assets.ocpi_json import snake_keys as _snake_one
from assets.reference.external_ids import EvseSite
from assets.reference.timezones import resolve_time_zone

OCPI_VERSIONS = ("2.1.1", "2.2")
OICP_VERSIONS = ("2.2", "2.3")


_SNAKE: dict[str, str] = {}


def snake_keys(value: Any) -> Any:
    """`assets.ocpi_json.snake_keys` with the key conversions memoised (CDR pages repeat the same keys)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str):
                converted = _SNAKE.get(key)
                if converted is None:
                    converted = _SNAKE.setdefault(key, next(iter(_snake_one({key: None}))))
                key = converted
            out[key] = snake_keys(item)
        return out
    if isinstance(value, list):
        return [snake_keys(item) for item in value]
    return value


def require(obj: dict, *path: str) -> Any:
    """The value at `path` (nested keys), or MISSING_FIELD."""
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
        if value in (None, ""):
            raise Rejected("MISSING_FIELD", f"field {'.'.join(path)} is missing")
    return value


def timestamp(value: Any, name: str) -> dt.datetime:
    """A date-time field as aware UTC, or INVALID_TIMESTAMP."""
    try:
        return parse_utc(value)
    except (ValueError, TypeError) as exc:
        raise Rejected("INVALID_TIMESTAMP", f"{name} {value!r} is not an ISO 8601 date-time") from exc


def optional_timestamp(value: Any, name: str) -> dt.datetime | None:
    """Like `timestamp`, but None/"" stays None."""
    return None if value in (None, "") else timestamp(value, name)


def number(value: Any, name: str) -> Decimal:
    """A JSON number as exact Decimal, or INVALID_VALUE."""
    try:
        return decimal_of(value)
    except ValueError as exc:
        raise Rejected("INVALID_VALUE", f"{name} {value!r} is not a number") from exc


def optional_number(value: Any, name: str, scale: int | None = None) -> Decimal | None:
    """Like `number`, but None stays None; with `scale`, more decimals than the column keeps is PRECISION_LOSS."""
    if value is None:
        return None
    result = number(value, name)
    if scale is not None and result.as_tuple().exponent < -scale:
        # the warehouse column would silently truncate: refuse instead of losing money
        raise Rejected("PRECISION_LOSS", f"{name} {value!r} has more than {scale} decimal places")
    return result


def money(value: Any, name: str) -> Decimal | None:
    """An amount for a DECIMAL(18,4) column (None stays None)."""
    return optional_number(value, name, scale=4)


def unit_value(value: Any, name: str) -> Decimal | None:
    """A unit price or quantity for a DECIMAL(18,6) column (None stays None)."""
    return optional_number(value, name, scale=6)


def currency_code(value: Any) -> str:
    """An ISO 4217 code, or INVALID_CURRENCY."""
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha() or not value.isupper():
        raise Rejected("INVALID_CURRENCY", f"currency {value!r} is not an ISO 4217 code")
    return value


def settlement_date(end: dt.datetime | None, zone: str) -> dt.date | None:
    """Local date of the end in the zone (None while the session runs)."""
    return end.astimezone(ZoneInfo(zone)).date() if end else None


def _seconds(hours: Decimal) -> int:
    return int((hours * 3600).to_integral_value())


def _reversal(amount: Decimal | None, credit: bool) -> Decimal | None:
    return None if amount is None else (-abs(amount) if credit else amount)


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, str)) and str(value).lstrip("-").isdigit() else None


def parse_cdr(cdr: Any, locations: dict[str, LocationInfo], operator_zones: dict[str, str]) -> dict[str, Any]:
    """One `cdrs/v2.0` item → a `platform_cdrs` row (without landing columns)."""
    if not isinstance(cdr, dict):
        raise Rejected("NOT_AN_OBJECT", "a CDR must be a JSON object")
    cdr_id = require(cdr, "id")
    if not isinstance(cdr_id, int):
        raise Rejected("INVALID_VALUE", f"id {cdr_id!r} is not an integer")
    start = timestamp(require(cdr, "startTime"), "startTime")
    end = timestamp(require(cdr, "endTime"), "endTime")
    if end < start:
        raise Rejected("END_BEFORE_START", f"endTime {end.isoformat()} is before startTime {start.isoformat()}")
    credit = bool(cdr.get("credit"))
    protocol = require(cdr, "protocolType")
    operator_id = str(require(cdr, "operatorId"))
    row: dict[str, Any] = {
        "session_id": f"cpms:cdr:{cdr_id}", "source": "cpms_cdr", "source_id": str(cdr_id), "cdr_id": cdr_id,
        "operator_id": operator_id, "start_utc": start, "end_utc": end, "is_credit": credit,
        "credit_reference_id": None, "is_local": bool(cdr.get("isLocal")), "protocol": protocol,
        "platform_session_id": cdr.get("sessionId"), "roaming_id": cdr.get("roamingId"),
        # The CPO's session reference shared with the session listing and the OCPI CDR (`session_id`).
        "session_ref": str(cdr["sessionId"]) if cdr.get("sessionId") is not None else None,
        "roaming_session_id": cdr.get("roamingSessionId"),
        "received_at": timestamp(require(cdr, "receivedAt"), "receivedAt"),
        "sent_at": optional_timestamp(cdr.get("sentAt"), "sentAt"), "delivery_response": cdr.get("deliveryResponse"),
        "last_updated": optional_timestamp(cdr.get("lastUpdatedAt"), "lastUpdatedAt")
        or timestamp(cdr["receivedAt"], "receivedAt"),
    }
    if protocol == "OCPI" and isinstance(cdr.get("ocpiData"), dict):
        row.update(_ocpi_part(snake_keys(cdr["ocpiData"]), credit))
        location_id, location_zone, country = row.pop("_location_id"), row.pop("_zone"), row.pop("_country")
    elif protocol == "Hubject" and isinstance(cdr.get("oicpData"), dict):
        row.update(_oicp_part(cdr["oicpData"], start, end))
        location_id, location_zone, country = None, None, row.pop("_country")
    else:
        raise Rejected("UNSUPPORTED_PROTOCOL", f"protocolType {protocol!r} without matching ocpiData/oicpData")
    row["location_id"] = location_id
    reference = locations.get(location_id or "")
    zone = resolve_time_zone(reference.time_zone if reference else location_zone, None) \
        or operator_zones.get(operator_id) or resolve_time_zone(None, country)
    if zone is None:
        raise Rejected("NO_TIME_ZONE", f"no time zone for location {location_id!r}, operator {operator_id!r} or country {country!r}")
    row["time_zone"] = zone
    row["settlement_date"] = settlement_date(end, zone)
    if reference and reference.operator_id:
        # Our operator id (e.g. NL-GRX) rather than the platform's numeric operatorId, as for sessions.
        row["operator_id"] = reference.operator_id
    return row


def _ocpi_part(ocpi: dict, credit: bool) -> dict[str, Any]:
    version = str(require(ocpi, "version"))
    if version not in OCPI_VERSIONS:
        raise Rejected("UNSUPPORTED_PROTOCOL", f"OCPI version {version!r} is not 2.1.1 or 2.2")
    currency = currency_code(require(ocpi, "currency"))
    energy_kwh = number(require(ocpi, "total_energy"), "totalEnergy")
    if energy_kwh < 0:
        raise Rejected("NEGATIVE_ENERGY", f"totalEnergy {energy_kwh} kWh is negative")
    total_h = number(ocpi.get("total_time", 0), "totalTime")
    parking_h = number(ocpi.get("total_parking_time") or 0, "totalParkingTime")
    if total_h < 0 or parking_h < 0:
        raise Rejected("NEGATIVE_DURATION", f"totalTime {total_h} h or totalParkingTime {parking_h} h is negative")
    total = money(require(ocpi, "total_cost"), "totalCost")
    location = ocpi.get("cdr_location") or {}
    if version == "2.1.1":
        evse = (location.get("evses") or [{}])[0]
        evse_uid, evse_id = evse.get("uid"), evse.get("evse_id")
        connector_id = ((evse.get("connectors") or [{}])[0]).get("id")
    else:
        evse_uid, evse_id, connector_id = location.get("evse_uid"), location.get("evse_id"), location.get("connector_id")
    token = ocpi.get("cdr_token") or {}
    periods = ocpi.get("charging_periods") or []
    tariff_ids = sorted({str(p["tariff_id"]) for p in periods if isinstance(p, dict) and p.get("tariff_id")})
    return {
        "protocol_version": version, "currency": currency, "energy_wh": float(energy_kwh * 1000),
        "total_time_s": _seconds(total_h), "parking_time_s": _seconds(parking_h), "tariff_ids": tariff_ids,
        "reported_cost_excl_vat": _reversal(total, credit), "reported_cost_incl_vat": None,
        "reported_fixed_cost": _reversal(money(ocpi.get("total_fixed_cost"), "totalFixedCost"), credit),
        "reported_energy_cost": _reversal(money(ocpi.get("total_energy_cost"), "totalEnergyCost"), credit),
        "reported_time_cost": _reversal(money(ocpi.get("total_time_cost"), "totalTimeCost"), credit),
        "reported_parking_cost": _reversal(money(ocpi.get("total_parking_cost"), "totalParkingCost"), credit),
        "evse_uid": None if evse_uid is None else str(evse_uid), "evse_id": evse_id,
        "connector_id": None if connector_id is None else str(connector_id),
        "auth_id": token.get("uid"), "auth_method": ocpi.get("auth_method"), "contract_id": token.get("contract_id"),
        "emsp_id": token_party(token), "customer_id": token.get("contract_id") or token.get("uid"),
        "credit_reference_id": ocpi.get("credit_reference_id"),
        "invoice_reference_id": ocpi.get("invoice_reference_id"),
        "charging_periods_json": json.dumps(periods, sort_keys=True, separators=(",", ":")),
        "_location_id": None if location.get("id") is None else str(location["id"]),
        "_zone": location.get("time_zone"), "_country": location.get("country"),
    }


def _oicp_part(oicp: dict, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    version = str(require(oicp, "version"))
    if version not in OICP_VERSIONS:
        raise Rejected("UNSUPPORTED_PROTOCOL", f"OICP version {version!r} is not 2.2 or 2.3")
    evse_id = str(require(oicp, "evseId"))
    require(oicp, "identification")
    consumed = oicp.get("consumedEnergy")
    if consumed is None and oicp.get("meterValueEnd") is not None and oicp.get("meterValueStart") is not None:
        consumed_kwh = number(oicp["meterValueEnd"], "meterValueEnd") - number(oicp["meterValueStart"], "meterValueStart")
    else:
        consumed_kwh = number(require(oicp, "consumedEnergy"), "consumedEnergy")
    if consumed_kwh < 0:
        raise Rejected("NEGATIVE_ENERGY", f"consumedEnergy {consumed_kwh} kWh is negative")
    identification = oicp["identification"]
    contract = None
    for kind in identification.values() if isinstance(identification, dict) else []:
        if isinstance(kind, dict):
            contract = kind.get("evcoId") or kind.get("EvcoID") or kind.get("uid") or contract
    charging_end = optional_timestamp(oicp.get("chargingEnd"), "chargingEnd")
    parking_s = max(0, int((end - charging_end).total_seconds())) if charging_end else 0
    return {
        "protocol_version": f"OICP {version}", "currency": None, "energy_wh": float(consumed_kwh * 1000),
        "total_time_s": int((end - start).total_seconds()), "parking_time_s": parking_s, "tariff_ids": [],
        "reported_cost_excl_vat": None, "reported_cost_incl_vat": None, "reported_fixed_cost": None,
        "reported_energy_cost": None, "reported_time_cost": None, "reported_parking_cost": None,
        "emsp_id": None, "customer_id": contract,
        "evse_uid": evse_id, "evse_id": evse_id, "connector_id": None, "auth_id": contract,
        "auth_method": next(iter(identification), None) if isinstance(identification, dict) else None,
        "contract_id": contract, "invoice_reference_id": None, "charging_periods_json": "[]",
        # an eMI3 EVSE id starts with the country code ("DE*HUB*E300")
        "_country": evse_id.split("*")[0] if "*" in evse_id else None,
    }


def _money_pair(obj: Any, name: str, scale_fn=money) -> tuple[Decimal | None, Decimal | None]:
    """(withTax, withoutTax) of a `{withTax, withoutTax}` amount."""
    if obj is None:
        return None, None
    if not isinstance(obj, dict):
        raise Rejected("INVALID_VALUE", f"{name} is not a {{withTax, withoutTax}} object")
    return scale_fn(obj.get("withTax"), f"{name}.withTax"), scale_fn(obj.get("withoutTax"), f"{name}.withoutTax")


def parse_session(session: Any, operator_zones: dict[str, str],
                  evse_sites: dict[str, EvseSite] | None = None) -> tuple[dict[str, Any], list[dict], list[dict]]:
    """One `sessions/v1.0` item → (platform_sessions row, charging period rows, price line rows).

    The zone comes from the EVSE's reference location (`evse_sites`, keyed by platform EVSE id), else
    from the platform operator's entry in the operators table; the operator id is the reference
    operator when the EVSE is known, else the platform's `operatorId`.
    """
    if not isinstance(session, dict):
        raise Rejected("NOT_AN_OBJECT", "a session must be a JSON object")
    platform_id = str(require(session, "id"))
    operator_id = str(require(session, "operatorId"))
    start = timestamp(require(session, "startedAt"), "startedAt")
    end = optional_timestamp(session.get("stoppedAt"), "stoppedAt")
    if end is not None and end < start:
        raise Rejected("END_BEFORE_START", f"stoppedAt {end.isoformat()} is before startedAt {start.isoformat()}")
    consumption = session.get("energyConsumption") or {}
    energy = consumption.get("total", session.get("energy"))
    if energy is None:
        raise Rejected("MISSING_FIELD", "field energyConsumption.total (or energy) is missing")
    energy_wh = number(energy, "energyConsumption.total")
    if energy_wh < 0:
        raise Rejected("NEGATIVE_ENERGY", f"energy {energy_wh} Wh is negative")
    currency = currency_code(session["currency"]) if session.get("currency") is not None else None
    gross, net = _money_pair(session.get("totalAmount"), "totalAmount")
    if (gross is not None or net is not None) and currency is None:
        raise Rejected("MISSING_FIELD", "field currency is missing while totalAmount is given")
    last_updated = timestamp(require(session, "lastUpdatedAt"), "lastUpdatedAt")
    site = (evse_sites or {}).get(str(session.get("evseId")))
    zone = resolve_time_zone(site.time_zone, None) if site else None
    if site and site.operator_id:
        operator_id = site.operator_id
    zone = zone or operator_zones.get(operator_id)
    if zone is None:
        raise Rejected("NO_TIME_ZONE", f"EVSE {session.get('evseId')!r} is in no reference location and operator "
                                       f"{operator_id!r} has no time zone")
    session_id = f"cpms:{platform_id}"
    authorization = session.get("authorization") or {}
    roaming = session.get("roaming") or {}
    periods, lines = [], []
    charging_s = 0
    for position, period in enumerate(session.get("chargingPeriods") or []):
        if not isinstance(period, dict):
            raise Rejected("INVALID_VALUE", f"chargingPeriods[{position}] is not an object")
        p_start = timestamp(require(period, "startedAt"), f"chargingPeriods[{position}].startedAt")
        p_end = optional_timestamp(period.get("stoppedAt"), f"chargingPeriods[{position}].stoppedAt")
        p_gross, p_net = _money_pair(period.get("totalAmount"), f"chargingPeriods[{position}].totalAmount")
        p_energy = period.get("energyPrecise", period.get("energy"))
        state = period.get("chargingState") or str(period.get("state", "")).split("@")[0] or None
        if state == "charging" and p_end is not None:
            charging_s += int((p_end - p_start).total_seconds())
        periods.append({
            "session_id": session_id, "last_updated": last_updated, "period_id": _int_or_none(period.get("id")),
            "started_at": p_start, "stopped_at": p_end,
            "energy_wh": None if p_energy is None else float(number(p_energy, f"chargingPeriods[{position}].energy")),
            "charging_state": state, "state": period.get("state"),
            "grace_time_end_at": optional_timestamp(period.get("graceTimeEndAt"), "graceTimeEndAt"),
            "total_incl_vat": p_gross, "total_excl_vat": p_net, "currency": currency,
        })
        lines += _price_lines(period.get("priceBreakdown") or [], session_id, last_updated, "period",
                              _int_or_none(period.get("id")))
    lines += _price_lines(session.get("priceBreakdown") or [], session_id, last_updated, "session", None)
    tax = (session.get("tax") or {}).get("taxPercentage")
    power = session.get("power") or {}
    total_s = int((end - start).total_seconds()) if end else 0
    row = {
        "session_id": session_id, "source": "cpms_session", "source_id": platform_id, "session_ref": platform_id,
        "platform_session_id": platform_id, "operator_id": operator_id,
        "location_id": site.location_id if site else None,
        # Our EVSE uid when the reference maps the platform EVSE; else the platform's own id (also in evse_id).
        "evse_uid": (site.evse_uid if site and site.evse_uid else
                     None if session.get("evseId") is None else str(session["evseId"])),
        "connector_id": None if session.get("connectorId") is None else str(session["connectorId"]),
        "auth_id": session.get("idTag"), "auth_method": authorization.get("method") or session.get("idTagType"),
        "start_utc": start, "end_utc": end, "time_zone": zone, "settlement_date": settlement_date(end, zone),
        "energy_wh": float(energy_wh), "total_time_s": total_s,
        "parking_time_s": max(0, total_s - charging_s) if periods and end else 0, "currency": currency,
        "tariff_ids": [str(session["tariffSnapshotId"])] if session.get("tariffSnapshotId") is not None else [],
        "reported_cost_excl_vat": net, "reported_cost_incl_vat": gross, "is_credit": False,
        "credit_reference_id": None, "last_updated": last_updated, "status": require(session, "status"),
        "reason": session.get("reason"), "charge_point_id": _int_or_none(session.get("chargePointId")),
        "evse_id": _int_or_none(session.get("evseId")), "user_id": _int_or_none(session.get("userId")),
        "customer_id": (f"user:{session['userId']}" if session.get("userId") is not None
                        else None if session.get("idTag") is None else str(session["idTag"])),
        "grid_wh": None if consumption.get("grid") is None else float(number(consumption["grid"], "energyConsumption.grid")),
        "local_wh": None if consumption.get("local") is None else float(number(consumption["local"], "energyConsumption.local")),
        "non_billable_wh": None if session.get("nonBillableEnergy") is None else float(number(session["nonBillableEnergy"], "nonBillableEnergy")),
        "tax_percentage": optional_number(tax, "tax.taxPercentage", scale=4), "payment_status": session.get("paymentStatus"),
        "billing_status": session.get("billingStatus"),
        "billing_completed_at": optional_timestamp(session.get("billingCompletedAt"), "billingCompletedAt"),
        "tariff_snapshot_id": _int_or_none(session.get("tariffSnapshotId")),
        "electricity_cost": money(session.get("electricityCost"), "electricityCost"),
        "evse_physical_reference": session.get("evsePhysicalReference"),
        "emsp_id": session.get("chargePointOperatorRoamingId") or (authorization.get("roaming") or {}).get("client")
        or roaming.get("roamingOperatorCpoId"),
        "power_peak_w": None if power.get("peak") is None else float(power["peak"]),
        "power_average_w": None if power.get("average") is None else float(power["average"]),
    }
    return row, periods, lines


def _price_lines(items: list, session_id: str, last_updated: dt.datetime, scope: str, period_id: int | None) -> list[dict]:
    lines = []
    for line_no, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise Rejected("INVALID_VALUE", f"{scope} priceBreakdown[{line_no - 1}] is not an object")
        unit_gross, unit_net = _money_pair(item.get("pricePerUnit"), "pricePerUnit", unit_value)
        gross, net = _money_pair(item.get("price"), "price")
        lines.append({
            "session_id": session_id, "last_updated": last_updated, "scope": scope, "period_id": period_id,
            "line_no": line_no, "type": require(item, "type"), "unit": item.get("unit"),
            "currency": currency_code(require(item, "currency")), "unit_price_incl_vat": unit_gross,
            "unit_price_excl_vat": unit_net, "quantity": unit_value(require(item, "quantity"), "quantity"),
            "price_incl_vat": gross, "price_excl_vat": net,
            "tax_percentage": optional_number(item.get("taxPercentage"), "taxPercentage", scale=4),
        })
    return lines


def parse_consumption_point(point: Any, session_ref: str, point_no: int) -> dict[str, Any]:
    """One consumption-stats item (cumulative Wh, W, timestamp) → a `consumption_stats` row."""
    if not isinstance(point, dict):
        raise Rejected("NOT_AN_OBJECT", "a consumption point must be a JSON object")
    energy = optional_number(point.get("energy"), "energy")
    if energy is not None and energy < 0:
        raise Rejected("NEGATIVE_ENERGY", f"cumulative energy {energy} Wh is negative")
    power = optional_number(point.get("power"), "power")
    return {"session_id": f"cpms:{session_ref}", "point_no": point_no,
            "timestamp": timestamp(require(point, "timestamp"), "timestamp"),
            "energy_wh": None if energy is None else float(energy), "power_w": None if power is None else float(power)}


def parse_tariff(tariff: Any, kind: str) -> dict[str, Any]:
    """One tariff (listing item) or tariff snapshot → a `platform_tariffs` row."""
    if not isinstance(tariff, dict):
        raise Rejected("NOT_AN_OBJECT", "a tariff must be a JSON object")
    tariff_id = require(tariff, "id")
    if kind == "snapshot":
        snapshot_id, tariff_id = tariff_id, require(tariff, "tariffId")
    else:
        snapshot_id = None
    currency = tariff.get("currency")
    return {
        "kind": kind, "tariff_id": int(tariff_id), "snapshot_id": None if snapshot_id is None else int(snapshot_id),
        "operator_id": None if tariff.get("operatorId") is None else str(tariff["operatorId"]),
        "name": tariff.get("name"), "type": require(tariff, "type"),
        "currency": None if currency is None else currency_code(currency),
        "last_updated": optional_timestamp(tariff.get("lastUpdatedAt"), "lastUpdatedAt"),
        "pricing_json": json.dumps(tariff.get("pricing") or {}, sort_keys=True),
        "restrictions_json": json.dumps(tariff.get("restrictions") or {}, sort_keys=True),
    }


def parse_rate(rate: Any) -> dict[str, Any]:
    """One electricity rate (v2.0) → an `electricity_rates` row."""
    if not isinstance(rate, dict):
        raise Rejected("NOT_AN_OBJECT", "an electricity rate must be a JSON object")
    return {
        "rate_id": int(require(rate, "id")),
        "operator_id": None if rate.get("operatorId") is None else str(rate["operatorId"]),
        "name": require(rate, "name"), "type": rate.get("type"), "utility_id": _int_or_none(rate.get("utilityId")),
        "default_price": unit_value(require(rate, "defaultPrice"), "defaultPrice"),
        "tax_percentage": optional_number(rate.get("taxPercentage"), "taxPercentage", scale=4),
    }


def parse_price_period_group(group: Any, rate_id: int) -> list[dict[str, Any]]:
    """One `price-periods` item (`{weekDay|date, periods[]}`) → `electricity_rate_periods` rows."""
    if not isinstance(group, dict) or not isinstance(group.get("periods"), list):
        raise Rejected("NOT_AN_OBJECT", "a price period group must be {weekDay|date, periods[]}")
    week_day = group.get("weekDay")
    day = group.get("date")
    if (week_day is None) == (day is None):
        raise Rejected("MISSING_FIELD", "a price period group needs exactly one of weekDay or date")
    try:
        date = dt.date.fromisoformat(day) if day else None
    except ValueError as exc:
        raise Rejected("INVALID_TIMESTAMP", f"date {day!r} is not YYYY-MM-DD") from exc
    rows = []
    for period in group["periods"]:
        starts, ends = require(period, "startsAt"), require(period, "endsAt")
        for value in (starts, ends):
            if not (isinstance(value, str) and len(value) == 5 and value[2] == ":" and value.replace(":", "").isdigit()):
                raise Rejected("INVALID_VALUE", f"time {value!r} is not HH:MM")
        rows.append({"rate_id": rate_id, "week_day": week_day, "date": date, "starts_at": starts, "ends_at": ends,
                     "price": unit_value(require(period, "price"), "price")})
    return rows
