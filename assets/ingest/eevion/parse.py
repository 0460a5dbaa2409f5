"""Parsing Eevion (seed 003) session and report records. Pure functions; rejections raise `Rejected`.

| code | rule |
|---|---|
| NOT_AN_OBJECT | the record is not a JSON object |
| MISSING_FIELD | sessionId, startTime, updatedAt or location.timeZone is absent |
| INVALID_TIMESTAMP | a date-time does not parse |
| INVALID_VALUE | a number field holds something else |
| END_BEFORE_START | endTime is before startTime |
| NEGATIVE_ENERGY | energy is negative |
| INVALID_CURRENCY | currency is not a three-letter ISO 4217 code |
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

from assets.ingest.ocpi_cdrs.parse import Rejected
from assets.ingest.platform.parse import currency_code, money, number, optional_timestamp, require, settlement_date, timestamp, unit_value
from assets.reference.external_ids import EvseSite
from assets.reference.timezones import valid_zone


def parse_session(session: Any, origin: str, stations: dict[str, EvseSite] | None = None) -> dict[str, Any]:
    """One Eevion session body → an `eevion_sessions` row (without landing columns).

    An Eevion account is one operator's, but the session names only its station: the operator, our location
    and EVSE uid come from the reference EVSE whose `external_ids.eevion.station_id` is that station; an
    unknown station keeps Eevion's own location id and station id, and no operator.
    """
    if not isinstance(session, dict):
        raise Rejected("NOT_AN_OBJECT", "a session must be a JSON object")
    session_id = str(require(session, "sessionId"))
    start = timestamp(require(session, "startTime"), "startTime")
    end = optional_timestamp(session.get("endTime"), "endTime")
    if end is not None and end < start:
        raise Rejected("END_BEFORE_START", f"endTime {end.isoformat()} is before startTime {start.isoformat()}")
    location = session.get("location") or {}
    zone = valid_zone(require(session, "location", "timeZone"))
    if zone is None:
        raise Rejected("NO_TIME_ZONE", f"location.timeZone {location.get('timeZone')!r} is not an IANA zone")
    energy = number(require(session, "energy"), "energy") if session.get("energy") not in (None, "") else Decimal(0)
    if energy < 0:
        raise Rejected("NEGATIVE_ENERGY", f"energy {energy} Wh is negative")
    currency = currency_code(require(session, "currency"))
    cost, before_taxes = money(session.get("cost"), "cost"), money(session.get("costBeforeTaxes"), "costBeforeTaxes")
    tax_included = session.get("taxIncluded")
    taxes = session.get("taxes") or []
    if tax_included is False and before_taxes is None and cost is not None:
        before_taxes = cost  # the cost was stated without taxes
    if tax_included is False and cost is not None:
        cost = cost + sum((money(t.get("amount"), "taxes.amount") or Decimal(0)) for t in taxes if isinstance(t, dict))
    duration = session.get("duration")
    total_s = int(number(duration, "duration")) if duration not in (None, "") else (
        int((end - start).total_seconds()) if end else 0)
    tariff = session.get("tariff") or {}
    site = (stations or {}).get(str(session.get("stationId")))
    return {
        "session_id": f"eevion:{session_id}", "source": "eevion", "source_id": session_id, "session_ref": session_id,
        "operator_id": site.operator_id if site else None,
        "location_id": site.location_id if site else location.get("id"),
        "evse_uid": site.evse_uid if site and site.evse_uid else session.get("stationId"),
        "connector_id": session.get("portId"),
        "auth_id": session.get("authId") or None, "auth_method": session.get("startWith"),
        "start_utc": start, "end_utc": end, "time_zone": zone, "settlement_date": settlement_date(end, zone),
        "energy_wh": float(energy), "total_time_s": total_s, "parking_time_s": 0, "currency": currency,
        "tariff_ids": [str(tariff["id"])] if tariff.get("id") else [],
        "reported_cost_excl_vat": before_taxes, "reported_cost_incl_vat": cost, "is_credit": False,
        "credit_reference_id": None,
        "last_updated": timestamp(require(session, "updatedAt"), "updatedAt"),
        "origin": origin, "status": session.get("status"), "station_id": session.get("stationId"),
        "port_id": session.get("portId"), "location_name": location.get("name"), "region": location.get("state"),
        "created_at": optional_timestamp(session.get("createdAt"), "createdAt"), "cost_incl_tax": cost,
        "cost_excl_tax": before_taxes, "tax_included": tax_included,
        "taxes_json": json.dumps(taxes, sort_keys=True), "tariff_type": tariff.get("type"),
        "tariff_price": unit_value(tariff.get("price"), "tariff.price"), "tariff_unit": tariff.get("unit"),
        "customer_id": session.get("customerId") or None, "end_reason": session.get("endReason") or None,
    }


def parse_report_row(row: Any, group_by: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """One report row → an `eevion_reports` row; the `total`/`average` rows keep their kind."""
    if not isinstance(row, dict):
        raise Rejected("NOT_AN_OBJECT", "a report row must be a JSON object")
    id_key = "region" if group_by == "region" else f"{group_by}_id"
    key = row.get(id_key)
    if key in (None, ""):
        raise Rejected("MISSING_FIELD", f"field {id_key} is missing")
    kind = key if key in ("total", "average") else "group"

    def cents(name: str) -> Decimal | None:
        if kind != "average":
            return money(row.get(name), name)
        # the average row holds quotients (e.g. 1851/5 sessions), not amounts: keep 4 decimals, half-up
        value = row.get(name)
        return None if value is None else number(value, name).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)

    def floating(name: str) -> float | None:
        value = row.get(name)
        return None if value is None else float(number(value, name))

    return {
        "period_start": start, "period_end": end, "group_by": group_by, "group_key": str(key), "row_kind": kind,
        "location": row.get("location"), "location_id": row.get("location_id"), "count": floating("count"),
        "cancel_count": floating("cancel_count"),
        "unique_customers": None if row.get("unique_customers") is None else int(number(row["unique_customers"], "unique_customers")),
        "total_cost_cents": cents("total_cost_cents"), "total_energy_cost_cents": cents("total_energy_cost_cents"),
        "average_cost_cents": None if row.get("average_cost_cents") is None else float(number(row["average_cost_cents"], "average_cost_cents")),
        "total_energy_wh": floating("total_energy_watt_hours"), "total_duration_s": floating("total_duration_seconds"),
        "average_duration_s": floating("average_duration_seconds"), "most_common_start_with": row.get("most_common_start_with"),
    }
