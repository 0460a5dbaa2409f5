"""Batches of consecutive sessions streamed into one partition (`SortedPartsWriter` with `distinct_groups`, as
`meter_curves` and `reconciliation` write): the rows and order of one `write_partition`, bytes that depend on
the rows only (never on the batch size), and batches out of session order refused."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from assets.consumption.tables import METER_CURVES, PARTITION
from assets.session_batches import SpilledParts, batches_of
from resources.table_storage import PART_FILE
from resources.warehouse import SortedPartsWriter, WarehouseResource

DAY = dt.date(2026, 10, 25)
START = dt.datetime(2026, 10, 25, tzinfo=dt.timezone.utc)


def _curve(sessions: int, rows_per_session: int) -> pl.DataFrame:
    """A meter curve of `sessions` sessions, rows in reverse order (the writer sorts each batch)."""
    n = sessions * rows_per_session
    frame = pl.DataFrame({
        "session_id": [f"ocpp:CP-{i // rows_per_session:05d}:tx" for i in range(n)],
        "timestamp": [START + dt.timedelta(minutes=i % rows_per_session) for i in range(n)],
        "energy_wh": [float(i % rows_per_session * 100) for i in range(n)],
        "power_w": [6000.0] * n,
        "source": ["meter_readings"] * n,
    }).with_columns(pl.lit(DAY).alias(PARTITION))
    missing = [pl.lit(None, dtype).alias(c) for c, dtype in METER_CURVES.schema.items() if c not in frame.columns]
    return frame.with_columns(missing).select(list(METER_CURVES.schema)).cast(dict(METER_CURVES.schema)).reverse()


def _bytes(warehouse: WarehouseResource) -> bytes:
    relative = warehouse.partition_dir(METER_CURVES.name, METER_CURVES, {PARTITION: DAY})
    return (warehouse.root_path / relative / PART_FILE).read_bytes()


def _streamed(warehouse: WarehouseResource, curve: pl.DataFrame, size: int) -> int:
    with SortedPartsWriter(warehouse, METER_CURVES, {PARTITION: DAY}, distinct_groups=True) as writer:
        for batch in batches_of(curve["session_id"], size):
            writer.append(curve.filter(batch.where()))
        writer.commit()
    return writer.rows


def test_any_batch_size_gives_the_rows_of_one_write_and_the_same_bytes(tmp_path):
    curve = _curve(sessions=300, rows_per_session=600)  # 180,000 rows: more than one row group of 131,072
    one = WarehouseResource(root=str(tmp_path / "one"))
    one.write_partition(METER_CURVES, curve, **{PARTITION: DAY})
    written = {}
    for size in (1, 7, 1000):
        batched = WarehouseResource(root=str(tmp_path / f"batched-{size}"))
        assert _streamed(batched, curve, size) == 180_000
        assert batched.read(METER_CURVES).equals(one.read(METER_CURVES))  # rows and order
        assert not (batched.spill_root.exists() and any(batched.spill_root.iterdir()))  # spill removed
        written[size] = _bytes(batched)
    assert written[1] == written[7] == written[1000]
    # A partition of at most one row group is the file of one write, byte for byte.
    small = _curve(sessions=30, rows_per_session=60)
    one.write_partition(METER_CURVES, small, **{PARTITION: DAY})
    _streamed(batched, small, 7)
    assert _bytes(batched) == _bytes(one)


def test_a_batch_out_of_session_order_is_refused_and_the_old_partition_kept(tmp_path):
    warehouse = WarehouseResource(root=str(tmp_path))
    curve = _curve(sessions=3, rows_per_session=4)
    warehouse.write_partition(METER_CURVES, curve, **{PARTITION: DAY})
    before = _bytes(warehouse)
    later, earlier = curve.filter(pl.col("session_id") == "ocpp:CP-00002:tx"), curve.filter(
        pl.col("session_id") == "ocpp:CP-00001:tx")
    with pytest.raises(ValueError, match="does not follow the previous one"):
        with SortedPartsWriter(warehouse, METER_CURVES, {PARTITION: DAY}, distinct_groups=True) as writer:
            writer.append(later)
            writer.append(earlier)
    # A session split over two batches is refused too (its rows would not be in the table's order).
    with pytest.raises(ValueError, match="does not follow the previous one"):
        with SortedPartsWriter(warehouse, METER_CURVES, {PARTITION: DAY}, distinct_groups=True) as writer:
            writer.append(later.head(2))
            writer.append(later.tail(2))
    assert _bytes(warehouse) == before
    assert not any(warehouse.spill_root.iterdir())


def test_spilled_parts_come_back_in_append_order_and_are_removed(tmp_path):
    warehouse = WarehouseResource(root=str(tmp_path))
    empty = pl.DataFrame(schema={"x": pl.Int64})
    with SpilledParts(warehouse, "t") as parts:
        assert parts.read(empty).equals(empty)
        parts.append(pl.DataFrame({"x": [3, 4]}))
        parts.append(pl.DataFrame({"x": [1]}))
        assert parts.read(empty)["x"].to_list() == [3, 4, 1]
        folder = parts.folder
        assert len(list(folder.iterdir())) == 2
    assert not folder.exists()
