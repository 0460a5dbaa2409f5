"""A settlement date's sessions in batches of consecutive session ids, so an asset's working memory follows a
batch, not the size of the day.

Every settlement-side computation works per session (a session's curve, periods, intervals and price depend
on its own rows only), and the tables it reads and writes are sorted by ``session_id`` first. So a day can be
cut into batches of consecutive ids: batch ``i`` holds every id in ``[lo_i, lo_{i+1})``, the first batch also
everything below its first id (and null ids), the last everything above. The batches cover the whole id space,
so a row of another table whose session is not among the day's sessions still falls in exactly one batch, as
it would in the whole-day computation; no session is ever split across two batches.

``read_batch`` reads one batch of a partition with a range filter, which Parquet row-group statistics turn
into reading only the row groups that hold the batch (bounded decode, even on a single-row-group file).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from resources.warehouse import WarehouseResource

SESSIONS_PER_BATCH = 2048
"""Sessions a settlement-side asset holds at a time: its memory follows this, not the size of the day."""


@dataclass(frozen=True)
class SessionBatch:
    """Session ids from ``lo`` (inclusive; None: from the lowest, nulls included) to ``hi`` (exclusive; None:
    to the highest)."""

    lo: str | None
    hi: str | None

    def where(self, column: str = "session_id") -> pl.Expr:
        """The rows of this batch (a range test, so Parquet statistics can skip the other row groups)."""
        inside = pl.lit(True)
        if self.lo is not None:
            inside = inside & (pl.col(column) >= pl.lit(self.lo))
        if self.hi is not None:
            inside = inside & (pl.col(column) < pl.lit(self.hi))
        if self.lo is None:
            inside = inside | pl.col(column).is_null()
        return inside


def batches_of(session_ids: pl.Series | list[str], size: int = SESSIONS_PER_BATCH) -> list[SessionBatch]:
    """Batches of ``size`` consecutive distinct ids (nulls ignored; at least one batch, covering everything)."""
    if size < 1:
        raise ValueError(f"a batch holds at least one session, not {size}")
    ids = pl.Series("session_id", session_ids, dtype=pl.String).drop_nulls().unique().sort()
    starts = ids.gather(list(range(size, ids.len(), size))).to_list()
    bounds: list[str | None] = [None, *starts, None]
    return [SessionBatch(lo, hi) for lo, hi in zip(bounds, bounds[1:])]


def session_batches(warehouse: WarehouseResource, day: dt.date, size: int = SESSIONS_PER_BATCH) -> list[SessionBatch]:
    """The batches of the sessions settling on ``day`` (reads their ids only)."""
    ids = warehouse.scan("sessions", settlement_date=day).select("session_id").collect()
    return batches_of(ids.get_column("session_id"), size)


def read_batch(warehouse: WarehouseResource, table: str, batch: SessionBatch, column: str = "session_id",
               columns: list[str] | None = None, **partition: Any) -> pl.DataFrame:
    """The rows of ``table`` (filtered by ``partition``, e.g. ``settlement_date=day``) in ``batch``; only
    ``columns`` when given (a column not read is not decoded)."""
    scan = warehouse.scan(table, **partition).filter(batch.where(column))
    return (scan if columns is None else scan.select(columns)).collect()
