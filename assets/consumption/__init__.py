"""Consumption assets: meter curves, OCPI charging periods, clock-aligned consumption, electricity cost.

All daily-partitioned on the session settlement date; the computation lives in `build` (warehouse in,
tables out) on top of the pure `tariff_engine.consumption` library.
"""

import dagster as dg

from assets.consumption.assets import (CONSUMPTION_ASSETS, AlignmentConfig, charging_periods,
                                       clock_aligned_consumption, electricity_cost, meter_curves,
                                       session_electricity_cost)
from assets.consumption.tables import TABLES

defs = dg.Definitions(assets=CONSUMPTION_ASSETS)

__all__ = ["CONSUMPTION_ASSETS", "TABLES", "AlignmentConfig", "charging_periods", "clock_aligned_consumption",
           "defs", "electricity_cost", "meter_curves", "session_electricity_cost"]
