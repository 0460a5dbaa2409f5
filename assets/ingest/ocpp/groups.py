"""Inputs cut into charge-point groups on disk, so a group's rules read their slice, not the day.

``GroupSpill`` takes a query (e.g. a day of ``ocpp_messages``) as lazy slices (``WarehouseResource.scan_slices``)
and collects them one at a time: the rows of a slice (or of a few consecutive narrow ones, up to ``APPEND_BYTES``)
are ordered by charge-point group (stably) and appended to the spill's one Arrow IPC file as a record batch per
group; ``group(i)`` then reads group ``i``'s batches back, its rows in the order of the query (the order a
collected frame split by ``charge_point_chunks`` would have). Memory follows a slice (or ``APPEND_BYTES``) and a
group, never the day, and each input is read once (no re-scan per group).

A slice holds rows of nearly every group, so a day has (slices x groups) pieces, and both counts grow with the
day: a piece must cost one batch write and one batch read, nothing per file. Hence one file and one reader for
the whole spill (reopening a file and re-reading its footer for every piece made the spill grow with the
square of the day: 36 % of ``transactions`` at 100,000 sessions).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import polars as pl
import pyarrow as pa

_GROUP = "__group"
_SPILL_FILE = "spill.arrow"
# Arrow IPC buffers compressed with LZ4: a fraction of the disk (uncompressed, the 100,000-session day's
# ``transactions`` spills 11 GB).
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")
# Slices are appended together up to this size: a piece (a group's rows of an append) costs ~0.7 ms whatever its
# size (LZ4 compresses and decompresses buffer by buffer), and a narrow slice holds little. 64 MB: the wide
# slices (payloads) go alone, so the peak stays theirs.
APPEND_BYTES = 64 * 1024 * 1024


class GroupSpill:
    """Rows of a query, spilled per charge-point group under ``directory`` (removed by ``close``).

    ``query`` is one lazy frame or a list of lazy slices whose concatenation is the query; each is collected
    on its own, so a list bounds the memory by its largest slice.
    """

    def __init__(self, query: pl.LazyFrame | list[pl.LazyFrame], chunks: list[list[str]], directory: Path):
        slices = query if isinstance(query, list) else [query]
        self.directory = Path(tempfile.mkdtemp(prefix="groups-", dir=directory))
        self.schema = slices[0].collect_schema()
        # group -> indices of its record batches in the spill file, in query order
        self._batches: dict[int, list[int]] = {}
        self._reader: pa.ipc.RecordBatchFileReader | None = None
        self._source: pa.OSFile | None = None
        owners = pl.DataFrame({"charge_point_id": [cp for chunk in chunks for cp in chunk],
                               _GROUP: [i for i, chunk in enumerate(chunks) for _ in chunk]},
                              schema={"charge_point_id": pl.String(), _GROUP: pl.Int64()}).lazy()
        path = self.directory / _SPILL_FILE
        try:
            with pa.OSFile(str(path), "wb") as sink:
                writer, pending, pending_bytes = None, [], 0
                for piece in slices:
                    rows = (piece.join(owners, on="charge_point_id", how="inner", maintain_order="left")
                            .collect())
                    pending.append(rows)
                    pending_bytes += rows.estimated_size()
                    if pending_bytes >= APPEND_BYTES:
                        writer = self._append(sink, writer, pl.concat(pending, how="vertical"))
                        pending, pending_bytes = [], 0
                if pending:
                    writer = self._append(sink, writer, pl.concat(pending, how="vertical"))
                if writer is not None:
                    writer.close()
            if self._batches:
                self._source = pa.OSFile(str(path), "rb")
                self._reader = pa.ipc.open_file(self._source)
        except BaseException:
            self.close()
            raise

    def _append(self, sink: pa.OSFile, writer: pa.ipc.RecordBatchFileWriter | None,
                rows: pl.DataFrame) -> pa.ipc.RecordBatchFileWriter | None:
        """Rows of consecutive slices as a batch per group, in group order (a stable sort keeps the query's
        order)."""
        if not rows.height:
            return writer
        rows = rows.sort(_GROUP, maintain_order=True)
        runs = rows.group_by(_GROUP, maintain_order=True).len()
        table = rows.drop(_GROUP).cast(self.schema).to_arrow()
        if writer is None:
            writer = pa.ipc.new_file(sink, table.schema, options=_IPC_OPTIONS)
        offset = 0
        for group, length in runs.iter_rows():
            # a zero-copy slice: the writer stores only the slice's rows
            for batch in table.slice(offset, length).to_batches():
                self._batches.setdefault(group, []).append(writer.stats.num_record_batches)
                writer.write_batch(batch)
            offset += length
        return writer

    def group(self, index: int) -> pl.DataFrame:
        """The rows of group ``index`` in query order (an empty frame of the query's schema when none)."""
        batches = self._batches.pop(index, [])
        if not batches:
            return pl.DataFrame(schema=self.schema)
        table = pa.Table.from_batches([self._reader.get_batch(i) for i in batches])
        if not self._batches:  # every group read: the disk is freed before the spill is closed
            self._release()
        return pl.from_arrow(table).cast(self.schema)

    def _release(self) -> None:
        """Close the reader and remove the spill file."""
        if self._source is not None:
            self._source.close()
            self._reader = self._source = None
        (self.directory / _SPILL_FILE).unlink(missing_ok=True)

    def close(self) -> None:
        """Remove the spill."""
        self._release()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> GroupSpill:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
