"""Consumption assets on a temporary warehouse: exact outputs, checks, quarantine and idempotence."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import dagster as dg
import polars as pl
import pytest

from assets.consumption import CONSUMPTION_ASSETS
from assets.ingest.interval_charges.tables import INTERVAL_CHARGE_INTERVALS
from assets.ingest.ocpp.tables import METER_READINGS, TRANSACTIONS
from assets.ingest.platform.tables import ELECTRICITY_RATE_PERIODS, ELECTRICITY_RATES
from assets.sessions.tables import SESSIONS

from .conftest import utc

DAY = dt.date(2026, 10, 25)
A = "ocpp:CP-1:1"
B = "ocpi:NL-ABC:cdr-9"
C = "interval:acme:c-1"


def _full(spec, rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame([{c: r.get(c) for c in spec.schema} for r in rows], schema=spec.schema)


def _reading(minute_offset: int, value: float, context: str = "Sample.Periodic", ref: str | None = None) -> dict:
    t = utc("2026-10-24 23:00") + dt.timedelta(minutes=minute_offset)
    return {"landing_date": dt.date(2026, 10, 25), "record_ref": ref or f"f.jsonl:{minute_offset}#mv0.sv0",
            "transaction_id": A, "charge_point_id": "CP-1", "timestamp": t, "measurand": "Energy.Active.Import.Register",
            "context": context, "value": value, "value_raw": json.dumps(str(value)), "unit": "Wh",
            "location": "Outlet", "protocol": "ocpp1.6"}


@pytest.fixture
def seeded(tmp_warehouse):
    wh = tmp_warehouse
    cdr = {"id": "cdr-9", "country_code": "NL", "party_id": "ABC", "start_date_time": "2026-10-25T10:00:00Z",
           "end_date_time": "2026-10-25T11:00:00Z", "currency": "EUR",
           "charging_periods": [
               {"start_date_time": "2026-10-25T10:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 5.0},
                                                                          {"type": "TIME", "volume": 0.75}]},
               {"start_date_time": "2026-10-25T10:45:00Z", "dimensions": [{"type": "PARKING_TIME", "volume": 0.25}]}]}
    sessions = [
        {"session_id": A, "source": "ocpp", "source_id": "1", "operator_id": "OP1", "start_utc": utc("2026-10-24 23:00"),
         "end_utc": utc("2026-10-25 03:00"), "time_zone": "Europe/London", "settlement_date": DAY, "energy_wh": 3000.0,
         "total_time_s": 14400, "parking_time_s": 3600, "currency": "GBP", "is_credit": False, "tariff_ids": []},
        {"session_id": B, "source": "ocpi_cdr", "source_id": "cdr-9", "operator_id": "OP2", "start_utc": utc("2026-10-25 10:00"),
         "end_utc": utc("2026-10-25 11:00"), "time_zone": "Europe/London", "settlement_date": DAY, "energy_wh": 5000.0,
         "total_time_s": 3600, "parking_time_s": 900, "currency": "EUR", "is_credit": False,
         "raw_payload": json.dumps(cdr), "tariff_ids": []},
        {"session_id": C, "source": "interval", "source_id": "c-1", "operator_id": "OP2",
         "start_utc": utc("2026-10-25 12:05"), "end_utc": utc("2026-10-25 12:55"), "time_zone": "Europe/London",
         "settlement_date": DAY, "energy_wh": 2000.0, "total_time_s": 3000, "parking_time_s": 0, "currency": "EUR",
         "is_credit": False, "tariff_ids": []},
        {"session_id": "eevion:x-1", "source": "eevion", "start_utc": utc("2026-10-25 12:00"),
         "end_utc": utc("2026-10-25 13:00"), "time_zone": "Mars/Olympus_Mons", "settlement_date": DAY,
         "energy_wh": 1.0, "total_time_s": 3600, "parking_time_s": 0, "is_credit": False, "tariff_ids": []},
    ]
    wh.write_partition(SESSIONS, _full(SESSIONS, sessions), settlement_date=DAY)
    def interval(landing, start, end, wh_value):
        return {"landing_date": landing, "session_id": C, "settlement_date": DAY, "interval_start_utc": utc(start),
                "interval_end_utc": utc(end), "energy_wh": wh_value, "energy_kwh": Decimal(str(wh_value / 1000))}
    # The first delivery is corrected the next day: the latest landing of each interval wins.
    wh.write_partition(INTERVAL_CHARGE_INTERVALS, _full(INTERVAL_CHARGE_INTERVALS, [
        interval(DAY, "2026-10-25 12:00", "2026-10-25 12:30", 1000.0),
        interval(DAY, "2026-10-25 12:30", "2026-10-25 13:00", 766.0)]), landing_date=DAY)
    wh.write_partition(INTERVAL_CHARGE_INTERVALS, _full(INTERVAL_CHARGE_INTERVALS, [
        interval(dt.date(2026, 10, 26), "2026-10-25 12:00", "2026-10-25 12:30", 1234.0)]), landing_date=dt.date(2026, 10, 26))
    readings = [_reading(30 * i, 100000 + min(500 * i, 3000)) for i in range(9)]
    readings.append(_reading(0, 0.0, context="Transaction.Begin", ref="f.jsonl:begin"))   # stale zero baseline
    readings.append(_reading(135, 50.0, ref="f.jsonl:glitch"))                             # Modbus drop-out
    wh.write_partition(METER_READINGS, _full(METER_READINGS, readings), landing_date=dt.date(2026, 10, 25))
    tx = {"landing_date": dt.date(2026, 10, 25), "transaction_id": A, "charge_point_id": "CP-1",
          "start_timestamp": utc("2026-10-24 23:00"), "stop_timestamp": utc("2026-10-25 03:00"),
          "meter_start_wh": 100000.0, "meter_stop_wh": 103000.0, "status": "complete",
          "charging_states": [{"timestamp": utc("2026-10-24 23:00"), "state": "Charging"},
                              {"timestamp": utc("2026-10-25 02:00"), "state": "SuspendedEV"}]}
    wh.write_partition(TRANSACTIONS, _full(TRANSACTIONS, [tx]), landing_date=dt.date(2026, 10, 25))
    rate = {"landing_date": dt.date(2026, 10, 1), "record_ref": "p#0", "rate_id": 7, "operator_id": "OP1",
            "name": "site", "type": "admin_defined", "default_price": Decimal("0.30"), "tax_percentage": Decimal("20")}
    wh.write_partition(ELECTRICITY_RATES, _full(ELECTRICITY_RATES, [rate]), landing_date=dt.date(2026, 10, 1))
    periods = [
        {"landing_date": dt.date(2026, 10, 1), "record_ref": "p#1", "rate_id": 7, "week_day": "any",
         "starts_at": "00:00", "ends_at": "02:00", "price": Decimal("0.20")},
        {"landing_date": dt.date(2026, 10, 1), "record_ref": "p#2", "rate_id": 7, "date": DAY,
         "starts_at": "00:00", "ends_at": "02:00", "price": Decimal("0.10")},
    ]
    wh.write_partition(ELECTRICITY_RATE_PERIODS, _full(ELECTRICITY_RATE_PERIODS, periods), landing_date=dt.date(2026, 10, 1))
    return wh


def _materialize(wh):
    result = dg.materialize(CONSUMPTION_ASSETS, partition_key=DAY.isoformat(), resources={"warehouse": wh})
    assert result.success
    return result


def test_assets_produce_exact_figures_and_pass_their_checks(seeded):
    result = _materialize(seeded)
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks), [(c.asset_key, c.check_name, c.metadata) for c in checks if not c.passed]
    assert {c.check_name for c in checks} >= {"conservation", "energy_conservation", "energy_matches_intervals"}

    for asset in ("meter_curves", "charging_periods", "clock_aligned_consumption"):
        (materialization,) = result.asset_materializations_for_node(asset)
        assert materialization.metadata["sessions_unusable"].value == 1  # the session on Mars is reported
        assert materialization.metadata["sessions"].value == 3
    quarantine = seeded.read("quarantine", source_asset="meter_curves", partition_key=DAY.isoformat())
    assert sorted(zip(quarantine["record_ref"], quarantine["reason_code"])) == [
        ("f.jsonl:begin", "DUPLICATE_TIMESTAMP"), ("f.jsonl:glitch", "DROPOUT")]

    curve = seeded.read("meter_curves", session_settlement_date=DAY)
    assert curve.filter(pl.col("energy_wh").is_not_null()).height == 9
    assert curve.filter(pl.col("charging_state").is_not_null())["charging_state"].to_list() == ["Charging", "SuspendedEV"]

    periods = seeded.read("charging_periods", session_settlement_date=DAY).sort(["session_id", "period_index"])
    a = periods.filter(pl.col("session_id") == A)
    assert a["state"].to_list() == ["CHARGING", "PARKING"]
    assert a["energy_wh"].to_list() == [3000.0, 0.0]
    assert a["time_s"].to_list() == [10800.0, 0.0] and a["parking_time_s"].to_list() == [0.0, 3600.0]
    b = periods.filter(pl.col("session_id") == B)
    assert b["method"].to_list() == ["cdr", "cdr"]
    c = periods.filter(pl.col("session_id") == C)
    assert c["method"].to_list() == ["totals"] and c["energy_wh"].to_list() == [2000.0] and c["time_s"].to_list() == [3000.0]
    assert b["energy_wh"].to_list() == [5000.0, 0.0] and b["parking_time_s"].to_list() == [0.0, 900.0]

    aligned = seeded.read("clock_aligned_consumption", session_settlement_date=DAY).sort(["session_id", "interval_start_utc"])
    a = aligned.filter(pl.col("session_id") == A)
    assert a["energy_wh"].to_list() == [500] * 6 + [0, 0]
    assert a["settlement_period"].to_list() == list(range(1, 9))
    assert a["interval_start_local"][4] == "2026-10-25T01:00:00+00:00"
    assert a["method"].unique().to_list() == ["meter"]
    b = aligned.filter(pl.col("session_id") == B)
    assert b["energy_wh"].to_list() == [2500, 2500] and b["is_estimated"].to_list() == [True, True]
    c = aligned.filter(pl.col("session_id") == C)
    # 30-minute interval data passes through unchanged (intervals, labels and Wh as delivered).
    assert c["energy_wh"].to_list() == [1234, 766] and c["method"].to_list() == ["interval_data"] * 2
    assert c["interval_start_local"].to_list() == ["2026-10-25T12:00:00+00:00", "2026-10-25T12:30:00+00:00"]
    assert c["is_estimated"].to_list() == [False, False]
    # 10:00 GMT on the long day is 11 elapsed hours after local midnight (23:00 UTC): periods 23 and 24.
    assert b["settlement_period"].to_list() == [23, 24]

    cost = seeded.read("electricity_cost", session_settlement_date=DAY).sort(["session_id", "interval_start_utc"])
    a = cost.filter(pl.col("session_id") == A)
    # The date period (0.10) beats the `any` period (0.20) from 00:00 to 02:00 local, both clock hours.
    assert a["electricity_price_per_kwh"].to_list()[:6] == [Decimal("0.1")] * 6
    assert a["electricity_cost"].to_list() == [Decimal("0.0500")] * 6 + [Decimal("0")] * 2
    assert cost.filter(pl.col("session_id") == B)["unpriced_reason"].unique().to_list() == ["NO_RATE_FOR_OPERATOR"]
    per_session = seeded.read("session_electricity_cost", session_settlement_date=DAY).sort("session_id")
    assert per_session["session_id"].to_list() == [C, B, A]
    # Sessions with unpriced intervals have an unknown (null) cost, never a silent 0.
    assert per_session["electricity_cost"].to_list() == [None, None, Decimal("0.3000")]
    assert per_session["unpriced_intervals"].to_list() == [2, 2, 0]


def test_rerun_is_idempotent(seeded):
    _materialize(seeded)
    tables = ["meter_curves", "charging_periods", "clock_aligned_consumption", "electricity_cost", "session_electricity_cost"]
    first = {t: sorted(p.read_bytes() for p in seeded.table_path(t).rglob("*.parquet")) for t in tables}
    _materialize(seeded)
    second = {t: sorted(p.read_bytes() for p in seeded.table_path(t).rglob("*.parquet")) for t in tables}
    assert first == second
    assert seeded.read("quarantine", source_asset="meter_curves").height == 2


def test_fifteen_minute_config(seeded):
    result = dg.materialize(CONSUMPTION_ASSETS[:3], partition_key=DAY.isoformat(), resources={"warehouse": seeded},
                            run_config={"ops": {"clock_aligned_consumption": {"config": {"interval_minutes": 15}}}})
    assert result.success
    aligned = seeded.read("clock_aligned_consumption", session_settlement_date=DAY)
    a = aligned.filter(pl.col("session_id") == A)
    assert a.height == 16 and a["energy_wh"].sum() == 3000 and a["interval_minutes"].unique().to_list() == [15]


def test_meter_start_and_stop_anchor_the_curve_only_when_consistent(tmp_warehouse):
    from assets.consumption.inputs import register_points, session_ids, with_session_ids

    rows = [
        # Session 1: readings start 5 minutes late; meterStart/meterStop extend the curve.
        {**_reading(5, 100100), "transaction_id": "ocpp:CP-1:1"}, {**_reading(55, 101100), "transaction_id": "ocpp:CP-1:1"},
        # Session 2: session-relative readings while meterStart is the lifetime register (Grizzl-E).
        {**_reading(5, 100), "transaction_id": "ocpp:CP-1:2"}, {**_reading(55, 1100), "transaction_id": "ocpp:CP-1:2"},
    ]
    tmp_warehouse.write_partition(METER_READINGS, _full(METER_READINGS, rows), landing_date=DAY)
    txs = [{"landing_date": DAY, "transaction_id": tid, "start_timestamp": utc("2026-10-24 23:00"),
            "stop_timestamp": utc("2026-10-25 00:00"), "meter_start_wh": start, "meter_stop_wh": stop}
           for tid, start, stop in [("ocpp:CP-1:1", 100000.0, 101200.0), ("ocpp:CP-1:2", 555000.0, 556200.0)]]
    tmp_warehouse.write_partition(TRANSACTIONS, _full(TRANSACTIONS, txs), landing_date=DAY)
    sessions = pl.DataFrame({"session_id": ["ocpp:CP-1:1", "ocpp:CP-1:2"]})
    ids = session_ids(sessions)
    keyed, refused = register_points(tmp_warehouse, ids)
    assert keyed["session_id"].dtype == pl.UInt32  # keyed by position among the sorted ids
    points = with_session_ids(keyed, ids)
    assert points["record_ref"].to_list()[0] == "transaction:ocpp:CP-1:1:meter_start"
    one = points.filter(pl.col("session_id") == "ocpp:CP-1:1")
    assert one["value"].to_list() == [100000.0, 100100.0, 101100.0, 101200.0]
    assert one["source"].to_list() == ["transaction", "meter_readings", "meter_readings", "transaction"]
    two = points.filter(pl.col("session_id") == "ocpp:CP-1:2")
    # meterStart 555000 is above the first reading: refused; meterStop 556200 jumps 555 kWh in 5 min: refused.
    assert two["value"].to_list() == [100.0, 1100.0] and with_session_ids(refused.to_frame(), ids)["session_id"].to_list() == ["ocpp:CP-1:2"] * 2
