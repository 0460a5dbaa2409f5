"""Inputs cut into charge-point groups on disk, so a group's rules read their slice, not the day.

``GroupSpill`` takes a query (e.g. a day of ``ocpp_messages``) as lazy slices (``WarehouseResource.scan_slices``)
and collects them one at a time: each slice's rows are ordered by charge-point group (stably) and written as one
Arrow IPC file with a record batch per group; ``group(i)`` then reads group ``i``'s batches back, its rows in the
order of the query (the order a collected frame split by ``charge_point_chunks`` would have). Memory follows a
slice and a group, never the day, and each input is read once (no re-scan per group).

The slices are pulled one by one on purpose: polars' ``collect_batches`` runs the query ahead of its consumer and
buffers what the consumer has not taken yet, which on a 100,000-session day was the whole day (7 GB).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import polars as pl
import pyarrow as pa

_GROUP = "__group"
# Arrow IPC buffers compressed with LZ4: cheap to write and read, a fraction of the disk.
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


class GroupSpill:
    """Rows of a query, spilled per charge-point group under ``directory`` (removed by ``close``).

    ``query`` is one lazy frame or a list of lazy slices whose concatenation is the query; each is collected
    on its own, so a list bounds the memory by its largest slice.
    """

    def __init__(self, query: pl.LazyFrame | list[pl.LazyFrame], chunks: list[list[str]], directory: Path):
        slices = query if isinstance(query, list) else [query]
        self.directory = Path(tempfile.mkdtemp(prefix="groups-", dir=directory))
        self.schema = slices[0].collect_schema()
        # group -> (file, first batch, end batch) pieces in query order; file -> groups still to read from it
        self._pieces: dict[int, list[tuple[Path, int, int]]] = {}
        self._readers_left: dict[Path, int] = {}
        owners = pl.DataFrame({"charge_point_id": [cp for chunk in chunks for cp in chunk],
                               _GROUP: [i for i, chunk in enumerate(chunks) for _ in chunk]},
                              schema={"charge_point_id": pl.String(), _GROUP: pl.Int64()}).lazy()
        try:
            for number, piece in enumerate(slices):
                rows = (piece.join(owners, on="charge_point_id", how="inner", maintain_order="left")
                        .collect())
                if rows.height:
                    self._write(self.directory / f"{number:08d}.arrow", rows)
        except BaseException:
            self.close()
            raise

    def _write(self, path: Path, rows: pl.DataFrame) -> None:
        """One slice's rows as an IPC file with the batches of each group in turn."""
        parts = rows.partition_by(_GROUP, as_dict=True, include_key=False, maintain_order=True)
        batches = 0
        with pa.OSFile(str(path), "wb") as sink:
            writer = None
            for (group,), part in sorted(parts.items()):
                table = part.to_arrow()
                if writer is None:
                    writer = pa.ipc.new_file(sink, table.schema, options=_IPC_OPTIONS)
                first = batches
                for batch in table.to_batches():
                    writer.write_batch(batch)
                    batches += 1
                if batches > first:
                    self._pieces.setdefault(group, []).append((path, first, batches))
                    self._readers_left[path] = self._readers_left.get(path, 0) + 1
            if writer is not None:
                writer.close()

    def group(self, index: int) -> pl.DataFrame:
        """The rows of group ``index`` in query order (an empty frame of the query's schema when none)."""
        pieces = self._pieces.pop(index, [])
        frames = []
        for path, first, end in pieces:
            with pa.OSFile(str(path), "rb") as source:
                reader = pa.ipc.open_file(source)
                frames.append(pl.from_arrow(pa.Table.from_batches([reader.get_batch(i) for i in range(first, end)])))
            self._readers_left[path] -= 1
            if not self._readers_left[path]:  # read once: the disk follows the groups still to come
                path.unlink()
        if not frames:
            return pl.DataFrame(schema=self.schema)
        return pl.concat(frames, how="vertical").cast(self.schema)

    def close(self) -> None:
        """Remove the spill."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> GroupSpill:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
