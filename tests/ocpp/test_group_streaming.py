"""Charge-point groups as a stream: inputs spilled per group (``GroupSpill``) and ``meter_readings`` appended
group by group (``SortedPartsWriter``), with the same rows, order and bytes as the whole-day path."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from assets.ingest.ocpp import groups
from assets.ingest.ocpp.groups import GroupSpill
from assets.ingest.ocpp.pipeline import charge_point_chunks
from assets.ingest.ocpp.tables import METER_READINGS
from resources.warehouse import PART_FILE, SPILL_DIR, SortedPartsWriter, WarehouseResource

DAY = dt.date(2026, 11, 20)


def _readings(n: int, seed: int, charge_points: int = 30) -> pl.DataFrame:
    """``n`` meter readings of ``charge_points`` charge points, in a shuffled (delivery-like) order."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    rows = []
    for i in range(n):
        cp = rng.randrange(charge_points)
        at = start + dt.timedelta(seconds=rng.randrange(0, 86_400))
        rows.append({
            "landing_date": DAY, "record_ref": f"ocpp/x.jsonl:{i + 1}", "transaction_id": f"T{cp}-{rng.randrange(3)}",
            "charge_point_id": f"CP-{cp:03d}", "connector_id": 1, "evse_id": None, "timestamp": at,
            "timestamp_raw": at.isoformat(), "received_at": at, "measurand": rng.choice(["Energy", "Power"]),
            "phase": None, "location": None, "context": "Sample.Periodic", "value": float(rng.randrange(10**6)),
            "value_raw": "1", "unit": "Wh", "protocol": "ocpp1.6", "message_id": f"m{i}", "repair": None,
        })
    return pl.DataFrame(rows, schema=METER_READINGS.schema)


def _split(frame: pl.DataFrame, chunks: list[list[str]]) -> list[pl.DataFrame]:
    """The whole-day reference: the collected frame filtered to each group, rows in frame order."""
    return [frame.filter(pl.col("charge_point_id").is_in(chunk)) for chunk in chunks]


@pytest.mark.parametrize("append_bytes", [1, 64 * 1024 * 1024], ids=["append-each-slice", "append-together"])
def test_group_spill_gives_each_group_its_rows_in_query_order(tmp_path, monkeypatch, append_bytes):
    # Slices appended one by one (the last one too) or all together: the same groups, rows in query order.
    monkeypatch.setattr(groups, "APPEND_BYTES", append_bytes)
    frame = _readings(5_000, seed=1)
    chunks = charge_point_chunks(frame, max_frames=900)
    assert len(chunks) >= 5
    expected = _split(frame, chunks)
    # Many slices: a group's rows come from several files, in slice order.
    slices = [frame.lazy().slice(offset, 700) for offset in range(0, 5_000, 700)]
    with GroupSpill(slices, chunks, tmp_path) as spill:
        got = [spill.group(index) for index in range(len(chunks))]
        assert not any(spill.directory.iterdir())  # the spill file is removed once every group is read
    assert [g.height for g in got] == [e.height for e in expected]
    assert sum(g.height for g in got) == 5_000
    assert all(g.equals(e) for g, e in zip(got, expected))
    assert not any(tmp_path.iterdir())  # closed: nothing left


def test_group_spill_leaves_out_other_charge_points_and_types_empty_groups(tmp_path):
    frame = _readings(1_000, seed=2, charge_points=10)
    chunks = [["CP-000", "CP-001"], ["CP-999"], ["CP-005"]]
    with GroupSpill(frame.lazy(), chunks, tmp_path) as spill:
        first, missing, last = (spill.group(i) for i in range(3))
    assert set(first.get_column("charge_point_id").unique()) == {"CP-000", "CP-001"}
    assert first.height == frame.filter(pl.col("charge_point_id").is_in(["CP-000", "CP-001"])).height
    assert missing.height == 0 and missing.schema == frame.schema
    assert last.height == frame.filter(pl.col("charge_point_id") == "CP-005").height


def test_parts_in_charge_point_order_give_the_bytes_of_a_one_shot_write(tmp_path):
    frame = _readings(20_000, seed=3, charge_points=60)
    one_shot = WarehouseResource(root=str(tmp_path / "one"))
    expected = one_shot.write_partition(METER_READINGS, frame, landing_date=DAY).read_bytes()
    parted = WarehouseResource(root=str(tmp_path / "parts"))
    for _ in range(2):  # a re-run replaces the partition with the same bytes
        with SortedPartsWriter(parted, METER_READINGS, {"landing_date": DAY}) as writer:
            for group in _split(frame, charge_point_chunks(frame, max_frames=3_000)):
                writer.append(group)
            path = writer.commit()
        assert writer.rows == 20_000
        assert path.read_bytes() == expected
    assert [p.name for p in path.parent.iterdir()] == [PART_FILE]
    assert not any((parted.root_path / SPILL_DIR).rglob("*.parquet"))


def test_the_bytes_do_not_depend_on_how_the_rows_were_grouped(tmp_path, monkeypatch):
    """Several row groups: any grouping of the same rows writes the same file, the rows of a one-shot write."""
    monkeypatch.setattr(SortedPartsWriter, "ROW_GROUP_ROWS", 4_000)
    frame = _readings(20_000, seed=4, charge_points=60)
    written = []
    for max_frames in (500, 3_000, 20_000):
        warehouse = WarehouseResource(root=str(tmp_path / f"g{max_frames}"))
        with SortedPartsWriter(warehouse, METER_READINGS, {"landing_date": DAY}) as writer:
            for group in _split(frame, charge_point_chunks(frame, max_frames=max_frames)):
                writer.append(group)
            written.append(writer.commit())
    import pyarrow.parquet as pq
    assert pq.ParquetFile(written[0]).metadata.num_row_groups == 5
    assert written[0].read_bytes() == written[1].read_bytes() == written[2].read_bytes()
    one_shot = WarehouseResource(root=str(tmp_path / "one")).write_partition(METER_READINGS, frame, landing_date=DAY)
    assert pl.read_parquet(written[0]).equals(pl.read_parquet(one_shot))


def test_no_parts_write_the_empty_partition_of_a_one_shot_write(tmp_path):
    empty = METER_READINGS.empty_frame()
    expected = WarehouseResource(root=str(tmp_path / "one")).write_partition(
        METER_READINGS, empty, landing_date=DAY).read_bytes()
    with SortedPartsWriter(WarehouseResource(root=str(tmp_path / "parts")), METER_READINGS,
                           {"landing_date": DAY}) as writer:
        writer.append(empty)
        assert writer.commit().read_bytes() == expected


def test_a_part_out_of_order_is_refused_and_the_old_partition_kept(tmp_path):
    warehouse = WarehouseResource(root=str(tmp_path))
    frame = _readings(2_000, seed=4)
    old = warehouse.write_partition(METER_READINGS, frame, landing_date=DAY)
    old_bytes = old.read_bytes()
    later, earlier = (frame.filter(pl.col("charge_point_id") >= "CP-015"),
                      frame.filter(pl.col("charge_point_id") < "CP-015"))
    with pytest.raises(ValueError, match="does not follow the previous one"):
        with SortedPartsWriter(warehouse, METER_READINGS, {"landing_date": DAY}) as writer:
            writer.append(later)
            writer.append(earlier)
    assert old.read_bytes() == old_bytes
    assert [p.name for p in old.parent.iterdir()] == [PART_FILE]
    assert not any((warehouse.root_path / SPILL_DIR).rglob("*.parquet"))


def test_a_part_of_another_day_is_refused(tmp_path):
    frame = _readings(100, seed=5).with_columns(pl.lit(DAY + dt.timedelta(days=1)).alias("landing_date"))
    with pytest.raises(ValueError, match="not only"):
        with SortedPartsWriter(WarehouseResource(root=str(tmp_path)), METER_READINGS,
                               {"landing_date": DAY}) as writer:
            writer.append(frame)


def test_scan_slices_are_the_scan_cut_at_row_groups(tmp_path):
    """``scan_slices`` concatenated is ``scan`` in its order; partition filters leave whole files out; each
    slice is whole row groups of one file, so collecting one never reads the day."""
    warehouse = WarehouseResource(root=str(tmp_path / "wh"))
    days = [DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)]
    for seed, day in enumerate(days):
        frame = _readings(3_000, seed=10 + seed).with_columns(pl.lit(day).alias("landing_date"))
        with SortedPartsWriter(warehouse, METER_READINGS, {"landing_date": day}) as writer:
            for group in _split(frame, charge_point_chunks(frame, max_frames=400)):
                writer.append(group)
            writer.commit()
    path = warehouse.partition_path("meter_readings", METER_READINGS, {"landing_date": DAY}) / PART_FILE
    import pyarrow.parquet as pq
    assert pq.ParquetFile(path).metadata.num_row_groups == 1  # the writer's default: re-write with small groups
    for day in days:
        part = warehouse.partition_path("meter_readings", METER_READINGS, {"landing_date": day}) / PART_FILE
        pq.write_table(pq.read_table(part), part, row_group_size=250)
    whole = warehouse.scan("meter_readings").collect()
    slices = warehouse.scan_slices("meter_readings", rows=600)
    assert len(slices) == 3 * 6  # 12 row groups of 250 per file, two per slice
    assert all(s.collect().height == 500 for s in slices)
    assert pl.concat([s.collect() for s in slices]).equals(whole)
    later = warehouse.scan_slices("meter_readings", partitions=pl.col("landing_date") > DAY, rows=600,
                                     transaction_id="T3-1")
    assert len(later) == 2 * 6
    expected = whole.filter((pl.col("landing_date") > DAY) & (pl.col("transaction_id") == "T3-1"))
    assert expected.height and pl.concat([s.collect() for s in later]).equals(expected)
    # A membership filter (one condition, shared by every slice) keeps the same rows as the scan's.
    ids = ["T3-1", "T1-2", "no-such-id"]
    members = warehouse.scan_slices("meter_readings", rows=600, transaction_id=ids)
    expected = whole.filter(pl.col("transaction_id").is_in(ids))
    assert expected.height and pl.concat([s.collect() for s in members]).equals(expected)
    assert warehouse.scan("meter_readings", transaction_id=set(ids)).collect().equals(expected)
    assert len(warehouse.scan_slices("meter_readings", landing_date=days[2], rows=600)) == 6
    never = warehouse.scan_slices("transactions")
    assert len(never) == 1 and never[0].collect().height == 0
