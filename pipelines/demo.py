"""`make settle`: run the nightly settlement for every day in the landing zone, then print a summary.

It does what the schedule and the late-data sensor do in production, in order and in-process: refresh
the reference data, run `nightly_settlement` for each landing day, re-settle the earlier days that late
records touched, then read the figures back from the analyst catalog (so the summary shows what an
analyst would see). First it marks failed the runs a killed earlier invocation left STARTED
(pipelines/interrupted_runs.py); landing days outside the partition range are reported, not run.
`--day D` (repeatable) settles only those landing days.
"""

import argparse
import datetime as dt
import sys

import dagster as dg
import duckdb

from assets.partitions import PARTITIONS_START, START_ENV, in_range
from pipelines.definitions import defs
from pipelines.interrupted_runs import mark_interrupted_runs_failed, runner_tags
from sensors.late_data import late_settlement_dates

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


def _run(job_name: str, instance: dg.DagsterInstance, partition_key: str | None = None) -> None:
    job = defs.resolve_job_def(job_name)
    # Step events go to the run's event log (make ui); the terminal only shows warnings and errors.
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    result = job.execute_in_process(instance=instance, partition_key=partition_key, raise_on_error=False,
                                    run_config=quiet, tags=runner_tags())
    failed_checks = [c for c in result.get_asset_check_evaluations() if not c.passed]
    label = f"{job_name}[{partition_key}]" if partition_key else job_name
    if not result.success:
        raise SystemExit(f"{label} failed; see the run in the Dagster UI (make ui)")
    status = "ok" if not failed_checks else f"ok, {len(failed_checks)} failed check(s): " + ", ".join(
        f"{c.asset_key.to_user_string()}.{c.check_name}" for c in failed_checks)
    print(f"  {label}: {status}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Settle every landing day (or only --day ones) and print a summary")
    parser.add_argument("--day", action="append", help="settle only this landing day (YYYY-MM-DD; repeatable)")
    args = parser.parse_args(argv)
    resources = defs.resources
    landing, warehouse = resources["landing"], resources["warehouse"]
    instance = dg.DagsterInstance.get()
    report_interrupted_runs(instance)
    days, outside = days_to_settle(landing, args.day)
    print(f"Settling {len(days)} landing day(s) {days[0]} … {days[-1]} from {landing.root_path}")
    _run("refresh_reference", instance)
    for day in days:
        _run("nightly_settlement", instance, day)
        for stale in late_settlement_dates(warehouse, dt.date.fromisoformat(day)):
            if in_range(stale.isoformat()):
                _run("resettlement", instance, stale.isoformat())
            else:
                outside.append(f"{stale.isoformat()} (settlement day of late records landed {day})")
    print_summary(str(warehouse.catalog_path))
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


def print_summary(catalog: str) -> None:
    """Figures read back from the analyst catalog."""
    con = duckdb.connect(catalog, read_only=True)
    sessions, kwh, empty = con.execute(
        "select count(*), coalesce(sum(energy_wh), 0) / 1000, count(*) filter (where energy_wh = 0) from sessions"
    ).fetchone()
    print("\nSummary (from the analyst catalog)")
    print(f"  sessions settled:   {sessions} ({empty} of them cancelled or without energy)")
    print(f"  energy delivered:   {kwh:,.3f} kWh")
    for currency, excl, incl in con.execute(
        "select currency, sum(reported_cost_excl_vat), sum(reported_cost_incl_vat) from sessions "
        "where not is_credit and currency is not null group by currency order by currency"
    ).fetchall():
        print(f"  revenue {currency}:        {excl:,.2f} excl. VAT, {incl or 0:,.2f} incl. VAT (as reported by the sources)")
    unpriced = con.execute("select count(*) from sessions where reported_cost_excl_vat is null").fetchone()[0]
    print(f"  sessions without a reported price (metered or interval data only): {unpriced}")
    for currency, n, incl, errors in con.execute(
        "select currency, count(*) filter (where error_code is null), sum(total_cost_incl), "
        "count(*) filter (where error_code is not null) from priced_sessions group by currency order by currency"
    ).fetchall():
        print(f"  priced by the engine {currency or '(no tariff)'}: {n} sessions, {incl or 0:,.2f} incl. VAT; "
              f"{errors} not priced (see priced_sessions.error_code)")
    for currency, n, cost, unknown in con.execute(
        "select currency, count(*) filter (where electricity_cost is not null), sum(electricity_cost), "
        "count(*) filter (where electricity_cost is null) from session_electricity_cost "
        "group by currency order by currency nulls last"
    ).fetchall():
        print(f"  electricity bought {currency or '(no rate)'}: {cost or 0:,.2f} for {n} sessions"
              + (f"; {unknown} sessions without a rate for every interval" if unknown else ""))
    quarantined = con.execute("select count(*) from quarantine").fetchone()[0]
    print(f"  quarantined rows:   {quarantined}")
    for code, count in con.execute(
        "select reason_code, count(*) from quarantine group by 1 order by 2 desc, 1 limit 12").fetchall():
        print(f"    {code:<28}{count}")
    con.close()
    print(f"\nResults: DuckDB catalog {catalog} (open read-only: duckdb -readonly {catalog})")
    print(f"         Parquet tables under {catalog.rsplit('/', 1)[0]}/<table>/")
    print("         Dagster runs: make ui, then http://127.0.0.1:3000")


if __name__ == "__main__":
    sys.exit(main())
