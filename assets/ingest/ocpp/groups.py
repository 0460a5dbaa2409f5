"""Inputs cut into charge-point groups on disk, so a group's rules read their slice, not the day.

``GroupSpill`` streams a lazy query (e.g. a day of ``ocpp_messages``) once, in bounded batches, and writes
each batch's rows to the file of their charge-point group; ``group(i)`` then reads group ``i`` back, its rows
in the order of the query (the order a collected frame split by ``charge_point_chunks`` would have). Memory
follows a batch and a group, never the day, and each input is read once (no re-scan per group).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import polars as pl

# Rows per streamed batch: a few MB of columns at a time.
BATCH_ROWS = 100_000
_GROUP = "__group"


class GroupSpill:
    """Rows of one lazy query, spilled per charge-point group under ``directory`` (removed by ``close``)."""

    def __init__(self, query: pl.LazyFrame, chunks: list[list[str]], directory: Path):
        self.directory = Path(tempfile.mkdtemp(prefix="groups-", dir=directory))
        self.schema = query.collect_schema()
        self._files: dict[int, list[Path]] = {}
        charge_points = [cp for chunk in chunks for cp in chunk]
        groups = [i for i, chunk in enumerate(chunks) for _ in chunk]
        keyed = (query.with_columns(pl.col("charge_point_id").replace_strict(
                     charge_points, groups, default=None, return_dtype=pl.Int64()).alias(_GROUP))
                 .filter(pl.col(_GROUP).is_not_null()))
        count = 0
        try:
            for batch in keyed.collect_batches(chunk_size=BATCH_ROWS, maintain_order=True):
                for (group,), part in batch.partition_by(_GROUP, as_dict=True, include_key=False,
                                                         maintain_order=True).items():
                    path = self.directory / f"{count:08d}.parquet"
                    count += 1
                    part.write_parquet(path, compression="lz4", statistics=False)
                    self._files.setdefault(group, []).append(path)
        except BaseException:
            self.close()
            raise

    def group(self, index: int) -> pl.DataFrame:
        """The rows of group ``index`` in query order (an empty frame of the query's schema when none)."""
        paths = self._files.pop(index, [])
        if not paths:
            return pl.DataFrame(schema=self.schema)
        frame = pl.concat([pl.read_parquet(path) for path in paths], how="vertical")
        for path in paths:  # read once: the disk follows the groups still to come
            path.unlink()
        return frame

    def close(self) -> None:
        """Remove the spill."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> GroupSpill:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
