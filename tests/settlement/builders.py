"""Warehouse rows for settlement tests: sessions, priced sessions, electricity cost, quarantine, tariffs.

Only the columns a test cares about are given; the rest are null (or 0 amounts), as the real assets would
leave them for such a session.
"""

import datetime as dt
import json
from decimal import Decimal

import polars as pl

import assets.consumption.tables as consumption_tables
import assets.pricing.tables as pricing_tables
import assets.sessions.tables as session_tables
from assets.quarantine import QUARANTINE
from tariff_engine import parse_tariff, tariff_to_json

UTC = dt.timezone.utc


def _frame(spec, rows: list[dict], defaults: dict) -> pl.DataFrame:
    full = [{c: row.get(c, defaults.get(c)) for c in spec.schema} for row in rows]
    return pl.DataFrame(full, schema=spec.schema)


def write_sessions(warehouse, day: dt.date, rows: list[dict]) -> None:
    """`sessions` rows settling on `day`."""
    start = dt.datetime.combine(day, dt.time(8), UTC)
    defaults = {"source": "ocpi_cdr", "time_zone": "Europe/London", "settlement_date": day, "total_time_s": 3600,
                "parking_time_s": 0, "is_credit": False, "start_utc": start, "end_utc": start + dt.timedelta(hours=1),
                "tariff_ids": []}
    rows = [{"source_id": r["session_id"], **r} for r in rows]
    warehouse.write_partition(session_tables.SESSIONS, _frame(session_tables.SESSIONS, rows, defaults),
                              settlement_date=day)


def write_priced(warehouse, day: dt.date, rows: list[dict]) -> None:
    """`priced_sessions` rows; amounts not given are 0 for priced rows and null for unpriced ones."""
    spec = pricing_tables.PRICED_SESSIONS
    full = []
    for row in rows:
        zero = None if row.get("error_code") else Decimal(0)
        full.append({c: zero for c in pricing_tables.TOTAL_COLUMNS} | {"settlement_date": day} | row)
    warehouse.write_partition(spec, _frame(spec, full, {}), settlement_date=day)


def write_electricity(warehouse, day: dt.date, rows: list[dict]) -> None:
    """`session_electricity_cost` rows (cost None = an interval without a rate)."""
    spec = consumption_tables.SESSION_ELECTRICITY_COST
    rows = [{"session_settlement_date": day, "unpriced_intervals": 0 if r.get("electricity_cost") is not None else 1,
             **r} for r in rows]
    warehouse.write_partition(spec, _frame(spec, rows, {}), session_settlement_date=day)


def write_quarantine(warehouse, source_asset: str, partition_key: str, codes: list[str]) -> None:
    """Quarantine rows of one asset run."""
    rows = [{"source": "test", "record_ref": f"file.jsonl:{i}", "reason_code": c, "reason": c.lower(),
             "raw_payload": "{"} for i, c in enumerate(codes)]
    frame = pl.DataFrame(rows, schema={c: t for c, t in QUARANTINE.schema.items() if c in QUARANTINE.data_columns})
    warehouse.write_partition(QUARANTINE, frame, source_asset=source_asset, partition_key=partition_key)


def ocpi_tariff(tariff_id: str, currency: str, components: list[dict], **extra) -> dict:
    """A minimal OCPI 2.2.1 tariff with one element."""
    return {"id": tariff_id, "currency": currency, "country_code": "NL", "party_id": "TST",
            "elements": [{"price_components": components}], "last_updated": "2026-01-01T00:00:00Z", **extra}


def write_tariffs(warehouse, documents: list[dict]) -> None:
    """`tariffs` rows in canonical JSON, as the tariffs asset stores them."""
    rows = [{"tariff_id": d["id"], "source": "ocpi", "currency": d["currency"], "tax_included": None,
             "tariff_json": json.dumps(tariff_to_json(parse_tariff(d)), sort_keys=True), "record_ref": "test",
             "raw_payload": json.dumps(d)} for d in documents]
    warehouse.write_partition(pricing_tables.TARIFFS, pl.DataFrame(rows, schema=pricing_tables.TARIFFS.schema))
