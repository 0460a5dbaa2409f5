"""Child rows of an ingest (`IngestRun` with child tables, e.g. a platform session's price lines): a record whose
child row does not fit its table's columns is quarantined whole (SCHEMA_MISMATCH) and none of its rows, in any
table, are kept; every other record keeps all of its rows."""

from __future__ import annotations

from decimal import Decimal

import orjson
import polars as pl

from assets.ingest.common.files import Batch, RawRecord
from assets.ingest.common.run import Accepted, IngestRun
from resources.tables import TableSpec

MAIN = TableSpec("things", "test", {"thing_id": pl.String(), "record_ref": pl.String()})
LINES = TableSpec("thing_lines", "test", {"thing_id": pl.String(), "line_no": pl.Int64(), "amount": pl.Decimal(18, 4)})
TAGS = TableSpec("thing_tags", "test", {"thing_id": pl.String(), "tag": pl.String()})


def _parse(value: dict, record: RawRecord) -> Accepted:
    lines = [{"thing_id": value["id"], "line_no": n, "amount": Decimal(amount)} for n, amount in value["lines"]]
    tags = [{"thing_id": value["id"], "tag": tag} for tag in value["tags"]]
    return Accepted({"thing_id": value["id"]}, {"thing_lines": lines, "thing_tags": tags})


def _record(n: int, **value) -> RawRecord:
    return RawRecord(f"things.jsonl:{n}", orjson.dumps(value))


def _run(records: list[RawRecord]):
    run = IngestRun(source="test", spec=MAIN, parse=_parse, children={"thing_lines": LINES, "thing_tags": TAGS},
                    keep_raw_payload=False)
    return run.add_all([Batch(records=records)]).finish()


def test_a_child_row_that_does_not_fit_quarantines_its_record_and_all_of_its_rows():
    records = [_record(1, id="a", lines=[[0, "1.50"], [1, "2.25"]], tags=["x"]),
               _record(2, id="b", lines=[[0, "0.10"], ["one", "0.20"]], tags=["y", "z"]),  # a line number as text
               _record(3, id="c", lines=[], tags=["w"])]
    result = _run(records)
    assert result.accepted.get_column("thing_id").to_list() == ["a", "c"]
    lines, tags = result.children["thing_lines"][1], result.children["thing_tags"][1]
    assert lines.rows() == [("a", 0, Decimal("1.5000")), ("a", 1, Decimal("2.2500"))]
    assert tags.rows() == [("a", "x"), ("c", "w")]  # b's tags fitted, but its record is quarantined whole
    assert result.quarantine.select("record_ref", "reason_code").rows() == [("things.jsonl:2", "SCHEMA_MISMATCH")]
    assert result.rows_in == 3 and result.accepted_records == 2


def test_every_row_fits_every_record_keeps_all_of_them():
    result = _run([_record(1, id="a", lines=[[0, "1.50"]], tags=["x", "y"]), _record(2, id="b", lines=[[0, "3"]], tags=[])])
    assert result.children["thing_lines"][1].rows() == [("a", 0, Decimal("1.5000")), ("b", 0, Decimal("3.0000"))]
    assert result.children["thing_tags"][1].rows() == [("a", "x"), ("a", "y")]
    assert result.quarantine.is_empty() and result.accepted_records == 2
