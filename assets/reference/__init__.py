"""Reference data: operators and locations, the source of time zones and currencies.

`defs` holds the two assets and `refresh_reference`, the job that reloads them from the landing zone.
"""

import dagster as dg

from assets.reference.assets import locations, operators
from assets.reference.tables import TABLES

refresh_reference = dg.define_asset_job(
    name="refresh_reference",
    selection=dg.AssetSelection.groups("reference"),
    description="Reload operators and locations (time zones, currencies) from the landing zone.",
)

defs = dg.Definitions(assets=[operators, locations], jobs=[refresh_reference])

__all__ = ["TABLES", "defs", "locations", "operators", "refresh_reference"]
