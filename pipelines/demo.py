"""`make settle`: run the nightly settlement for every day in the landing zone, then print a summary.

It does what the schedule and the late-data sensor do in production, in order and in-process: refresh
the reference data, run `nightly_settlement` for each landing day, re-settle the earlier days that late
records touched, then read the figures back from the analyst catalog (so the summary shows what an
analyst would see). First it marks failed the runs a killed earlier invocation left STARTED
(pipelines/interrupted_runs.py); landing days outside the partition range are reported, not run.
`--day D` (repeatable) settles only those landing days; `--executor multiprocess` runs the nightly and
re-settlement runs with a process per step, on every core (pipelines/executors.py).
"""

import argparse
import datetime as dt
import os
import sys
from decimal import ROUND_HALF_UP, Decimal

import dagster as dg
import duckdb

from assets.invoicing import invoice_lines as _invoice_lines
from assets.partner_settlement import partner_settlement_lines as _partner_settlement_lines
from assets.partitions import PARTITIONS_START, START_ENV, in_range
from pipelines.definitions import defs
from pipelines.executors import EXECUTORS, run_partition
from resources.warehouse import WarehouseResource
from pipelines.interrupted_runs import mark_interrupted_runs_failed, runner_tags
from sensors.late_data import late_settlement_dates

EXECUTOR_ENV = "CHARGELEDGER_EXECUTOR"
LANDING_SOURCES_WITH_DAYS = ("ocpi_cdrs", "ocpp", "interval_charges", "partners",
                             "platform/cdrs", "platform/sessions", "eevion/sessions", "eevion/webhooks")


def landing_days(landing) -> list[str]:
    """Every landing date present in any source folder."""
    days: set[str] = set()
    for source in LANDING_SOURCES_WITH_DAYS:
        days.update(d for d in landing.landing_dates(source) if _is_date(d))
    return sorted(days)


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _run(job_name: str, instance: dg.DagsterInstance, partition_key: str | None = None,
         run_config: dict | None = None, executor: str = "in_process") -> None:
    # Step events go to the run's event log (make ui); the terminal only shows warnings and errors.
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    result = run_partition(job_name, instance, partition_key=partition_key, run_config=quiet | (run_config or {}),
                           tags=runner_tags(), executor=executor)
    failed_checks = [c for c in result.get_asset_check_evaluations() if not c.passed]
    label = f"{job_name}[{partition_key}]" if partition_key else job_name
    if not result.success:
        raise SystemExit(f"{label} failed; see the run in the Dagster UI (make ui)")
    # A failed WARN check (e.g. reconciliation differences, each with its reason) is a finding, not a failure.
    def named(checks) -> str:
        return ", ".join(f"{c.asset_key.to_user_string()}.{c.check_name}" for c in checks)
    errors = [c for c in failed_checks if c.severity == dg.AssetCheckSeverity.ERROR]
    warnings = [c for c in failed_checks if c.severity != dg.AssetCheckSeverity.ERROR]
    status = "ok" + (f", {len(errors)} failed check(s): {named(errors)}" if errors else "") + (
        f", warning: {named(warnings)}" if warnings else "")
    print(f"  {label}: {status}")


def settled_months(warehouse) -> list[str]:
    """The first day of every month that has a settlement date (the monthly partitions to run)."""
    dates = {p["settlement_date"] for p in warehouse.partitions("sessions")}
    return sorted({d[:8] + "01" for d in dates if _is_date(d) and in_range(d)})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Settle every landing day (or only --day ones) and print a summary")
    parser.add_argument("--day", action="append", help="settle only this landing day (YYYY-MM-DD; repeatable)")
    parser.add_argument("--executor", choices=EXECUTORS, default=os.environ.get(EXECUTOR_ENV, "in_process"),
                        help=f"in_process: every step in this process; multiprocess: independent steps in parallel, "
                             f"a process each (pipelines/executors.py) (default ${EXECUTOR_ENV} or in_process)")
    args = parser.parse_args(argv)
    resources = defs.resources
    landing, warehouse = resources["landing"], resources["warehouse"]
    instance = dg.DagsterInstance.get()
    report_interrupted_runs(instance)
    days, outside = days_to_settle(landing, args.day)
    print(f"Settling {len(days)} landing day(s) {days[0]} … {days[-1]} from {landing.root_path}")
    _run("refresh_reference", instance)
    for day in days:
        _run("nightly_settlement", instance, day, executor=args.executor)
        for stale in late_settlement_dates(warehouse, dt.date.fromisoformat(day)):
            if in_range(stale.isoformat()):
                _run("resettlement", instance, stale.isoformat(), executor=args.executor)
            else:
                outside.append(f"{stale.isoformat()} (settlement day of late records landed {day})")
    for month in settled_months(warehouse):
        # Closes the month (statement, partner settlements, invoices). The demo issues on the 1st of the next
        # month, as the schedule would, so re-runs give the same documents.
        _run("monthly_invoicing", instance, month, {"ops": {"invoices": {"config": {"issued_on": next_month(month)}}}})
    export_home_charges(instance, warehouse)
    print_summary(warehouse)
    if outside:
        print(f"\nNot settled, outside the partition range ({PARTITIONS_START} to tomorrow; {START_ENV}):")
        for day in outside:
            print(f"  {day}")


def days_to_settle(landing, wanted: list[str] | None) -> tuple[list[str], list[str]]:
    """(landing days to settle, landing days outside the partition range), warning about the latter.

    A day outside the range is not a partition: running it would abort with DagsterUnknownPartitionError, so
    it is reported instead and every other day still settles.
    """
    days = landing_days(landing)
    if not days:
        raise SystemExit(f"no landed data under {landing.root_path}: run `make generate` first")
    if wanted:
        missing = sorted(set(wanted) - set(days))
        if missing:
            raise SystemExit(f"no landed data for {', '.join(missing)} under {landing.root_path}")
        days = [d for d in days if d in set(wanted)]
    outside = [d for d in days if not in_range(d)]
    for day in outside:
        print(f"  WARNING: landing day {day} is outside the partition range (from {PARTITIONS_START} to tomorrow); "
              f"not settled (set {START_ENV} to include it)", file=sys.stderr)
    days = [d for d in days if in_range(d)]
    if not days:
        raise SystemExit(f"no landing day within the partition range under {landing.root_path}")
    return days, outside


def report_interrupted_runs(instance: dg.DagsterInstance) -> None:
    """Fail and list the runs an earlier, killed `make settle` left STARTED; this run redoes their days."""
    for run in mark_interrupted_runs_failed(instance):
        partition = run.tags.get("dagster/partition")
        label = f"{run.job_name}[{partition}]" if partition else run.job_name
        print(f"  interrupted earlier: {label} run {run.run_id} (its process is gone): marked failed; "
              "settling its day again completes it")


def next_month(month: str) -> str:
    """The first day of the month after the month key `YYYY-MM-01`."""
    first = dt.date.fromisoformat(month)
    return (first.replace(year=first.year + 1, month=1) if first.month == 12
            else first.replace(month=first.month + 1)).isoformat()


def export_home_charges(instance: dg.DagsterInstance, warehouse) -> None:
    """Send every settled date's home charges to a loopback Charge API stand-in (seed 000) and print the counts.

    The stand-in runs in this process on 127.0.0.1; credentials are CHARGE_API_CLIENT_ID/SECRET when set, else
    random for this run (the stand-in is given the same pair). Running the demo again on the same warehouse
    sends nothing new: every charge is already delivered in the export log.
    """
    import secrets

    from data.partners.charge_api import ChargeApiStandin

    client_id = os.environ.get("CHARGE_API_CLIENT_ID") or "chargeledger-demo"
    client_secret = os.environ.get("CHARGE_API_CLIENT_SECRET") or secrets.token_urlsafe(24)
    dates = sorted({p["settlement_date"] for p in warehouse.partitions("sessions")})
    totals = dict.fromkeys(("sent", "duplicate", "rejected", "pending", "already_delivered"), 0)
    with ChargeApiStandin(client_id, client_secret) as server:
        os.environ.update(CHARGE_API_TOKEN_URL=server.token_url, CHARGE_API_BASE_URL=server.url,
                          CHARGE_API_CLIENT_ID=client_id, CHARGE_API_CLIENT_SECRET=client_secret)
        job = defs.resolve_job_def("interval_export_job")
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        for day in dates:  # the export alone per date; the catalog is rebuilt once below
            result = job.execute_in_process(instance=instance, partition_key=day, raise_on_error=False, run_config=quiet,
                                            asset_selection=[dg.AssetKey("interval_export")])
            if not result.success:
                raise SystemExit(f"interval_export_job[{day}] failed; see the run in the Dagster UI (make ui)")
            for event in result.get_asset_materialization_events():
                if event.asset_key == dg.AssetKey("interval_export"):
                    metadata = event.materialization.metadata
                    for key in totals:
                        totals[key] += metadata[key].value
    warehouse.refresh_catalog()  # the charge_exports views now have data
    print(f"  Charge API export (loopback stand-in) of {len(dates)} date(s): {totals['sent']} sent, "
          f"{totals['duplicate']} duplicate, {totals['rejected']} rejected, {totals['pending']} pending"
          + (f", {totals['already_delivered']} already delivered earlier" if totals["already_delivered"] else ""))


# -- the summary: one small function per section, each reading the analyst catalog ------------------------

def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the catalog has a view for `name` with rows (sections of tables not built yet are skipped)."""
    found = con.execute("select count(*) from duckdb_views() where view_name = ?", [name]).fetchone()[0]
    return bool(found) and con.execute(f'select count(*) from "{name}"').fetchone()[0] > 0


def _money(amount: Decimal | None) -> str:
    """An exact amount shown to the cent (half-up), with thousands separators."""
    return f"{(amount or Decimal(0)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def pipeline_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What was processed: sessions, energy, sources' reported revenue, electricity, quarantine."""
    sessions, kwh, empty = con.execute(
        "select count(*), coalesce(sum(energy_wh), 0) / 1000, count(*) filter (where energy_wh = 0) from sessions"
    ).fetchone()
    lines = ["Processed",
             f"  sessions settled:   {sessions} ({empty} of them cancelled or without energy)",
             f"  energy delivered:   {kwh:,.3f} kWh"]
    for currency, excl, incl in con.execute(
        "select currency, sum(reported_cost_excl_vat), sum(reported_cost_incl_vat) from sessions "
        "where not is_credit and currency is not null group by currency order by currency"
    ).fetchall():
        lines.append(f"  reported by the sources {currency}: {_money(excl)} excl. VAT, {_money(incl)} incl. VAT")
    quarantined = con.execute("select count(*) from quarantine").fetchone()[0]
    lines.append(f"  quarantined records: {quarantined}")
    for code, count in con.execute(
        "select reason_code, count(*) from quarantine group by 1 order by 2 desc, 1 limit 12").fetchall():
        lines.append(f"    {code:<28}{count}")
    return lines


def statement_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The monthly settlement statement per operator: what finance reads first."""
    if not _has_table(con, "settlement_statements"):
        return []
    lines = ["Monthly settlement statement per operator (settlement_statements, period = 'month'; engine prices)"]
    rows = con.execute(
        "select strftime(period_start, '%Y-%m'), operator_id, currency, sessions, sessions_not_priced, "
        "energy_wh / 1000, revenue_excl_vat, vat_amount, revenue_incl_vat, electricity_bought, "
        "sessions_without_electricity_cost, gross_margin from settlement_statements where period = 'month' "
        "order by 1, 2, 3").fetchall()
    for month, operator, currency, n, unpriced, kwh, excl, vat, incl, bought, unknown, margin in rows:
        lines.append(f"  {month} {operator or '(no operator)'} {currency or ''}: {n} sessions, {kwh:,.3f} kWh; "
                     f"revenue {_money(excl)} + VAT {_money(vat)} = {_money(incl)}; electricity bought "
                     f"{_money(bought)}; gross margin {_money(margin)}")
        rates = con.execute(
            "select vat_rate, amount_excl_vat, vat_amount from settlement_statement_vat where period = 'month' "
            "and strftime(period_start, '%Y-%m') = ? and operator_id is not distinct from ? "
            "and currency is not distinct from ? order by vat_rate", [month, operator, currency]).fetchall()
        if rates:
            lines.append("      VAT " + "; ".join(
                f"{'rate undetermined' if rate is None else f'{rate.normalize():f}%'}: {_money(excl)} + {_money(vat)}"
                for rate, excl, vat in rates))
        codes = con.execute(
            "select code, records from settlement_statement_exceptions where period = 'month' and kind = 'NOT_PRICED' "
            "and strftime(period_start, '%Y-%m') = ? and operator_id is not distinct from ? order by 2 desc, 1",
            [month, operator]).fetchall()
        if unpriced or unknown:
            lines.append(f"      not priced: {unpriced} (" + ", ".join(f"{c} {r}" for c, r in codes) + ")"
                         + (f"; {unknown} sessions without an electricity rate for every interval" if unknown else ""))
    return lines


def partner_settlement_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Partner settlements per operator × eMSP × month (assets/partner_settlement)."""
    if not _has_table(con, "partner_settlements"):
        return []
    return _partner_settlement_lines(defs.resources["warehouse"])


def invoice_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Invoices issued: documents per type, totals per currency, where the PDFs are (assets/invoicing)."""
    if not _has_table(con, "invoices"):
        return []
    return _invoice_lines(defs.resources["warehouse"])


def export_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Home charges delivered to the Charge API (the export log's catalog view)."""
    if not _has_table(con, "charge_exports"):
        return []
    rows = con.execute("select status, count(*) from charge_exports group by 1 order by 1").fetchall()
    return ["Charge API export (charge_exports)", "  " + ", ".join(f"{status}: {n}" for status, n in rows)]


# Each session's total against its own record: the incl. VAT total, else the excl. one when the source
# reports no incl. figure (the same pick as assets.reconciliation.build.session_reasons).
SESSION_REASONS_SQL = """
with totals as (
  select session_id, reason_code, unit, difference,
         row_number() over (partition by session_id order by (reason_code = 'NOT_REPORTED'), dimension desc) as pick
  from reconciliation where counterpart = 'record' and dimension in ('total_incl', 'total_excl'))
select reason_code, coalesce(unit, '') as unit, count(*) as sessions, sum(difference) as difference
from totals where pick = 1 group by all order by 1, 2
"""


def reconciliation_lines(con) -> list[str]:
    """Engine vs sources: sessions per reason (each session's total against its own record) with the summed
    difference per currency, and how many linked records of other sources differ in energy."""
    by_reason: dict[str, list] = {}
    for reason, unit, sessions, difference in con.execute(SESSION_REASONS_SQL).fetchall():
        by_reason.setdefault(reason, []).append((unit, sessions, difference))
    lines = ["  reconciliation, engine vs each session's own record (table `reconciliation`):"]
    for reason, parts in sorted(by_reason.items(), key=lambda item: (-sum(p[1] for p in item[1]), item[0])):
        amounts = ", ".join(f"{unit} {difference:+,.2f}" for unit, _, difference in parts if difference is not None)
        lines.append(f"    {reason:<22}{sum(p[1] for p in parts):>6} sessions" + (f"   ours - theirs: {amounts}" if amounts else ""))
    for linked, differing, compared in con.execute(
            "select counterpart, count(*) filter (where reason_code = 'ENERGY_DIFFERS'), count(*) from reconciliation "
            "where dimension = 'energy_wh' group by 1 order by 1").fetchall():
        lines.append(f"    linked {linked} records: {differing} of {compared} differ in energy (ENERGY_DIFFERS)")
    return lines


SECTIONS = (pipeline_lines, statement_lines, partner_settlement_lines, invoice_lines, export_lines,
            reconciliation_lines)


def print_summary(warehouse: WarehouseResource) -> None:
    """Figures read back from the analyst catalog, section by section, then where the results are."""
    catalog = str(warehouse.catalog_path)
    con = warehouse.connect_catalog()
    try:
        print("\nSummary (from the analyst catalog)")
        for section in SECTIONS:
            lines = section(con)
            if lines:
                print("\n" + "\n".join(lines))
    finally:
        con.close()
    print(f"\nResults: DuckDB catalog {catalog} (open read-only: duckdb -readonly {catalog})")
    print(f"         Parquet tables under {warehouse.tables.location('<table>')}/")
    print("         Dagster runs: make ui, then http://127.0.0.1:3000 (settlement_statements first)")


if __name__ == "__main__":
    sys.exit(main())
