"""Sensor: new or grown OCPP landing files -> runs of the affected landing-date partitions.

The landing files are append-only, so a landing date's content is identified by the names and sizes of
its files. The run key is ``ocpp_landing:<date>:<fingerprint>``: the same content always yields the
same key, so a re-trigger (a sensor restart, a replayed cursor) is skipped by Dagster instead of
re-running, and only dates whose files changed are requested, oldest first (the ingest reads earlier
landing dates as context). The cursor keeps the last fingerprint per date.
"""


import hashlib
import json

import dagster as dg

from assets.partitions import daily
from resources.landing import LandingZoneResource

LANDING_SOURCE = "ocpp"
# By key, not by object: the asset package imports this module to build its Definitions.
OCPP_ASSET_SELECTION = dg.AssetSelection.assets("ocpp_messages", "meter_readings", "transactions")


def landing_fingerprints(landing: LandingZoneResource) -> dict[str, str]:
    """Landing date -> hash of (relative path, size) of its frame files."""
    fingerprints = {}
    for landing_date in landing.landing_dates(LANDING_SOURCE):
        files = landing.files(LANDING_SOURCE, landing_date, suffixes=(".jsonl",))
        if not files:
            continue
        digest = hashlib.sha256()
        for path in files:
            digest.update(f"{path.relative_to(landing.root_path)}\x1f{path.stat().st_size}\n".encode())
        fingerprints[landing_date] = digest.hexdigest()[:16]
    return fingerprints


def run_requests_for_changes(previous: dict[str, str], current: dict[str, str]) -> list[dg.RunRequest]:
    """One run request per landing date whose files changed, in date order.

    Folders that are not a partition of ``daily`` (a stray name, a date before the partitions start)
    cannot be ingested by a run; they are logged by the sensor, not requested.
    """
    return [
        dg.RunRequest(run_key=f"ocpp_landing:{landing_date}:{fingerprint}", partition_key=landing_date)
        for landing_date, fingerprint in sorted(current.items())
        if previous.get(landing_date) != fingerprint and daily.has_partition_key(landing_date)
    ]


@dg.sensor(target=OCPP_ASSET_SELECTION, minimum_interval_seconds=120,
           description="Runs the OCPP ingest for each landing date whose frame files are new or grew.")
def ocpp_landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZoneResource) -> dg.SensorResult:
    """Request the changed landing dates; the cursor remembers each date's file fingerprint."""
    previous = json.loads(context.cursor) if context.cursor else {}
    current = landing_fingerprints(landing)
    for folder in sorted(current):
        if not daily.has_partition_key(folder):
            context.log.warning(f"ocpp landing folder {folder!r} is not a daily partition; its files are not ingested")
    requests = run_requests_for_changes(previous, current)
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new or grown OCPP landing files"))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(current, sort_keys=True))
