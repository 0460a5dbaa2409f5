"""Platform API ingest (seed 001): fetch assets that land raw pages, parse assets that validate them.

`defs` holds the assets and the `platform_api` resource (base URL and bearer token from the environment:
`PLATFORM_API_BASE_URL`, `PLATFORM_API_TOKEN`); `warehouse` and `landing` come from pipelines/definitions.py.
"""

import dagster as dg

from assets.ingest.platform.fetch import FETCH_ASSETS
from assets.ingest.platform.ingest import PARSE_ASSETS
from assets.ingest.platform.tables import TABLES
from resources.platform_api import PlatformApiResource

defs = dg.Definitions(
    assets=[*FETCH_ASSETS, *PARSE_ASSETS],
    resources={
        "platform_api": PlatformApiResource(base_url=dg.EnvVar("PLATFORM_API_BASE_URL"),
                                            api_token=dg.EnvVar("PLATFORM_API_TOKEN")),
    },
)

__all__ = ["defs", "TABLES"]
