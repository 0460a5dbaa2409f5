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
        all_session_rows(warehouse)
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
