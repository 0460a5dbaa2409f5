"""The unified `sessions` table: one row per charging session, whatever the source."""
