"""The unified `sessions` table: one row per charging session, whatever the source (`sessions`, `session_links`)."""

import dagster as dg

from assets.sessions.assets import sessions
from assets.sessions.tables import TABLES

defs = dg.Definitions(assets=[sessions])

__all__ = ["TABLES", "defs", "sessions"]
