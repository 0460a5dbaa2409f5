"""Interval charge files: alignment, overlap, sums and the time zone, charge by charge."""

import datetime as dt
import json
from decimal import Decimal

import dagster as dg
import pytest

from assets.ingest.interval_charges.assets import interval_charges
from assets.reference.assets import locations, operators


def charge(cid, start, end, total, intervals, point="HC-1"):
    return {"chargeExternalId": cid, "chargePointExternalId": point, "startDateTime": start, "endDateTime": end,
            "totalKwh": total,
            "intervals": [{"startDateTime": s, "endDateTime": e, "kwh": k} for s, e, k in intervals]}


GOOD = charge("C1", "2026-10-24T22:10:00Z", "2026-10-24T23:20:00Z", 5.1, [
    ("2026-10-24T22:30:00Z", "2026-10-24T23:00:00Z", 2.4),  # out of order: repaired by sorting
    ("2026-10-24T22:10:00Z", "2026-10-24T22:30:00Z", 1.6),
    ("2026-10-24T23:00:00Z", "2026-10-24T23:20:00Z", 1.1),
])


@pytest.fixture
def landed(tmp_landing):
    root = tmp_landing.root_path
    (root / "reference").mkdir(parents=True)
    (root / "reference" / "operators.json").write_text(json.dumps([
        {"id": "homeco", "name": "HomeCo", "country": "GB", "time_zone": "Europe/London", "currency": "GBP"}]))
    (root / "reference" / "locations.json").write_text(json.dumps([]))
    day = root / "interval_charges" / "2026-10-25"
    day.mkdir(parents=True)
    charges = [
        GOOD,
        charge("C2", "2026-10-24T20:00:00Z", "2026-10-24T21:00:00Z", 3.0, [
            ("2026-10-24T20:00:00Z", "2026-10-24T20:30:00Z", 1.0),
            ("2026-10-24T20:20:00Z", "2026-10-24T21:00:00Z", 2.0)]),              # overlap
        charge("C3", "2026-10-24T20:00:00Z", "2026-10-24T21:00:00Z", 3.0, [
            ("2026-10-24T20:00:00Z", "2026-10-24T20:45:00Z", 1.0),
            ("2026-10-24T20:45:00Z", "2026-10-24T21:00:00Z", 2.0)]),              # 20:45 not on the half hour
        charge("C4", "2026-10-24T20:00:00Z", "2026-10-24T21:00:00Z", 3.5, [
            ("2026-10-24T20:00:00Z", "2026-10-24T20:30:00Z", 1.0),
            ("2026-10-24T20:30:00Z", "2026-10-24T21:00:00Z", 2.0)]),              # sums to 3.0, not 3.5
        charge("C5", "2026-10-24T20:00:00Z", "2026-10-24T21:00:00Z", 1.0, [
            ("2026-10-24T19:30:00Z", "2026-10-24T20:00:00Z", 1.0)]),              # before the charge
        {"chargeExternalId": "C6", "chargePointExternalId": "HC-2", "startDateTime": "2026-10-24T01:00:00Z",
         "endDateTime": "2026-10-24T02:00:00Z", "totalKwh": 7},                   # total only (charges.add)
        GOOD,                                                                      # re-sent: duplicate
        {"chargePointExternalId": "HC-3"},                                         # no chargeExternalId
    ]
    (day / "homeco-0001.json").write_text(json.dumps({"charges": charges}))
    (day / "homeco-0002.json").write_text("{\"charges\": [")
    (day / "nobody-0001.json").write_text(json.dumps({"charges": [charge("C9", "2026-10-24T20:00:00Z",
                                                                         "2026-10-24T20:30:00Z", 1, [])]}))
    return tmp_landing


def test_interval_rules(landed, tmp_warehouse):
    resources = {"warehouse": tmp_warehouse, "landing": landed}
    assert dg.materialize([operators, locations], resources=resources).success
    result = dg.materialize([interval_charges], resources=resources, partition_key="2026-10-25")
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert all(c.passed for c in checks.values())
    assert checks["conservation"].metadata["rows_in"].value == 10

    q = tmp_warehouse.read("quarantine").sort("record_ref")
    assert dict(zip(q["record_ref"], q["reason_code"])) == {
        "interval_charges/2026-10-25/homeco-0001.json#1": "INTERVAL_OVERLAP",
        "interval_charges/2026-10-25/homeco-0001.json#2": "INTERVAL_NOT_ALIGNED",
        "interval_charges/2026-10-25/homeco-0001.json#3": "INTERVAL_SUM_MISMATCH",
        "interval_charges/2026-10-25/homeco-0001.json#4": "INTERVAL_OUTSIDE_CHARGE",
        "interval_charges/2026-10-25/homeco-0001.json#6": "DUPLICATE_RECORD",
        "interval_charges/2026-10-25/homeco-0001.json#7": "MISSING_FIELD",
        "interval_charges/2026-10-25/homeco-0002.json": "MALFORMED_JSON",
        "interval_charges/2026-10-25/nobody-0001.json#0": "NO_TIME_ZONE",
    }
    charges = tmp_warehouse.read("interval_charges").sort("record_ref")
    assert charges["source_id"].to_list() == ["C1", "C6"]
    good = charges.row(0, named=True)
    assert good["energy_wh"] == 5100.0 and good["interval_count"] == 3 and good["repairs"] == 1
    # Ends 23:20 UTC on 24 Oct = 00:20 BST on 25 Oct: settles on the 25th in London.
    assert good["settlement_date"] == dt.date(2026, 10, 25) and good["time_zone"] == "Europe/London"
    assert charges.row(1, named=True)["has_intervals"] is False

    intervals = tmp_warehouse.read("interval_charge_intervals").sort("interval_start_utc")
    assert intervals["energy_kwh"].to_list() == [Decimal("1.6"), Decimal("2.4"), Decimal("1.1")]
    assert intervals["interval_start_utc"][0] == dt.datetime(2026, 10, 24, 22, 10, tzinfo=dt.timezone.utc)
