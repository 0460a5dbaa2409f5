"""30-minute interval charge files (seed 000's data shape) → `interval_charges` + `interval_charge_intervals`.

`defs` holds the asset; the sensor that requests it when files land is in sensors/ (`interval_charge_files`).
"""

import dagster as dg

from assets.ingest.interval_charges.assets import interval_charges
from assets.ingest.interval_charges.tables import TABLES

defs = dg.Definitions(assets=[interval_charges])

__all__ = ["TABLES", "defs", "interval_charges"]
