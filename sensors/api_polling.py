"""API polling: every interval, fetch and parse what the platform and Eevion APIs have new, for today.

Each sensor asks for one run of its fetch + parse assets for today's landing partition (UTC). The run key
is the source, the day and the number of the polling slot (`epoch seconds // interval`), so a sensor
evaluated twice within one slot, or re-enabled after a pause, never launches a duplicate; and a duplicate
would be harmless anyway (fetches resume from the watermark, parses replace their partition).
Once-a-day pulls (Eevion's report of the previous day, the platform's tariff and electricity-rate
snapshots) have daily schedules instead; they target the tick's own UTC day (the daily partitions end one
day ahead), i.e. the folder the pages land in today.
"""

import datetime as dt

import dagster as dg

from assets.ingest.eevion import eevion_api_ingest, eevion_daily_report
from assets.ingest.platform import platform_api_ingest, platform_daily_snapshot

PLATFORM_POLL_SECONDS = 900
# 60 requests/minute is Eevion's quota; polling every 5 minutes leaves room for on-demand GETs
EEVION_POLL_SECONDS = 300


def poll_request(now: dt.datetime, interval_seconds: int, source: str) -> dg.RunRequest:
    """The run request of one polling slot: today's partition, a run key unique to the slot."""
    now = now.astimezone(dt.timezone.utc)
    day = now.date().isoformat()
    slot = int(now.timestamp()) // interval_seconds
    return dg.RunRequest(run_key=f"{source}-poll:{day}:{slot}", partition_key=day, tags={"chargeledger/poll": source})


@dg.sensor(job=platform_api_ingest, minimum_interval_seconds=PLATFORM_POLL_SECONDS,
           default_status=dg.DefaultSensorStatus.STOPPED)
def platform_api_polling(context: dg.SensorEvaluationContext):
    """Polls the platform API every 15 minutes (CDRs, sessions with their stats and tariff snapshots)."""
    return poll_request(dt.datetime.now(dt.timezone.utc), PLATFORM_POLL_SECONDS, "platform")


@dg.sensor(job=eevion_api_ingest, minimum_interval_seconds=EEVION_POLL_SECONDS,
           default_status=dg.DefaultSensorStatus.STOPPED)
def eevion_api_polling(context: dg.SensorEvaluationContext):
    """Polls the Eevion session listing every 5 minutes."""
    return poll_request(dt.datetime.now(dt.timezone.utc), EEVION_POLL_SECONDS, "eevion")


# 01:30 UTC: yesterday's report is complete; the partition is today's landing date
eevion_report_schedule = dg.build_schedule_from_partitioned_job(eevion_daily_report, hour_of_day=1, minute_of_hour=30)
platform_snapshot_schedule = dg.build_schedule_from_partitioned_job(platform_daily_snapshot, hour_of_day=1)

# The jobs belong to their ingest packages (assets/ingest/platform, assets/ingest/eevion); only their triggers are here.
defs = dg.Definitions(sensors=[platform_api_polling, eevion_api_polling],
                      schedules=[eevion_report_schedule, platform_snapshot_schedule])
