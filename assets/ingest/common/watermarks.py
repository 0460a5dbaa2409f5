"""Incremental-sync watermarks of the API fetchers, kept in a small transactional SQLite register.

One row per (source, stream), e.g. ("platform", "cdrs_received") → the highest `receivedAt` landed so far.
A watermark only moves forward (an UPDATE guarded by `value < new`, in one transaction) and every advance
is appended to a history table with the Dagster run and partition, so a sync can be audited or rewound by
hand. Values are ISO-8601 UTC strings with microseconds and a `Z` (fixed width), so text order is time
order. The fetch assets write it from one process at a time (Dagster pool `api_register`); SQLite's own
locking protects against a second writer anyway.

The fetchers ask for records *at or after* the watermark (the APIs' filters are inclusive), so the records
at the boundary arrive again on the next run; the parse assets quarantine such exact re-deliveries as DUPLICATE_RECORD (assets/ingest/common/run.py).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path

REGISTER_FILE = "api_watermarks.sqlite"


def normalise(moment: dt.datetime) -> str:
    """The register's text form of an instant: UTC, microseconds, `Z`."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(value: str) -> dt.datetime:
    """Inverse of `normalise` (also accepts any ISO-8601 UTC text)."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


class WatermarkRegister:
    """Read and advance watermarks in `<registers_dir>/api_watermarks.sqlite`."""

    def __init__(self, registers_dir: Path) -> None:
        self.path = Path(registers_dir) / REGISTER_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con, con:
            con.execute("CREATE TABLE IF NOT EXISTS watermarks (source TEXT NOT NULL, stream TEXT NOT NULL, "
                        "value TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (source, stream))")
            con.execute("CREATE TABLE IF NOT EXISTS watermark_history (source TEXT NOT NULL, stream TEXT NOT NULL, "
                        "previous TEXT, value TEXT NOT NULL, run_id TEXT, partition_key TEXT, recorded_at TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        return con

    def get(self, source: str, stream: str) -> str | None:
        """The current watermark, or None before the first sync."""
        with closing(self._connect()) as con:
            row = con.execute("SELECT value FROM watermarks WHERE source = ? AND stream = ?", (source, stream)).fetchone()
        return row[0] if row else None

    def advance(self, source: str, stream: str, value: str, *, run_id: str | None = None,
                partition_key: str | None = None) -> str:
        """Move the watermark to `value` if that is later; returns the watermark in force afterwards."""
        value = normalise(parse(value))
        now = normalise(dt.datetime.now(dt.timezone.utc))
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                row = con.execute("SELECT value FROM watermarks WHERE source = ? AND stream = ?",
                                  (source, stream)).fetchone()
                previous = row[0] if row else None
                if previous is None or value > previous:
                    con.execute("INSERT INTO watermarks VALUES (?, ?, ?, ?) ON CONFLICT (source, stream) "
                                "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                                (source, stream, value, now))
                    con.execute("INSERT INTO watermark_history VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (source, stream, previous, value, run_id, partition_key, now))
                    previous = value
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return previous

    def history(self, source: str, stream: str) -> list[tuple[str | None, str, str | None]]:
        """(previous, value, run id) of every advance, oldest first."""
        with closing(self._connect()) as con:
            return con.execute("SELECT previous, value, run_id FROM watermark_history WHERE source = ? AND stream = ? "
                               "ORDER BY rowid", (source, stream)).fetchall()
