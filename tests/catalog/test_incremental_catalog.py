"""The analyst catalog is rebuilt only when its definition changed, and always shows every partition written."""

import dataclasses
import datetime as dt

import duckdb
import polars as pl

from assets.catalog.incremental import refresh_catalog_if_changed
from resources.tables import TableSpec

READINGS = TableSpec(
    name="test_readings", description="Test table of readings.",
    schema={"settlement_date": pl.Date(), "session_id": pl.String(), "energy_wh": pl.Int64()},
    partition_by=("settlement_date",), sort_by=("session_id",), column_docs={"energy_wh": "Energy in Wh."},
)
EMPTY = TableSpec(name="test_empty", description="Never written.", schema={"session_id": pl.String()})


def _write(warehouse, day: dt.date, energies: list[int]) -> None:
    frame = pl.DataFrame({"settlement_date": [day] * len(energies),
                          "session_id": [f"s{i}" for i in range(len(energies))], "energy_wh": energies})
    warehouse.write_partition(READINGS, frame, settlement_date=day)


def _query(catalog, sql: str):
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_new_partitions_show_without_a_rebuild(tmp_warehouse):
    _write(tmp_warehouse, dt.date(2026, 10, 24), [10, 20])
    catalog, rebuilt = refresh_catalog_if_changed(tmp_warehouse, [READINGS, EMPTY])
    assert rebuilt
    identity = catalog.stat().st_ino
    _write(tmp_warehouse, dt.date(2026, 10, 25), [5])
    _write(tmp_warehouse, dt.date(2026, 10, 24), [1, 2, 3])  # a re-settled partition
    again, rebuilt = refresh_catalog_if_changed(tmp_warehouse, [READINGS, EMPTY])
    assert not rebuilt and again == catalog and catalog.stat().st_ino == identity
    assert _query(catalog, "select settlement_date, count(*), sum(energy_wh) from test_readings "
                           "group by 1 order by 1") == [(dt.date(2026, 10, 24), 3, 6), (dt.date(2026, 10, 25), 1, 5)]
    assert _query(catalog, "select count(*) from test_empty") == [(0,)]


def test_a_changed_definition_rebuilds(tmp_warehouse):
    _write(tmp_warehouse, dt.date(2026, 10, 24), [10])
    catalog, _ = refresh_catalog_if_changed(tmp_warehouse, [READINGS, EMPTY])
    # The never-written table gets its first partition: its view changes from the empty one to the files.
    tmp_warehouse.write_partition(EMPTY, pl.DataFrame({"session_id": ["x", "y"]}))
    _, rebuilt = refresh_catalog_if_changed(tmp_warehouse, [READINGS, EMPTY])
    assert rebuilt and _query(catalog, "select count(*) from test_empty") == [(2,)]
    # A new description.
    described = dataclasses.replace(READINGS, description="Readings, described anew.")
    _, rebuilt = refresh_catalog_if_changed(tmp_warehouse, [described, EMPTY])
    assert rebuilt
    assert _query(catalog, "select comment from duckdb_views() where view_name = 'test_readings'") == [
        ("Readings, described anew.",)]
    # A new table.
    _, rebuilt = refresh_catalog_if_changed(tmp_warehouse, [described])
    assert rebuilt and _query(catalog, "select count(*) from duckdb_views() where view_name = 'test_empty'") == [(0,)]


def test_a_catalog_replaced_or_removed_behind_its_back_is_rebuilt(tmp_warehouse):
    _write(tmp_warehouse, dt.date(2026, 10, 24), [10])
    catalog, _ = refresh_catalog_if_changed(tmp_warehouse, [READINGS])
    tmp_warehouse.refresh_catalog([EMPTY])  # someone rebuilt it with other views
    _, rebuilt = refresh_catalog_if_changed(tmp_warehouse, [READINGS])
    assert rebuilt and _query(catalog, "select sum(energy_wh) from test_readings") == [(10,)]
    catalog.unlink()
    _, rebuilt = refresh_catalog_if_changed(tmp_warehouse, [READINGS])
    assert rebuilt and _query(catalog, "select sum(energy_wh) from test_readings") == [(10,)]
