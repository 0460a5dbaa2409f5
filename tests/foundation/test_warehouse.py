"""The warehouse: atomic, reproducible partitions and a catalog analysts can query while runs write."""

import datetime as dt
import hashlib
import subprocess
import sys
import textwrap

import duckdb
import polars as pl
import pytest

from resources.tables import TableSpec

READINGS = TableSpec(
    name="test_readings",
    description="Test table of readings.",
    schema={"settlement_date": pl.Date(), "session_id": pl.String(), "energy_wh": pl.Int64()},
    partition_by=("settlement_date",),
    sort_by=("session_id",),
    column_docs={"energy_wh": "Energy in Wh."},
)


def _frame(day: dt.date, ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"settlement_date": [day] * len(ids), "session_id": ids, "energy_wh": list(range(len(ids)))})


def test_rewrite_replaces_and_is_byte_identical(tmp_warehouse):
    day = dt.date(2026, 10, 25)
    first = tmp_warehouse.write_partition(READINGS, _frame(day, ["b", "a", "c"]), settlement_date=day)
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    # Same rows in another order: same bytes (sorted by the sort key), and no duplicate rows.
    tmp_warehouse.write_partition(READINGS, _frame(day, ["c", "a", "b"]).with_columns(
        energy_wh=pl.Series([2, 1, 0])), settlement_date=day)
    rows = tmp_warehouse.read(READINGS)
    assert rows.height == 3
    assert rows["settlement_date"].dtype == pl.Date()
    third = tmp_warehouse.write_partition(READINGS, _frame(day, ["b", "a", "c"]), settlement_date=day)
    assert hashlib.sha256(third.read_bytes()).hexdigest() == digest
    assert tmp_warehouse.read(READINGS, settlement_date=day).height == 3


def test_partitions_are_independent_and_filterable(tmp_warehouse):
    d1, d2 = dt.date(2026, 10, 24), dt.date(2026, 10, 25)
    tmp_warehouse.write_partition(READINGS, _frame(d1, ["a", "b"]), settlement_date=d1)
    tmp_warehouse.write_partition(READINGS, _frame(d2, ["c"]), settlement_date=d2)
    assert tmp_warehouse.read(READINGS, settlement_date=d2)["session_id"].to_list() == ["c"]
    assert tmp_warehouse.read(READINGS, settlement_date=[d1, d2]).height == 3
    assert tmp_warehouse.partitions("test_readings") == [{"settlement_date": "2026-10-24"}, {"settlement_date": "2026-10-25"}]


def test_wrong_partition_values_are_refused(tmp_warehouse):
    with pytest.raises(ValueError, match="not only partition"):
        tmp_warehouse.write_partition(READINGS, _frame(dt.date(2026, 1, 1), ["a"]), settlement_date=dt.date(2026, 1, 2))


def test_empty_table_scans_with_schema(tmp_warehouse):
    empty = tmp_warehouse.read(READINGS)
    assert empty.height == 0 and empty.schema["energy_wh"] == pl.Int64()


def test_interrupted_write_leaves_previous_partition(tmp_warehouse, monkeypatch):
    day = dt.date(2026, 10, 25)
    tmp_warehouse.write_partition(READINGS, _frame(day, ["a", "b"]), settlement_date=day)

    def crash(self, handle, **kwargs):
        handle.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        tmp_warehouse.write_partition(READINGS, _frame(day, ["x", "y", "z"]), settlement_date=day)
    monkeypatch.undo()
    assert sorted(tmp_warehouse.read(READINGS)["session_id"].to_list()) == ["a", "b"]
    leftovers = [p.name for p in tmp_warehouse.table_path("test_readings").rglob("*") if p.is_file()]
    assert leftovers == ["part-0.parquet"]


def test_catalog_views_with_comments_and_read_only_analyst_during_writes(tmp_warehouse):
    day = dt.date(2026, 10, 25)
    tmp_warehouse.write_partition(READINGS, _frame(day, ["a", "b"]), settlement_date=day)
    catalog = tmp_warehouse.refresh_catalog([READINGS])
    con = duckdb.connect(str(catalog), read_only=True)
    assert con.execute("select count(*), sum(energy_wh) from test_readings").fetchone() == (2, 1)
    comment = con.execute("select comment from duckdb_views() where view_name = 'test_readings'").fetchone()[0]
    assert comment == "Test table of readings."
    col = con.execute("select comment from duckdb_columns() where table_name='test_readings' and column_name='energy_wh'").fetchone()[0]
    assert col == "Energy in Wh."

    # A separate analyst process holds the catalog open read-only and queries in a loop while this
    # process rewrites partitions and rebuilds the catalog.
    analyst = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time
        con = duckdb.connect({str(catalog)!r}, read_only=True)
        counts = set()
        deadline = time.time() + 4
        while time.time() < deadline:
            counts.add(con.execute("select count(*) from test_readings").fetchone()[0])
            time.sleep(0.01)
        print(sorted(counts))
    """)], stdout=subprocess.PIPE, text=True)
    for i in range(20):
        ids = [f"s{j}" for j in range(2 + i % 3)]
        tmp_warehouse.write_partition(READINGS, _frame(day, ids), settlement_date=day)
        tmp_warehouse.refresh_catalog([READINGS])
    out, _ = analyst.communicate(timeout=30)
    assert analyst.returncode == 0
    seen = eval(out.strip())
    # The analyst only ever saw whole partitions: 2, 3 or 4 rows, never a partial write.
    assert set(seen) <= {2, 3, 4}
    con.close()
    fresh = duckdb.connect(str(catalog), read_only=True)
    assert fresh.execute("select count(*) from test_readings").fetchone()[0] == 2 + 19 % 3

