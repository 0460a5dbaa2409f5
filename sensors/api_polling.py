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

from assets.ingest.eevion.assets import eevion_report_pages, eevion_reports, eevion_session_pages, eevion_sessions
from assets.ingest.platform.fetch import (platform_cdr_pages, platform_electricity_rate_pages, platform_session_pages,
                                          platform_tariff_pages)
from assets.ingest.platform.ingest import (consumption_stats, electricity_rates, platform_cdrs, platform_sessions,
                                           platform_tariffs)

PLATFORM_POLL_SECONDS = 900
# 60 requests/minute is Eevion's quota; polling every 5 minutes leaves room for on-demand GETs
EEVION_POLL_SECONDS = 300

platform_api_ingest = dg.define_asset_job(
    name="platform_api_ingest",
    selection=dg.AssetSelection.assets(platform_cdr_pages, platform_session_pages, platform_cdrs, platform_sessions,
                                       consumption_stats, platform_tariffs),
    description="Fetch new platform CDRs and sessions (with stats and tariff snapshots) and parse today's partition.")

# tariffs and electricity rates have no updated-since filter: one full snapshot a day is enough
platform_daily_snapshot = dg.define_asset_job(
    name="platform_daily_snapshot",
    selection=dg.AssetSelection.assets(platform_tariff_pages, platform_electricity_rate_pages, platform_tariffs,
                                       electricity_rates),
    description="Full snapshot of the platform's tariffs and electricity rates, parsed for today's partition.")

eevion_api_ingest = dg.define_asset_job(
    name="eevion_api_ingest", selection=dg.AssetSelection.assets(eevion_session_pages, eevion_sessions),
    description="Fetch new Eevion session pages and parse today's partition (webhooks included).")

eevion_daily_report = dg.define_asset_job(
    name="eevion_daily_report", selection=dg.AssetSelection.assets(eevion_report_pages, eevion_reports),
    description="Fetch and parse the Eevion report of the previous UTC day.")


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

defs = dg.Definitions(jobs=[platform_api_ingest, platform_daily_snapshot, eevion_api_ingest, eevion_daily_report],
                      sensors=[platform_api_polling, eevion_api_polling],
                      schedules=[eevion_report_schedule, platform_snapshot_schedule])
