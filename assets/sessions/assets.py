"""The `sessions` asset: every source's session records for one settlement date, deduplicated."""


import datetime as dt

import dagster as dg
import polars as pl

from assets.checks import schema_result
from assets.ingest.ocpi_cdrs.assets import ocpi_cdrs
from assets.partitions import daily
from assets.sessions.tables import SESSIONS
from resources.warehouse import WarehouseResource

# Source tables that carry session-shaped rows, in order of precedence when two sources report the same
# session id (an earlier source wins a tie on last_updated).
SESSION_SOURCE_TABLES = ("ocpi_cdrs",)


def latest_versions(candidates: pl.LazyFrame) -> pl.LazyFrame:
    """One row per session id: the version updated last; ties broken by landing date, then record ref."""
    return (
        candidates.sort(["session_id", "last_updated", "landing_date", "record_ref"], descending=[False, True, True, True])
        .unique(subset=["session_id"], keep="first", maintain_order=True)
    )


def session_candidates(warehouse: WarehouseResource, settlement_date: dt.date) -> pl.LazyFrame:
    """Session-shaped rows of every source table whose settlement date is `settlement_date`,
    across all landing dates (so late deliveries are included)."""
    columns = [*SESSIONS.schema, "record_ref"]
    frames = [
        warehouse.scan(table, settlement_date=settlement_date).select(columns)
        for table in SESSION_SOURCE_TABLES
    ]
    return pl.concat(frames, how="vertical")


@dg.asset(
    partitions_def=daily,
    group_name="sessions",
    deps=[ocpi_cdrs],
    check_specs=[
        dg.AssetCheckSpec("schema", asset="sessions", description="Rows satisfy the sessions pandera model."),
        dg.AssetCheckSpec("unique_session_ids", asset="sessions", description="No session appears twice."),
    ],
    kinds={"polars", "parquet"},
)
def sessions(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Charging sessions settling on this date (local end date at the location), one row each.

    Reads the validated records of every landing date, keeps the latest version of each session
    (later `last_updated` wins), and reports how many superseded versions were set aside.
    """
    settlement_date = dt.date.fromisoformat(context.partition_key)
    candidates = session_candidates(warehouse, settlement_date).collect()
    chosen = latest_versions(candidates.lazy()).collect()
    table = chosen.select(list(SESSIONS.schema))
    warehouse.write_partition(SESSIONS, table, settlement_date=settlement_date)

    revenue = (
        table.filter(~pl.col("is_credit"))
        .group_by("currency")
        .agg(pl.col("reported_cost_incl_vat").sum().alias("incl"), pl.col("reported_cost_excl_vat").sum().alias("excl"))
        .sort("currency")
    )
    metadata: dict[str, object] = {
        "sessions": table.height,
        "superseded_versions": candidates.height - chosen.height,
        "energy_kwh": round((table["energy_wh"].sum() or 0.0) / 1000, 3),
        "dagster/row_count": table.height,
    }
    for currency, incl, excl in revenue.iter_rows():
        metadata[f"reported_revenue_excl_vat_{currency}"] = float(excl or 0)
        metadata[f"reported_revenue_incl_vat_{currency}"] = float(incl or 0)
    duplicates = table.height - table["session_id"].n_unique()
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            schema_result(SESSIONS, table),
            dg.AssetCheckResult(check_name="unique_session_ids", passed=duplicates == 0, metadata={"duplicates": duplicates}),
        ],
    )
