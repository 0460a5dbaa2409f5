"""Parsing Eevion (seed 003) session and report records. Pure functions; rejections raise `Rejected`.

| code | rule |
|---|---|
| NOT_AN_OBJECT | the record is not a JSON object |
| MISSING_FIELD | sessionId, startTime, updatedAt or location.timeZone is absent |
| INVALID_TIMESTAMP | a date-time does not parse |
| TIMESTAMP_OUT_OF_RANGE | a date-time lies outside the landing day's window |
| INVALID_VALUE | a field has the wrong JSON type, or a number field holds something else |
| VALUE_OUT_OF_RANGE | energy beyond 10 MWh, a duration beyond 31 days, an amount beyond DECIMAL(18,4) |
| END_BEFORE_START | endTime is before startTime |
| NEGATIVE_ENERGY | energy is negative |
| INVALID_CURRENCY | currency is not an ISO 4217 code |
| PRECISION_LOSS | an amount has more decimals than its DECIMAL column keeps |
| NO_TIME_ZONE | location.timeZone is not an IANA zone |

Units: `energy` is Wh (the field reference says "watts (w)" for delivered energy), `duration` seconds,
`cost` incl. taxes and `costBeforeTaxes` excl. taxes, both in the session's currency (CAD or USD).
Eevion does not report idle time, so `parking_time_s` is 0.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from assets.ingest.common import guards
from assets.ingest.common.guards import DEFAULT_WINDOW, TimeWindow, array, currency, local_date, money, number, obj, require, text, unit_price
from assets.quarantine import Rejected
from assets.reference.external_ids import EvseSite
from assets.reference.timezones import valid_zone


def parse_session(session: Any, origin: str, stations: dict[str, EvseSite] | None = None,
                  window: TimeWindow = DEFAULT_WINDOW) -> dict[str, Any]:
    """One Eevion session body → an `eevion_sessions` row (without landing columns).

    An Eevion account is one operator's, but the session names only its station: the operator, our location
    and EVSE uid come from the reference EVSE whose `external_ids.eevion.station_id` is that station; an
    unknown station keeps Eevion's own location id and station id, and no operator.
    """
    if not isinstance(session, dict):
        raise Rejected("NOT_AN_OBJECT", "a session must be a JSON object")
    session_id = text(require(session, "sessionId"), "sessionId")
    start = guards.timestamp(require(session, "startTime"), "startTime", window)
    end = guards.optional_timestamp(session.get("endTime"), "endTime", window)
    if end is not None and end < start:
        raise Rejected("END_BEFORE_START", f"endTime {end.isoformat()} is before startTime {start.isoformat()}")
    location = obj(session.get("location"), "location")
    zone_name = text(require(session, "location", "timeZone"), "location.timeZone")
    zone = valid_zone(zone_name)
    if zone is None:
        raise Rejected("NO_TIME_ZONE", f"location.timeZone {zone_name!r} is not an IANA zone")
    energy = number(session["energy"], "energy") if session.get("energy") not in (None, "") else Decimal(0)
    energy = guards.energy_wh(energy, "energy")
    currency_value = currency(require(session, "currency"))
    cost, before_taxes = money(session.get("cost"), "cost"), money(session.get("costBeforeTaxes"), "costBeforeTaxes")
    tax_included = session.get("taxIncluded")
    taxes = array(session.get("taxes"), "taxes")
    if tax_included is False and before_taxes is None and cost is not None:
        before_taxes = cost  # the cost was stated without taxes
    if tax_included is False and cost is not None:
        cost = money(cost + sum((money(t.get("amount"), "taxes.amount") or Decimal(0)) for t in taxes if isinstance(t, dict)),
                     "cost with taxes")
    duration = session.get("duration")
    total_s = guards.duration_s(number(duration, "duration"), "duration") if duration not in (None, "") else (
        guards.duration_s(Decimal((end - start).total_seconds()), "endTime - startTime") if end else 0)
    tariff = obj(session.get("tariff"), "tariff")
    station = text(session.get("stationId"), "stationId")
    site = (stations or {}).get(str(station))
    return {
        "session_id": f"eevion:{session_id}", "source": "eevion", "source_id": session_id, "session_ref": session_id,
        "operator_id": site.operator_id if site else None,
        "location_id": site.location_id if site else text(location.get("id"), "location.id"),
        "evse_uid": site.evse_uid if site and site.evse_uid else station,
        "connector_id": text(session.get("portId"), "portId"),
        "auth_id": text(session.get("authId") or None, "authId"), "auth_method": text(session.get("startWith"), "startWith"),
        "start_utc": start, "end_utc": end, "time_zone": zone, "settlement_date": local_date(end, zone),
        "energy_wh": float(energy), "total_time_s": total_s, "parking_time_s": 0, "currency": currency_value,
        "tariff_ids": [text(tariff["id"], "tariff.id")] if tariff.get("id") else [],
        "reported_cost_excl_vat": before_taxes, "reported_cost_incl_vat": cost, "is_credit": False,
        "credit_reference_id": None,
        "last_updated": guards.timestamp(require(session, "updatedAt"), "updatedAt", window),
        "origin": origin, "status": text(session.get("status"), "status"), "station_id": station,
        "port_id": text(session.get("portId"), "portId"), "location_name": text(location.get("name"), "location.name"),
        "region": text(location.get("state"), "location.state"),
        "created_at": guards.optional_timestamp(session.get("createdAt"), "createdAt", window), "cost_incl_tax": cost,
        "cost_excl_tax": before_taxes, "tax_included": tax_included if isinstance(tax_included, bool) else None,
        "taxes_json": json.dumps(taxes, sort_keys=True), "tariff_type": text(tariff.get("type"), "tariff.type"),
        "tariff_price": unit_price(tariff.get("price"), "tariff.price"), "tariff_unit": text(tariff.get("unit"), "tariff.unit"),
        "customer_id": text(session.get("customerId") or None, "customerId"),
        "end_reason": text(session.get("endReason") or None, "endReason"),
    }


def parse_report_row(row: Any, group_by: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """One report row → an `eevion_reports` row; the `total`/`average` rows keep their kind."""
    if not isinstance(row, dict):
        raise Rejected("NOT_AN_OBJECT", "a report row must be a JSON object")
    id_key = "region" if group_by == "region" else f"{group_by}_id"
    key = text(row.get(id_key), id_key)
    if key in (None, ""):
        raise Rejected("MISSING_FIELD", f"field {id_key} is missing")
    kind = key if key in ("total", "average") else "group"

    def cents(name: str) -> Decimal | None:
        if kind != "average":
            return money(row.get(name), name)
        # the average row holds quotients (e.g. 1851/5 sessions), not amounts: keep 4 decimals, half-up
        value = row.get(name)
        return None if value is None else money(number(value, name).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), name)

    def floating(name: str) -> float | None:
        value = row.get(name)
        return None if value is None else float(number(value, name))

    unique = row.get("unique_customers")
    return {
        "period_start": start, "period_end": end, "group_by": group_by, "group_key": key, "row_kind": kind,
        "location": text(row.get("location"), "location"), "location_id": text(row.get("location_id"), "location_id"),
        "count": floating("count"), "cancel_count": floating("cancel_count"),
        "unique_customers": None if unique is None else int(guards.bounded(number(unique, "unique_customers"),
                                                                           guards.COUNT, "unique_customers")),
        "total_cost_cents": cents("total_cost_cents"), "total_energy_cost_cents": cents("total_energy_cost_cents"),
        "average_cost_cents": floating("average_cost_cents"),
        "total_energy_wh": floating("total_energy_watt_hours"), "total_duration_s": floating("total_duration_seconds"),
        "average_duration_s": floating("average_duration_seconds"),
        "most_common_start_with": text(row.get("most_common_start_with"), "most_common_start_with"),
    }
