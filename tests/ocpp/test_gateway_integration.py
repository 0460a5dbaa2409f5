"""Full sessions through the gateway over real websockets (1.6J and 2.0.1), then through the ingest."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from tests.ocpp.conftest import CP16_ID, CP16_PASSWORD, CP201_ID, CP201_PASSWORD, materialize_partition
from tests.ocpp.simulators import Session16, Session201, run_session_16, run_session_201

DAY = "2026-11-20"


def _utc(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 20, hour, minute, tzinfo=UTC)


def _run_both(gateway) -> tuple[int, str]:
    async def scenario(port):
        tx16 = await run_session_16(port, CP16_ID, CP16_PASSWORD, Session16())
        tx201 = await run_session_201(port, CP201_ID, CP201_PASSWORD, Session201())
        return tx16, tx201

    return gateway.run(scenario)


def test_sessions_land_and_ingest_field_by_field(gateway, tmp_landing, tmp_warehouse):
    tx16, tx201 = _run_both(gateway)
    assert (tx16, tx201) == (1, "TX-201-A")

    result = materialize_partition(tmp_warehouse, tmp_landing, DAY)
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 9 and all(c.passed for c in checks)

    messages = tmp_warehouse.read("ocpp_messages")
    # 1.6: 11 CALLs + 11 answers; 2.0.1: 9 CALLs + 9 answers.
    assert messages.height == 40
    assert messages.filter(pl.col("protocol") == "ocpp1.6").height == 22
    start_answer = messages.filter((pl.col("action") == "StartTransaction") & (pl.col("direction") == "out"))
    assert start_answer.get_column("payload_json").to_list() == ['{"idTagInfo":{"status":"Accepted"},"transactionId":1}']

    readings = tmp_warehouse.read("meter_readings").sort("transaction_id", "timestamp", "measurand", "context")
    r16 = readings.filter(pl.col("transaction_id") == "ocpp:CP-16:1")
    assert r16.height == 10
    registers = r16.filter(pl.col("measurand") == "Energy.Active.Import.Register")
    assert registers.get_column("value").to_list() == [1_001_833.0, 1_003_666.0, 1_005_500.0, 1_007_333.0]
    assert registers.get_column("context").to_list() == ["Sample.Periodic"] * 3 + ["Transaction.End"]
    assert registers.get_column("connector_id").to_list() == [1, 1, 1, 1]  # stop data gets the start's connector
    power = r16.filter(pl.col("measurand") == "Power.Active.Import")
    assert power.get_column("value").to_list() == [11_000.0] * 3 and power.get_column("unit").unique().to_list() == ["W"]
    current = r16.filter(pl.col("measurand") == "Current.Import").row(0, named=True)
    assert (current["phase"], current["value"], current["unit"], current["location"]) == ("L1", 16.0, "A", "Outlet")
    first = registers.row(0, named=True)
    assert first["timestamp"] == _utc(8, 10) and first["timestamp_raw"] == "2026-11-20T08:10:00Z"
    assert first["value_raw"] == "1001833" and first["repair"] is None and first["protocol"] == "ocpp1.6"

    r201 = readings.filter(pl.col("transaction_id") == "ocpp:CS-201:TX-201-A")
    assert r201.height == 8
    reg201 = r201.filter(pl.col("measurand") == "Energy.Active.Import.Register").sort("timestamp")
    assert reg201.get_column("value").to_list() == [2_000_000.0, 2_003_666.7, 2_007_333.3, 2_011_000.0, 2_014_666.7]
    assert reg201.get_column("evse_id").to_list() == [1] * 5
    assert r201.filter(pl.col("measurand") == "Power.Active.Import").get_column("value").to_list() == [22_000.0] * 3

    tx = tmp_warehouse.read("transactions").sort("transaction_id")
    assert tx.height == 2
    t16 = tx.filter(pl.col("transaction_id") == "ocpp:CP-16:1").row(0, named=True)
    assert t16["status"] == "complete" and t16["protocol"] == "ocpp1.6"
    assert (t16["connector_id"], t16["id_tag"], t16["stop_reason"]) == (1, "TAG-1", "EVDisconnected")
    assert (t16["start_timestamp"], t16["stop_timestamp"]) == (_utc(8, 0), _utc(8, 40))
    assert (t16["meter_start_wh"], t16["meter_stop_wh"], t16["energy_wh"]) == (1_000_000.0, 1_007_333.0, 7_333.0)
    assert (t16["duration_s"], t16["charging_duration_s"]) == (2400, 2340)
    assert [s["state"] for s in t16["charging_states"]] == ["Charging", "SuspendedEV"]
    assert t16["reading_count"] == 10 and t16["repairs"] is None

    t201 = tx.filter(pl.col("transaction_id") == "ocpp:CS-201:TX-201-A").row(0, named=True)
    assert (t201["evse_id"], t201["connector_id"], t201["id_tag"]) == (1, 1, "TOKEN-9")
    assert (t201["start_timestamp"], t201["stop_timestamp"]) == (_utc(9, 0), _utc(9, 40))
    assert (t201["meter_start_wh"], t201["meter_stop_wh"]) == (2_000_000.0, 2_014_666.7)
    assert abs(t201["energy_wh"] - 14_666.7) < 1e-6
    assert [s["state"] for s in t201["charging_states"]] == ["Charging", "SuspendedEV", "EVConnected"]
    assert (t201["charging_duration_s"], t201["stop_reason"], t201["seq_no_gaps"]) == (2340, "EVDisconnected", 0)
    assert tmp_warehouse.read("quarantine").height == 0


def test_rerun_gives_identical_bytes(gateway, tmp_landing, tmp_warehouse):
    _run_both(gateway)
    materialize_partition(tmp_warehouse, tmp_landing, DAY)
    files = sorted(tmp_warehouse.root_path.rglob("*.parquet"))
    before = {p: p.read_bytes() for p in files}
    materialize_partition(tmp_warehouse, tmp_landing, DAY)
    assert sorted(tmp_warehouse.root_path.rglob("*.parquet")) == files
    assert all(p.read_bytes() == before[p] for p in files)


def test_concurrent_charge_points_are_recorded_without_interleaving_damage(gateway, tmp_landing, tmp_warehouse):
    import asyncio

    async def scenario(port):
        return await asyncio.gather(
            run_session_16(port, CP16_ID, CP16_PASSWORD, Session16()),
            run_session_201(port, CP201_ID, CP201_PASSWORD, Session201()),
        )

    assert gateway.run(scenario) == [1, "TX-201-A"]
    materialize_partition(tmp_warehouse, tmp_landing, DAY)
    assert tmp_warehouse.read("ocpp_messages").height == 40
    assert tmp_warehouse.read("quarantine").height == 0
    energies = dict(tmp_warehouse.read("transactions").select("transaction_id", "energy_wh").iter_rows())
    assert energies["ocpp:CP-16:1"] == 7_333.0 and abs(energies["ocpp:CS-201:TX-201-A"] - 14_666.7) < 1e-6


def test_processing_charge_points_in_groups_gives_the_same_bytes(gateway, tmp_landing, tmp_warehouse, monkeypatch):
    import assets.ingest.ocpp.assets as ocpp_assets
    from assets.ingest.ocpp.pipeline import charge_point_chunks

    _run_both(gateway)
    materialize_partition(tmp_warehouse, tmp_landing, DAY)
    files = sorted(tmp_warehouse.root_path.rglob("*.parquet"))
    whole = {p: p.read_bytes() for p in files}
    # One charge point per group (the assets use groups of ~50,000 frames).
    monkeypatch.setattr(ocpp_assets, "GROUP_FRAMES", 1)
    assert charge_point_chunks(tmp_warehouse.read("ocpp_messages"), max_frames=1) == [["CP-16"], ["CS-201"]]
    materialize_partition(tmp_warehouse, tmp_landing, DAY)
    assert all(p.read_bytes() == whole[p] for p in files)


def test_the_spill_span_does_not_change_the_bytes(gateway, tmp_landing, tmp_warehouse, monkeypatch):
    import assets.ingest.ocpp.assets as ocpp_assets

    _run_both(gateway)
    materialize_partition(tmp_warehouse, tmp_landing, DAY)  # a small date: one spill bucket per hour
    files = sorted(tmp_warehouse.root_path.rglob("ocpp_messages/**/*.parquet"))
    hourly = {p: p.read_bytes() for p in files}
    spans = []

    def one_millisecond(landed_bytes: int) -> pl.Expr:  # finer than any real span: a CALL and its answer apart
        spans.append(landed_bytes)
        return pl.col("received_at").dt.truncate("1ms")

    monkeypatch.setattr(ocpp_assets, "received_span", one_millisecond)
    materialize_partition(tmp_warehouse, tmp_landing, DAY)
    assert spans and files and all(p.read_bytes() == hourly[p] for p in files)
    buckets = tmp_warehouse.read("ocpp_messages").select(pl.col("received_at").dt.truncate("1ms").n_unique()).item()
    assert buckets > 1  # the fine run really resolved several buckets


def test_splitting_bunched_spill_buckets_does_not_change_the_bytes(gateway, tmp_landing, tmp_warehouse, monkeypatch):
    import assets.ingest.ocpp.assets as ocpp_assets

    _run_both(gateway)
    first = materialize_partition(tmp_warehouse, tmp_landing, DAY)
    assert first.asset_materializations_for_node("ocpp_messages")[0].metadata["spill_buckets_split"].value == 0
    files = sorted(tmp_warehouse.root_path.rglob("ocpp_messages/**/*.parquet"))
    unsplit = {p: p.read_bytes() for p in files}
    monkeypatch.setattr(ocpp_assets, "SPILL_SPLIT_ROWS", 1)  # every bucket of more than one frame is split
    result = materialize_partition(tmp_warehouse, tmp_landing, DAY)
    assert result.asset_materializations_for_node("ocpp_messages")[0].metadata["spill_buckets_split"].value > 0
    assert files and all(p.read_bytes() == unsplit[p] for p in files)
