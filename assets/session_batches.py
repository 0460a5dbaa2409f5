"""A settlement date's sessions in batches of consecutive session ids, so an asset's working memory follows a
batch, not the size of the day.

Every settlement-side computation works per session (a session's curve, periods, intervals and price depend
on its own rows only), and the tables it reads and writes are sorted by ``session_id`` first. So a day can be
cut into batches of consecutive ids: batch ``i`` holds every id in ``[lo_i, lo_{i+1})``, the first batch also
everything below its first id (and null ids), the last everything above. The batches cover the whole id space,
so a row of another table whose session is not among the day's sessions still falls in exactly one batch, as
it would in the whole-day computation; no session is ever split across two batches.

``read_batch`` reads one batch of a partition with a range filter, which Parquet row-group statistics turn
into reading only the row groups that hold the batch; within a row group only the batch's rows are kept (a
batch of a one-row-group file still decompresses its pages: a batch has a fixed cost, see the batch sizes).

A batch's result is either streamed into the partition as the batches come in session order
(``resources.warehouse.SortedPartsWriter`` with ``distinct_groups``: memory follows a batch and a row group, the
bytes depend only on the rows), or spilled (``SpilledParts``) and read back once for one ``write_partition``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from resources.warehouse import WarehouseResource

SESSIONS_PER_BATCH = 2048
"""Sessions a settlement-side asset holds at a time: its memory follows this, not the size of the day. Sized
for the assets that hold a batch's meter curves (a metered session can have hundreds of curve rows)."""

LIGHT_SESSIONS_PER_BATCH = 8192
"""The batch of assets holding a few rows per session (prices, reconciliation rows, intervals' costs): a batch
has a fixed cost (reading the sessions' payloads, calling the engine), so these take bigger ones."""


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


class SpilledParts:
    """A day's result built batch by batch, kept on disk until every batch is done (Arrow IPC, LZ4, under the
    warehouse's spill folder), then read back once to be written in one piece: one write of the whole result
    is what gives a partition file its bytes, and while the batches run only the current one is in memory.

    ``append`` each batch's frame; ``read()`` returns them concatenated in append order (``empty`` when none).
    Use it as a context manager: the spill files are removed on exit, whatever happened.
    """

    def __init__(self, warehouse: WarehouseResource, name: str):
        self.folder = warehouse.spill_root / f"{name}-batches-{os.getpid()}"
        self._paths: list[Path] = []

    def __enter__(self) -> SpilledParts:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.remove()

    def append(self, frame: pl.DataFrame) -> None:
        """Spill one batch's frame."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{len(self._paths):08d}.arrow"
        frame.write_ipc(path, compression="lz4")
        self._paths.append(path)

    def read(self, empty: pl.DataFrame) -> pl.DataFrame:
        """Every spilled frame, in append order (compressed: decoded into memory, never mapped from the file)."""
        if not self._paths:
            return empty
        return pl.concat([pl.read_ipc(path) for path in self._paths], how="vertical")

    def remove(self) -> None:
        """Delete the spill files."""
        for path in self._paths:
            path.unlink(missing_ok=True)
        self._paths = []
        if self.folder.exists():
            for leftover in self.folder.iterdir():
                leftover.unlink()
            self.folder.rmdir()
