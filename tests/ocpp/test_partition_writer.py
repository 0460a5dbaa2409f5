"""The streaming partition writer: bounded buckets, same rows and order as a one-shot write, atomic, repeatable."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pyarrow.parquet as pq
import pytest

from assets.ingest.ocpp.tables import OCPP_MESSAGES
from resources.warehouse import PART_FILE, SPILL_DIR, PartitionWriter, WarehouseResource

DAY = dt.date(2026, 11, 20)
HOUR = pl.col("received_at").dt.truncate("1h")


def _messages(n: int, seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    rows = [{
        "landing_date": DAY, "record_ref": f"ocpp/x.jsonl:{i + 1}",
        "received_at": start + dt.timedelta(seconds=rng.randrange(0, 86_400)),
        "charge_point_id": f"CP-{rng.randrange(40)}", "protocol": "ocpp1.6", "direction": rng.choice(["in", "out"]),
        "message_type": "CALL", "message_id": f"m{i}", "action": "Heartbeat", "transaction_id": None,
        "payload_json": "{}", "error_code": None, "error_description": None, "is_replay": False, "raw": f'[2,"m{i}","Heartbeat",{{}}]',
    } for i in range(n)]
    return pl.DataFrame(rows, schema=OCPP_MESSAGES.schema)


def _stream(warehouse: WarehouseResource, frame: pl.DataFrame, batch_rows: int):
    with warehouse.partition_writer(OCPP_MESSAGES, HOUR, landing_date=DAY) as writer:
        for offset in range(0, frame.height, batch_rows):
            writer.write(frame.slice(offset, batch_rows))
        return writer.commit(), writer.rows


def test_streamed_partition_has_the_rows_and_order_of_a_one_shot_write(tmp_path, monkeypatch):
    monkeypatch.setattr(PartitionWriter, "ROW_GROUP_ROWS", 500)
    frame = _messages(5_000, seed=1)
    one_shot = WarehouseResource(root=str(tmp_path / "one"))
    expected = pl.read_parquet(one_shot.write_partition(OCPP_MESSAGES, frame, landing_date=DAY))
    streamed = WarehouseResource(root=str(tmp_path / "streamed"))
    path, rows = _stream(streamed, frame, batch_rows=700)
    assert rows == 5_000
    assert pl.read_parquet(path).equals(expected)
    assert pq.ParquetFile(path).metadata.num_row_groups >= 24  # at least one per hour bucket
    # the table reads back through the warehouse like any other partition, and no spill is left behind
    assert streamed.read("ocpp_messages", landing_date=DAY).height == 5_000
    assert not any((streamed.root_path / SPILL_DIR).rglob("*.parquet"))


def test_same_batches_give_the_same_bytes(tmp_path):
    frame = _messages(3_000, seed=2)
    warehouse = WarehouseResource(root=str(tmp_path))
    first = _stream(warehouse, frame, 1_000)[0].read_bytes()
    second = _stream(warehouse, frame, 1_000)[0].read_bytes()
    assert first == second


def test_a_failed_write_keeps_the_old_partition(tmp_path):
    warehouse = WarehouseResource(root=str(tmp_path))
    old_path, _ = _stream(warehouse, _messages(100, seed=3), 50)
    old = old_path.read_bytes()
    with pytest.raises(RuntimeError):
        with warehouse.partition_writer(OCPP_MESSAGES, HOUR, landing_date=DAY) as writer:
            writer.write(_messages(200, seed=4))
            writer.commit(transform=lambda bucket: (_ for _ in ()).throw(RuntimeError("crash mid-write")))
    assert (old_path.parent / PART_FILE).read_bytes() == old
    assert [p.name for p in old_path.parent.iterdir()] == [PART_FILE]
    assert not any((warehouse.root_path / SPILL_DIR).rglob("*.parquet"))


def test_a_bucket_that_does_not_follow_the_sort_key_is_refused(tmp_path):
    warehouse = WarehouseResource(root=str(tmp_path))
    frame = _messages(500, seed=5)
    backwards = pl.lit(0) - pl.col("received_at").dt.hour()
    with pytest.raises(ValueError, match="sorts before"):
        with warehouse.partition_writer(OCPP_MESSAGES, backwards, landing_date=DAY) as writer:
            writer.write(frame)
            writer.commit()
    assert not (warehouse.partition_path("ocpp_messages", OCPP_MESSAGES, {"landing_date": DAY}) / PART_FILE).exists()
