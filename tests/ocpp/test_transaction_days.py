"""``ocpp_transaction_days``: the index of which landing dates hold a transaction's frames, what it lets the OCPP
steps skip, and the fallback to ``ocpp_messages`` for a date without an index."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime

import polars as pl
import pytest

from assets.ingest.ocpp import assets as ocpp_assets
from assets.ingest.ocpp.transaction_days import transaction_days
from tests.ocpp.conftest import materialize_partition
from tests.ocpp.factory import FrameScript, meter_values_16, register

DAY1, DAY2, DAY3 = dt.date(2026, 11, 20), dt.date(2026, 11, 21), dt.date(2026, 11, 22)
ACCEPTED = {"idTagInfo": {"status": "Accepted"}}


def _start(script, tx, meter_start, at):
    script.call("StartTransaction", {"connectorId": 1, "idTag": "TAG", "meterStart": meter_start, "timestamp": at},
                {"transactionId": tx, **ACCEPTED})


def _stop(script, tx, meter_stop, at):
    script.call("StopTransaction", {"transactionId": tx, "meterStop": meter_stop, "timestamp": at, "reason": "Local"},
                ACCEPTED)


def _three_days(landing):
    """CP-A's transaction 7 runs from day 1 to day 3; CP-B has a session on day 1 and one on day 2."""
    a1 = FrameScript("CP-A", "ocpp1.6", datetime(2026, 11, 20, 22, 0, tzinfo=UTC))
    _start(a1, 7, 1_000, "2026-11-20T22:00:00Z")
    a1.call("MeterValues", meter_values_16(1, 7, "2026-11-20T23:00:00Z", register(5_000)), {})
    b1 = FrameScript("CP-B", "ocpp1.6", datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    _start(b1, 8, 0, "2026-11-20T08:00:00Z")
    _stop(b1, 8, 2_000, "2026-11-20T09:00:00Z")
    b2 = FrameScript("CP-B", "ocpp1.6", datetime(2026, 11, 21, 8, 0, tzinfo=UTC))
    _start(b2, 9, 2_000, "2026-11-21T08:00:00Z")
    b2.call("Heartbeat", {}, {"currentTime": "2026-11-21T08:30:00Z"})
    _stop(b2, 9, 3_500, "2026-11-21T09:00:00Z")
    a3 = FrameScript("CP-A", "ocpp1.6", datetime(2026, 11, 22, 6, 0, tzinfo=UTC))
    a3.call("MeterValues", meter_values_16(1, 7, "2026-11-22T05:00:00Z", register(40_000)), {})
    _stop(a3, 7, 41_000, "2026-11-22T06:00:00Z")
    for script in (a1, b1, b2, a3):
        script.write(landing.root_path)


def _settle(warehouse, landing, *days):
    results = []
    for day in days:
        result = materialize_partition(warehouse, landing, day.isoformat())
        assert result.success
        assert all(check.passed for check in result.get_asset_check_evaluations())
        results.append(result)
    return results


def _transaction(warehouse, transaction_id, day):
    frame = warehouse.read("transactions", landing_date=day)
    return frame.filter(pl.col("transaction_id") == transaction_id).row(0, named=True)


def test_ocpp_messages_writes_one_index_row_per_transaction_charge_point_and_date(tmp_warehouse, tmp_landing):
    _three_days(tmp_landing)
    results = _settle(tmp_warehouse, tmp_landing, DAY1, DAY2, DAY3)
    assert [result.asset_materializations_for_node("ocpp_messages")[0].metadata["transactions_named"].value
            for result in results] == [2, 1, 1]
    index = tmp_warehouse.read("ocpp_transaction_days").sort("landing_date", "transaction_id")
    assert index.rows() == [
        (DAY1, "ocpp:CP-A:7", "CP-A"), (DAY1, "ocpp:CP-B:8", "CP-B"),
        (DAY2, "ocpp:CP-B:9", "CP-B"),
        (DAY3, "ocpp:CP-A:7", "CP-A"),
    ]
    days = transaction_days(tmp_warehouse, ["ocpp:CP-A:7", "ocpp:CP-B:9", "ocpp:unknown:1"], DAY3)
    assert days.rows() == [("ocpp:CP-A:7", "CP-A", DAY1), ("ocpp:CP-A:7", "CP-A", DAY3), ("ocpp:CP-B:9", "CP-B", DAY2)]
    assert transaction_days(tmp_warehouse, ["ocpp:CP-A:7"], DAY2).get_column("landing_date").to_list() == [DAY1]
    # Transaction 7 is assembled on day 3 from its start on day 1, though day 2 was never read for it.
    final = _transaction(tmp_warehouse, "ocpp:CP-A:7", DAY3)
    assert (final["status"], final["meter_start_wh"], final["energy_wh"], final["reading_count"]) == (
        "complete", 1_000.0, 40_000.0, 2)


def test_a_date_without_index_is_read_from_its_messages_with_the_same_result(tmp_warehouse, tmp_landing):
    _three_days(tmp_landing)
    _settle(tmp_warehouse, tmp_landing, DAY1, DAY2, DAY3)
    ids = ["ocpp:CP-A:7", "ocpp:CP-B:8", "ocpp:CP-B:9"]
    indexed = transaction_days(tmp_warehouse, ids, DAY3)
    stored = {path: path.read_bytes() for path in tmp_warehouse.root_path.glob("[mt]*/landing_date=2026-11-22/*.parquet")}
    # As for a warehouse written before the index existed: day 1 has no index partition.
    tmp_warehouse.remove_partition("ocpp_transaction_days", landing_date=DAY1)
    assert [p["landing_date"] for p in tmp_warehouse.partitions("ocpp_transaction_days")] == ["2026-11-21", "2026-11-22"]
    assert transaction_days(tmp_warehouse, ids, DAY3).equals(indexed)
    # Day 3's readings and transactions come out byte for byte the same.
    _settle(tmp_warehouse, tmp_landing, DAY3)
    assert {path: path.read_bytes() for path in stored} == stored
    assert len(stored) == 2


def test_a_failed_messages_run_leaves_its_date_without_index(tmp_warehouse, tmp_landing, monkeypatch):
    _three_days(tmp_landing)
    _settle(tmp_warehouse, tmp_landing, DAY1)
    before = tmp_warehouse.read("ocpp_messages")

    def interrupted(*args, **kwargs):
        raise RuntimeError("interrupted while writing")

    monkeypatch.setattr(ocpp_assets, "stream_ocpp_messages", interrupted)
    with pytest.raises(Exception, match="interrupted while writing"):
        materialize_partition(tmp_warehouse, tmp_landing, DAY1.isoformat())
    # The old partition stays and its date is looked up in it: the index never names less than the frames.
    assert tmp_warehouse.read("ocpp_messages").equals(before)
    assert tmp_warehouse.partitions("ocpp_transaction_days") == []
    assert transaction_days(tmp_warehouse, ["ocpp:CP-A:7", "ocpp:CP-B:8"], DAY1).rows() == [
        ("ocpp:CP-A:7", "CP-A", DAY1), ("ocpp:CP-B:8", "CP-B", DAY1)]
