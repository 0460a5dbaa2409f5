"""Charge-point shards: the OCPP chain of one landing date on every core, each shard its own partition file.

A charge point's frames only ever relate to its own (answers, duplicates, replays, readings, transactions), so
a landing date can be split by charge point and each part ingested alone. ``ocpp_messages`` splits each date's
landing lines into N shards by the CRC-32 of the line's ``charge_point_id`` (a line without a readable one goes
to shard 0) and runs every shard in its own process (a step each, or one step's pool: ``shard_steps``); shard k
writes ``part-k.parquet`` of the date's partition.
``meter_readings`` and ``transactions`` take the shards the date's ``ocpp_messages`` partition has, whatever the
setting is now: shard k reads part k of the date and writes part k of its own table. Every later step reads all
parts of a date, so only the files differ from an unsplit run, not the rows (``tests/e2e/test_settlement_placement.py``
settles a day both ways and compares every table).

N is ``CHARGELEDGER_OCPP_SHARDS``: a number, or ``auto`` (the default), which splits a date only when it is large
(``auto_shard_count``): one shard per ``SHARD_LANDING_BYTES`` of landing lines, at most as many as can run at once
(one per usable core and per ``WORKER_MEMORY_BYTES`` of the machine's memory), except that no shard gets more than
``SHARD_MAX_LANDING_BYTES``: a shard's state (the day-wide compact keys of its frames, ``frames``) grows with its
share of the date, so a larger date gets more shards than cores and they take turns on the pool. A date below
``SHARD_LANDING_BYTES`` (every demo and test day) is not split.

Every shard's worker reads the whole date; each line's shard is decided from its bytes before it is decoded
(``shard_scan``, ``Shard.mine``), so a worker decodes only its own lines.

The split is checked, not assumed: each shard checks that every frame it parsed belongs to a charge point of
its shard (a hostile line can name one charge point in its text and another once parsed); if one does not,
the date is ingested again in one process (``ShardMismatch``), as unsplit.

Measured on this 2-core machine (docs/scaling.md §0.3): the whole settlement of a 100,000-session day in 2 shards
took 808 s wall against 1,042 s for the same CPU, with a peak of 3.39 GB against 2.21 GB (each worker holds its
own imports and its shard); at 25,000 sessions (a 1.9 GB landing date) 227 s against 284 s. A small date gains
nothing (a worker costs a few CPU-seconds to start), hence the size threshold.
Workers are spawned (polars is multi-threaded and must not be forked) and kept for the next step.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import polars as pl

from assets.ingest.common.files import LINES, LandedFile, LineBatch, RecordReader, landed_bytes
from assets.ingest.ocpp.json_bytes import column_buffer
from assets.ingest.ocpp.shard_scan import line_shards, string_crcs
from assets.parallel import close_shared_pool, count_worker_cpu, shared_pool, timed, usable_cores
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

SHARDS_ENV = "CHARGELEDGER_OCPP_SHARDS"
# The envelope's charge point as the landing line writes it (a plain string; an escaped one is not read here).
_CHARGE_POINT_TEXT = r'"charge_point_id"\s*:\s*"([^"\\]*)"'

Result = TypeVar("Result")


class ShardMismatch(Exception):
    """A frame parsed in one shard belongs to a charge point of another: the date is ingested unsplit."""


# ``auto``: a shard per this many bytes of a date's landing lines (``landed_bytes``: a compressed file counts
# COMPRESSION_RATIO times its size). Below it a worker's start-up (~3 CPU-s) outweighs the gain.
SHARD_LANDING_BYTES = 512 * 2**20
# ``auto``: memory to leave per worker (a worker peaked at about 1.2 GB on the 100,000-session day).
WORKER_MEMORY_BYTES = 4 * 2**30
# ``auto``: the most landing bytes one shard takes. A shard of the 100,000-session day's busiest date (3.9 GB of
# lines, 7.3 M frames) holds 235 MB of compact keys at the end of its parse and peaks near 1.1 GB; twice the lines
# would be twice the keys. So a date of more than (usable cores) x this is cut finer than the cores: every shard then
# reads the whole date (skipping other shards' lines undecoded, about 1 CPU-s a GB), the price of bounded memory.
SHARD_MAX_LANDING_BYTES = 4 * 2**30
MAX_SHARDS = 64


def shard_count(files: list[LandedFile]) -> int:
    """Shards for a landing date of these OCPP files: ``$CHARGELEDGER_OCPP_SHARDS`` when it is a number, else
    (unset or ``auto``) ``auto_shard_count``."""
    configured = os.environ.get(SHARDS_ENV, "").strip()
    if configured.lower() in ("", "auto"):
        return auto_shard_count(files)
    try:
        count = int(configured)
    except ValueError:
        raise ValueError(f"{SHARDS_ENV}={configured!r} is neither a whole number nor 'auto'") from None
    if not 1 <= count <= MAX_SHARDS:
        raise ValueError(f"{SHARDS_ENV}={count} must be between 1 and {MAX_SHARDS}")
    return count


def auto_shard_count(files: list[LandedFile], cores: int | None = None, memory_bytes: int | None = None) -> int:
    """One shard per ``SHARD_LANDING_BYTES`` of the files, at most ``concurrent_shards`` of them (defaults: this
    process's usable cores, the machine's physical memory) unless that leaves a shard more than
    ``SHARD_MAX_LANDING_BYTES``: then as many as keep every shard within it (``MAX_SHARDS`` at most); at least one."""
    landed = landed_bytes(files)
    bounded = -(-landed // SHARD_MAX_LANDING_BYTES)
    return max(1, min(landed // SHARD_LANDING_BYTES, max(concurrent_shards(cores, memory_bytes), bounded), MAX_SHARDS))


def concurrent_shards(cores: int | None = None, memory_bytes: int | None = None) -> int:
    """Shards that can run at once: one per core and per ``WORKER_MEMORY_BYTES`` of memory, at least one."""
    cores = cores if cores is not None else usable_cores()
    memory_bytes = memory_bytes if memory_bytes is not None else os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return max(1, min(cores, memory_bytes // WORKER_MEMORY_BYTES))


def shard_of(charge_point_id: str, count: int) -> int:
    """The shard of a charge point: CRC-32 of its UTF-8 text modulo ``count`` (stable across processes and runs)."""
    return zlib.crc32(charge_point_id.encode("utf-8", "surrogatepass")) % count


def _shards_of(charge_points: pl.Series, count: int) -> pl.Series:
    """``shard_of`` of each value (null: shard 0), computed once per distinct charge point."""
    distinct = charge_points.drop_nulls().unique()
    shards = pl.Series(string_crcs(*column_buffer(distinct)) % count, dtype=pl.UInt32())
    return charge_points.replace_strict(distinct, shards, default=0, return_dtype=pl.UInt32())


def line_owners(lines: pl.Series, count: int) -> np.ndarray:
    """The shard of each (decoded) landing line: CRC-32 of the first match of ``_CHARGE_POINT_TEXT`` modulo
    ``count``, shard 0 without one. ``shard_scan`` reads it from the bytes of the lines it can place (the same
    shard, see there); the regex reads only the others (it cost a worker ~6 % of its step on every line)."""
    data, offsets = column_buffer(lines.fill_null(""))
    owners = line_shards(data, offsets[:-1], offsets[1:], count)
    unplaced = owners < 0
    if unplaced.any():
        rest = lines.filter(pl.Series(unplaced))
        owners[unplaced] = _shards_of(rest.str.extract(_CHARGE_POINT_TEXT, 1), count).to_numpy()
    return owners


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of a date split into ``count`` (``WHOLE``: not split)."""

    index: int = 0
    count: int = 1

    @property
    def part(self) -> int | None:
        """The file of the date this shard reads (``scan(part=…)``); None, every file, when not split."""
        return None if self.count == 1 else self.index

    @property
    def split(self) -> tuple[int, int]:
        """(index, count): which files of a stored partition can hold this shard's rows (``warehouse.files_of_shard``)."""
        return self.index, self.count

    def read(self, reader: RecordReader, files: list[LandedFile]) -> Iterator[LineBatch]:
        """The landing lines of ``files`` that belong to this shard (``line_owners``' rule, decided before they are
        decoded: ``mine``), as ``reader`` reads them; file-level rejections and oversized lines go to shard 0."""
        if self.count == 1:
            yield from reader.line_batches(files)
            return
        if tuple(reader.layouts) != (LINES,):
            raise TypeError("a split date is read as lines files only")
        for batch in reader.line_batches(files, wanted=self.mine):
            yield batch if self.index == 0 else LineBatch(refs=batch.refs, text=batch.text, rejected=[])

    def mine(self, data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Which lines of a block (its bytes, where each line starts and ends) are this shard's, by ``line_owners``'
        rule: ``shard_scan`` places nearly every line from its bytes; only the few it leaves are decoded (as the
        reader decodes them, undecodable bytes replaced) and read by the regex. Deciding every line here, once, is
        what lets the reader hand on only this shard's lines: checking them again once decoded cost a worker ~5 %
        of its step (6 CPU-s of a 100,000-session day's first-date shard)."""
        owners = line_shards(data, starts, ends, self.count)
        unplaced = np.flatnonzero(owners < 0)
        if unplaced.size:
            texts = [data[start:end].tobytes().decode("utf-8", "replace")
                     for start, end in zip(starts[unplaced], ends[unplaced])]
            owners[unplaced] = line_owners(pl.Series("line", texts, dtype=pl.String()), self.count)
        return owners == self.index

    def owns(self, charge_points: pl.Series) -> pl.Series:
        """Whether each charge point is this shard's (all are when the date is not split; a null is shard 0's)."""
        if self.count == 1:
            return pl.Series(np.ones(len(charge_points), dtype=np.bool_))
        return _shards_of(charge_points, self.count) == self.index

    def check_charge_points(self, charge_points: pl.Series) -> None:
        """Raise ``ShardMismatch`` unless every (parsed) charge point belongs to this shard."""
        if self.count == 1 or charge_points.is_empty():
            return
        distinct = charge_points.unique(maintain_order=True)  # each charge point placed once, not each frame
        strays = distinct.filter(~self.owns(distinct))
        if strays.len():
            raise ShardMismatch(f"shard {self.index} of {self.count} parsed frames of charge point "
                                f"{strays[0]!r}, which belongs to another shard")


WHOLE = Shard()


def split(count: int) -> list[Shard]:
    """The shards of a date split into ``count``."""
    return [Shard(index, count) for index in range(count)]


def stored_shards(parts: list[int]) -> list[Shard]:
    """The shards a later step runs, from the parts the date's ``ocpp_messages`` partition has."""
    return [WHOLE] if len(parts) <= 1 else [Shard(part, len(parts)) for part in parts]


# step(warehouse, landing, landing_date, shard) -> a picklable result
ShardStep = Callable[..., Result]


def _run_in_worker(step: ShardStep, roots: tuple[str, str, str | None], args: tuple, shard: Shard) -> Any:
    """One shard of a step in a pool worker: the resources are rebuilt from their roots (a resource object is not
    sent to another process)."""
    root, local_root, landing_root = roots
    warehouse = WarehouseResource(root=root, local_root=local_root)
    landing = LandingZoneResource(root=landing_root) if landing_root is not None else None
    return step(warehouse, landing, *args, shard)


def run_shards(step: ShardStep, shards: list[Shard], warehouse: WarehouseResource,
               landing: LandingZoneResource | None, *args: Any) -> list[Result]:
    """``step(warehouse, landing, *args, shard)`` for each shard, results in shard order: in this process for
    one shard, else each in a worker process (at most ``concurrent_shards`` at a time). ``step`` is a module-level
    function (sent to the worker by name)."""
    if len(shards) == 1:
        # The whole date runs here: workers idle since an earlier date's shards must not keep their memory meanwhile.
        close_shared_pool()
        return [step(warehouse, landing, *args, shards[0])]
    roots = (warehouse.root, warehouse.local_root, landing.root if landing is not None else None)
    pool = shared_pool(min(len(shards), concurrent_shards()))
    futures = [pool.submit(timed, _run_in_worker, step, roots, args, shard) for shard in shards]
    # Every shard ends before anything is raised: a shard still writing its part must not race a retry.
    wait(futures)
    count_worker_cpu(sum(future.result()[1] for future in futures if future.exception() is None))
    return [future.result()[0] for future in futures]
