"""Pricing: canonical tariffs in the warehouse (`tariffs`, group reference) and the nightly `priced_sessions`
(group pricing, daily on the settlement date), priced through `tariff_engine.price_frame`."""

import dagster as dg

from assets.pricing.assets import PRICING_ASSETS, priced_sessions, tariffs
from assets.pricing.tables import PRICED_SESSIONS, TABLES, TARIFFS

defs = dg.Definitions(assets=PRICING_ASSETS)

__all__ = ["PRICED_SESSIONS", "PRICING_ASSETS", "TABLES", "TARIFFS", "defs", "priced_sessions", "tariffs"]
