"""Eevion ingest (seed 003): session listing and report fetchers, parse assets for sessions, webhooks, reports.

`defs` holds the assets, the `eevion_api_ingest` and `eevion_daily_report` jobs (their polling sensor and schedule
are in sensors/api_polling.py) and the `eevion_api` resource (`EEVION_API_BASE_URL`, `EEVION_API_KEY` from the
environment); `warehouse` and `landing` come from pipelines/definitions.py.
"""

import dagster as dg

from assets.ingest.eevion.assets import (ASSETS, eevion_report_pages, eevion_reports, eevion_session_pages,
                                         eevion_sessions)
from assets.ingest.eevion.tables import TABLES
from resources.eevion_api import EevionApiResource

eevion_api_ingest = dg.define_asset_job(
    name="eevion_api_ingest", selection=dg.AssetSelection.assets(eevion_session_pages, eevion_sessions),
    description="Fetch new Eevion session pages and parse today's partition (webhooks included).")

eevion_daily_report = dg.define_asset_job(
    name="eevion_daily_report", selection=dg.AssetSelection.assets(eevion_report_pages, eevion_reports),
    description="Fetch and parse the Eevion report of the previous UTC day.")

defs = dg.Definitions(
    assets=ASSETS,
    jobs=[eevion_api_ingest, eevion_daily_report],
    resources={"eevion_api": EevionApiResource(base_url=dg.EnvVar("EEVION_API_BASE_URL"),
                                               api_key=dg.EnvVar("EEVION_API_KEY"))},
)

__all__ = ["TABLES", "defs", "eevion_api_ingest", "eevion_daily_report"]
