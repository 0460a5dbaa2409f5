"""Late data → re-settlement.

A record that lands on day L but settles on an earlier day S (a CDR sent late, a charger that was offline)
makes settlement partition S stale. After the nightly run for L, the sensor asks for a re-run of the
settlement-side assets of every such S; the run key names both days, so each late delivery triggers
one re-settlement, however often the sensor ticks.
"""

import datetime as dt

import dagster as dg
import polars as pl

from assets.partitions import in_range
from assets.sessions.sources import all_session_rows
from resources.warehouse import WarehouseResource

def late_settlement_dates(warehouse: WarehouseResource, landing_date: dt.date) -> list[dt.date]:
    """Settlement dates before `landing_date` that session records landed on `landing_date` belong to."""
    found = (
        all_session_rows(warehouse, ocpp_among=pl.col("landing_date") == landing_date)
        .filter((pl.col("landing_date") == landing_date) & (pl.col("settlement_date") < landing_date))
        .select("settlement_date").unique().collect()
    )
    return sorted(d for d in found["settlement_date"].to_list() if d is not None)


def build_late_data_sensor(nightly, resettle):
    """A run-status sensor: when the nightly run for L succeeds, re-settle the earlier days L's data touched."""

    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[nightly], request_job=resettle,
                          name="late_data_resettlement", default_status=dg.DefaultSensorStatus.STOPPED)
    def late_data_resettlement(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
        landing_key = context.dagster_run.tags.get("dagster/partition")
        if not landing_key:
            return dg.SkipReason("the run had no partition")
        stale = late_settlement_dates(warehouse, dt.date.fromisoformat(landing_key))
        for day in (d for d in stale if not in_range(d.isoformat())):
            context.log.warning(f"late records landed {landing_key} settle on {day}, outside the partition range; "
                                "not re-settled")
        stale = [d for d in stale if in_range(d.isoformat())]
        if not stale:
            return dg.SkipReason(f"nothing that landed on {landing_key} settles on an earlier day")
        return [dg.RunRequest(run_key=f"resettle:{day.isoformat()}:after:{landing_key}", partition_key=day.isoformat())
                for day in stale]

    return late_data_resettlement


def build_invoice_late_data_sensor(monthly_invoicing):
    """When a settled day is re-priced after the month was invoiced, flag the invoices it changed and ask the
    `monthly_invoicing` job to re-run that month, which issues a credit note and a new invoice for each.

    It reads every `priced_sessions` materialization since its cursor (each re-settlement writes one; all of
    them, not only the latest, so days of two months re-settled between ticks are both seen), checks each
    touched month once, records the flags in the invoice register (`invoice_flags` table) and names the new
    flag ids in the run key, so one change asks for one run however often the sensor ticks.
    """
    from assets.invoicing.issue import flag_stale_invoices
    from assets.partner_settlement.months import month_bounds, month_of

    @dg.sensor(job=monthly_invoicing, name="late_data_invoice_flags", minimum_interval_seconds=300,
               default_status=dg.DefaultSensorStatus.STOPPED)
    def late_data_invoice_flags(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        result = context.instance.fetch_materializations(dg.AssetKey("priced_sessions"), limit=1000,
                                                         cursor=context.cursor, ascending=True)
        days = sorted({r.partition_key for r in result.records if r.partition_key})
        months: dict[str, str] = {}
        for day in days:
            months[month_of(dt.date.fromisoformat(day))] = day  # the latest changed day names the flag
        requests = []
        for month, day in sorted(months.items()):
            first, last = month_bounds(month)
            flags = flag_stale_invoices(warehouse, first, last, dt.date.fromisoformat(day),
                                        dt.datetime.now(dt.timezone.utc).isoformat())
            if flags:
                context.log.info(f"{len(flags)} invoice(s) of {month[:7]} flagged after {day} changed")
                requests.append(dg.RunRequest(run_key=f"reinvoice:{month}:flags:{min(flags)}-{max(flags)}",
                                              partition_key=month,
                                              tags={"chargeledger/reason": "late_data", "chargeledger/settlement_date": day}))
        if result.records:
            context.update_cursor(result.cursor)
        return requests or dg.SkipReason(f"no issued invoice changed with the {len(days)} re-priced day(s)")

    return late_data_invoice_flags
