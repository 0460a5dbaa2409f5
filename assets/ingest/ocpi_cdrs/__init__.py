"""OCPI CDR files from the landing zone → `ocpi_cdrs` (+ quarantine).

`defs` holds the asset; the sensor that requests it when files land is in sensors/ (`ocpi_cdr_files`).
"""

import dagster as dg

from assets.ingest.ocpi_cdrs.assets import ocpi_cdrs
from assets.ingest.ocpi_cdrs.tables import TABLES

defs = dg.Definitions(assets=[ocpi_cdrs])

__all__ = ["TABLES", "defs", "ocpi_cdrs"]
