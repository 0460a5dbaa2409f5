"""What the monthly assets read from the warehouse: one month of settled days, and the reference tables."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

import polars as pl

from resources.warehouse import WarehouseResource

SESSION_COLUMNS = ("session_id", "source", "source_id", "operator_id", "location_id", "evse_uid", "emsp_id",
                   "customer_id", "settlement_date", "start_utc", "end_utc", "time_zone", "energy_wh", "currency",
                   "is_credit")


def scan_month(warehouse: WarehouseResource, table: str, first: dt.date, last: dt.date,
               column: str = "settlement_date") -> pl.LazyFrame:
    """The rows of `table` settling in [first, last], not yet read."""
    return warehouse.scan(table).filter(pl.col(column).is_between(first, last))


def month_sessions(warehouse: WarehouseResource, first: dt.date, last: dt.date,
                   columns: Iterable[str] = SESSION_COLUMNS) -> pl.DataFrame:
    """Sessions settling in [first, last]: `columns` of them (a month of a large operator is millions of rows, so
    a reader takes only what it uses)."""
    return scan_month(warehouse, "sessions", first, last).select(*columns).collect()


def month_priced(warehouse: WarehouseResource, first: dt.date, last: dt.date) -> pl.DataFrame:
    """priced_sessions rows settling in [first, last]."""
    return scan_month(warehouse, "priced_sessions", first, last).collect()


def month_electricity(warehouse: WarehouseResource, first: dt.date, last: dt.date) -> pl.DataFrame:
    """Electricity cost per session settling in [first, last]."""
    return scan_month(warehouse, "session_electricity_cost", first, last, "session_settlement_date").select(
        "session_id", "electricity_cost", "currency").collect()


def evses(warehouse: WarehouseResource) -> pl.DataFrame:
    return warehouse.read("evses").select("location_id", "evse_uid", "power_type")


def partner_names(warehouse: WarehouseResource) -> dict[str, str]:
    """eMSP id (COUNTRY-PARTY) → company name, from the newest partner registry's OCPI party ids."""
    registry = warehouse.read("partners")
    if registry.is_empty():
        return {}
    latest = registry.filter(pl.col("as_of_date") == pl.col("as_of_date").max())
    names: dict[str, str] = {}
    for name, mapping in latest.select("name", "external_source_mapping").sort("name").iter_rows():
        try:
            ids = (json.loads(mapping or "{}") or {}).get("ocpi_party_ids") or []
        except ValueError:
            ids = []
        for party in ids:
            names.setdefault(party, name)
    return names
