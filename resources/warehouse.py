"""The warehouse: Parquet as the system of record, a DuckDB catalog of views for analysts.

Layout: `<root>/<table>/<col>=<value>/.../part-0.parquet` (Hive style), one file per partition (one per shard,
`part-<shard>.parquet`, where the OCPP ingest splits a date into charge-point shards). `root` is a
local folder or an object-store URL (`s3://bucket/prefix`, see `resources.table_storage`). A partition is
replaced atomically either way: readers see either the old or the new partition, never half of one, and a
crash mid-write leaves the previous partition intact.

The warehouse's working state (the catalog, the SQLite registers, spill files, rendered documents) is local:
under `root` for a local warehouse, under `local_root` for an object-store one.

The analyst catalog `<root>/chargeledger.duckdb` holds one commented view per table. It is rebuilt into a
temporary file and renamed into place, so an analyst who has the old catalog open read-only keeps
querying it while a run rebuilds it.
"""

from __future__ import annotations

import datetime as dt
import os
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable

import dagster as dg
import duckdb
import polars as pl
import pyarrow.parquet as pq
from pydantic import Field

from resources.row_order import sorted_rows
from resources.table_storage import (PART_FILE, LocalTables, ObjectStoreTables, is_object_store, part_file, part_of,
                                     staged_file, table_storage)
from resources.tables import TableSpec, get_spec, registered_specs

CATALOG_FILE = "chargeledger.duckdb"
SPILL_DIR = "_spill"
# Stored rows per slice of ``scan_slices``: a few hundred MB of columns at most.
SLICE_ROWS = 256 * 1024
# Where the local working state of an object-store warehouse goes unless configured.
DEFAULT_LOCAL_ROOT = "data/warehouse-local"


def _format_partition_value(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    text = str(value)
    if not text:
        raise ValueError("a partition value may not be empty")
    # Percent-encode what a path segment cannot hold; Hive readers decode it again.
    return urllib.parse.quote(text, safe="-_.:@+")


def _spec_to_write(table: str | TableSpec) -> TableSpec:
    """The spec a write conforms to: the one given, or the table list's; a table nobody lists is not written."""
    spec = table if isinstance(table, TableSpec) else get_spec(table)
    if spec is None:
        raise KeyError(f"table {table} is not in the table list (assets/tables.py): add its spec to its package's TABLES")
    return spec


def files_of_shard(files: list[str], index: int, count: int) -> list[str]:
    """Of ``files`` (partition files, relative to their table), those that can hold rows of shard ``index`` of
    ``count``: a partition written in ``count`` parts holds that shard's rows in part ``index`` alone (a date split
    into shards writes shard i's rows to part i, and the same split puts the same rows in the same shard); a
    partition written whole, or in another number of parts, may hold them in any of its files."""
    def folder(file: str) -> str:
        return file.rsplit("/", 1)[0] if "/" in file else ""

    parts: dict[str, set[int | None]] = {}
    for file in files:
        parts.setdefault(folder(file), set()).add(part_of(file.rsplit("/", 1)[-1]))
    split_alike = {name for name, held in parts.items() if held == set(range(count))}
    return [file for file in files if folder(file) not in split_alike or part_of(file.rsplit("/", 1)[-1]) == index]


class WarehouseResource(dg.ConfigurableResource):
    """Parquet tables under `root`, partitioned Hive style, plus the DuckDB analyst catalog."""

    root: str = Field(default="data/warehouse", description=(
        "A local folder, or an object-store URL (s3://bucket/prefix, gs://…) for the Parquet tables; "
        "credentials and endpoint from the environment (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, …)"))
    local_root: str = Field(default="", description=(
        "With an object-store root: the local folder for the catalog, registers, spill and documents "
        f"(default {DEFAULT_LOCAL_ROOT}); ignored for a local root"))

    # -- locations -------------------------------------------------------------------------------
    @property
    def is_object_store(self) -> bool:
        """Whether the tables live in an object store (``root`` is a URL such as ``s3://bucket/prefix``)."""
        return is_object_store(self.root)

    @property
    def root_path(self) -> Path:
        """The local folder: the whole warehouse for a local root; the catalog, registers, spill and
        documents for an object-store root (``local_root``, default ``data/warehouse-local``)."""
        if self.is_object_store:
            return Path(self.local_root or DEFAULT_LOCAL_ROOT).resolve()
        return Path(self.root).resolve()

    @property
    def tables(self) -> LocalTables | ObjectStoreTables:
        """Where the Parquet tables are read and written."""
        return table_storage(self.root, self.root_path)

    @property
    def catalog_path(self) -> Path:
        return self.root_path / CATALOG_FILE

    @property
    def registers_dir(self) -> Path:
        """Where small transactional registers (cursors, invoice numbers, export logs) live."""
        path = self.root_path / "_registers"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def spill_root(self) -> Path:
        """Local scratch outside every table (readers glob ``<table>/**`` and must never see it)."""
        return self.root_path / SPILL_DIR

    def partition_dir(self, table: str, spec: TableSpec | None, partition: dict[str, Any]) -> str:
        """``<table>/<col>=<value>/…`` of one partition, relative to the root."""
        expected = list(spec.partition_by) if spec else list(partition)
        if sorted(expected) != sorted(partition):
            raise ValueError(f"table {table} is partitioned by {expected}, got {sorted(partition)}")
        return "/".join([table, *(f"{col}={_format_partition_value(partition[col])}" for col in expected)])

    def table_path(self, table: str) -> Path:
        """The folder of ``table`` (a local root)."""
        return self.root_path / table

    def partition_path(self, table: str, spec: TableSpec | None, partition: dict[str, Any]) -> Path:
        """The folder of one partition (a local root)."""
        return self.root_path / self.partition_dir(table, spec, partition)

    def _written(self, relative_dir: str, part: int = 0, staged: bool = False) -> Path | str:
        """The partition file just written: a local path, or the object's URL."""
        location = self.tables.location(f"{relative_dir}/{staged_file(part) if staged else part_file(part)}")
        return location if self.is_object_store else Path(location)

    # -- writing ---------------------------------------------------------------------------------
    def write_partition(self, table: str | TableSpec, df: pl.DataFrame, *, part: int = 0, staged: bool = False,
                        **partition: Any) -> Path | str:
        """Replace one partition of `table` with `df`, atomically; returns the file written (a local path or
        the object's URL). `part`: the shard file of a partition split into shards (`part-<part>.parquet`);
        the other parts are left as they are. `staged`: written under the part's staged name, read by no one
        until `publish_parts` switches it in with the date's other shards.

        Rows are sorted by the table's sort key (all columns when none is declared) so the same input
        always produces the same bytes. Partition columns, if present in `df`, must hold the partition's
        value only; they are stored in the path, not in the file.
        """
        spec = _spec_to_write(table)
        name = spec.name
        for col, value in partition.items():
            if col in df.columns and df.height:
                distinct = df.get_column(col).unique().to_list()
                if len(distinct) != 1 or _format_partition_value(distinct[0]) != _format_partition_value(value):
                    raise ValueError(f"table {name}: column {col} holds {distinct[:5]}, not only partition {value}")
        data = _sorted_for_write(spec, df, partition)
        relative = self.partition_dir(name, spec, partition)
        with self.tables.replacing(relative, self.spill_root, part, staged) as tmp, open(tmp, "wb") as handle:
            write_parquet(data, handle)
        return self._written(relative, part, staged)

    def publish_parts(self, table: str | TableSpec, parts: Iterable[int], **partition: Any) -> None:
        """Switch the staged files of `parts` of one partition in (those written with `staged=True`), after all
        of them were written: a shard that failed before leaves the partition's previous files as they were."""
        spec = _spec_to_write(table)
        self.tables.publish(self.partition_dir(spec.name, spec, partition), sorted(set(parts)))

    def remove_partition(self, table: str | TableSpec, *, keep: Iterable[int] = (), **partition: Any) -> None:
        """Remove one partition of `table` (its files), if it exists: readers then see no such partition.
        `keep`: parts to leave (the shards just written; the others are stale). Staged files left by a failed
        run go too."""
        spec = _spec_to_write(table)
        self.tables.remove(self.partition_dir(spec.name, spec, partition), frozenset(keep))

    def partition_parts(self, table: str | TableSpec, **partition: Any) -> list[int]:
        """The parts (shard files) one partition of `table` holds: [0] for a partition written whole, [] for
        none."""
        spec = _spec_to_write(table)
        return self.tables.parts(self.partition_dir(spec.name, spec, partition))

    def partition_writer(self, table: str | TableSpec, bucket: pl.Expr, spill_bucket: pl.Expr | None = None, *,
                         part: int = 0, staged: bool = False, finer: Sequence[pl.Expr] = (),
                         split_rows: int | None = None, **partition: Any) -> PartitionWriter:
        """A writer that builds one partition (its part `part`, ``staged`` as ``write_partition``) from batches
        in bounded memory (see ``PartitionWriter``)."""
        return PartitionWriter(self, _spec_to_write(table), bucket, partition, spill_bucket, part, finer, split_rows,
                               staged)

    # -- reading ---------------------------------------------------------------------------------
    def has_data(self, table: str) -> bool:
        return self.tables.has_data(table)

    def partitions(self, table: str) -> list[dict[str, str]]:
        """The partitions written so far, as {column: value-as-text} dicts (one per partition, however many
        shard files it has)."""
        out: dict[str, dict[str, str]] = {}
        for file in self.tables.part_files(table):
            folder = file.rsplit("/", 1)[0] if "/" in file else ""
            if folder not in out:
                out[folder] = {k: urllib.parse.unquote(v) for k, v in (p.split("=", 1) for p in folder.split("/") if p)}
        return list(out.values())

    def scan(self, table: str | TableSpec, *, part: int | None = None, **filters: Any) -> pl.LazyFrame:
        """All partitions of `table` as one LazyFrame, partition columns restored, filtered by equality.

        A filter value may be a list (membership). A table never written scans as an empty frame with the
        schema of its spec (from the table list when `table` is a name). `part`: only the files of that part
        (one shard of partitions split into shards; part 0 is also every partition written whole).
        """
        spec = table if isinstance(table, TableSpec) else get_spec(table)
        table = spec.name if spec is not None else table
        if not self.has_data(table):
            if spec is None:
                raise KeyError(f"table {table} has no data and is not in the table list (assets/tables.py)")
            frame = spec.empty_frame().lazy()
        else:
            hive_schema = {c: spec.schema[c] for c in spec.partition_by} if spec else None
            frame = pl.scan_parquet(
                self.tables.location(f"{table}/**/{'*.parquet' if part is None else part_file(part)}"),
                hive_partitioning=True,
                hive_schema=hive_schema,
                missing_columns="insert",
                extra_columns="ignore",
                schema=None,
            )
            if spec is not None:
                frame = frame.select(list(spec.schema))
        return _filtered(frame, _conditions(filters))

    def scan_slices(self, table: str | TableSpec, partitions: pl.Expr | None = None, rows: int = SLICE_ROWS, *,
                    part: int | None = None, shard: tuple[int, int] | None = None, **filters: Any) -> list[pl.LazyFrame]:
        """``scan(table, **filters)`` cut into lazy slices, to be collected one at a time in bounded memory.

        Each slice is a span of whole row groups of one partition file (about ``rows`` stored rows, at least
        one row group), with its partition columns restored; in partition then stored order, so the slices
        concatenated are the rows of ``scan`` in its order. ``partitions`` (an expression on the partition
        columns) and filters on partition columns leave whole files out. A caller that must take a query a
        piece at a time collects slices itself because polars' ``collect_batches`` does not wait for its
        consumer: a consumer slower than the scan makes it buffer up to the whole result. A table never
        written gives one empty slice with the spec's schema. `part`: only that part's files (see ``scan``).
        `shard` (index, count): only the files that can hold that shard's rows (``files_of_shard``), for a reader
        whose filters already keep only its own shard's rows: it then decodes none of the other shards' files.
        """
        spec = table if isinstance(table, TableSpec) else get_spec(table)
        name = spec.name if spec is not None else table
        if spec is None or not self.has_data(name):
            return [self.scan(table, part=part, **filters)]
        partition_filters = {c: v for c, v in filters.items() if c in spec.partition_by}
        row_filters = {c: v for c, v in filters.items() if c not in spec.partition_by}
        files = [f for f in self.tables.part_files(name)
                 if part is None or part_of(f.rsplit("/", 1)[-1]) == part]
        if shard is not None:
            files = files_of_shard(files, *shard)
        values = pl.DataFrame([{k: urllib.parse.unquote(v) for k, v in (p.split("=", 1) for p in f.split("/")[:-1])}
                               for f in files], schema={c: pl.String() for c in spec.partition_by})
        values = values.with_columns(_from_path_text(c, spec.schema[c]) for c in spec.partition_by).with_row_index("_file")
        kept = _filtered(values.lazy(), _conditions(partition_filters))
        if partitions is not None:
            kept = kept.filter(partitions)
        slices, conditions = [], _conditions(row_filters)
        for row in kept.collect().iter_rows(named=True):
            relative = f"{name}/{files[row.pop('_file')]}"
            literals = [pl.lit(value, dtype=spec.schema[col]).alias(col) for col, value in row.items()]
            for offset, length in _row_group_spans(self.tables.row_group_rows(relative), rows):
                frame = (pl.scan_parquet(self.tables.location(relative)).slice(offset, length)
                         .with_columns(literals).select(list(spec.schema)))
                slices.append(_filtered(frame, conditions))
        return slices or [_filtered(spec.empty_frame().lazy(), _conditions(filters))]

    def read(self, table: str | TableSpec, **filters: Any) -> pl.DataFrame:
        """`scan` collected."""
        return self.scan(table, **filters).collect()

    # -- catalog ---------------------------------------------------------------------------------
    def connect_catalog(self) -> duckdb.DuckDBPyConnection:
        """The analyst catalog opened read-only, able to read the tables wherever they are stored.

        (With an object-store root, a plain ``duckdb`` session needs the httpfs extension and an S3 secret
        instead: see docs/scaling.md.)"""
        con = duckdb.connect(str(self.catalog_path), read_only=True)
        self.tables.attach_to(con)
        return con

    def refresh_catalog(self, specs: Iterable[TableSpec] | None = None) -> Path:
        """Rebuild the analyst catalog: one commented view per table, swapped in atomically."""
        specs = list(specs) if specs is not None else registered_specs()
        self.root_path.mkdir(parents=True, exist_ok=True)
        tmp = self.root_path / f".{CATALOG_FILE}.tmp-{os.getpid()}"
        for leftover in (tmp, Path(f"{tmp}.wal")):
            if leftover.exists():
                leftover.unlink()
        con = duckdb.connect(str(tmp))
        try:
            self.tables.attach_to(con)
            # One transaction, not a commit per view and comment: half the CPU, a third of the wall time.
            con.execute("BEGIN")
            for spec in specs:
                con.execute(_view_sql(self, spec))
                con.execute(f"COMMENT ON VIEW {_ident(spec.name)} IS {_literal(spec.description)}")
                for col, doc in spec.column_docs.items():
                    con.execute(f"COMMENT ON COLUMN {_ident(spec.name)}.{_ident(col)} IS {_literal(doc)}")
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, self.catalog_path)
        return self.catalog_path


def write_parquet(data: pl.DataFrame, handle) -> None:
    """A partition file's encoding (``write_partition``'s): the same rows always give the same bytes."""
    data.write_parquet(handle, compression="zstd", statistics=True)


def _filtered(frame: pl.LazyFrame, conditions: list[pl.Expr]) -> pl.LazyFrame:
    """``frame`` filtered by ``conditions`` (``_conditions``)."""
    for condition in conditions:
        frame = frame.filter(condition)
    return frame


def _conditions(filters: dict[str, Any]) -> list[pl.Expr]:
    """``scan``'s filters as conditions: equality, or membership for a list, tuple or set value. Made once for all
    slices of a scan: each ``is_in`` of a Python list makes its own copy of the values, so 98 slices filtered on the
    50,000 transaction ids of a 100,000-session day held 190 MB of copies (one expression shares its values with
    every frame it filters)."""
    return [pl.col(col).is_in(list(value)) if isinstance(value, (list, tuple, set, frozenset)) else pl.col(col) == value
            for col, value in filters.items()]


def _from_path_text(col: str, dtype: pl.DataType) -> pl.Expr:
    """A partition column read from its path text (as ``_format_partition_value`` wrote it) in its type."""
    if dtype == pl.Date():
        return pl.col(col).str.to_date("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        return pl.col(col).str.to_datetime(time_unit=dtype.time_unit, time_zone=dtype.time_zone)
    return pl.col(col).cast(dtype)


def _row_group_spans(row_groups: list[int], rows: int) -> list[tuple[int, int]]:
    """(offset, length) spans of consecutive row groups of about ``rows`` rows (at least one row group each)."""
    spans: list[tuple[int, int]] = []
    start = length = 0
    for size in row_groups:
        if length and length + size > rows:
            spans.append((start, length))
            start, length = start + length, 0
        length += size
    if length:
        spans.append((start, length))
    return spans


def _sorted_for_write(spec: TableSpec, df: pl.DataFrame, partition: dict[str, Any]) -> pl.DataFrame:
    """``df`` in the table's stored shape and order (partition columns dropped, conformed, sorted)."""
    data = spec.conform(df.drop([c for c in partition if c in df.columns]))
    sort_cols = [c for c in spec.sort_by if c not in partition] or data.columns
    sortable = [c for c in sort_cols if not isinstance(data.schema[c], (pl.List, pl.Struct, pl.Object))]
    return sorted_rows(data, sortable) if sortable else data


class PartitionWriter:
    """One partition written from batches, so memory follows a spill bucket of rows, not the partition.

    ``write(batch)`` spills each batch, split by the ``spill_bucket`` expression (default: ``bucket``), to
    hidden files beside the partition; ``commit(transform)`` then reads one spill bucket at a time in
    ascending order, applies ``transform`` (work that needs the bucket's rows together), sorts it by the
    table's sort key and appends it to the new file. Row groups hold ``ROW_GROUP_ROWS`` rows and end where a
    ``bucket`` ends, so a finer ``spill_bucket`` (e.g. the minute within ``bucket``'s hour) bounds memory by
    the spill bucket and still writes the bytes a write per ``bucket`` would. Both must order rows the way
    the sort key does (every row of a lower bucket sorts before every row of a higher one, and a spill
    bucket lies within one bucket); ``commit`` checks this on the first sort column. A spill bucket of more
    than ``split_rows`` rows (rows that all arrived in a short time) is spilled again by the first of the
    ``finer`` expressions (each finer than the one before, ordered the same way) before it is read whole,
    and so on, so memory stays bounded however the rows are spread; the bytes do not change. The new file
    replaces the partition atomically (write, fsync, rename), and the same batches in the same order give the
    same bytes. ``abort`` (or an exception inside ``with``) removes the spill and keeps the old partition.
    """

    ROW_GROUP_ROWS = 128 * 1024

    def __init__(self, warehouse: WarehouseResource, spec: TableSpec, bucket: pl.Expr, partition: dict[str, Any],
                 spill_bucket: pl.Expr | None = None, part: int = 0, finer: Sequence[pl.Expr] = (),
                 split_rows: int | None = None, staged: bool = False):
        self.warehouse, self.spec, self.bucket, self.partition = warehouse, spec, bucket, partition
        self.spill_bucket, self.part, self.staged = spill_bucket, part, staged
        self.finer, self.split_rows = tuple(finer), split_rows
        self.splits = 0  # spill buckets spilled again by a finer expression
        self.relative = warehouse.partition_dir(spec.name, spec, partition)
        # Outside the table's folder: readers glob `<table>/**/*.parquet` and must never see a spill.
        self.spill_dir = warehouse.spill_root / f"{self.relative.replace('/', '__')}-{os.getpid()}"
        # (bucket, spill bucket) -> spilled files and their rows, in write order
        self._spills: dict[tuple[Any, Any], list[tuple[Path, int]]] = {}
        self._count = 0
        self.rows = 0

    def __enter__(self) -> PartitionWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.abort()

    def write(self, batch: pl.DataFrame) -> None:
        """Spill one batch (any row order) to its buckets."""
        if not batch.height:
            return
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        finer = self.bucket if self.spill_bucket is None else self.spill_bucket
        keyed = batch.with_columns(self.bucket.alias("__bucket"), finer.alias("__spill"))
        for (key, spill), part in keyed.partition_by("__bucket", "__spill", as_dict=True,
                                                     maintain_order=True).items():
            self._spills.setdefault((key, spill), []).append(self._spill(part.drop("__bucket", "__spill")))

    def _spill(self, part: pl.DataFrame) -> tuple[Path, int]:
        path = self.spill_dir / f"{self._count:08d}.arrow"
        self._count += 1
        # Arrow IPC, LZ4: a spill is read back once, whole; Parquet's encoding would cost twice the CPU.
        part.write_ipc(path, compression="lz4")
        return path, part.height

    def _ordered_keys(self) -> list[tuple[Any, Any]]:
        return sorted(self._spills, key=lambda k: (_none_last(k[0]), _none_last(k[1])))

    def _pieces(self, spills: list[tuple[Path, int]], finer: tuple[pl.Expr, ...]) -> Iterator[list[Path]]:
        """The files of one spill bucket, as pieces of at most ``split_rows`` rows where ``finer`` can split
        it (runs of consecutive finer keys), in the order of the sort key."""
        if not finer or self.split_rows is None or _rows(spills) <= self.split_rows:
            yield [path for path, _ in spills]
            return
        self.splits += 1
        split: dict[Any, list[tuple[Path, int]]] = {}
        for path, _ in spills:  # one file at a time: never the whole bucket in memory
            keyed = pl.read_ipc(path).with_columns(finer[0].alias("__finer"))
            for (key,), part in keyed.partition_by("__finer", as_dict=True, maintain_order=True).items():
                split.setdefault(key, []).append(self._spill(part.drop("__finer")))
            path.unlink()
        piece: list[tuple[Path, int]] = []
        for key in sorted(split, key=_none_last):  # consecutive finer keys together, up to split_rows
            spills = split.pop(key)
            if piece and _rows(piece) + _rows(spills) > self.split_rows:
                yield [path for path, _ in piece]
                piece = []
            piece += spills
            if _rows(piece) > self.split_rows:  # one finer key alone is too many: split it finer still
                yield from self._pieces(piece, finer[1:])
                piece = []
        if piece:
            yield [path for path, _ in piece]

    def scan(self) -> pl.LazyFrame:
        """Every row written so far (spilled, not yet sorted), in write order within each spill bucket."""
        paths = [p for key in self._ordered_keys() for p, _ in self._spills[key]]
        if not paths:
            return self.spec.empty_frame().lazy()
        return pl.scan_ipc(paths)

    def commit(self, transform=None) -> Path | str:
        """Write the partition from the spilled buckets (``transform(frame) -> frame`` per spill bucket)."""
        first_col = next((c for c in self.spec.sort_by if c not in self.partition), None)
        rows = _RowGroups(self.ROW_GROUP_ROWS)
        previous_last = None
        try:
            with (self.warehouse.tables.replacing(self.relative, self.warehouse.spill_root, self.part,
                                                  self.staged) as tmp,
                  open(tmp, "wb") as handle):
                try:
                    for key, paths in ((key, paths) for key, spill in self._ordered_keys()
                                       for paths in self._pieces(self._spills.pop((key, spill)), self.finer)):
                        frame = pl.concat([pl.read_ipc(p) for p in paths], how="vertical")
                        for path in paths:  # read: the spill's disk is freed as the partition is written
                            path.unlink()
                        if transform is not None:
                            frame = transform(frame)
                        data = _sorted_for_write(self.spec, frame, self.partition)
                        if not data.height:
                            continue
                        if first_col is not None and not isinstance(data.schema[first_col], (pl.List, pl.Struct)):
                            first = data.get_column(first_col)
                            if previous_last is not None and first.null_count() == 0 and first.min() < previous_last:
                                raise ValueError(f"table {self.spec.name}: bucket {key!r} sorts before the previous one")
                            previous_last = first.max()
                        rows.add(handle, key, data)
                        self.rows += data.height
                    rows.close(handle, _sorted_for_write(self.spec, self.spec.empty_frame(), self.partition))
                except BaseException:
                    rows.abandon()  # before the file closes, so the half-written file is simply deleted
                    raise
        finally:
            self.abort()
        return self.warehouse._written(self.relative, self.part, self.staged)

    def abort(self) -> None:
        """Remove the spilled batches."""
        for spills in self._spills.values():
            for path, _ in spills:
                path.unlink(missing_ok=True)
        self._spills = {}
        if self.spill_dir.exists():
            for leftover in self.spill_dir.iterdir():
                leftover.unlink()
            self.spill_dir.rmdir()


def _none_last(key: Any) -> tuple[bool, Any]:
    return key is None, key


def _rows(spills: list[tuple[Path, int]]) -> int:
    return sum(rows for _, rows in spills)


class _RowGroups:
    """Sorted rows -> Parquet row groups of ``size`` rows that never span two buckets: the bytes of one
    ``write_table(bucket rows, row_group_size=size)`` per bucket, from pieces of a bucket."""

    def __init__(self, size: int):
        self.size = size
        self.writer: pq.ParquetWriter | None = None
        self.key: Any = None
        self.pending: list[pl.DataFrame] = []
        self.pending_rows = 0

    def add(self, handle, key: Any, data: pl.DataFrame) -> None:
        """Append one piece of sorted rows of bucket ``key`` (pieces of a bucket come in order)."""
        if self.pending and key != self.key:
            self._flush(handle, everything=True)
        self.key = key
        self.pending.append(data)
        self.pending_rows += data.height
        self._flush(handle, everything=False)

    def _flush(self, handle, everything: bool) -> None:
        if not self.pending_rows or (not everything and self.pending_rows < self.size):
            return
        rows = pl.concat(self.pending, how="vertical", rechunk=True) if len(self.pending) > 1 else self.pending[0]
        whole = (rows.height // self.size) * self.size
        written = rows.height if everything else whole
        self._write(handle, rows.slice(0, written).rechunk())
        rest = rows.slice(written)
        self.pending, self.pending_rows = ([rest] if rest.height else []), rest.height

    def _write(self, handle, data: pl.DataFrame) -> None:
        table = data.to_arrow(compat_level=pl.CompatLevel.oldest())
        if self.writer is None:
            self.writer = pq.ParquetWriter(handle, table.schema, compression="zstd", write_statistics=True)
        self.writer.write_table(table.cast(self.writer.schema), row_group_size=self.size)

    def close(self, handle, empty: pl.DataFrame) -> None:
        """Write what is pending and finish the file (an empty partition gets the table's empty file)."""
        self._flush(handle, everything=True)
        if self.writer is None:
            empty.write_parquet(handle, compression="zstd", statistics=True)
        else:
            self.writer.close()

    def abandon(self) -> None:
        """Close the Parquet writer of a failed write."""
        if self.writer is not None:
            self.writer.close()


# -- DuckDB SQL helpers -------------------------------------------------------------------------

def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_type(dtype: pl.DataType) -> str:
    """The DuckDB type that a polars column type is stored as in Parquet."""
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP"
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision or 38},{dtype.scale})"
    if isinstance(dtype, pl.List):
        return duckdb_type(dtype.inner) + "[]"
    simple = {
        pl.String: "VARCHAR", pl.Int64: "BIGINT", pl.Int32: "INTEGER", pl.Int16: "SMALLINT", pl.Int8: "TINYINT",
        pl.UInt64: "UBIGINT", pl.UInt32: "UINTEGER", pl.Float64: "DOUBLE", pl.Float32: "FLOAT",
        pl.Boolean: "BOOLEAN", pl.Date: "DATE", pl.Duration: "INTERVAL", pl.Binary: "BLOB",
    }
    for polars_type, sql in simple.items():
        if dtype == polars_type:
            return sql
    return "VARCHAR"


def _view_sql(warehouse: WarehouseResource, spec: TableSpec) -> str:
    cols = ", ".join(f"{_ident(c)}" for c in spec.schema)
    if warehouse.has_data(spec.name):
        pattern = warehouse.tables.location(f"{spec.name}/**/*.parquet")
        hive_types = ", ".join(f"{_literal(c)}: {_literal(duckdb_type(spec.schema[c]))}" for c in spec.partition_by)
        hive = f", hive_partitioning = true, hive_types = {{{hive_types}}}" if spec.partition_by else ""
        source = f"read_parquet({_literal(pattern)}, union_by_name = true{hive})"
        return f"CREATE OR REPLACE VIEW {_ident(spec.name)} AS SELECT {cols} FROM {source}"
    # Never written yet: an empty view with the declared types, so queries still work.
    typed = ", ".join(f"CAST(NULL AS {duckdb_type(t)}) AS {_ident(c)}" for c, t in spec.schema.items())
    return f"CREATE OR REPLACE VIEW {_ident(spec.name)} AS SELECT {typed} WHERE false"


class SortedPartsWriter:
    """One partition appended part by part, in the table's order: the rows and order of ``write_partition``.

    For tables whose rows come in groups that already follow the sort key's first column (e.g. charge-point
    groups of a table sorted by ``charge_point_id``): ``append(frame)`` sorts one group the way
    ``write_partition`` sorts a partition and spills it; ``commit()`` streams the parts into the partition
    file with polars' streaming Parquet sink, without holding them, in row groups of ``ROW_GROUP_ROWS`` rows:
    left to itself the sink cuts row groups where the parts happen to end, so the bytes would depend on how
    the rows were grouped (a partition of fewer rows is the one row group ``write_partition`` writes, byte
    for byte). ``append`` checks the group order on the first sort column; with ``distinct_groups`` a part
    must start above the previous part's last value (parts are batches of whole sessions: one split over two
    parts is refused), otherwise it may start at it.
    The file replaces the partition atomically (write, fsync, rename); ``abort`` (or an exception inside
    ``with``) removes the spill and keeps the old partition.
    """

    ROW_GROUP_ROWS = 128 * 1024

    def __init__(self, warehouse: WarehouseResource, spec: TableSpec, partition: dict[str, Any], part: int = 0,
                 staged: bool = False, distinct_groups: bool = False):
        self.warehouse, self.spec, self.partition, self.part, self.staged = warehouse, spec, partition, part, staged
        self.distinct_groups = distinct_groups
        self.relative = warehouse.partition_dir(spec.name, spec, partition)
        self.spill_dir = warehouse.spill_root / f"{self.relative.replace('/', '__')}-parts-{os.getpid()}"
        self._parts: list[Path] = []
        self._first_col = next((c for c in spec.sort_by if c not in partition), None)
        self._previous_last = None
        self.rows = 0

    def __enter__(self) -> SortedPartsWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.abort()

    def append(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Spill one group's rows (sorted here); returns them as stored (for checks)."""
        for col, value in self.partition.items():
            if col in frame.columns and frame.height:
                distinct = frame.get_column(col).unique().to_list()
                if len(distinct) != 1 or _format_partition_value(distinct[0]) != _format_partition_value(value):
                    raise ValueError(f"table {self.spec.name}: column {col} holds {distinct[:5]}, not only {value}")
        data = _sorted_for_write(self.spec, frame, self.partition)
        if not data.height:
            return data
        if self._first_col is not None:
            first = data.get_column(self._first_col)
            previous = self._previous_last
            if first.null_count() or (previous is not None and (first.min() <= previous if self.distinct_groups
                                                                 else first.min() < previous)):
                raise ValueError(f"table {self.spec.name}: a part does not follow the previous one on {self._first_col}")
            self._previous_last = first.max()
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        path = self.spill_dir / f"{len(self._parts):08d}.parquet"
        data.write_parquet(path, compression="lz4", statistics=False)
        self._parts.append(path)
        self.rows += data.height
        return data

    def commit(self) -> Path | str:
        """Write the partition from the parts (an empty partition when there are none)."""
        try:
            if not self._parts:
                return self.warehouse.write_partition(self.spec, self.spec.empty_frame(), part=self.part,
                                                      staged=self.staged, **self.partition)
            with self.warehouse.tables.replacing(self.relative, self.warehouse.spill_root, self.part,
                                                 self.staged) as tmp:
                pl.scan_parquet(self._parts).sink_parquet(tmp, compression="zstd", statistics=True,
                                                          row_group_size=self.ROW_GROUP_ROWS)
            return self.warehouse._written(self.relative, self.part, self.staged)
        finally:
            self.abort()

    def abort(self) -> None:
        """Remove the spilled parts."""
        for path in self._parts:
            path.unlink(missing_ok=True)
        self._parts = []
        if self.spill_dir.exists():
            for leftover in self.spill_dir.iterdir():
                leftover.unlink()
            self.spill_dir.rmdir()
