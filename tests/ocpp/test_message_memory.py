"""ocpp_messages in bounded memory: finer spill buckets write the same bytes, compact key state is exact."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow.parquet as pq

from assets.ingest.common.keyset import KeySet, KeyTable
from assets.ingest.ocpp.tables import OCPP_MESSAGES
from resources.warehouse import PartitionWriter, WarehouseResource
from tests.ocpp.test_partition_writer import DAY, HOUR, _messages



def _write(warehouse: WarehouseResource, frame, spill_bucket=None):
    with warehouse.partition_writer(OCPP_MESSAGES, HOUR, spill_bucket=spill_bucket, landing_date=DAY) as writer:
        for offset in range(0, frame.height, 900):
            writer.write(frame.slice(offset, 900))
        return writer.commit().read_bytes(), writer.rows


def test_minute_spills_write_the_bytes_of_hour_spills(tmp_path, monkeypatch):
    import polars as pl

    monkeypatch.setattr(PartitionWriter, "ROW_GROUP_ROWS", 70)  # row groups end mid-hour and at the hour
    frame = _messages(6_000, seed=11)
    hourly, rows = _write(WarehouseResource(root=str(tmp_path / "hour")), frame)
    minutely, minute_rows = _write(WarehouseResource(root=str(tmp_path / "minute")), frame,
                                   pl.col("received_at").dt.truncate("1m"))
    assert rows == minute_rows == 6_000
    assert minutely == hourly
    path = tmp_path / "minute.parquet"
    path.write_bytes(minutely)
    sizes = [pq.ParquetFile(path).metadata.row_group(i).num_rows
             for i in range(pq.ParquetFile(path).metadata.num_row_groups)]
    assert max(sizes) == 70 and sum(sizes) == 6_000


def test_keyset_runs_merge_and_answer_exactly():
    keys = KeySet()
    rng = np.random.default_rng(3)
    added = rng.integers(0, 2**63, size=(5_000, 2), dtype=np.uint64)
    for start in range(0, 5_000, 100):  # 50 batches: merged runs, never one run per batch
        keys.add(added[start:start + 100, 0], added[start:start + 100, 1])
        assert len(keys._runs) <= 7
    absent = added.copy()
    absent[:, 1] += np.uint64(1)  # same first hash, other second hash: not in the set
    assert keys.contains(added[:, 0], added[:, 1]).all()
    assert not keys.contains(absent[:, 0], absent[:, 1]).any()
    assert len(keys) == 5_000


def test_keytable_first_occurrence_wins_and_shared_first_hashes_are_told_apart():
    table = KeyTable(np.array([7, 7, 3, 7, 9], dtype=np.uint64), np.array([1, 2, 5, 1, 4], dtype=np.uint64),
                     np.array([10, 20, 30, 40, 50]))
    found = table.lookup(np.array([7, 7, 7, 3, 9, 8], dtype=np.uint64), np.array([1, 2, 3, 5, 4, 0], dtype=np.uint64))
    assert found.tolist() == [10, 20, -1, 30, 50, -1]
    assert len(table) == 4


def test_received_span_grows_as_a_shard_shrinks_and_divides_the_hour():
    from assets.ingest.ocpp.pipeline import SPAN_MINUTES, SPILL_BUCKET_BYTES, received_span
    import polars as pl

    def minutes(landed_bytes: int) -> int:
        # 09:59:59 truncates to the start of the hour's last span
        stamps = pl.DataFrame({"received_at": [dt.datetime(2026, 10, 24, 9, 59, 59, tzinfo=dt.timezone.utc)]})
        start = stamps.select(received_span(landed_bytes).alias("t"))["t"][0]
        return 60 - start.minute

    day = 24 * 60
    assert all(60 % m == 0 for m in SPAN_MINUTES)
    assert minutes(1 << 20) == 60  # a small date: an hour at once
    assert minutes(SPILL_BUCKET_BYTES * day // 15) == 15  # exactly 15 minutes' worth
    assert minutes(SPILL_BUCKET_BYTES * day // 15 + day) == 12  # a little more: the next shorter span
    assert minutes(int(3.8 * 2**30)) == 3  # a shard of the 100,000-session day's first date
    assert minutes(SPILL_BUCKET_BYTES * day * 10) == 1  # never below a minute


def test_every_span_writes_the_same_bytes(tmp_path, monkeypatch):
    import polars as pl

    monkeypatch.setattr(PartitionWriter, "ROW_GROUP_ROWS", 70)
    frame = _messages(3_000, seed=5)
    written = {span: _write(WarehouseResource(root=str(tmp_path / span)), frame,
                            pl.col("received_at").dt.truncate(span))[0] for span in ("1m", "12m", "60m")}
    assert written["1m"] == written["12m"] == written["60m"]


def test_a_bunched_spill_bucket_is_split_finer_and_writes_the_same_bytes(tmp_path, monkeypatch):
    """A backlog landing in one minute: the bucket is read in pieces of at most ``split_rows`` frames, except
    frames of one and the same millisecond, which cannot be split; the bytes are those of hourly buckets."""
    import polars as pl

    from assets.ingest.ocpp.pipeline import FINER_SPANS

    monkeypatch.setattr(PartitionWriter, "ROW_GROUP_ROWS", 70)
    frame = _messages(4_000, seed=13)
    nine = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
    received = [nine + dt.timedelta(milliseconds=(i * 7_919) % 60_000) for i in range(3_700)]
    received += [nine + dt.timedelta(seconds=42, microseconds=123_456)] * 300  # one millisecond: 300 frames
    frame = frame.with_columns(pl.Series("received_at", received, dtype=frame.schema["received_at"]))
    hourly, rows = _write(WarehouseResource(root=str(tmp_path / "hour")), frame)
    read_at_once: list[int] = []

    def seen(bucket: pl.DataFrame) -> pl.DataFrame:
        read_at_once.append(bucket.height)
        return bucket

    warehouse = WarehouseResource(root=str(tmp_path / "split"))
    with warehouse.partition_writer(OCPP_MESSAGES, HOUR, spill_bucket=pl.col("received_at").dt.truncate("15m"),
                                    finer=FINER_SPANS, split_rows=250, landing_date=DAY) as writer:
        for offset in range(0, frame.height, 900):
            writer.write(frame.slice(offset, 900))
        split = writer.commit(seen).read_bytes()
        splits = writer.splits
    assert split == hourly and rows == sum(read_at_once) == 4_000
    # 15 minutes -> one minute (4,000 frames) -> runs of seconds (about 62 each, second 42 has 362) -> the
    # milliseconds of second 42; two neighbouring pieces of a run hold more than 250 frames together
    assert splits == 3 and len(read_at_once) <= 2 * 4_000 // 250 + 3
    assert max(read_at_once) == 300 and sorted(read_at_once)[-2] <= 250
    assert not any(p for p in warehouse.spill_root.rglob("*") if p.is_file())  # no spill left behind
