"""Eevion ingest (seed 003): session listing and report fetchers, parse assets for sessions, webhooks, reports.

`defs` holds the assets and the `eevion_api` resource (`EEVION_API_BASE_URL`, `EEVION_API_KEY` from the
environment); `warehouse` and `landing` come from pipelines/definitions.py.
"""

import dagster as dg

from assets.ingest.eevion.assets import ASSETS
from assets.ingest.eevion.tables import TABLES
from resources.eevion_api import EevionApiResource

defs = dg.Definitions(
    assets=ASSETS,
    resources={"eevion_api": EevionApiResource(base_url=dg.EnvVar("EEVION_API_BASE_URL"),
                                               api_key=dg.EnvVar("EEVION_API_KEY"))},
)

__all__ = ["defs", "TABLES"]
