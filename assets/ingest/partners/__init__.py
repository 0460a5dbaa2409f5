"""Partners: Chargeprice company documents (seed 004) → `partner_changes` and the `partners` registry.

`defs` holds both assets; the sensor that requests them when documents land is in sensors/ (`partner_documents`).
"""

import dagster as dg

from assets.ingest.partners.assets import partner_changes, partners
from assets.ingest.partners.tables import TABLES

defs = dg.Definitions(assets=[partner_changes, partners])

__all__ = ["TABLES", "defs", "partner_changes", "partners"]
