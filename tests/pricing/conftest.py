"""Builders for the pricing tests: landing tariff files, reference rows, sessions and charging periods."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from assets.consumption.tables import CHARGING_PERIODS
from assets.reference.tables import EVSES, OPERATORS
from assets.sessions.tables import SESSIONS

DAY = dt.date(2026, 10, 25)
ZONE = "Europe/Amsterdam"


def utc(text: str) -> dt.datetime:
    """An aware UTC datetime from 'YYYY-MM-DD HH:MM'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


def full_frame(spec, rows: list[dict]) -> pl.DataFrame:
    """Rows (missing columns null) as a frame with the table's full schema."""
    return pl.DataFrame([{c: r.get(c) for c in spec.schema} for r in rows], schema=spec.schema)


def ocpi_tariff(tariff_id: str, components: list[dict], **extra) -> dict:
    """An OCPI 2.2.1 tariff with one element."""
    return {"country_code": "NL", "party_id": "ABC", "id": tariff_id, "currency": "EUR",
            "elements": [{"price_components": components}], "last_updated": "2026-09-01T00:00:00Z", **extra}


def write_json(root: Path, relative: str, body) -> None:
    """A landed file (text as given when `body` is a str)."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")


ENERGY_TARIFF = ocpi_tariff("T-ENERGY", [{"type": "ENERGY", "price": 0.30, "vat": 20.0, "step_size": 1},
                                         {"type": "FLAT", "price": 1.00, "vat": 20.0, "step_size": 1}])
TIME_TARIFF = ocpi_tariff("T-TIME", [{"type": "TIME", "price": 2.00, "vat": 10.0, "step_size": 1},
                                     {"type": "PARKING_TIME", "price": 1.20, "vat": 10.0, "step_size": 1}])
PLATFORM_FLAT = {"id": 301, "operatorId": 1, "name": "Flat 6", "type": "flat rate", "currency": "EUR",
                 "lastUpdatedAt": "2026-09-01T00:00:00Z", "pricing": {"pricePerSession": 6.0}}
PLATFORM_FORBIDDEN = {"id": 302, "operatorId": 1, "name": "No ad-hoc", "type": "charging not allowed",
                      "currency": "EUR", "lastUpdatedAt": "2026-09-01T00:00:00Z"}
EEVION_KWH = {"type": "kwh", "price": 0.4, "paymentCycleUnit": "hour", "priceIncrement": 0, "id": "e1",
              "name": "$0.40/kWh", "isPrivate": False}
BAD_FIELD = ocpi_tariff("T-BAD", [{"type": "ENERGY", "price": 0.3, "vat": 20.0, "step_size": 1}])
BAD_FIELD["elements"][0]["restrictions"] = {"moon_phase": "FULL"}


@pytest.fixture
def landed_tariffs(tmp_landing):
    """Seven tariff records: four good ones (one per format and wrapping), three the engine must refuse."""
    root = tmp_landing.root_path
    write_json(root, "tariffs/ocpi/T-ENERGY.json", ENERGY_TARIFF)
    write_json(root, "tariffs/ocpi/T-TIME.json", {"data": TIME_TARIFF, "status_code": 1000})
    write_json(root, "tariffs/ocpi/T-BAD.json", BAD_FIELD)
    write_json(root, "tariffs/ocpi/truncated.json", '{"id": "T-CUT", "currency": "EU')
    write_json(root, "tariffs/platform/301.json", {"data": PLATFORM_FLAT})
    write_json(root, "tariffs/platform/302.json", {"data": PLATFORM_FORBIDDEN})
    write_json(root, "tariffs/eevion/e1.json", EEVION_KWH)
    return tmp_landing


@pytest.fixture
def reference(tmp_warehouse):
    """Two operators and three EVSEs: one naming an OCPI and a platform tariff, one the Eevion tariff."""
    wh = tmp_warehouse
    wh.write_partition(OPERATORS, full_frame(OPERATORS, [
        {"operator_id": "NL-ABC", "currency": "EUR", "time_zone": ZONE},
        {"operator_id": "CA-MPL", "currency": "CAD", "time_zone": "America/Toronto"}]))
    wh.write_partition(EVSES, full_frame(EVSES, [
        {"location_id": "LOC-1", "evse_uid": "E-1", "operator_id": "NL-ABC", "time_zone": ZONE,
         "tariff_ids": ["T-ENERGY", "301"]},
        {"location_id": "LOC-1", "evse_uid": "E-2", "operator_id": "NL-ABC", "time_zone": ZONE, "tariff_ids": []},
        {"location_id": "LOC-CA", "evse_uid": "C-1", "operator_id": "CA-MPL", "time_zone": "America/Toronto",
         "tariff_ids": ["e1"]}]))
    return wh


def session(session_id: str, source: str, start: str, end: str, **extra) -> dict:
    """A `sessions` row settling on DAY."""
    return {"session_id": session_id, "source": source, "source_id": session_id.split(":")[-1],
            "start_utc": utc(start), "end_utc": utc(end), "time_zone": ZONE, "settlement_date": DAY,
            "energy_wh": 0.0, "total_time_s": 0, "parking_time_s": 0, "is_credit": False, "tariff_ids": [], **extra}


def period(session_id: str, index: int, start: str, end: str, state: str = "CHARGING", energy_wh: float = 0.0,
           time_s: float = 0.0, parking_s: float = 0.0, **extra) -> dict:
    """A `charging_periods` row of DAY."""
    return {"session_settlement_date": DAY, "session_id": session_id, "period_index": index, "start_utc": utc(start),
            "end_utc": utc(end), "state": state, "energy_wh": energy_wh, "time_s": time_s,
            "parking_time_s": parking_s, "method": "meter", **extra}


def write_sessions(wh, rows: list[dict]) -> None:
    """The `sessions` partition of DAY."""
    wh.write_partition(SESSIONS, full_frame(SESSIONS, rows), settlement_date=DAY)


def write_periods(wh, rows: list[dict]) -> None:
    """The `charging_periods` partition of DAY."""
    wh.write_partition(CHARGING_PERIODS, full_frame(CHARGING_PERIODS, rows), session_settlement_date=DAY)
