"""Closing a month: the schedule of the `monthly_invoicing` job (pipelines/jobs.py: the month's settlement statement
and station report, contracts, partner settlements, invoices; monthly partitions) on the 1st for the month before,
and the late-data sensor that flags issued invoices.

The schedule ticks hourly on the 1st and 2nd of the month and requests the previous month once its last day
has been settleable for an hour in every operator zone (the nightly settlement of that day, scheduled at :15,
has had its hour to run; sensors/nightly.py decides when a day is settleable). The run key is the month, so a
month is invoiced once by the schedule; a later run for the same month (requested by the late-data sensor or by
hand) re-issues only what changed: credit note + new invoice.
"""

import datetime as dt

import dagster as dg

from assets.settleable import latest_settleable_day, lateness, operator_zones
from pipelines.jobs import monthly_invoicing
from sensors.late_data import build_invoice_late_data_sensor

NIGHTLY_RUN_ALLOWANCE = dt.timedelta(hours=1)

def month_to_close(now_utc: dt.datetime) -> str | None:
    """The previous month's partition key once its last day is settled everywhere, else None."""
    last_day = now_utc.date().replace(day=1) - dt.timedelta(days=1)
    settled = latest_settleable_day(now_utc - NIGHTLY_RUN_ALLOWANCE, operator_zones(), lateness())
    return last_day.replace(day=1).isoformat() if settled >= last_day else None


@dg.schedule(job=monthly_invoicing, cron_schedule="45 * 1,2 * *", execution_timezone="UTC",
             name="monthly_invoicing_schedule", default_status=dg.DefaultScheduleStatus.STOPPED)
def monthly_invoicing_schedule(context: dg.ScheduleEvaluationContext):
    """On the 1st (and 2nd, to catch up), invoice the month just ended once its last day is settled."""
    now = (context.scheduled_execution_time or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    month = month_to_close(now)
    if month is None:
        return dg.SkipReason(f"the last day of last month is not settled in every operator zone at {now:%H:%M} UTC")
    return dg.RunRequest(run_key=f"monthly_invoicing:{month}", partition_key=month,
                         tags={"chargeledger/billing_month": month})


defs = dg.Definitions(schedules=[monthly_invoicing_schedule],
                      sensors=[build_invoice_late_data_sensor(monthly_invoicing)])
