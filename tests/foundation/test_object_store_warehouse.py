"""The warehouse on an object store (``s3://bucket/prefix``), against a loopback S3 server (moto): the same
bytes as a local warehouse, partitions replaced whole, a failed write leaves the previous partition and no
stray object, and the analyst catalog reads the tables where they are."""

from __future__ import annotations

import datetime as dt
import itertools

import polars as pl
import pytest

import resources.table_storage as table_storage
from resources.table_storage import PART_FILE
from resources.tables import TableSpec
from resources.warehouse import SortedPartsWriter, WarehouseResource
from tests.standins.object_store import S3Standin

READINGS = TableSpec(
    name="test_readings",
    description="Test table of readings.",
    schema={"settlement_date": pl.Date(), "session_id": pl.String(), "hour": pl.Int64(), "energy_wh": pl.Int64()},
    partition_by=("settlement_date",),
    sort_by=("hour", "session_id"),
    column_docs={"energy_wh": "Energy in Wh."},
)
DAY = dt.date(2026, 10, 25)
_buckets = itertools.count()


@pytest.fixture(scope="module")
def s3():
    with S3Standin() as standin:
        yield standin


@pytest.fixture
def store(s3, monkeypatch, tmp_path):
    """(warehouse on a fresh bucket, its bucket name, a local warehouse to compare with)."""
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    bucket = f"warehouse-{next(_buckets)}"
    url = s3.bucket(bucket)
    remote = WarehouseResource(root=f"{url}/tables", local_root=str(tmp_path / "local-state"))
    return remote, bucket, WarehouseResource(root=str(tmp_path / "warehouse"))


def _frame(ids: list[str], hours: list[int] | None = None) -> pl.DataFrame:
    hours = hours or [0] * len(ids)
    return pl.DataFrame({"settlement_date": [DAY] * len(ids), "session_id": ids, "hour": hours,
                         "energy_wh": list(range(len(ids)))})


def test_partitions_are_objects_with_the_bytes_of_a_local_warehouse(s3, store):
    remote, bucket, local = store
    written = remote.write_partition(READINGS, _frame(["b", "a", "c"]), settlement_date=DAY)
    expected = local.write_partition(READINGS, _frame(["b", "a", "c"]), settlement_date=DAY).read_bytes()
    key = f"tables/test_readings/settlement_date={DAY}/{PART_FILE}"
    assert written == f"s3://{bucket}/{key}"
    assert s3.keys(bucket) == [key]  # no staging object left
    assert s3.read(bucket, key) == expected
    assert remote.partitions("test_readings") == [{"settlement_date": "2026-10-25"}]
    assert remote.has_data("test_readings") and not remote.has_data("other_table")
    rows = remote.read(READINGS, settlement_date=DAY)
    assert rows.sort("session_id").get_column("energy_wh").to_list() == [1, 0, 2]
    assert rows.schema["settlement_date"] == pl.Date()
    # the working state is local
    assert remote.registers_dir.is_relative_to(remote.root_path) and remote.root_path.name == "local-state"


def test_a_rewrite_replaces_the_object_and_is_byte_identical(s3, store):
    remote, bucket, _ = store
    remote.write_partition(READINGS, _frame(["a", "b"]), settlement_date=DAY)
    remote.write_partition(READINGS, _frame(["x"]), settlement_date=DAY)
    assert remote.read(READINGS).get_column("session_id").to_list() == ["x"]
    key = f"tables/test_readings/settlement_date={DAY}/{PART_FILE}"
    first = s3.read(bucket, key)
    remote.write_partition(READINGS, _frame(["x"]), settlement_date=DAY)
    assert s3.read(bucket, key) == first and s3.keys(bucket) == [key]


def test_a_removed_partition_is_gone_from_the_store_and_the_folder(s3, store):
    remote, bucket, local = store
    other = DAY + dt.timedelta(days=1)
    for warehouse in (remote, local):
        warehouse.write_partition(READINGS, _frame(["a"]), settlement_date=DAY)
        warehouse.write_partition(READINGS, _frame(["b"]).drop("settlement_date"), settlement_date=other)
        warehouse.remove_partition(READINGS, settlement_date=DAY)
        warehouse.remove_partition(READINGS, settlement_date=DAY)  # nothing left to remove: no error
        assert warehouse.partitions("test_readings") == [{"settlement_date": "2026-10-26"}]
        assert warehouse.read(READINGS).get_column("session_id").to_list() == ["b"]
    assert s3.keys(bucket) == [f"tables/test_readings/settlement_date={other}/{PART_FILE}"]


def test_a_failed_streamed_write_keeps_the_previous_partition(s3, store):
    remote, bucket, _ = store
    remote.write_partition(READINGS, _frame(["old"]), settlement_date=DAY)
    key = f"tables/test_readings/settlement_date={DAY}/{PART_FILE}"
    before = s3.read(bucket, key)

    def fail_on_second_bucket(frame: pl.DataFrame) -> pl.DataFrame:
        if frame.get_column("hour").min() == 1:
            raise RuntimeError("disk full")
        return frame

    with pytest.raises(RuntimeError, match="disk full"):
        with remote.partition_writer(READINGS, pl.col("hour"), settlement_date=DAY) as writer:
            writer.write(_frame(["a", "b", "c"], [0, 1, 1]))
            writer.commit(transform=fail_on_second_bucket)
    assert s3.read(bucket, key) == before and s3.keys(bucket) == [key]
    assert not any(remote.spill_root.iterdir()) if remote.spill_root.exists() else True


def test_an_interrupted_upload_never_becomes_the_partition(s3, store, monkeypatch):
    """pyarrow completes an output stream on close even after an error; the half upload must stay staging."""
    remote, bucket, _ = store
    remote.write_partition(READINGS, _frame(["old"]), settlement_date=DAY)
    key = f"tables/test_readings/settlement_date={DAY}/{PART_FILE}"
    before = s3.read(bucket, key)

    def half_then_fail(source, target, length=0):
        target.write(source.read(100))
        raise ConnectionResetError("connection reset during upload")

    monkeypatch.setattr(table_storage.shutil, "copyfileobj", half_then_fail)
    with pytest.raises(ConnectionResetError):
        remote.write_partition(READINGS, _frame(["new", "rows"]), settlement_date=DAY)
    assert s3.read(bucket, key) == before
    assert s3.keys(bucket) == [key]  # the staging object is gone too


def test_streamed_writers_give_the_bytes_of_a_local_warehouse(s3, store):
    remote, bucket, local = store
    batches = [_frame(["c", "a"], [2, 0]), _frame(["b", "d"], [1, 2])]
    outputs = []
    for warehouse in (remote, local):
        with warehouse.partition_writer(READINGS, pl.col("hour"), settlement_date=DAY) as writer:
            for batch in batches:
                writer.write(batch)
            outputs.append(writer.commit())
    assert s3.read(bucket, outputs[0].split(f"s3://{bucket}/", 1)[1]) == outputs[1].read_bytes()

    parts = [_frame(["a", "b"], [0, 0]), _frame(["c"], [1])]
    sorted_outputs = []
    for warehouse in (remote, local):
        with SortedPartsWriter(warehouse, READINGS, {"settlement_date": DAY}) as writer:
            for part in parts:
                writer.append(part)
            sorted_outputs.append(writer.commit())
    assert s3.read(bucket, sorted_outputs[0].split(f"s3://{bucket}/", 1)[1]) == sorted_outputs[1].read_bytes()


def test_the_catalog_reads_tables_on_the_object_store(store):
    remote, _, _ = store
    remote.write_partition(READINGS, _frame(["a", "b", "c"]), settlement_date=DAY)
    remote.refresh_catalog([READINGS])
    assert remote.catalog_path.is_relative_to(remote.root_path)
    con = remote.connect_catalog()
    try:
        assert con.execute("select count(*), sum(energy_wh) from test_readings").fetchone() == (3, 3)
        assert con.execute("select distinct settlement_date from test_readings").fetchone() == (DAY,)
    finally:
        con.close()


@pytest.mark.parametrize("where", ["object store", "local folder"])
def test_staged_shard_files_switch_in_together_or_not_at_all(s3, store, where):
    remote, bucket, local = store
    warehouse = remote if where == "object store" else local
    for part, ids in enumerate((["a"], ["b"])):
        warehouse.write_partition(READINGS, _frame(ids), part=part, settlement_date=DAY)
    warehouse.write_partition(READINGS, _frame(["a2", "a3"]), part=0, staged=True, settlement_date=DAY)
    # Written but not published: readers see the previous parts only, and a missing staged part stops the switch.
    assert sorted(warehouse.read(READINGS.name)["session_id"]) == ["a", "b"]
    with pytest.raises(FileNotFoundError, match=r"part\(s\) \[1\]"):
        warehouse.publish_parts(READINGS, [0, 1], settlement_date=DAY)
    assert sorted(warehouse.read(READINGS.name)["session_id"]) == ["a", "b"]
    warehouse.write_partition(READINGS, _frame(["b2"]), part=1, staged=True, settlement_date=DAY)
    warehouse.publish_parts(READINGS, [0, 1], settlement_date=DAY)
    assert sorted(warehouse.read(READINGS.name)["session_id"]) == ["a2", "a3", "b2"]
    # A staged file a failed run left behind goes with the stale parts.
    warehouse.write_partition(READINGS, _frame(["c"]), part=2, staged=True, settlement_date=DAY)
    warehouse.remove_partition(READINGS, keep=[0, 1], settlement_date=DAY)
    assert warehouse.partition_parts(READINGS, settlement_date=DAY) == [0, 1]
    if where == "object store":
        assert s3.keys(bucket) == [f"tables/test_readings/settlement_date={DAY}/part-{part}.parquet" for part in (0, 1)]
    else:
        assert sorted(p.name for p in (local.root_path / "test_readings").rglob("*") if p.is_file()) == \
            ["part-0.parquet", "part-1.parquet"]
