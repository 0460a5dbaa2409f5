"""Parsing platform API records (seed 001) into table rows. Pure functions; rejections raise `Rejected`.

| code | rule |
|---|---|
| NOT_AN_OBJECT | the record is not a JSON object |
| MISSING_FIELD | a field the pipeline needs is absent (named in the reason) |
| INVALID_TIMESTAMP | a date-time does not parse |
| TIMESTAMP_OUT_OF_RANGE | a date-time of a record lies outside the landing day's window |
| INVALID_VALUE | a field has the wrong JSON type, or a number field holds something else |
| VALUE_OUT_OF_RANGE | energy beyond 10 MWh, power beyond 10 MW, a duration beyond 31 days, an amount beyond its DECIMAL |
| END_BEFORE_START | the session or CDR ends before it starts |
| NEGATIVE_ENERGY | energy is negative |
| NEGATIVE_DURATION | a duration is negative |
| INVALID_CURRENCY | currency is not an ISO 4217 code |
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

from assets.ingest.common import guards
from assets.ingest.common.guards import (DEFAULT_WINDOW, TimeWindow, array, currency, local_date, money, number, obj,
                                         require, text, unit_price)
from assets.ingest.ocpi_cdrs.parse import LocationInfo, token_party
from assets.ocpi_json import snake_keys as _snake_one
from assets.quarantine import Rejected
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


def _energy(value: Any, name: str, factor: int = 1) -> float | None:
    """An energy (None stays None) in Wh as float, inside the energy range."""
    return None if value is None else float(guards.energy_wh(number(value, name) * factor, name))


def _power(value: Any, name: str) -> float | None:
    return None if value is None else float(guards.power_w(number(value, name), name))


def _hours_to_s(value: Any, name: str) -> int:
    return guards.duration_s(number(value, name) * 3600, name)


def _reversal(amount: Decimal | None, credit: bool) -> Decimal | None:
    return None if amount is None else (-abs(amount) if credit else amount)


def _first(items: Any, name: str) -> dict:
    values = array(items, name)
    return obj(values[0], f"{name}[0]") if values else {}


def parse_cdr(cdr: Any, locations: dict[str, LocationInfo], operator_zones: dict[str, str],
              window: TimeWindow = DEFAULT_WINDOW) -> dict[str, Any]:
    """One `cdrs/v2.0` item → a `platform_cdrs` row (without landing columns)."""
    if not isinstance(cdr, dict):
        raise Rejected("NOT_AN_OBJECT", "a CDR must be a JSON object")
    cdr_id = require(cdr, "id")
    if not isinstance(cdr_id, int):
        raise Rejected("INVALID_VALUE", f"id {cdr_id!r} is not an integer")
    start = guards.timestamp(require(cdr, "startTime"), "startTime", window)
    end = guards.timestamp(require(cdr, "endTime"), "endTime", window)
    if end < start:
        raise Rejected("END_BEFORE_START", f"endTime {end.isoformat()} is before startTime {start.isoformat()}")
    credit = cdr.get("credit") is True
    protocol = text(require(cdr, "protocolType"), "protocolType")
    operator_id = text(require(cdr, "operatorId"), "operatorId")
    row: dict[str, Any] = {
        "session_id": f"cpms:cdr:{cdr_id}", "source": "cpms_cdr", "source_id": str(cdr_id), "cdr_id": cdr_id,
        "operator_id": operator_id, "start_utc": start, "end_utc": end, "is_credit": credit,
        "credit_reference_id": None, "is_local": cdr.get("isLocal") is True, "protocol": protocol,
        "platform_session_id": text(cdr.get("sessionId"), "sessionId"),
        "roaming_id": text(cdr.get("roamingId"), "roamingId"),
        # The CPO's session reference shared with the session listing and the OCPI CDR (`session_id`).
        "session_ref": text(cdr.get("sessionId"), "sessionId"),
        "roaming_session_id": text(cdr.get("roamingSessionId"), "roamingSessionId"),
        "received_at": guards.timestamp(require(cdr, "receivedAt"), "receivedAt", window),
        "sent_at": guards.optional_timestamp(cdr.get("sentAt"), "sentAt", window),
        "delivery_response": text(cdr.get("deliveryResponse"), "deliveryResponse"),
        "last_updated": guards.optional_timestamp(cdr.get("lastUpdatedAt"), "lastUpdatedAt", window)
        or guards.timestamp(cdr["receivedAt"], "receivedAt", window),
    }
    if protocol == "OCPI" and isinstance(cdr.get("ocpiData"), dict):
        row.update(_ocpi_part(snake_keys(cdr["ocpiData"]), credit))
        location_id, location_zone, country = row.pop("_location_id"), row.pop("_zone"), row.pop("_country")
    elif protocol == "Hubject" and isinstance(cdr.get("oicpData"), dict):
        row.update(_oicp_part(cdr["oicpData"], start, end, window))
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
    row["settlement_date"] = local_date(end, zone)
    if reference and reference.operator_id:
        # Our operator id (e.g. NL-GRX) rather than the platform's numeric operatorId, as for sessions.
        row["operator_id"] = reference.operator_id
    return row


def _ocpi_part(ocpi: dict, credit: bool) -> dict[str, Any]:
    version = text(require(ocpi, "version"), "version")
    if version not in OCPI_VERSIONS:
        raise Rejected("UNSUPPORTED_PROTOCOL", f"OCPI version {version!r} is not 2.1.1 or 2.2")
    currency_value = currency(require(ocpi, "currency"), "currency")
    energy_wh = _energy(require(ocpi, "total_energy"), "totalEnergy", factor=1000)
    total_s = _hours_to_s(ocpi.get("total_time", 0), "totalTime")
    parking_s = _hours_to_s(ocpi.get("total_parking_time") or 0, "totalParkingTime")
    total = money(require(ocpi, "total_cost"), "totalCost")
    location = obj(ocpi.get("cdr_location"), "cdrLocation")
    if version == "2.1.1":
        evse = _first(location.get("evses"), "cdrLocation.evses")
        evse_uid, evse_id = evse.get("uid"), evse.get("evse_id")
        connector_id = _first(evse.get("connectors"), "cdrLocation.evses[0].connectors").get("id")
    else:
        evse_uid, evse_id, connector_id = location.get("evse_uid"), location.get("evse_id"), location.get("connector_id")
    token = obj(ocpi.get("cdr_token"), "cdrToken")
    periods = array(ocpi.get("charging_periods"), "chargingPeriods")
    tariff_ids = sorted({text(p["tariff_id"], "chargingPeriods[].tariffId")
                         for p in periods if isinstance(p, dict) and p.get("tariff_id")})
    return {
        "protocol_version": version, "currency": currency_value, "energy_wh": energy_wh,
        "total_time_s": total_s, "parking_time_s": parking_s, "tariff_ids": tariff_ids,
        "reported_cost_excl_vat": _reversal(total, credit), "reported_cost_incl_vat": None,
        "reported_fixed_cost": _reversal(money(ocpi.get("total_fixed_cost"), "totalFixedCost"), credit),
        "reported_energy_cost": _reversal(money(ocpi.get("total_energy_cost"), "totalEnergyCost"), credit),
        "reported_time_cost": _reversal(money(ocpi.get("total_time_cost"), "totalTimeCost"), credit),
        "reported_parking_cost": _reversal(money(ocpi.get("total_parking_cost"), "totalParkingCost"), credit),
        "evse_uid": text(evse_uid, "evseUid"), "evse_id": text(evse_id, "evseId"),
        "connector_id": text(connector_id, "connectorId"),
        "auth_id": text(token.get("uid"), "cdrToken.uid"), "auth_method": text(ocpi.get("auth_method"), "authMethod"),
        "contract_id": text(token.get("contract_id"), "cdrToken.contractId"),
        "emsp_id": token_party(token),
        "customer_id": text(token.get("contract_id") or token.get("uid"), "cdrToken.contractId"),
        "credit_reference_id": text(ocpi.get("credit_reference_id"), "creditReferenceId"),
        "invoice_reference_id": text(ocpi.get("invoice_reference_id"), "invoiceReferenceId"),
        "charging_periods_json": json.dumps(periods, sort_keys=True, separators=(",", ":")),
        "_location_id": text(location.get("id"), "cdrLocation.id"),
        "_zone": text(location.get("time_zone"), "cdrLocation.timeZone"),
        "_country": text(location.get("country"), "cdrLocation.country"),
    }


def _oicp_part(oicp: dict, start: dt.datetime, end: dt.datetime, window: TimeWindow) -> dict[str, Any]:
    version = text(require(oicp, "version"), "version")
    if version not in OICP_VERSIONS:
        raise Rejected("UNSUPPORTED_PROTOCOL", f"OICP version {version!r} is not 2.2 or 2.3")
    evse_id = text(require(oicp, "evseId"), "evseId")
    identification = require(oicp, "identification")
    if oicp.get("consumedEnergy") is None and oicp.get("meterValueEnd") is not None and oicp.get("meterValueStart") is not None:
        consumed_kwh = number(oicp["meterValueEnd"], "meterValueEnd") - number(oicp["meterValueStart"], "meterValueStart")
    else:
        consumed_kwh = number(require(oicp, "consumedEnergy"), "consumedEnergy")
    energy_wh = float(guards.energy_wh(consumed_kwh * 1000, "consumedEnergy"))
    contract = None
    for kind in identification.values() if isinstance(identification, dict) else []:
        if isinstance(kind, dict):
            contract = text(kind.get("evcoId") or kind.get("EvcoID") or kind.get("uid"), "identification") or contract
    charging_end = guards.optional_timestamp(oicp.get("chargingEnd"), "chargingEnd", window)
    parking_s = max(0, int((end - charging_end).total_seconds())) if charging_end else 0
    return {
        "protocol_version": f"OICP {version}", "currency": None, "energy_wh": energy_wh,
        "total_time_s": guards.duration_s(Decimal((end - start).total_seconds()), "endTime - startTime"),
        "parking_time_s": parking_s, "tariff_ids": [],
        "reported_cost_excl_vat": None, "reported_cost_incl_vat": None, "reported_fixed_cost": None,
        "reported_energy_cost": None, "reported_time_cost": None, "reported_parking_cost": None,
        "emsp_id": None, "customer_id": contract,
        "evse_uid": evse_id, "evse_id": evse_id, "connector_id": None, "auth_id": contract,
        "auth_method": next(iter(identification), None) if isinstance(identification, dict) else None,
        "contract_id": contract, "invoice_reference_id": None, "charging_periods_json": "[]",
        # an eMI3 EVSE id starts with the country code ("DE*HUB*E300")
        "_country": evse_id.split("*")[0] if "*" in evse_id else None,
    }


def _int_or_none(value: Any) -> int | None:
    """An optional numeric id: an integer or digit text, else None (ids of other forms are kept elsewhere as text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
        return int(value)
    return None


def _money_pair(value: Any, name: str, scale_fn=money) -> tuple[Decimal | None, Decimal | None]:
    """(withTax, withoutTax) of a `{withTax, withoutTax}` amount."""
    if value is None:
        return None, None
    amount = obj(value, name)
    return scale_fn(amount.get("withTax"), f"{name}.withTax"), scale_fn(amount.get("withoutTax"), f"{name}.withoutTax")


def parse_session(session: Any, operator_zones: dict[str, str], evse_sites: dict[str, EvseSite] | None = None,
                  window: TimeWindow = DEFAULT_WINDOW) -> tuple[dict[str, Any], list[dict], list[dict]]:
    """One `sessions/v1.0` item → (platform_sessions row, charging period rows, price line rows).

    The zone comes from the EVSE's reference location (`evse_sites`, keyed by platform EVSE id), else
    from the platform operator's entry in the operators table; the operator id is the reference
    operator when the EVSE is known, else the platform's `operatorId`.
    """
    if not isinstance(session, dict):
        raise Rejected("NOT_AN_OBJECT", "a session must be a JSON object")
    platform_id = text(require(session, "id"), "id")
    operator_id = text(require(session, "operatorId"), "operatorId")
    start = guards.timestamp(require(session, "startedAt"), "startedAt", window)
    end = guards.optional_timestamp(session.get("stoppedAt"), "stoppedAt", window)
    if end is not None and end < start:
        raise Rejected("END_BEFORE_START", f"stoppedAt {end.isoformat()} is before startedAt {start.isoformat()}")
    consumption = obj(session.get("energyConsumption"), "energyConsumption")
    energy = consumption.get("total", session.get("energy"))
    if energy is None:
        raise Rejected("MISSING_FIELD", "field energyConsumption.total (or energy) is missing")
    energy_wh = _energy(energy, "energyConsumption.total")
    currency_value = currency(session["currency"]) if session.get("currency") is not None else None
    gross, net = _money_pair(session.get("totalAmount"), "totalAmount")
    if (gross is not None or net is not None) and currency_value is None:
        raise Rejected("MISSING_FIELD", "field currency is missing while totalAmount is given")
    last_updated = guards.timestamp(require(session, "lastUpdatedAt"), "lastUpdatedAt", window)
    evse_ref = text(session.get("evseId"), "evseId")
    site = (evse_sites or {}).get(str(evse_ref))
    zone = resolve_time_zone(site.time_zone, None) if site else None
    if site and site.operator_id:
        operator_id = site.operator_id
    zone = zone or operator_zones.get(operator_id)
    if zone is None:
        raise Rejected("NO_TIME_ZONE", f"EVSE {evse_ref!r} is in no reference location and operator "
                                       f"{operator_id!r} has no time zone")
    session_id = f"cpms:{platform_id}"
    authorization = obj(session.get("authorization"), "authorization")
    roaming = obj(session.get("roaming"), "roaming")
    periods, lines = [], []
    charging_s = 0
    for position, period in enumerate(array(session.get("chargingPeriods"), "chargingPeriods")):
        where = f"chargingPeriods[{position}]"
        period = obj(period, where, required=True)
        p_start = guards.timestamp(require(period, "startedAt"), f"{where}.startedAt", window)
        p_end = guards.optional_timestamp(period.get("stoppedAt"), f"{where}.stoppedAt", window)
        p_gross, p_net = _money_pair(period.get("totalAmount"), f"{where}.totalAmount")
        p_energy = period.get("energyPrecise", period.get("energy"))
        raw_state = text(period.get("state"), f"{where}.state")
        state = text(period.get("chargingState"), f"{where}.chargingState") or (raw_state or "").split("@")[0] or None
        if state == "charging" and p_end is not None:
            charging_s += int((p_end - p_start).total_seconds())
        periods.append({
            "session_id": session_id, "last_updated": last_updated, "period_id": _int_or_none(period.get("id")),
            "started_at": p_start, "stopped_at": p_end,
            "energy_wh": _energy(p_energy, f"{where}.energy"),
            "charging_state": state, "state": raw_state,
            "grace_time_end_at": guards.optional_timestamp(period.get("graceTimeEndAt"), f"{where}.graceTimeEndAt", window),
            "total_incl_vat": p_gross, "total_excl_vat": p_net, "currency": currency_value,
        })
        lines += _price_lines(period.get("priceBreakdown"), session_id, last_updated, "period",
                              _int_or_none(period.get("id")))
    lines += _price_lines(session.get("priceBreakdown"), session_id, last_updated, "session", None)
    tax = obj(session.get("tax"), "tax").get("taxPercentage")
    power = obj(session.get("power"), "power")
    total_s = guards.duration_s(Decimal((end - start).total_seconds()), "stoppedAt - startedAt") if end else 0
    user_id = text(session.get("userId"), "userId")
    id_tag = text(session.get("idTag"), "idTag")
    row = {
        "session_id": session_id, "source": "cpms_session", "source_id": platform_id, "session_ref": platform_id,
        "platform_session_id": platform_id, "operator_id": operator_id,
        "location_id": site.location_id if site else None,
        # Our EVSE uid when the reference maps the platform EVSE; else the platform's own id (also in evse_id).
        "evse_uid": site.evse_uid if site and site.evse_uid else evse_ref,
        "connector_id": text(session.get("connectorId"), "connectorId"),
        "auth_id": id_tag,
        "auth_method": text(authorization.get("method") or session.get("idTagType"), "authorization.method"),
        "start_utc": start, "end_utc": end, "time_zone": zone, "settlement_date": local_date(end, zone),
        "energy_wh": energy_wh, "total_time_s": total_s,
        "parking_time_s": max(0, total_s - charging_s) if periods and end else 0, "currency": currency_value,
        "tariff_ids": [text(session["tariffSnapshotId"], "tariffSnapshotId")] if session.get("tariffSnapshotId") is not None else [],
        "reported_cost_excl_vat": net, "reported_cost_incl_vat": gross, "is_credit": False,
        "credit_reference_id": None, "last_updated": last_updated, "status": text(require(session, "status"), "status"),
        "reason": text(session.get("reason"), "reason"), "charge_point_id": _int_or_none(session.get("chargePointId")),
        "evse_id": _int_or_none(session.get("evseId")), "user_id": _int_or_none(session.get("userId")),
        "customer_id": f"user:{user_id}" if user_id is not None else id_tag,
        "grid_wh": _energy(consumption.get("grid"), "energyConsumption.grid"),
        "local_wh": _energy(consumption.get("local"), "energyConsumption.local"),
        "non_billable_wh": _energy(session.get("nonBillableEnergy"), "nonBillableEnergy"),
        "tax_percentage": money(tax, "tax.taxPercentage"),
        "payment_status": text(session.get("paymentStatus"), "paymentStatus"),
        "billing_status": text(session.get("billingStatus"), "billingStatus"),
        "billing_completed_at": guards.optional_timestamp(session.get("billingCompletedAt"), "billingCompletedAt", window),
        "tariff_snapshot_id": _int_or_none(session.get("tariffSnapshotId")),
        "electricity_cost": money(session.get("electricityCost"), "electricityCost"),
        "evse_physical_reference": text(session.get("evsePhysicalReference"), "evsePhysicalReference"),
        "emsp_id": text(session.get("chargePointOperatorRoamingId")
                        or obj(authorization.get("roaming"), "authorization.roaming").get("client")
                        or roaming.get("roamingOperatorCpoId"), "emsp"),
        "power_peak_w": _power(power.get("peak"), "power.peak"),
        "power_average_w": _power(power.get("average"), "power.average"),
    }
    return row, periods, lines


def _price_lines(items: Any, session_id: str, last_updated: dt.datetime, scope: str, period_id: int | None) -> list[dict]:
    lines = []
    for line_no, item in enumerate(array(items, f"{scope} priceBreakdown"), start=1):
        item = obj(item, f"{scope} priceBreakdown[{line_no - 1}]", required=True)
        unit_gross, unit_net = _money_pair(item.get("pricePerUnit"), "pricePerUnit", unit_price)
        gross, net = _money_pair(item.get("price"), "price")
        lines.append({
            "session_id": session_id, "last_updated": last_updated, "scope": scope, "period_id": period_id,
            "line_no": line_no, "type": text(require(item, "type"), "type"), "unit": text(item.get("unit"), "unit"),
            "currency": currency(require(item, "currency")), "unit_price_incl_vat": unit_gross,
            "unit_price_excl_vat": unit_net, "quantity": unit_price(require(item, "quantity"), "quantity"),
            "price_incl_vat": gross, "price_excl_vat": net,
            "tax_percentage": money(item.get("taxPercentage"), "taxPercentage"),
        })
    return lines


def parse_consumption_point(point: Any, session_ref: str, point_no: int,
                            window: TimeWindow = DEFAULT_WINDOW) -> dict[str, Any]:
    """One consumption-stats item (cumulative Wh, W, timestamp) → a `consumption_stats` row."""
    if not isinstance(point, dict):
        raise Rejected("NOT_AN_OBJECT", "a consumption point must be a JSON object")
    return {"session_id": f"cpms:{session_ref}", "point_no": point_no,
            "timestamp": guards.timestamp(require(point, "timestamp"), "timestamp", window),
            "energy_wh": _energy(point.get("energy"), "energy"), "power_w": _power(point.get("power"), "power")}


def parse_tariff(tariff: Any, kind: str, window: TimeWindow = DEFAULT_WINDOW) -> dict[str, Any]:
    """One tariff (listing item) or tariff snapshot → a `platform_tariffs` row."""
    if not isinstance(tariff, dict):
        raise Rejected("NOT_AN_OBJECT", "a tariff must be a JSON object")
    tariff_id = guards.integer(require(tariff, "id"), "id")
    snapshot_id = None
    if kind == "snapshot":
        snapshot_id, tariff_id = tariff_id, guards.integer(require(tariff, "tariffId"), "tariffId")
    currency_value = tariff.get("currency")
    return {
        "kind": kind, "tariff_id": tariff_id, "snapshot_id": snapshot_id,
        "operator_id": text(tariff.get("operatorId"), "operatorId"),
        "name": text(tariff.get("name"), "name"), "type": text(require(tariff, "type"), "type"),
        "currency": None if currency_value is None else currency(currency_value),
        # tariffs are configuration, so no landing-day window: any sane instant
        "last_updated": guards.optional_timestamp(tariff.get("lastUpdatedAt"), "lastUpdatedAt"),
        "pricing_json": json.dumps(obj(tariff.get("pricing"), "pricing"), sort_keys=True),
        "restrictions_json": json.dumps(obj(tariff.get("restrictions"), "restrictions"), sort_keys=True),
    }


def parse_rate(rate: Any) -> dict[str, Any]:
    """One electricity rate (v2.0) → an `electricity_rates` row."""
    if not isinstance(rate, dict):
        raise Rejected("NOT_AN_OBJECT", "an electricity rate must be a JSON object")
    return {
        "rate_id": guards.integer(require(rate, "id"), "id"),
        "operator_id": text(rate.get("operatorId"), "operatorId"),
        "name": text(require(rate, "name"), "name"), "type": text(rate.get("type"), "type"),
        "utility_id": _int_or_none(rate.get("utilityId")),
        "default_price": unit_price(require(rate, "defaultPrice"), "defaultPrice"),
        "tax_percentage": money(rate.get("taxPercentage"), "taxPercentage"),
    }


def parse_price_period_group(group: Any, rate_id: int) -> list[dict[str, Any]]:
    """One `price-periods` item (`{weekDay|date, periods[]}`) → `electricity_rate_periods` rows."""
    if not isinstance(group, dict) or not isinstance(group.get("periods"), list):
        raise Rejected("NOT_AN_OBJECT", "a price period group must be {weekDay|date, periods[]}")
    week_day = text(group.get("weekDay"), "weekDay")
    day = group.get("date")
    if (week_day is None) == (day is None):
        raise Rejected("MISSING_FIELD", "a price period group needs exactly one of weekDay or date")
    try:
        date = dt.date.fromisoformat(day) if day is not None else None
    except (TypeError, ValueError) as exc:
        raise Rejected("INVALID_TIMESTAMP", f"date {day!r} is not YYYY-MM-DD") from exc
    rows = []
    for period in group["periods"]:
        starts, ends = require(period, "startsAt"), require(period, "endsAt")
        for value in (starts, ends):
            if not (isinstance(value, str) and len(value) == 5 and value[2] == ":" and value.replace(":", "").isascii()
                    and value.replace(":", "").isdigit()):
                raise Rejected("INVALID_VALUE", f"time {value!r} is not HH:MM")
        rows.append({"rate_id": rate_id, "week_day": week_day, "date": date, "starts_at": starts, "ends_at": ends,
                     "price": unit_price(require(period, "price"), "price")})
    return rows
