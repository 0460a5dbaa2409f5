"""Where the warehouse's Parquet tables live: a local folder or an object store (``s3://bucket/prefix``, ``gs://…``).

Both keep one file per partition, ``<table>/<col>=<value>/…/part-0.parquet``, and both replace a partition
whole, so a reader sees the old partition or the new one, never half of one. A partition the OCPP ingest splits
into charge-point shards has one file per shard, ``part-<shard>.parquet``, each replaced whole the same way
(``assets.ingest.ocpp.shards``). Shard files are written staged (``staged_file``, a name no reader lists) and
switched in together by ``publish`` once every shard of the date has been written, so a shard that fails leaves
the date's previous set of files whole:

- **local folder**: the new file is written beside the old one under a hidden name, fsynced, renamed over it,
  and the rename is made durable (fsync of the folder); a crash mid-write leaves the previous partition.
- **object store**: the new file is written to local scratch and uploaded to a staging object outside every
  table (``_staging/…``); only after that upload succeeded is it copied over the partition's object by a
  server-side copy, which creates the object whole (S3 CopyObject; GCS and Azure likewise), and the staging
  object is deleted. Readers list ``<table>/**`` and never see a staging object, and a failed or interrupted
  upload (whose stream pyarrow may still complete on close) only ever leaves a staging object behind, never a
  partial partition. Object stores give read-after-write consistency, so the copy is the switch.

Credentials and endpoints come from the environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_REGION``, ``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP`` for an S3-compatible store), which pyarrow and polars
both read, never from configuration or code.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from fsspec.implementations.arrow import ArrowFSWrapper

PART_FILE = "part-0.parquet"
_PART_NAME = re.compile(r"part-(\d+)\.parquet")
_STAGED_NAME = re.compile(r"\.part-(\d+)\.parquet\.staged")


def part_file(part: int = 0) -> str:
    """The file name of part ``part`` of a partition: ``part-0.parquet`` holds a whole partition unless the
    partition is split into shards."""
    return f"part-{part}.parquet"


def staged_file(part: int) -> str:
    """The name part ``part`` is written under until ``publish`` switches it in: beside the partition's files,
    hidden, and not a ``.parquet`` name, so no reader (glob ``**/*.parquet``, ``part_files``) sees it."""
    return f".{part_file(part)}.staged"


def part_of(name: str) -> int | None:
    """The part a file name holds (``part-3.parquet`` -> 3), None for any other file."""
    match = _PART_NAME.fullmatch(name)
    return int(match.group(1)) if match else None
# Uploads in progress, outside every table folder (readers glob `<table>/**`).
STAGING_DIR = "_staging"


def is_object_store(root: str) -> bool:
    """Whether a warehouse root names an object store (a URL with a scheme other than ``file``)."""
    return "://" in root and not root.startswith("file://")


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (fsync of the folder itself)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalTables:
    """Tables under a local folder."""

    def __init__(self, root: Path):
        self.root = root

    def location(self, relative: str) -> str:
        """The path of ``relative`` (``<table>/<col>=<value>…``) as polars and DuckDB read it."""
        return str(self.root / relative)

    def part_files(self, table: str) -> list[str]:
        """The partition files of ``table``, as paths relative to the table, sorted."""
        path = self.root / table
        return sorted(p.relative_to(path).as_posix() for p in path.rglob("part-*.parquet")
                      if part_of(p.name) is not None) if path.exists() else []

    def part_file_versions(self, table: str) -> dict[str, tuple[int, int, int]]:
        """``part_files`` of ``table`` with what identifies each one's current version: (size, modified ns,
        inode). Every write renames a new file over the old one, so a rewrite changes the inode and the
        modification time even when the bytes are the same."""
        out = {}
        for relative in self.part_files(table):
            stat = (self.root / table / relative).stat()
            out[relative] = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        return out

    def parts(self, relative_dir: str) -> list[int]:
        """The parts a partition folder holds, in order."""
        target_dir = self.root / relative_dir
        return sorted(part for p in target_dir.glob("part-*.parquet") if (part := part_of(p.name)) is not None) \
            if target_dir.exists() else []

    def row_group_rows(self, relative: str) -> list[int]:
        """The rows of each row group of the Parquet file ``relative`` (from its footer only)."""
        return _row_group_rows(pq.ParquetFile(self.root / relative))

    def has_data(self, table: str) -> bool:
        path = self.root / table
        return path.exists() and any(path.rglob("*.parquet"))

    def attach_to(self, con: duckdb.DuckDBPyConnection) -> None:
        """Nothing to do: DuckDB reads local files itself."""

    @contextmanager
    def replacing(self, relative_dir: str, scratch: Path, part: int = 0, staged: bool = False) -> Iterator[Path]:
        """A temporary path to write a partition's new file (its part ``part``) to; on a normal exit it is
        fsynced and renamed over that file (``staged``: over its staged file, see ``publish``), and the rename
        made durable. The temporary file never outlives the block."""
        target_dir = self.root / relative_dir
        target_dir.mkdir(parents=True, exist_ok=True)
        name = staged_file(part) if staged else part_file(part)
        tmp = target_dir / f".{name}.tmp-{os.getpid()}"
        try:
            yield tmp
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, target_dir / name)
            fsync_dir(target_dir)
        finally:
            if tmp.exists():
                tmp.unlink()

    def publish(self, relative_dir: str, parts: list[int]) -> None:
        """Switch the staged files of ``parts`` in over the partition's files (renames, then one durable fsync
        of the folder); every one must be there, or nothing is switched."""
        target_dir = self.root / relative_dir
        missing = [part for part in parts if not (target_dir / staged_file(part)).exists()]
        if missing:
            raise FileNotFoundError(f"{relative_dir}: no staged file of part(s) {missing} to publish")
        for part in parts:
            os.replace(target_dir / staged_file(part), target_dir / part_file(part))
        if parts:
            fsync_dir(target_dir)

    def remove(self, relative_dir: str, keep: frozenset[int] = frozenset()) -> None:
        """Remove a partition's files (those of the parts not in ``keep``, and staged files of failed runs),
        durably; nothing to do when there are none."""
        target_dir = self.root / relative_dir
        stale = [target_dir / part_file(part) for part in self.parts(relative_dir) if part not in keep]
        stale += [path for path in target_dir.glob(".part-*.parquet.staged") if _STAGED_NAME.fullmatch(path.name)]
        for path in stale:
            path.unlink()
        if stale:
            fsync_dir(target_dir)


class ObjectStoreTables:
    """Tables under an object-store URL, through pyarrow's filesystems (S3, GCS, Azure, HDFS)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.filesystem, self.base = pafs.FileSystem.from_uri(self.url)

    def location(self, relative: str) -> str:
        return f"{self.url}/{relative}"

    def _files(self, table: str) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(f"{self.base}/{table}", recursive=True, allow_not_found=True)
        return [info for info in self.filesystem.get_file_info(selector) if info.type == pafs.FileType.File]

    def part_files(self, table: str) -> list[str]:
        prefix = f"{self.base}/{table}/"
        return sorted(info.path[len(prefix):] for info in self._files(table) if part_of(info.base_name) is not None)

    def parts(self, relative_dir: str) -> list[int]:
        """The parts a partition holds, in order."""
        selector = pafs.FileSelector(f"{self.base}/{relative_dir}", recursive=False, allow_not_found=True)
        return sorted(part for info in self.filesystem.get_file_info(selector)
                      if info.type == pafs.FileType.File and (part := part_of(info.base_name)) is not None)

    def row_group_rows(self, relative: str) -> list[int]:
        with self.filesystem.open_input_file(f"{self.base}/{relative}") as handle:
            return _row_group_rows(pq.ParquetFile(handle))

    def has_data(self, table: str) -> bool:
        return any(info.path.endswith(".parquet") for info in self._files(table))

    def attach_to(self, con: duckdb.DuckDBPyConnection) -> None:
        """Let ``con`` read this store's URLs through the same pyarrow filesystem (as an fsspec filesystem), so
        the catalog needs no DuckDB extension and the credentials stay those of the environment."""
        con.register_filesystem(ArrowFSWrapper(self.filesystem))

    @contextmanager
    def replacing(self, relative_dir: str, scratch: Path, part: int = 0, staged: bool = False) -> Iterator[Path]:
        """A local scratch path to write a partition's new file (its part ``part``) to; on a normal exit it is
        uploaded to a staging object and copied over that object (``staged``: over the part's staged object, see
        ``publish``), visible whole. Scratch never outlives the block."""
        scratch.mkdir(parents=True, exist_ok=True)
        tmp = scratch / f"upload-{relative_dir.replace('/', '__')}-{part}-{os.getpid()}.parquet"
        try:
            yield tmp
            staging = f"{self.base}/{STAGING_DIR}/{uuid.uuid4().hex}.parquet"
            try:
                with open(tmp, "rb") as source, self.filesystem.open_output_stream(staging) as target:
                    shutil.copyfileobj(source, target, length=8 * 1024 * 1024)
                # Only a complete upload is switched in.
                name = staged_file(part) if staged else part_file(part)
                self.filesystem.copy_file(staging, f"{self.base}/{relative_dir}/{name}")
            finally:
                self._delete_if_present(staging)
        finally:
            tmp.unlink(missing_ok=True)

    def publish(self, relative_dir: str, parts: list[int]) -> None:
        """Copy the staged objects of ``parts`` over the partition's objects (each copy creates its object
        whole), then delete them; every one must be there, or nothing is switched."""
        staged = {part: f"{self.base}/{relative_dir}/{staged_file(part)}" for part in parts}
        missing = [part for part, path in staged.items()
                   if self.filesystem.get_file_info(path).type == pafs.FileType.NotFound]
        if missing:
            raise FileNotFoundError(f"{relative_dir}: no staged object of part(s) {missing} to publish")
        for part, path in staged.items():
            self.filesystem.copy_file(path, f"{self.base}/{relative_dir}/{part_file(part)}")
        for path in staged.values():
            self.filesystem.delete_file(path)

    def remove(self, relative_dir: str, keep: frozenset[int] = frozenset()) -> None:
        """Remove a partition's objects (those of the parts not in ``keep``, and staged objects of failed runs);
        nothing to do when there are none."""
        for part in self.parts(relative_dir):
            if part not in keep:
                self._delete_if_present(f"{self.base}/{relative_dir}/{part_file(part)}")
        selector = pafs.FileSelector(f"{self.base}/{relative_dir}", recursive=False, allow_not_found=True)
        for info in self.filesystem.get_file_info(selector):
            if info.type == pafs.FileType.File and _STAGED_NAME.fullmatch(info.base_name):
                self.filesystem.delete_file(info.path)

    def _delete_if_present(self, path: str) -> None:
        if self.filesystem.get_file_info(path).type != pafs.FileType.NotFound:
            self.filesystem.delete_file(path)


def _row_group_rows(file: pq.ParquetFile) -> list[int]:
    metadata = file.metadata
    return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


@functools.lru_cache(maxsize=8)
def table_storage(root: str, local_root: Path) -> LocalTables | ObjectStoreTables:
    """The storage a warehouse root names (a local folder is ``local_root`` itself); one per root and process,
    so an object store's client is made once."""
    return ObjectStoreTables(root) if is_object_store(root) else LocalTables(local_root)
