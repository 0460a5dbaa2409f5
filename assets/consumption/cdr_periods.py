"""Charging periods of sessions that arrive without a meter curve.

A CDR keeps its own charging periods, as delivered (OCPI 2.1.1/2.2.1/2.3.0 `charging_periods`, or the
platform's `ocpiData.chargingPeriods`), parsed by the engine's OCPI adapter. A session with neither a
curve nor periods (interval charges, plain totals) becomes one period per state: its charging time, then
its parking time, with the session's energy in the charging period.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import polars as pl

from tariff_engine.adapters.ocpi import OcpiFormatError, parse_cdr
from tariff_engine.consumption.periods import PERIOD_SCHEMA


def _cdr_document(source: str, payload: Any) -> dict | None:
    if not isinstance(payload, dict):
        return None
    if "charging_periods" in payload or "chargingPeriods" in payload:
        return payload
    ocpi = payload.get("ocpiData")
    if isinstance(ocpi, dict) and ocpi.get("chargingPeriods") is not None:
        return {"start_date_time": payload.get("startTime"), "end_date_time": payload.get("endTime"),
                "charging_periods": ocpi.get("chargingPeriods")}
    return None


def _kilo(value: Decimal | None) -> float | None:
    return None if value is None else float(value * 1000)


def cdr_periods(session: dict) -> tuple[list[dict], str | None]:
    """The CDR's own periods for one `sessions` row (rows in PERIOD_SCHEMA shape), or ([], reason code)
    when its raw payload holds none or cannot be parsed."""
    try:
        payload = json.loads(session["raw_payload"]) if session.get("raw_payload") else None
    except json.JSONDecodeError:
        return [], "CDR_PAYLOAD_NOT_JSON"
    document = _cdr_document(session["source"], payload)
    if document is None:
        return [], "NO_CDR_PERIODS"
    try:
        parsed = parse_cdr(document, timezone_name=session["time_zone"])
    except (OcpiFormatError, ValueError):
        return [], "CDR_PERIODS_UNPARSEABLE"
    rows = []
    periods = sorted(parsed.periods, key=lambda p: p.start)
    for index, period in enumerate(periods):
        end = periods[index + 1].start if index + 1 < len(periods) else session["end_utc"]
        parking = period.time_h == 0 and period.parking_h > 0
        rows.append({
            "session_id": session["session_id"], "period_index": index, "start_utc": period.start, "end_utc": end,
            "state": "PARKING" if parking else "CHARGING", "energy_wh": float(period.energy_kwh * 1000),
            "time_s": float(period.time_h * 3600), "parking_time_s": float(period.parking_h * 3600),
            "min_power_w": _kilo(period.min_power), "max_power_w": _kilo(period.max_power),
            "min_current_a": None if period.min_current is None else float(period.min_current),
            "max_current_a": None if period.max_current is None else float(period.max_current),
        })
    return rows, None


def totals_periods(session: dict) -> list[dict]:
    """Charging then parking, from the session totals (charging time = total - parking)."""
    total_s = float(session.get("total_time_s") or (session["end_utc"] - session["start_utc"]).total_seconds())
    parking_s = float(session.get("parking_time_s") or 0)
    charging_s = max(total_s - parking_s, 0.0)
    base = {"session_id": session["session_id"], "min_power_w": None, "max_power_w": None,
            "min_current_a": None, "max_current_a": None}
    start = session["start_utc"]
    end = session["end_utc"]
    if parking_s <= 0 or charging_s <= 0:
        state = "PARKING" if charging_s <= 0 < parking_s else "CHARGING"
        return [base | {"period_index": 0, "start_utc": start, "end_utc": end, "state": state,
                        "energy_wh": float(session.get("energy_wh") or 0),
                        "time_s": charging_s if state == "CHARGING" else 0.0,
                        "parking_time_s": parking_s if state == "PARKING" else 0.0}]
    switch = start + dt.timedelta(seconds=charging_s)
    return [
        base | {"period_index": 0, "start_utc": start, "end_utc": switch, "state": "CHARGING",
                "energy_wh": float(session.get("energy_wh") or 0), "time_s": charging_s, "parking_time_s": 0.0},
        base | {"period_index": 1, "start_utc": switch, "end_utc": end, "state": "PARKING",
                "energy_wh": 0.0, "time_s": 0.0, "parking_time_s": parking_s},
    ]


def periods_frame(rows: list[dict]) -> pl.DataFrame:
    """Rows as a frame with the period schema (energy as Float64, since CDR volumes are not whole Wh)."""
    schema = dict(PERIOD_SCHEMA) | {"energy_wh": pl.Float64}
    return pl.DataFrame(rows, schema=schema)
