"""Landing-zone file sensors: new or changed files for landing day D → a run of that source's ingest for D.

The cursor keeps a fingerprint per landing day (file names, sizes, mtimes). A day whose fingerprint
changed is requested with a run key made of the source, the day and the fingerprint: re-evaluating the
same files asks for nothing new, and Dagster ignores a repeated run key anyway.
"""

import hashlib
import json

import dagster as dg

from assets.ingest.common import day_files
from assets.partitions import in_range
from resources.landing import LandingZoneResource


def day_fingerprint(landing: LandingZoneResource, source: str, day: str) -> str:
    """A short hash of the day's delivered files (name, size, modification time): every file the ingest counts,
    compressed and unsupported ones included."""
    digest = hashlib.sha256()
    for file in day_files(landing, source, day):
        stat = file.path.stat()
        digest.update(f"{file.ref}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def build_landing_sensor(name: str, source: str, asset_keys: list[str], minimum_interval_seconds: int = 60):
    """A sensor that materializes `asset_keys` for every landing day of `source` whose files changed."""
    keys = [dg.AssetKey(k) for k in asset_keys]

    @dg.sensor(name=name, asset_selection=keys, minimum_interval_seconds=minimum_interval_seconds,
               default_status=dg.DefaultSensorStatus.STOPPED,
               description=f"New files under landing/{source}/<day>/ → {', '.join(asset_keys)} for that day.")
    def _sensor(context: dg.SensorEvaluationContext, landing: LandingZoneResource):
        seen = json.loads(context.cursor) if context.cursor else {}
        requests = []
        for day in landing.landing_dates(source):
            if not in_range(day):
                # not a partition (a stray name, or outside the configured range): say so, ask for nothing
                context.log.warning(f"landing/{source}/{day} is not a daily partition; its files are not ingested")
                continue
            fingerprint = day_fingerprint(landing, source, day)
            if seen.get(day) != fingerprint:
                seen[day] = fingerprint
                requests.append(dg.RunRequest(run_key=f"{source}:{day}:{fingerprint}", partition_key=day,
                                              asset_selection=keys))
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))

    return _sensor
