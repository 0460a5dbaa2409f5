"""Dagster assets of the consumption domain, daily-partitioned on the session settlement date.

meter_curves → charging_periods, clock_aligned_consumption → electricity_cost → session_electricity_cost.
Every asset replaces its partition (idempotent), reports its figures as metadata and carries checks,
among them the conservation of energy per session.
"""

import datetime as dt

import dagster as dg
import polars as pl

from assets.checks import BucketSchemaCheck, conservation_result, schema_result
from assets.consumption import build, curve_cache, period_cache
from assets.consumption.tables import (CHARGING_PERIODS, CLOCK_ALIGNED, ELECTRICITY_COST, METER_CURVES, PARTITION,
                                       SESSION_ELECTRICITY_COST)
from assets.partitions import daily
from assets.quarantine import QUARANTINE, quarantine_frame
from resources.warehouse import SortedPartsWriter, WarehouseResource

GROUP = "consumption"
ENERGY_CONSERVATION = "energy_conservation"

class AlignmentConfig(dg.Config):
    """Length of the clock-aligned intervals in minutes: 15, 30 (default, GB settlement) or 60."""

    interval_minutes: int = 30

def _day(context: dg.AssetExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)

def _conservation_check(asset: str, mismatches: pl.DataFrame, sessions: int) -> dg.AssetCheckResult:
    sample = mismatches.head(10)
    return dg.AssetCheckResult(
        check_name=ENERGY_CONSERVATION, asset_key=dg.AssetKey(asset), passed=mismatches.height == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"sessions_checked": sessions, "sessions_not_conserved": mismatches.height,
                  "sample": dg.MetadataValue.md(sample.write_csv() if sample.height else "none")},
    )

@dg.asset(
    partitions_def=daily, group_name=GROUP, deps=["sessions", "meter_readings", "transactions", "consumption_stats"],
    check_specs=[
        dg.AssetCheckSpec("conservation", asset="meter_curves",
                          description="Every register reading is in the curve or quarantined with a reason code."),
        dg.AssetCheckSpec("schema", asset="meter_curves", description="Rows satisfy the meter curve model."),
    ],
    kinds={"polars", "numba", "parquet"},
)
def meter_curves(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Cleaned meter curve of every session settling on this date: cumulative register (Wh, monotonic,
    resets bridged, spurious zeros and glitches quarantined with a reason code), power (W), current (A,
    phases summed) and OCPP charging states, one row per instant."""
    day = _day(context)
    # A re-settlement rebuilds only the sessions whose meter data changed since the date's last run.
    started = curve_cache.plan(warehouse, day)
    # The meter readings are held one chunk of sessions at a time, and each chunk's curve is checked, spilled
    # and streamed into the partition in the table's order: the day's curve is never held whole.
    schema = BucketSchemaCheck(METER_CURVES)
    with SortedPartsWriter(warehouse, METER_CURVES, {PARTITION: day}, distinct_groups=True) as writer:
        def write_chunk(chunk: pl.DataFrame) -> None:
            schema.add(writer.append(chunk).with_columns(pl.lit(day).alias(PARTITION)))

        result = build.meter_curves(warehouse, day, write_chunk, reused=started.reused)
        writer.commit()
    warehouse.write_partition(QUARANTINE, quarantine_frame(result.rejections), source_asset="meter_curves",
                              partition_key=context.partition_key)
    curve_cache.save(warehouse, day, started, result.session_figures)
    return dg.MaterializeResult(
        metadata=result.metadata | {
            "dagster/row_count": writer.rows,
            "sessions_reused": started.reused.height,
            "sessions_built": result.session_figures.height - started.reused.height,
            "reuse": started.why,
        },
        check_results=[
            conservation_result(result.rows_in, result.rows_accepted, len(result.rejections),
                                asset_key=dg.AssetKey("meter_curves")),
            schema.result(),
        ],
    )

@dg.asset(
    partitions_def=daily, group_name=GROUP, deps=[meter_curves, "sessions", "tariffs", "evses"],
    check_specs=[
        dg.AssetCheckSpec(ENERGY_CONSERVATION, asset="charging_periods",
                          description="Per metered session, period energy sums exactly to the register delta."),
        dg.AssetCheckSpec("schema", asset="charging_periods", description="Rows satisfy the charging period model."),
    ],
    kinds={"polars", "numba", "parquet"},
)
def charging_periods(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """OCPI charging periods of every session settling on this date, cut at every moment the price of the
    tariff `priced_sessions` uses could change (time windows, kWh/duration/idle thresholds) and at
    charging/parking switches: metered sessions from their meter curve, sessions known only by totals from
    the curve the totals imply (charging at constant power, then parking); CDRs keep their own periods."""
    day = _day(context)
    # A re-settlement cuts again only the sessions whose row or curve changed since the date's last run.
    started = period_cache.plan(warehouse, day)
    result = build.charging_periods(warehouse, day, started=started)
    warehouse.write_partition(CHARGING_PERIODS, result.table, **{PARTITION: day})
    period_cache.save(warehouse, day, result.reuse_key, result.session_figures)
    return dg.MaterializeResult(
        metadata=result.metadata | {
            "dagster/row_count": result.table.height,
            "sessions_reused": result.reused,
            "reuse": started.why,
        },
        check_results=[
            _conservation_check("charging_periods", result.mismatches, result.checked),
            schema_result(CHARGING_PERIODS, result.table, asset_key=dg.AssetKey("charging_periods")),
        ],
    )

@dg.asset(
    partitions_def=daily, group_name=GROUP, deps=[meter_curves, "sessions", "interval_charges"],
    check_specs=[
        dg.AssetCheckSpec(ENERGY_CONSERVATION, asset="clock_aligned_consumption",
                          description="Per session, interval Wh sum exactly to the session energy."),
        dg.AssetCheckSpec("schema", asset="clock_aligned_consumption", description="Rows satisfy the model."),
    ],
    kinds={"polars", "numba", "parquet"},
)
def clock_aligned_consumption(context: dg.AssetExecutionContext, config: AlignmentConfig,
                              warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Energy of every session settling on this date in clock-aligned intervals (15/30/60 minutes of the
    site's local clock), integer Wh that sum exactly to the session, with settlement date and period.
    Metered sessions interpolate their register; interval data is re-aligned from its cumulative sum
    (unchanged on a 30-minute grid); totals-only sessions are spread at constant power and flagged."""
    day = _day(context)
    result = build.clock_aligned(warehouse, day, config.interval_minutes)
    warehouse.write_partition(CLOCK_ALIGNED, result.table, **{PARTITION: day})
    return dg.MaterializeResult(
        metadata=result.metadata | {"dagster/row_count": result.table.height},
        check_results=[
            _conservation_check("clock_aligned_consumption", result.mismatches, result.checked),
            schema_result(CLOCK_ALIGNED, result.table, asset_key=dg.AssetKey("clock_aligned_consumption")),
        ],
    )

@dg.asset(
    partitions_def=daily, group_name=GROUP, deps=[clock_aligned_consumption, "electricity_rates"],
    check_specs=[dg.AssetCheckSpec("energy_matches_intervals", asset="electricity_cost",
                                   description="Every clock-aligned interval is costed once, with its energy.")],
    kinds={"polars", "parquet"},
)
def electricity_cost(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Electricity cost of each clock-aligned interval at its operator's electricity rate (seed 001:
    tax-inclusive default price, week-day/`any` and date periods in local time; date periods win)."""
    day = _day(context)
    result = build.electricity_cost(warehouse, day)
    warehouse.write_partition(ELECTRICITY_COST, result.table, **{PARTITION: day})
    intervals = result.metadata["intervals_in"]
    energy_in = result.metadata["energy_wh_in"]
    energy_out = int(result.table["energy_wh"].sum() or 0)
    return dg.MaterializeResult(
        metadata=result.metadata | {"dagster/row_count": result.table.height},
        check_results=[dg.AssetCheckResult(
            check_name="energy_matches_intervals", passed=intervals == result.table.height and energy_in == energy_out,
            metadata={"intervals_in": intervals, "rows_out": result.table.height, "energy_wh_in": energy_in,
                      "energy_wh_out": energy_out})],
    )

@dg.asset(partitions_def=daily, group_name=GROUP, deps=[electricity_cost], kinds={"polars", "parquet"})
def session_electricity_cost(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Electricity cost per session settling on this date: the sum of its rounded interval costs."""
    day = _day(context)
    table = build.session_electricity_cost(warehouse, day)
    warehouse.write_partition(SESSION_ELECTRICITY_COST, table, **{PARTITION: day})
    metadata: dict[str, object] = {"sessions": table.height, "dagster/row_count": table.height,
                                   "sessions_with_unpriced_intervals": int((table["unpriced_intervals"] > 0).sum())}
    for currency, amount in table.group_by("currency").agg(pl.col("electricity_cost").sum()).sort("currency").iter_rows():
        metadata[f"electricity_cost_{currency or 'unknown'}"] = float(amount or 0)
    return dg.MaterializeResult(metadata=metadata)

CONSUMPTION_ASSETS = [meter_curves, charging_periods, clock_aligned_consumption, electricity_cost,
                      session_electricity_cost]
