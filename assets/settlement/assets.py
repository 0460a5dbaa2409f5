"""Settlement assets: statements and station reports, per settlement day and per month.

- `settlement_statements` (daily) / `monthly_settlement_statements` (monthly): per operator and currency,
  sessions, kWh, engine revenue excl./incl. VAT and by VAT rate, electricity bought, gross margin, sessions
  not priced and records quarantined by code (tables settlement_statements, settlement_statement_vat,
  settlement_statement_exceptions).
- `station_reports` (daily) / `monthly_station_reports` (monthly): the seed 003 report by station, site and
  region with total and average rows; the daily asset also lists where Eevion's own report rows differ.
A month is recomputed from its days' rows by the same code as a day, never summed from daily outputs.
"""


import datetime as dt
from decimal import Decimal

import dagster as dg
import polars as pl

from assets.checks import schema_result
from assets.finance_metadata import markdown, money_metadata, money_table
from assets.partitions import daily
from assets.settlement.inputs import read_inputs, read_locations, read_maximum_power
from assets.settlement.partitions import monthly
from assets.settlement.station_report import build_report, compare_with_eevion, report_sessions, stamp_report
from assets.settlement.statements import Statement, build_statement
from assets.settlement.tables import (SETTLEMENT_STATEMENT_EXCEPTIONS, SETTLEMENT_STATEMENT_VAT,
                                      SETTLEMENT_STATEMENTS, STATION_REPORT_DIFFERENCES, STATION_REPORTS)
from resources.warehouse import WarehouseResource

EVERY_SESSION = "every_session_on_the_statement"
VAT_ADDS_UP = "vat_lines_add_up"
DAILY_GROUP, MONTHLY_GROUP = "settlement", "settlement_monthly"
SETTLEMENT_INPUTS = ["sessions", "priced_sessions", "session_electricity_cost"]


def _period(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def _statement_checks(asset: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(EVERY_SESSION, asset=asset,
                          description="The statement counts every session settled in the period, once."),
        dg.AssetCheckSpec(VAT_ADDS_UP, asset=asset,
                          description="Per operator and currency the VAT lines add up to the statement's revenue."),
        dg.AssetCheckSpec("schema", asset=asset, description="Statement rows satisfy the statement model."),
    ]


def write_statement(warehouse: WarehouseResource, statement: Statement, period: str, start: dt.date) -> None:
    """Replace the period's partitions of the three statement tables."""
    for spec, frame in ((SETTLEMENT_STATEMENTS, statement.statement), (SETTLEMENT_STATEMENT_VAT, statement.vat),
                        (SETTLEMENT_STATEMENT_EXCEPTIONS, statement.exceptions)):
        warehouse.write_partition(spec, frame, period=period, period_start=start)


def vat_mismatches(statement: Statement) -> pl.DataFrame:
    """Operator/currency rows whose VAT lines do not add up to the statement revenue (should be none)."""
    lines = statement.vat.group_by("operator_id", "currency").agg(pl.col("amount_excl_vat").sum().alias("excl"),
                                                                  pl.col("amount_incl_vat").sum().alias("incl"))
    joined = statement.statement.join(lines, on=["operator_id", "currency"], how="left", nulls_equal=True)
    return joined.filter((pl.col("excl").fill_null(Decimal(0)) != pl.col("revenue_excl_vat"))
                         | (pl.col("incl").fill_null(Decimal(0)) != pl.col("revenue_incl_vat")))


def statement_summary(statement: Statement) -> str:
    """The Markdown finance reads first: the statement, revenue by VAT rate, what was not settled."""
    s = statement.statement
    text = "### Statement\n" + money_table(
        ["operator", "currency", "sessions", "not priced", "kWh", "revenue excl. VAT", "VAT", "revenue incl. VAT",
         "electricity bought", "gross margin"],
        s.select("operator_id", "currency", "sessions", "sessions_not_priced", pl.col("energy_wh") / 1000,
                 "revenue_excl_vat", "vat_amount", "revenue_incl_vat", "electricity_bought", "gross_margin").rows())
    text += "\n\n### Revenue by VAT rate\n" + money_table(
        ["operator", "currency", "VAT %", "rate from", "sessions", "excl. VAT", "VAT", "incl. VAT"],
        statement.vat.select("operator_id", "currency", "vat_rate", "vat_rate_source", "sessions", "amount_excl_vat",
                             "vat_amount", "amount_incl_vat").rows())
    text += "\n\n### Not priced and quarantined\n" + money_table(
        ["kind", "operator", "asset", "code", "records"],
        statement.exceptions.select("kind", "operator_id", "source_asset", "code", "records").rows())
    return text


def statement_metadata(statement: Statement) -> dict:
    """Numeric metadata (plots) per currency; the exact amounts are in the Markdown."""
    s, e = statement.statement, statement.exceptions
    per_currency = s.group_by("currency").agg(
        pl.col("revenue_excl_vat", "vat_amount", "revenue_incl_vat", "electricity_bought", "gross_margin").sum()
    ).sort("currency", nulls_last=True)
    metadata: dict[str, object] = {
        "sessions": int(s["sessions"].sum()), "sessions_not_priced": int(s["sessions_not_priced"].sum()),
        "energy_kwh": round(float(s["energy_wh"].sum()) / 1000, 3), "operators": s["operator_id"].n_unique(),
        "quarantined_records": int(e.filter(pl.col("kind") == "QUARANTINED")["records"].sum()),
        "dagster/row_count": s.height,
    }
    for column, measure, suffix in (("revenue_excl_vat", "revenue", "excl_vat"), ("revenue_incl_vat", "revenue", "incl_vat"),
                                    ("vat_amount", "vat", ""), ("electricity_bought", "electricity_bought", ""),
                                    ("gross_margin", "gross_margin", "")):
        metadata |= money_metadata(measure, per_currency.select("currency", column).rows(), suffix)
    return metadata | {"statement": markdown(statement_summary(statement))}


def settle_statement(context: dg.AssetExecutionContext, warehouse: WarehouseResource, period: str) -> dg.MaterializeResult:
    """Build, write and report the statement of the run's partition."""
    start, end = _period(context)
    inputs = read_inputs(warehouse, start, end)
    statement = build_statement(inputs, period, start, end)
    write_statement(warehouse, statement, period, start)
    counted = int(statement.statement["sessions"].sum())
    mismatches = vat_mismatches(statement)
    asset = context.asset_key
    return dg.MaterializeResult(metadata=statement_metadata(statement), check_results=[
        dg.AssetCheckResult(check_name=EVERY_SESSION, asset_key=asset, passed=counted == inputs.sessions.height,
                            metadata={"sessions_settled": inputs.sessions.height, "sessions_on_statement": counted}),
        dg.AssetCheckResult(check_name=VAT_ADDS_UP, asset_key=asset, passed=mismatches.height == 0,
                            metadata={"rows_not_adding_up": mismatches.height}),
        schema_result(SETTLEMENT_STATEMENTS, statement.statement, asset_key=asset),
    ])


@dg.asset(partitions_def=daily, group_name=DAILY_GROUP, deps=SETTLEMENT_INPUTS,
          check_specs=_statement_checks("settlement_statements"), kinds={"polars", "parquet"})
def settlement_statements(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The day's settlement statement per operator and currency: sessions, kWh, engine revenue excl./incl. VAT
    and per VAT rate, electricity bought, gross margin, sessions not priced (by error code) and records
    quarantined that day (by reason). The Markdown `statement` shows the exact amounts."""
    return settle_statement(context, warehouse, "day")


@dg.asset(partitions_def=monthly, group_name=MONTHLY_GROUP, deps=[settlement_statements],
          check_specs=_statement_checks("monthly_settlement_statements"), kinds={"polars", "parquet"})
def monthly_settlement_statements(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The month's settlement statement per operator and currency, recomputed from every settlement date of
    the month by the same rules as the daily statement (same tables, `period = 'month'`)."""
    return settle_statement(context, warehouse, "month")


def _report(warehouse: WarehouseResource, start: dt.date, end: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    inputs = read_inputs(warehouse, start, end)
    rows = report_sessions(inputs.sessions, inputs.priced, inputs.electricity, read_locations(warehouse),
                           read_maximum_power(warehouse, start, end))
    return rows, build_report(rows)


def report_metadata(report: pl.DataFrame) -> dict:
    """Per currency the totals (numeric) and the station total rows as Markdown."""
    totals = report.filter((pl.col("row_kind") == "total") & (pl.col("group_by") == "station")).sort("currency")
    metadata: dict[str, object] = {"dagster/row_count": report.height,
                                   "stations": report.filter((pl.col("row_kind") == "group") & (pl.col("group_by") == "station")).height,
                                   "sessions": int(totals["count"].sum() or 0)}
    metadata |= money_metadata("total_cost_cents", totals.select("currency", "total_cost_cents").rows())
    table = money_table(["currency", "group by", "row", "count", "cancelled", "total cost (minor units)",
                         "electricity (minor units)", "Wh", "seconds"],
                        report.filter(pl.col("row_kind") != "group").select(
                            "currency", "group_by", "row_kind", "count", "cancel_count", "total_cost_cents",
                            "total_energy_cost_cents", "total_energy_watt_hours", "total_duration_seconds").rows())
    return metadata | {"totals": markdown(table)}


@dg.asset(partitions_def=daily, group_name=DAILY_GROUP, deps=SETTLEMENT_INPUTS + ["locations", "meter_curves",
                                                                                  "clock_aligned_consumption", "eevion_reports"],
          check_specs=[dg.AssetCheckSpec("schema", asset="station_reports", description="Report rows are well formed.")],
          kinds={"polars", "parquet"})
def station_reports(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The Eevion (seed 003) session report for the settlement day from our own sessions: count, cancel_count,
    total/average cost cents (engine, incl. VAT), electricity cost cents, Wh, durations, maximum power, unique
    customers, most common start method, by station, site and region, with total and average rows. Eevion's own
    report rows for periods starting that UTC day are compared metric by metric (station_report_differences)."""
    day = dt.date.fromisoformat(context.partition_key)
    _, report = _report(warehouse, day, day)
    stamped = stamp_report(report, "day", day, day)
    warehouse.write_partition(STATION_REPORTS, stamped, period="day", period_start=day)
    differences = eevion_differences(warehouse, day)
    warehouse.write_partition(STATION_REPORT_DIFFERENCES, differences, report_date=day)
    metadata = report_metadata(stamped) | {"eevion_differences": differences.height}
    return dg.MaterializeResult(metadata=metadata, check_results=[schema_result(STATION_REPORTS, stamped)])


def eevion_differences(warehouse: WarehouseResource, day: dt.date) -> pl.DataFrame:
    """Eevion report rows for periods starting on `day` (latest landing of each) against our figures."""
    empty = STATION_REPORT_DIFFERENCES.empty_frame()
    if not warehouse.has_data("eevion_reports"):
        return empty
    eevion = warehouse.read("eevion_reports").filter(pl.col("period_start").dt.date() == day)
    if not eevion.height:
        return empty
    latest = eevion.sort("landing_date").group_by("period_start", "period_end", "group_by", "group_key").last()
    # a session starting on UTC day D settles on its local end date: D-1 (west of UTC) up to D+2 (long sessions)
    rows, _ = _report(warehouse, day - dt.timedelta(days=1), day + dt.timedelta(days=2))
    found = compare_with_eevion(latest.sort("period_start", "group_by", "group_key"), rows)
    return pl.DataFrame(found, schema=empty.schema) if found else empty


@dg.asset(partitions_def=monthly, group_name=MONTHLY_GROUP, deps=[station_reports],
          check_specs=[dg.AssetCheckSpec("schema", asset="monthly_station_reports", description="Report rows are well formed.")],
          kinds={"polars", "parquet"})
def monthly_station_reports(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The Eevion (seed 003) session report for the month, recomputed from the month's sessions (unique
    customers and averages of a month are not sums of days), by station, site and region with total and
    average rows."""
    start, end = _period(context)
    _, report = _report(warehouse, start, end)
    stamped = stamp_report(report, "month", start, end)
    warehouse.write_partition(STATION_REPORTS, stamped, period="month", period_start=start)
    return dg.MaterializeResult(metadata=report_metadata(stamped),
                                check_results=[schema_result(STATION_REPORTS, stamped, asset_key=context.asset_key)])


SETTLEMENT_ASSETS = [settlement_statements, monthly_settlement_statements, station_reports, monthly_station_reports]
