"""Charging periods of sessions that arrive without a meter curve.

A CDR keeps its own charging periods, as delivered (OCPI 2.1.1/2.2.1/2.3.0 `charging_periods`, or the
platform's `ocpiData.chargingPeriods`), parsed by the engine's OCPI adapter. A session with neither a curve
nor periods (interval charges, plain totals) is cut from the curve its totals imply
(`assets.consumption.build.totals_curves`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson
import polars as pl

from assets.pricing.session_tariffs import only_members
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


# What `parse_cdr` reads of a CDR (times, periods, the location for its zone, the ids it names the session by).
PARSED_CDR_MEMBERS = ("start_date_time", "end_date_time", "charging_periods", "cdr_location", "location", "id",
                      "country_code", "party_id")
# The same when the session's zone is given: the location (the largest member, snake-cased by the adapter for
# nothing) only serves to find a zone.
PARSED_CDR_MEMBERS_WITH_ZONE = tuple(m for m in PARSED_CDR_MEMBERS if m not in ("cdr_location", "location"))

# OCPI volumes of time are hours with (at most) 6 decimals: 3.6 ms of resolution, so half of it is noise.
HOUR_VOLUME_NOISE_S = 0.0018


def _seconds(hours: Decimal, span_s: float | None) -> float:
    """A TIME / PARKING_TIME volume in seconds. An hour volume rounded to 6 decimals (2.116667 h for 7620 s)
    is off by up to 1.8 ms, enough to tip a 60-second step_size into one more step than the CPO billed; when
    the volume is the period's own span up to that rounding, the span (from the period's timestamps) is exact."""
    seconds = float(hours * 3600)
    if span_s is not None and seconds > 0 and abs(seconds - span_s) <= HOUR_VOLUME_NOISE_S:
        return span_s
    return seconds


def _loads(text: str) -> Any:
    """The JSON text parsed by orjson (3x the standard library's speed); what orjson refuses (NaN, integers beyond
    64 bits) is parsed by the standard library, as before."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def cdr_periods(session: dict) -> tuple[list[dict], str | None]:
    """The CDR's own periods for one `sessions` row (rows in PERIOD_SCHEMA shape), or ([], reason code)
    when its raw payload holds none or cannot be parsed."""
    try:
        payload = _loads(session["raw_payload"]) if session.get("raw_payload") else None
    except json.JSONDecodeError:
        return [], "CDR_PAYLOAD_NOT_JSON"
    document = _cdr_document(session["source"], payload)
    if document is None:
        return [], "NO_CDR_PERIODS"
    try:
        members = PARSED_CDR_MEMBERS_WITH_ZONE if session["time_zone"] else PARSED_CDR_MEMBERS
        parsed = parse_cdr(only_members(document, *members), timezone_name=session["time_zone"])
    except (OcpiFormatError, ValueError):
        return [], "CDR_PERIODS_UNPARSEABLE"
    rows = []
    # Periods keep the sender's order (the engine sorts them and records PERIODS_OUT_OF_ORDER, so the glitch
    # reaches priced_sessions); each ends where the next one in time starts.
    periods = parsed.periods
    in_time = sorted(range(len(periods)), key=lambda i: periods[i].start)
    ends = {i: periods[in_time[k + 1]].start if k + 1 < len(in_time) else session["end_utc"] for k, i in enumerate(in_time)}
    for index, period in enumerate(periods):
        end = ends[index]
        parking = period.time_h == 0 and period.parking_h > 0
        span_s = (end - period.start).total_seconds() if end is not None else None
        rows.append({
            "session_id": session["session_id"], "period_index": index, "start_utc": period.start, "end_utc": end,
            "state": "PARKING" if parking else "CHARGING", "energy_wh": float(period.energy_kwh * 1000),
            "time_s": _seconds(period.time_h, span_s), "parking_time_s": _seconds(period.parking_h, span_s),
            "min_power_w": _kilo(period.min_power), "max_power_w": _kilo(period.max_power),
            "min_current_a": None if period.min_current is None else float(period.min_current),
            "max_current_a": None if period.max_current is None else float(period.max_current),
        })
    return rows, None


def periods_frame(rows: list[dict]) -> pl.DataFrame:
    """Rows as a frame with the period schema (energy as Float64, since CDR volumes are not whole Wh)."""
    schema = dict(PERIOD_SCHEMA) | {"energy_wh": pl.Float64}
    return pl.DataFrame(rows, schema=schema)
