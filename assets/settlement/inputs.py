"""What the settlement outputs read from the warehouse for a run of settlement dates.

Each reader returns only the columns its users need, for the settlement dates of the period (a day or a
month), so a month reads its days once and never more.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from assets.pricing.tables import TOTAL_COLUMNS
from resources.warehouse import WarehouseResource

SESSION_COLUMNS = ("session_id", "source", "operator_id", "location_id", "evse_uid", "auth_method", "emsp_id",
                   "customer_id", "start_utc", "end_utc", "settlement_date", "energy_wh", "total_time_s",
                   "currency", "is_credit")
PRICED_COLUMNS = ("session_id", "tariff_id", "currency", "error_code", *TOTAL_COLUMNS)


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from start to end, both included."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


@dataclass(frozen=True)
class SettlementInputs:
    """The rows of one period: sessions, their engine prices and electricity cost, and the day's quarantine."""

    sessions: pl.DataFrame
    priced: pl.DataFrame
    electricity: pl.DataFrame
    quarantine: pl.DataFrame
    tariffs: dict[str, str]


def read_inputs(warehouse: WarehouseResource, start: dt.date, end: dt.date) -> SettlementInputs:
    """Sessions, priced sessions and electricity cost settling from start to end, quarantine landed then."""
    days = days_between(start, end)
    tariffs = warehouse.read("tariffs").select("tariff_id", "tariff_json")
    return SettlementInputs(
        sessions=warehouse.scan("sessions", settlement_date=days).select(SESSION_COLUMNS).collect(),
        priced=warehouse.scan("priced_sessions", settlement_date=days).select(PRICED_COLUMNS).collect(),
        electricity=warehouse.scan("session_electricity_cost", session_settlement_date=days)
        .select("session_id", "electricity_cost", "currency").collect(),
        quarantine=warehouse.scan("quarantine", partition_key=[d.isoformat() for d in days])
        .select("source_asset", "reason_code").collect(),
        tariffs=dict(tariffs.iter_rows()),
    )


def read_locations(warehouse: WarehouseResource) -> pl.DataFrame:
    """Sites with their name and region: the OCPI `state` (province) when the location gives one, else the country."""
    return warehouse.read("locations").select(
        "location_id", pl.col("name").alias("location"),
        pl.coalesce(pl.col("raw_payload").str.json_path_match("$.state"), pl.col("country_code")).alias("region"))


def read_maximum_power(warehouse: WarehouseResource, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Per session its highest power, W: measured (meter_curves) when any, else the highest interval average."""
    days = days_between(start, end)
    measured = warehouse.scan("meter_curves", session_settlement_date=days).group_by("session_id") \
        .agg(pl.col("power_w").max().alias("measured_w"))
    averaged = warehouse.scan("clock_aligned_consumption", session_settlement_date=days).group_by("session_id") \
        .agg((pl.col("energy_wh") * 60 / pl.col("interval_minutes")).max().alias("interval_w"))
    return measured.join(averaged, on="session_id", how="full", coalesce=True).select(
        "session_id", pl.coalesce("measured_w", "interval_w").cast(pl.Float64).alias("maximum_power_watts")).collect()
