"""The `tariffs` asset: every landed format converted, refused tariffs quarantined with the adapter's path."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import polars as pl

from assets.consumption.build import tariff_rules
from assets.ingest.platform.tables import PLATFORM_TARIFFS
from assets.pricing import tariffs
from tariff_engine import parse_tariff

from .conftest import PLATFORM_FLAT, full_frame, utc


def _run(warehouse, landing):
    result = dg.materialize([tariffs], resources={"warehouse": warehouse, "landing": landing})
    assert result.success
    return result


def _quarantine(warehouse) -> pl.DataFrame:
    return warehouse.read("quarantine", source_asset="tariffs", partition_key="static").sort("record_ref")


def test_each_family_is_converted_and_refusals_are_quarantined(tmp_warehouse, landed_tariffs, reference):
    result = _run(tmp_warehouse, landed_tariffs)
    table = tmp_warehouse.read("tariffs").sort("tariff_id")
    assert table.select("tariff_id", "source", "currency", "tax_included").rows() == [
        ("301", "platform", "EUR", "YES"), ("T-ENERGY", "ocpi", "EUR", None), ("T-TIME", "ocpi", "EUR", None),
        ("e1", "eevion", "CAD", "N/A")]  # the Eevion tariff takes its operator's currency via the EVSE
    energy = parse_tariff(json.loads(table.filter(pl.col("tariff_id") == "T-ENERGY")["tariff_json"][0]))
    assert [(c.type, str(c.price)) for c in energy.elements[0].price_components] == [("ENERGY", "0.3"), ("FLAT", "1")]
    quarantine = _quarantine(tmp_warehouse)
    assert quarantine.select("source", "record_ref", "reason_code").rows() == [
        ("tariff_file", "tariffs/ocpi/T-BAD.json", "TARIFF_REFUSED"),
        ("tariff_file", "tariffs/ocpi/truncated.json", "MALFORMED_JSON"),
        ("tariff_file", "tariffs/platform/302.json", "TARIFF_REFUSED")]
    reasons = dict(zip(quarantine["record_ref"], quarantine["reason"]))
    assert reasons["tariffs/ocpi/T-BAD.json"].startswith("ocpi adapter: $.elements[0].restrictions.moon_phase")
    assert reasons["tariffs/platform/302.json"].startswith("platform adapter: $.type: charging is not allowed")
    assert quarantine.filter(pl.col("record_ref") == "tariffs/ocpi/truncated.json")["raw_payload"][0] == \
        '{"id": "T-CUT", "currency": "EU'
    metadata = result.asset_materializations_for_node("tariffs")[0].metadata
    assert (metadata["rows_in"].value, metadata["rows_accepted"].value, metadata["rows_quarantined"].value) == (7, 4, 3)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["conservation"].passed and checks["schema"].passed
    assert checks["conservation"].metadata["difference"].value == 0


def test_eevion_tariff_without_any_currency_is_quarantined(tmp_warehouse, landed_tariffs):
    _run(tmp_warehouse, landed_tariffs)  # no reference data: nothing says which currency e1 is in
    quarantine = _quarantine(tmp_warehouse)
    row = quarantine.filter(pl.col("record_ref") == "tariffs/eevion/e1.json").row(0, named=True)
    assert row["reason_code"] == "CURRENCY_UNKNOWN" and row["reason"].startswith("$.currency")
    assert tmp_warehouse.read("tariffs").height == 3


def test_platform_ingest_tariffs_join_and_the_newest_definition_wins(tmp_warehouse, landed_tariffs, reference):
    newer = PLATFORM_FLAT | {"lastUpdatedAt": "2026-10-01T00:00:00Z", "pricing": {"pricePerSession": 7.5}}
    snapshot = PLATFORM_FLAT | {"id": 88301, "tariffId": 301}
    rows = [{"landing_date": dt.date(2026, 10, 2), "record_ref": "page-1.json#0", "kind": "tariff", "tariff_id": 301,
             "last_updated": utc("2026-10-01 00:00"), "type": "flat rate", "raw_payload": json.dumps(newer)},
            {"landing_date": dt.date(2026, 10, 2), "record_ref": "page-2.json#0", "kind": "snapshot",
             "tariff_id": 301, "snapshot_id": 88301, "type": "flat rate", "raw_payload": json.dumps(snapshot)},
            # An older listing of the same tariff: superseded inside the ingest's own history, not read.
            {"landing_date": dt.date(2026, 10, 1), "record_ref": "page-0.json#0", "kind": "tariff", "tariff_id": 301,
             "last_updated": utc("2026-09-01 00:00"), "type": "flat rate", "raw_payload": json.dumps(PLATFORM_FLAT)}]
    for day in (dt.date(2026, 10, 1), dt.date(2026, 10, 2)):
        part = [r for r in rows if r["landing_date"] == day]
        tmp_warehouse.write_partition(PLATFORM_TARIFFS, full_frame(PLATFORM_TARIFFS, part), landing_date=day)
    _run(tmp_warehouse, landed_tariffs)
    table = tmp_warehouse.read("tariffs").sort("tariff_id")
    assert table["tariff_id"].to_list() == ["301", "88301", "T-ENERGY", "T-TIME", "e1"]
    flat = parse_tariff(json.loads(table.filter(pl.col("tariff_id") == "301")["tariff_json"][0]))
    assert str(flat.elements[0].price_components[0].price) == "7.5"
    assert table.filter(pl.col("tariff_id") == "301")["record_ref"][0] == "platform_tariffs:2026-10-02:page-1.json#0"
    dup = _quarantine(tmp_warehouse).filter(pl.col("reason_code") == "DUPLICATE_TARIFF_ID")
    assert dup["record_ref"].to_list() == ["tariffs/platform/301.json"]


def test_consumption_reads_the_stored_tariffs(tmp_warehouse, landed_tariffs, reference):
    """charging_periods (H3) finds the canonical JSON under `tariff_id` / `tariff_json`."""
    _run(tmp_warehouse, landed_tariffs)
    sessions = pl.DataFrame({"session_id": ["s1", "s2"], "tariff_ids": [["UNKNOWN", "T-TIME"], ["e1"]]})
    rules, chosen = tariff_rules(tmp_warehouse, sessions)
    assert chosen == {"s1": ("T-TIME", "T-TIME"), "s2": ("e1", "e1")}
    assert set(rules) == {"T-TIME", "e1"}


def test_rerun_writes_identical_bytes(tmp_warehouse, landed_tariffs, reference):
    _run(tmp_warehouse, landed_tariffs)
    files = sorted((tmp_warehouse.root_path / "tariffs").rglob("*.parquet")) + sorted(
        (tmp_warehouse.root_path / "quarantine" / "source_asset=tariffs").rglob("*.parquet"))
    first = [f.read_bytes() for f in files]
    _run(tmp_warehouse, landed_tariffs)
    assert [f.read_bytes() for f in files] == first
    assert tmp_warehouse.read("tariffs").height == 4 and _quarantine(tmp_warehouse).height == 3
