"""A code location for the resettle test: the statement asset, a `resettlement` job reduced to it and the
real `resettle` job, on the warehouse named by $CHARGELEDGER_TEST_WAREHOUSE. Loaded by module name, as the
webserver loads pipelines/definitions.py, so runs know their repository."""

import os

import dagster as dg

from assets.settlement.assets import settlement_statements
from pipelines.jobs import resettle
from resources.warehouse import WarehouseResource

defs = dg.Definitions(
    assets=[settlement_statements],
    jobs=[dg.define_asset_job("resettlement", selection=[settlement_statements]), resettle],
    resources={"warehouse": WarehouseResource(root=os.environ.get("CHARGELEDGER_TEST_WAREHOUSE", "unset"))},
)
