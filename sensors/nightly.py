"""The nightly settlement schedule: day D runs once D has ended in every operator's time zone.

The schedule ticks hourly and asks for the newest settled-able day; the run key is the partition key,
so later ticks for the same day are no-ops and a missed tick is caught up by the next one.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from assets.settleable import latest_settleable_day, lateness, operator_zones

__all__ = ["build_nightly_schedule", "latest_settleable_day", "lateness", "operator_zones"]


def build_nightly_schedule(job) -> dg.ScheduleDefinition:
    """An hourly schedule that requests the newest day ended everywhere (once per day, by run key)."""

    @dg.schedule(job=job, cron_schedule="15 * * * *", execution_timezone="UTC", name="nightly_settlement_schedule",
                 default_status=dg.DefaultScheduleStatus.STOPPED)
    def nightly_settlement_schedule(context: dg.ScheduleEvaluationContext):
        now = context.scheduled_execution_time or dt.datetime.now(dt.timezone.utc)
        day = latest_settleable_day(now.astimezone(dt.timezone.utc), operator_zones(), lateness())
        key = day.isoformat()
        return dg.RunRequest(run_key=f"nightly_settlement:{key}", partition_key=key,
                             tags={"chargeledger/settlement_date": key})

    return nightly_settlement_schedule
