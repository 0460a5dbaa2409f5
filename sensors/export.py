"""`charge_export_retries`: re-runs the Charge API export for every settlement date with pending deliveries.

A delivery is pending when its outcome is unknown (the API stayed unavailable after the client's retries,
the process died between sending and logging) or it was queued behind such a failure. The sensor reads the
export log read-only and asks for `interval_export_job` on each such date; the run re-sends the pendings
(the receiver answers Duplicate for what it already has). The run key carries the date's newest attempt, so
a date is asked for again only after another attempt was made, never twice for the same state.
"""


import dagster as dg

from assets.export.log import LOG_FILE, ExportLog
from resources.warehouse import WarehouseResource

RETRY_INTERVAL_SECONDS = 600


def build_export_retry_sensor(job) -> dg.SensorDefinition:
    """The retry sensor for `job` (the interval export job)."""

    @dg.sensor(job=job, name="charge_export_retries", minimum_interval_seconds=RETRY_INTERVAL_SECONDS,
               default_status=dg.DefaultSensorStatus.STOPPED)
    def charge_export_retries(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        """Ask for the export of every settlement date that has pending Charge API deliveries."""
        if not (warehouse.registers_dir / LOG_FILE).exists():
            return dg.SkipReason("no Charge API export log yet")
        with ExportLog(warehouse.registers_dir, read_only=True) as log:
            dates = log.pending_dates()
        if not dates:
            return dg.SkipReason("no pending Charge API deliveries")
        return [dg.RunRequest(run_key=f"charge_export_retry:{day}:{last_attempt}", partition_key=day,
                              tags={"chargeledger/settlement_date": day, "chargeledger/pending": str(count)})
                for day, (count, last_attempt, _) in dates.items()]

    return charge_export_retries
