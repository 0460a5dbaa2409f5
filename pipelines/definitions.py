"""The one place that assembles the code location's `Definitions` (workspace.yaml loads this module).

Only `defs` lives at module scope: Dagster refuses a module that defines several `Definitions` objects.
"""

import os

import dagster as dg

import assets.consumption as consumption
import assets.export as export
import assets.ingest.eevion as eevion_ingest
import assets.ingest.ocpp as ocpp_ingest
import assets.ingest.platform as platform_ingest
import assets.invoicing as invoicing
import assets.partner_settlement as partner_settlement
import assets.pricing as pricing
import assets.reconciliation as reconciliation
import assets.settlement as settlement
import sensors.api_polling as api_polling
import sensors.monthly as monthly
import sensors.webhooks as webhooks
from assets.catalog.assets import build_analyst_catalog
from assets.ingest.interval_charges import assets as interval_charge_assets
from assets.ingest.ocpi_cdrs import assets as ocpi_cdr_assets
from assets.ingest.partners import assets as partner_assets
from assets.partitions import daily
from assets.reference import assets as reference_assets
from assets.sessions import assets as session_assets
from pipelines.jobs import nightly_settlement, refresh_reference, resettle, resettlement
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource
from sensors.landing_files import build_landing_sensor
from sensors.late_data import build_late_data_sensor
from sensors.nightly import build_nightly_schedule


def default_resources() -> dict:
    """Storage locations come from the environment (paths are not secrets); defaults suit `make demo`."""
    return {
        "warehouse": WarehouseResource(root=os.environ.get("CHARGELEDGER_WAREHOUSE", "data/warehouse")),
        "landing": LandingZoneResource(root=os.environ.get("CHARGELEDGER_LANDING", "data/landing")),
    }


def _core() -> dg.Definitions:
    """Reference data, file ingests, sessions, jobs, the nightly schedule and the file sensors."""
    return dg.Definitions(
        assets=dg.load_assets_from_modules([reference_assets, ocpi_cdr_assets, interval_charge_assets,
                                            partner_assets, session_assets]),
        jobs=[nightly_settlement, resettlement, resettle, refresh_reference],
        schedules=[build_nightly_schedule(nightly_settlement)],
        sensors=[
            build_late_data_sensor(nightly_settlement, resettlement),
            build_landing_sensor("ocpi_cdr_files", "ocpi_cdrs", ["ocpi_cdrs", "sessions"]),
            build_landing_sensor("partner_documents", "partners", ["partner_changes", "partners"]),
            build_landing_sensor("interval_charge_files", "interval_charges", ["interval_charges", "sessions"]),
        ],
        resources=default_resources(),
    )


def _daily_asset_keys(definitions: dg.Definitions) -> list[dg.AssetKey]:
    graph = definitions.resolve_asset_graph()
    return sorted(
        (key for key in graph.get_all_asset_keys()
         if graph.get(key).is_materializable and graph.get(key).partitions_def == daily),
        key=lambda k: k.to_user_string(),
    )


def build_definitions() -> dg.Definitions:
    """Every domain merged, plus the analyst catalog, which runs after every other daily asset."""
    domains = dg.Definitions.merge(_core(), ocpp_ingest.defs, platform_ingest.defs, eevion_ingest.defs,
                                   api_polling.defs, webhooks.defs, consumption.defs, pricing.defs,
                                   reconciliation.defs, settlement.defs, export.defs, partner_settlement.defs,
                                   invoicing.defs, monthly.defs)
    catalog = dg.Definitions(assets=[build_analyst_catalog(_daily_asset_keys(domains))])
    return dg.Definitions.merge(domains, catalog)


defs = build_definitions()
