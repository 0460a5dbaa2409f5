"""The nightly settlement schedule: day D runs once D has ended in every operator's time zone.

The schedule ticks hourly and asks for the newest settled-able day; the run key is the partition key,
so later ticks for the same day are no-ops and a missed tick is caught up by the next one.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

import dagster as dg

# Zones the demo fleet operates in; deployments list theirs in CHARGELEDGER_OPERATOR_ZONES.
DEFAULT_OPERATOR_ZONES = ("Europe/London", "Europe/Amsterdam", "America/Toronto")


def operator_zones() -> tuple[str, ...]:
    configured = os.environ.get("CHARGELEDGER_OPERATOR_ZONES", "")
    zones = tuple(z.strip() for z in configured.split(",") if z.strip())
    return zones or DEFAULT_OPERATOR_ZONES


def lateness() -> dt.timedelta:
    """Grace after local midnight for late frames and CDRs before the day is settled."""
    return dt.timedelta(hours=float(os.environ.get("CHARGELEDGER_SETTLEMENT_LATENESS_HOURS", "2")))


def latest_settleable_day(now_utc: dt.datetime, zones: tuple[str, ...], grace: dt.timedelta) -> dt.date:
    """The newest date D whose local end (+grace) has passed in every zone."""
    candidate = now_utc.date()
    while True:
        ends = [
            dt.datetime.combine(candidate + dt.timedelta(days=1), dt.time(0), tzinfo=ZoneInfo(zone)) + grace
            for zone in zones
        ]
        if all(end <= now_utc for end in ends):
            return candidate
        candidate -= dt.timedelta(days=1)


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
