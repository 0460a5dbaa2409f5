"""Where session-shaped rows come from: each source table, mapped onto the unified session columns.

Most source tables already carry the session columns (they import `SESSION_COLUMNS`); OCPP transactions
do not, so they are mapped here:

- the current state of a transaction is its row with the greatest `landing_date`; only `complete`
  transactions are sessions;
- location, operator and time zone come from the charge point's EVSEs (`evses` reference table); the
  OCPP connector/EVSE number n is the n-th EVSE of that charge point, by EVSE uid;
- the settlement date is the local date of the stop in that zone; currency is the operator's;
- `session_ref` is the transaction id as the charger and the CDRs know it (without our namespace).
"""

import datetime as dt

import polars as pl

from assets.sessions.tables import SESSIONS
from resources.warehouse import WarehouseResource

# Tables whose rows already have the session columns plus landing_date and record_ref.
SESSION_SHAPED_TABLES = ("ocpi_cdrs", "interval_charges", "platform_cdrs", "platform_sessions", "eevion_sessions")
COLUMNS = [*SESSIONS.schema, "record_ref"]


def _table_rows(warehouse: WarehouseResource, table: str) -> pl.LazyFrame:
    # every table is in the explicit table list (assets/tables.py); one never written scans as empty
    return warehouse.scan(table).select(COLUMNS)


def ocpp_session_rows(warehouse: WarehouseResource, among: pl.Expr | None = None) -> pl.LazyFrame:
    """Completed OCPP transactions as session rows (see the module docstring for the rules).

    ``among``: a condition on ``transactions`` rows; only the transactions with a row that meets it are read.
    The table holds a row per transaction and landing date of the warehouse's whole history, and sorting all of
    it each night grew with the history. A transaction's current state is on or after the landing date of any
    of its rows, so the dates before the earliest row found are left out.
    """
    transactions = warehouse.scan("transactions")
    if among is not None:
        found = transactions.filter(among).select("transaction_id", "landing_date").collect()
        transactions = (transactions.clear() if found.is_empty() else
                        transactions.filter(pl.col("landing_date") >= found.get_column("landing_date").min())
                        .join(found.select("transaction_id").unique().lazy(), on="transaction_id", how="semi"))
    current = (
        transactions
        .sort(["transaction_id", "landing_date"], descending=[False, True])
        .unique(subset=["transaction_id"], keep="first", maintain_order=True)
        .filter(pl.col("status") == "complete")
    )
    evses = (
        warehouse.scan("evses")
        .filter(pl.col("charge_point_id").is_not_null())
        .with_columns(evse_number=pl.col("evse_uid").rank("ordinal").over("charge_point_id").cast(pl.Int64))
    )
    by_point = evses.group_by("charge_point_id").agg(
        pl.col("location_id").first(), pl.col("operator_id").first(), pl.col("time_zone").first())
    operators = warehouse.scan("operators").select("operator_id", "currency")
    joined = (
        current.with_columns(evse_number=pl.coalesce("evse_id", "connector_id"))
        .join(by_point, on="charge_point_id", how="left")
        .join(evses.select("charge_point_id", "evse_number", "evse_uid", "tariff_ids"),
              on=["charge_point_id", "evse_number"], how="left")
        .join(operators, on="operator_id", how="left")
        .filter(pl.col("time_zone").is_not_null())
    )
    # The local stop date, per zone (polars converts one zone per expression).
    zones = joined.select("time_zone").unique().collect()["time_zone"].to_list()
    local_stop = pl.lit(None, pl.Date())
    for zone in zones:
        local_stop = pl.when(pl.col("time_zone") == zone).then(
            pl.col("stop_timestamp").dt.convert_time_zone(zone).dt.date()).otherwise(local_stop)
    parking = (pl.col("duration_s") - pl.col("charging_duration_s")).clip(lower_bound=0)
    return joined.select(
        pl.col("transaction_id").alias("session_id"),
        pl.lit("ocpp").alias("source"),
        pl.col("transaction_id").alias("source_id"),
        pl.col("transaction_id").str.split(":").list.last().alias("session_ref"),
        "operator_id", "location_id", "evse_uid",
        pl.col("connector_id").cast(pl.String()),
        pl.col("id_tag").alias("auth_id"),
        pl.lit(None, pl.String()).alias("auth_method"),
        pl.lit(None, pl.String()).alias("emsp_id"),
        pl.col("id_tag").alias("customer_id"),
        pl.col("start_timestamp").alias("start_utc"),
        pl.col("stop_timestamp").alias("end_utc"),
        "time_zone",
        local_stop.alias("settlement_date"),
        pl.col("energy_wh").clip(lower_bound=0),
        pl.col("duration_s").fill_null(0).alias("total_time_s"),
        parking.fill_null(0).cast(pl.Int64).alias("parking_time_s"),
        "currency",
        pl.col("tariff_ids").fill_null([]),
        pl.lit(None, SESSIONS.schema["reported_cost_excl_vat"]).alias("reported_cost_excl_vat"),
        pl.lit(None, SESSIONS.schema["reported_cost_incl_vat"]).alias("reported_cost_incl_vat"),
        *[pl.lit(None, SESSIONS.schema[f"reported_{part}_cost"]).alias(f"reported_{part}_cost")
          for part in ("energy", "time", "parking", "fixed")],
        pl.lit(False).alias("is_credit"),
        pl.lit(None, pl.String()).alias("credit_reference_id"),
        pl.col("stop_timestamp").alias("last_updated"),
        "landing_date",
        pl.lit(None, pl.String()).alias("raw_payload"),
        pl.format("transactions/landing_date={}/{}", "landing_date", "transaction_id").alias("record_ref"),
    ).select(COLUMNS)


def all_session_rows(warehouse: WarehouseResource, ocpp_among: pl.Expr | None = None) -> pl.LazyFrame:
    """Session-shaped rows of every source, every landing date (OCPP transactions: see ``ocpp_session_rows``'
    ``among``, a bound the caller's own filter must not need more than)."""
    frames = [_table_rows(warehouse, t) for t in SESSION_SHAPED_TABLES] + [ocpp_session_rows(warehouse, ocpp_among)]
    return pl.concat([f.select([pl.col(c).cast(t) for c, t in SESSIONS.schema.items()] + ["record_ref"])
                      for f in frames], how="vertical")


def may_settle_on(settlement_date: dt.date) -> pl.Expr:
    """``transactions`` rows that can be the current state of a session settling on ``settlement_date``: stopped
    within a day of it (a local date is within 14 hours of the same UTC date). Only the stop is tested: the
    Parquet statistics of an old partition's stops leave it out unread."""
    day = dt.datetime.combine(settlement_date, dt.time(), tzinfo=dt.UTC)
    return pl.col("stop_timestamp").is_between(day - dt.timedelta(days=1), day + dt.timedelta(days=2), closed="left")


def rows_settling_on(warehouse: WarehouseResource, settlement_date: dt.date) -> pl.LazyFrame:
    """Session rows (all sources, all landing dates) whose settlement date is `settlement_date`."""
    return (all_session_rows(warehouse, ocpp_among=may_settle_on(settlement_date))
            .filter(pl.col("settlement_date") == settlement_date))
