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

A batch's result is spilled (``SpilledParts``) and the day's result read back once for the one write that gives
a partition file its bytes (polars' row groups depend on the whole frame, so a file written part by part would
differ); ``SortedBatchWriter`` also spares the whole-day sort of that write when the batches come in order.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from resources.tables import TableSpec
from resources.warehouse import WarehouseResource
from resources.warehouse import _sorted_for_write as sorted_for_write  # the stored shape and order of a partition
from resources.warehouse import write_parquet

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


class SortedBatchWriter:
    """One partition written from batches of consecutive session ids, with the bytes of ``write_partition`` of
    all its rows, without sorting the whole day again.

    ``append(frame)`` puts one batch in the table's stored shape and order (``write_partition``'s rule) and
    spills it; the batches must come in session order (each one's first sort value above the previous one's
    last: a session is never split). ``write()`` reads them back into one contiguous frame, which is the
    sorted day, and writes it as the partition (atomically, as ``write_partition`` does). A multi-column sort
    of a day's rows would cost about twice their memory at the moment of writing; this costs a copy at most.
    """

    def __init__(self, warehouse: WarehouseResource, spec: TableSpec, **partition: Any):
        self.warehouse, self.spec, self.partition = warehouse, spec, partition
        self.parts = SpilledParts(warehouse, f"{spec.name}-{'-'.join(map(str, partition.values()))}")
        self._first_col = next((c for c in spec.sort_by if c not in partition), None)
        self._previous_last = None

    def __enter__(self) -> SortedBatchWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.parts.remove()

    def append(self, frame: pl.DataFrame) -> None:
        """Spill one batch (any row order within it)."""
        data = sorted_for_write(self.spec, frame, self.partition)
        if data.height and self._first_col is not None:
            first = data.get_column(self._first_col)
            if first.null_count() or (self._previous_last is not None and first.min() <= self._previous_last):
                raise ValueError(f"table {self.spec.name}: a batch does not follow the previous one on {self._first_col}")
            self._previous_last = first.max()
        self.parts.append(data)

    def write(self) -> pl.DataFrame:
        """Write the partition; returns its rows as stored (partition columns left out)."""
        empty = sorted_for_write(self.spec, self.spec.empty_frame(), self.partition)
        data = self.parts.read(empty).rechunk()
        self.parts.remove()
        relative = self.warehouse.partition_dir(self.spec.name, self.spec, self.partition)
        with self.warehouse.tables.replacing(relative, self.warehouse.spill_root) as tmp, open(tmp, "wb") as handle:
            write_parquet(data, handle)
        return data
