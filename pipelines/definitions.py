"""The one place that assembles the code location's `Definitions` (workspace.yaml loads this module).

It only merges: each domain package's `defs` (assets, checks, its own jobs), the cross-domain jobs
(pipelines/jobs.py), the sensors and schedules (sensors/), the storage resources, and then the analyst
catalog, the one asset that needs the merged graph (it runs after every other daily asset).
Only `defs` lives at module scope: Dagster refuses a module that defines several `Definitions` objects.
"""

import os

import dagster as dg

import pipelines.jobs as jobs
import sensors
from assets.catalog.assets import build_analyst_catalog
from assets.domains import DOMAINS
from assets.partitions import daily
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource


def default_resources() -> dict:
    """Storage locations come from the environment (paths are not secrets); defaults suit `make demo`."""
    return {
        # CHARGELEDGER_WAREHOUSE may be an object-store URL (s3://bucket/prefix); its local working state then
        # goes to CHARGELEDGER_WAREHOUSE_LOCAL (resources/table_storage.py).
        "warehouse": WarehouseResource(root=os.environ.get("CHARGELEDGER_WAREHOUSE", "data/warehouse"),
                                       local_root=os.environ.get("CHARGELEDGER_WAREHOUSE_LOCAL", "")),
        "landing": LandingZoneResource(root=os.environ.get("CHARGELEDGER_LANDING", "data/landing")),
    }


def _daily_asset_keys(definitions: dg.Definitions) -> list[dg.AssetKey]:
    graph = definitions.resolve_asset_graph()
    return sorted(
        (key for key in graph.get_all_asset_keys()
         if graph.get(key).is_materializable and graph.get(key).partitions_def == daily),
        key=lambda k: k.to_user_string(),
    )


def build_definitions() -> dg.Definitions:
    """Every domain merged with the jobs, sensors and resources, plus the analyst catalog over all of it."""
    merged = dg.Definitions.merge(*(domain.defs for domain in DOMAINS), jobs.defs, sensors.defs,
                                  dg.Definitions(resources=default_resources()))
    catalog = dg.Definitions(assets=[build_analyst_catalog(_daily_asset_keys(merged))])
    return dg.Definitions.merge(merged, catalog)


defs = build_definitions()
