"""Platform API ingest (seed 001): fetch assets that land raw pages, parse assets that validate them.

`defs` holds the assets, the `platform_api_ingest` and `platform_daily_snapshot` jobs (their polling sensor and
schedule are in sensors/api_polling.py) and the `platform_api` resource (base URL and bearer token from the environment:
`PLATFORM_API_BASE_URL`, `PLATFORM_API_TOKEN`); `warehouse` and `landing` come from pipelines/definitions.py.
"""

import dagster as dg

from assets.ingest.platform.fetch import (FETCH_ASSETS, platform_cdr_pages, platform_electricity_rate_pages,
                                          platform_session_pages, platform_tariff_pages)
from assets.ingest.platform.ingest import (PARSE_ASSETS, consumption_stats, electricity_rates, platform_cdrs,
                                           platform_sessions, platform_tariffs)
from assets.ingest.platform.tables import TABLES
from resources.platform_api import PlatformApiResource

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

defs = dg.Definitions(
    assets=[*FETCH_ASSETS, *PARSE_ASSETS],
    jobs=[platform_api_ingest, platform_daily_snapshot],
    resources={
        "platform_api": PlatformApiResource(base_url=dg.EnvVar("PLATFORM_API_BASE_URL"),
                                            api_token=dg.EnvVar("PLATFORM_API_TOKEN")),
    },
)

__all__ = ["TABLES", "defs", "platform_api_ingest", "platform_daily_snapshot"]
