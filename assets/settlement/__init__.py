"""Settlement outputs finance works from: statements, station reports and the re-settlement audit (issue 8).

`defs` holds the assets (daily and monthly), the `settlement_audit` table as an observable asset (the
`resettle` job writes it) and the `monthly_settlement` job over the monthly assets, for finance to rebuild a
month's statement alone. Closing a month runs them inside `monthly_invoicing` (sensors/monthly.py), whose
schedule waits until the month's last day is settled in every operator zone.
"""

import dagster as dg

from assets.settlement.assets import MONTHLY_GROUP, SETTLEMENT_ASSETS
from assets.settlement.tables import TABLES

settlement_audit = dg.AssetSpec(
    "settlement_audit", group_name="settlement",
    description="Re-settlements finance requested (resettle job): per day, operator and currency the statement "
                "totals before and after, with the reason. Written by the resettle job, one partition per run.",
    kinds={"parquet"})

monthly_settlement = dg.define_asset_job(
    name="monthly_settlement", selection=dg.AssetSelection.groups(MONTHLY_GROUP),
    description="The month's settlement statement and station report, from every settlement date of the month.")

defs = dg.Definitions(assets=[*SETTLEMENT_ASSETS, settlement_audit], jobs=[monthly_settlement])

__all__ = ["TABLES", "defs", "monthly_settlement", "settlement_audit"]
