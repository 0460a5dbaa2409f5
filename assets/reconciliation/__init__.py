"""Reconciliation: every figure of every session, ours against each source's, with a reason code for every
difference (`reconciliation`, group settlement, daily on the settlement date)."""

import dagster as dg

from assets.reconciliation.assets import RECONCILIATION_ASSETS, reconciliation
from assets.reconciliation.reasons import REASONS, reason_for
from assets.reconciliation.tables import RECONCILIATION, TABLES

defs = dg.Definitions(assets=RECONCILIATION_ASSETS)

__all__ = ["REASONS", "RECONCILIATION", "RECONCILIATION_ASSETS", "TABLES", "defs", "reason_for", "reconciliation"]
