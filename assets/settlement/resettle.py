"""Finance's re-settlement: re-run the settlement of an operator's days and audit what changed.

The `resettle` job (pipelines/jobs.py) takes a typed config (operator, first and last settlement date,
reason). For each day, oldest first, it reads the day's statement, runs the `resettlement` job for that day
(one ordinary Dagster run per day, visible in the UI, tagged with this run's id), reads the statement again
and records before/after totals in `settlement_audit` under this run's id. A day is re-settled for every
operator (partitions are days), so other operators whose figures moved are recorded too.
"""


import datetime as dt
from decimal import Decimal

import dagster as dg
import polars as pl
from pydantic import Field

from assets.catalog.incremental import refresh_catalog_if_changed
from assets.finance_metadata import markdown, money_table
from assets.settlement.inputs import days_between
from assets.settlement.tables import SETTLEMENT_AUDIT, SETTLEMENT_STATEMENTS
from resources.warehouse import WarehouseResource

MAX_DAYS = 93
RESETTLE_TAG = "chargeledger/resettle_run"
RESETTLEMENT_JOB = "resettlement"
"""The code location's job that re-settles one day (every settlement-side asset of the partition)."""
TOTALS = ("sessions", "revenue_excl_vat", "revenue_incl_vat", "electricity_bought", "gross_margin")


class ResettleConfig(dg.Config):
    """What finance asks to re-settle, and why."""

    operator_id: str = Field(description="The operator to re-settle, as in sessions.operator_id (e.g. GB-VLT).")
    start_date: str = Field(description="First settlement date to re-settle, YYYY-MM-DD.")
    end_date: str = Field(description="Last settlement date to re-settle (inclusive), YYYY-MM-DD.")
    reason: str = Field(description="Why, in words; kept in settlement_audit (e.g. 'tariff 201 idle fee fixed').")


def requested_days(config: ResettleConfig) -> list[dt.date]:
    """The settlement dates of the request; a clear error for a bad one."""
    try:
        start, end = dt.date.fromisoformat(config.start_date), dt.date.fromisoformat(config.end_date)
    except ValueError as error:
        raise dg.Failure(f"start_date and end_date must be YYYY-MM-DD dates: {error}") from error
    if end < start:
        raise dg.Failure(f"end_date {end} is before start_date {start}")
    if (end - start).days + 1 > MAX_DAYS:
        raise dg.Failure(f"at most {MAX_DAYS} days per request (asked {(end - start).days + 1})")
    if not config.operator_id.strip() or not config.reason.strip():
        raise dg.Failure("operator_id and reason must not be empty")
    return days_between(start, end)


def day_totals(warehouse: WarehouseResource, day: dt.date) -> pl.DataFrame:
    """The daily statement's totals per operator and currency (no rows when the day was never settled)."""
    frame = warehouse.read(SETTLEMENT_STATEMENTS.name, period="day", period_start=day) \
        if warehouse.has_data(SETTLEMENT_STATEMENTS.name) else SETTLEMENT_STATEMENTS.empty_frame()
    return frame.select("operator_id", "currency", *TOTALS)


def audit_rows(day: dt.date, before: pl.DataFrame, after: pl.DataFrame, config: ResettleConfig,
               run_id: str, requested_at: dt.datetime) -> pl.DataFrame:
    """Before/after per operator and currency: the requested operator always, others when they changed."""
    start, end = dt.date.fromisoformat(config.start_date), dt.date.fromisoformat(config.end_date)
    zero = {"sessions": 0} | {c: Decimal(0) for c in TOTALS if c != "sessions"}
    joined = before.join(after, on=["operator_id", "currency"], how="full", coalesce=True, suffix="_after",
                         nulls_equal=True).rename({c: f"{c}_before" for c in TOTALS})
    joined = joined.with_columns(*[pl.col(f"{c}_{side}").fill_null(zero[c]) for c in TOTALS for side in ("before", "after")])
    changed = pl.any_horizontal([pl.col(f"{c}_before") != pl.col(f"{c}_after") for c in TOTALS])
    if not joined.filter(pl.col("operator_id") == config.operator_id).height:
        # the operator had no statement row before or after: record that nothing was there
        joined = pl.concat([joined, pl.DataFrame([{"operator_id": config.operator_id, "currency": None,
                                                   **{f"{c}_{s}": zero[c] for c in TOTALS for s in ("before", "after")}}],
                                                 schema=joined.schema)])
    return joined.with_columns(changed.alias("changed")).filter(
        (pl.col("operator_id") == config.operator_id) | pl.col("changed")).with_columns(
        pl.lit(run_id).alias("run_id"), pl.lit(day).alias("settlement_date"),
        pl.lit(config.operator_id).alias("requested_operator"), pl.lit(start).alias("requested_start"),
        pl.lit(end).alias("requested_end"), pl.lit(config.reason).alias("reason"),
        pl.lit(requested_at).cast(SETTLEMENT_AUDIT.schema["requested_at"]).alias("requested_at"),
    ).select(list(SETTLEMENT_AUDIT.schema))


def audit_summary(audit: pl.DataFrame) -> str:
    """Markdown: what changed, per day."""
    return money_table(
        ["day", "operator", "currency", "sessions before", "after", "revenue incl. VAT before", "after", "changed"],
        audit.select("settlement_date", "operator_id", "currency", "sessions_before", "sessions_after",
                     "revenue_incl_vat_before", "revenue_incl_vat_after", "changed").rows())


def write_audit(warehouse: WarehouseResource, frames: list[pl.DataFrame], run_id: str) -> pl.DataFrame:
    """The run's audit partition, then the catalog (so the view covers it)."""
    audit = pl.concat(frames) if frames else SETTLEMENT_AUDIT.empty_frame()
    warehouse.write_partition(SETTLEMENT_AUDIT, audit, run_id=run_id)
    refresh_catalog_if_changed(warehouse)
    return audit


@dg.op(description="Re-settle the requested days one by one (a `resettlement` run each) and record the "
                   "statement totals before and after in settlement_audit.")
def resettle_days(context: dg.OpExecutionContext, config: ResettleConfig, warehouse: WarehouseResource) -> None:
    """See the module docstring."""
    days = requested_days(config)
    record = context.instance.get_run_record_by_id(context.run_id)
    requested_at = record.create_timestamp.astimezone(dt.timezone.utc) if record else dt.datetime.now(dt.timezone.utc)
    # the code location's own job (a run launched from the UI or a schedule always knows its repository)
    resettlement = context.repository_def.get_job(RESETTLEMENT_JOB)
    frames = []
    for day in days:
        before = day_totals(warehouse, day)
        result = resettlement.execute_in_process(
            instance=context.instance, partition_key=day.isoformat(), raise_on_error=False,
            tags={RESETTLE_TAG: context.run_id}, run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
        if not result.success:
            # the days already re-settled are audited; this day and later ones were not re-settled
            write_audit(warehouse, frames, context.run_id)
            raise dg.Failure(f"re-settling {day} failed (run {result.run_id}); the days before it are in "
                             "settlement_audit, this day and later days were not re-settled",
                             metadata={"failed_run": result.run_id})
        frames.append(audit_rows(day, before, day_totals(warehouse, day), config, context.run_id, requested_at))
        context.log.info(f"re-settled {day} (run {result.run_id})")
    audit = write_audit(warehouse, frames, context.run_id)
    context.log_event(dg.AssetObservation(asset_key="settlement_audit", metadata={
        "days": len(days), "rows_changed": int(audit["changed"].sum()), "audit": markdown(audit_summary(audit))}))
