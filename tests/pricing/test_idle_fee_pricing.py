"""A platform session known only by its totals keeps its idle fee: the tariff that prices it also cuts its
periods, so the idle-fee grace (30 min after charging ends) is a period boundary. Figures by hand, from the
demo's `cpms:4700000` (platform 39.98 EUR incl. 21 % VAT; before the fix the engine priced 19.88)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import dagster as dg
import polars as pl

from assets.consumption import build
from assets.consumption.cdr_periods import cdr_periods
from assets.consumption.tables import CHARGING_PERIODS
from assets.pricing import priced_sessions, tariffs
from assets.reference.tables import EVSES, OPERATORS

from .conftest import DAY, ZONE, full_frame, session, utc, write_json, write_sessions

TARIFF_201 = {"id": 201, "operatorId": 1, "name": "AC public: energy + time + idle", "type": "duration+energy",
              "currency": "EUR", "lastUpdatedAt": "2026-09-01T00:00:00Z", "pricing": {
                  "connectionFee": 0.5, "connectionFeeMinimumSessionDuration": 2,
                  "connectionFeeMinimumSessionEnergy": 0.5, "pricePerKwh": 0.42, "pricePeriodInMinutes": 1,
                  "pricePerPeriod": 0.01, "durationFeeGracePeriod": 0, "idleFeePerMinute": 0.1,
                  "idleFeeGracePeriodMinutes": 30, "idleFeeGracePeriodMode": "idle_detection",
                  "idlePricingPeriodInMinutes": 1}}
AT = {"location_id": "LOC-NL", "evse_uid": "E-201", "currency": "EUR"}
RECORD = json.dumps({"id": 4700000, "tax": {"taxId": 3, "taxPercentage": 21}})


def _day(tmp_warehouse, tmp_landing):
    wh = tmp_warehouse
    write_json(tmp_landing.root_path, "tariffs/platform/201.json", {"data": TARIFF_201})
    wh.write_partition(OPERATORS, full_frame(OPERATORS, [{"operator_id": "NL-GRX", "currency": "EUR", "time_zone": ZONE}]))
    wh.write_partition(EVSES, full_frame(EVSES, [{"location_id": "LOC-NL", "evse_uid": "E-201", "operator_id": "NL-GRX",
                                                  "time_zone": ZONE, "tariff_ids": ["201"]}]))
    assert dg.materialize([tariffs], resources={"warehouse": wh, "landing": tmp_landing}).success
    write_sessions(wh, [
        # 05:40:15 to 13:16:45 UTC: 27 390 s plugged in, the last 13 851 s idle, 40 756 Wh; the record names the
        # tariff snapshot 88201, which we do not have, so the EVSE's platform tariff 201 prices it.
        session("cpms:4700000", "cpms_session", "2026-10-25 05:40:15", "2026-10-25 13:16:45", **AT,
                energy_wh=40756.0, total_time_s=27390, parking_time_s=13851, tariff_ids=["88201"], raw_payload=RECORD,
                reported_cost_excl_vat=D("33.04"), reported_cost_incl_vat=D("39.98")),
        # A failed start: 81 s, no energy. It never charged, so it is parking throughout (within the grace).
        session("cpms:4700009", "cpms_session", "2026-10-25 04:32:45", "2026-10-25 04:34:06", **AT,
                total_time_s=81, tariff_ids=["88201"], raw_payload=RECORD,
                reported_cost_excl_vat=D("0"), reported_cost_incl_vat=D("0")),
    ])
    periods = build.charging_periods(wh, DAY).table
    wh.write_partition(CHARGING_PERIODS, periods, session_settlement_date=DAY)
    return periods


def test_totals_are_cut_at_the_idle_grace(tmp_warehouse, tmp_landing):
    periods = _day(tmp_warehouse, tmp_landing)
    idle = periods.filter(pl.col("session_id") == "cpms:4700000").sort("period_index")
    assert idle["state"].to_list() == ["CHARGING", "PARKING", "PARKING"]
    assert idle["start_utc"].to_list() == [utc("2026-10-25 05:40:15"), utc("2026-10-25 09:25:54"),
                                           utc("2026-10-25 09:55:54")]  # charging end, + 30 min grace
    assert idle["energy_wh"].to_list() == [40756.0, 0.0, 0.0]
    assert idle["parking_time_s"].to_list() == [0.0, 1800.0, 12051.0]
    assert set(idle["tariff_id"].to_list()) == {"201"} and set(idle["method"].to_list()) == {"totals"}
    failed = periods.filter(pl.col("session_id") == "cpms:4700009")
    assert (failed["state"].to_list(), failed["parking_time_s"].to_list()) == (["PARKING"], [81.0])


def test_the_idle_fee_and_the_records_tax_are_priced(tmp_warehouse, tmp_landing):
    _day(tmp_warehouse, tmp_landing)
    assert dg.materialize([priced_sessions], partition_key=DAY.isoformat(),
                          resources={"warehouse": tmp_warehouse}).success
    rows = {r["session_id"]: r for r in tmp_warehouse.read("priced_sessions", settlement_date=DAY).iter_rows(named=True)}
    s = rows["cpms:4700000"]
    # Gross: connection 0.50; 40.756 kWh x 0.42 = 17.11752; 13 539 s charging = 226 started minutes x 0.01 = 2.26;
    # idle 13 851 - 1 800 = 12 051 s = 201 started minutes x 0.10 = 20.10. Total 39.97752 incl. 21 % VAT.
    assert (s["tariff_id"], s["tariff_origin"]) == ("201", "evse")
    assert (s["total_fixed_cost_incl"], s["total_energy_cost_incl"], s["total_time_cost_incl"],
            s["total_parking_cost_incl"], s["total_cost_incl"]) == (
        D("0.5000"), D("17.1175"), D("2.2600"), D("20.1000"), D("39.9775"))
    assert s["total_cost_excl"] == D("33.0393")  # 39.97752 / 1.21
    assert s["difference_incl_vat"] == D("-0.0025")
    assert (rows["cpms:4700009"]["total_cost_incl"], rows["cpms:4700009"]["error_code"]) == (D("0.0000"), None)


def test_cdr_hour_volumes_are_snapped_to_their_span():
    """2.116667 h is 7 620.0012 s: one 60-second step more than the 7 620 s the CPO billed; the span is exact."""
    cdr = {"start_date_time": "2026-10-24T12:08:19Z", "end_date_time": "2026-10-24T17:46:53Z", "charging_periods": [
        {"start_date_time": "2026-10-24T12:08:19Z", "dimensions": [{"type": "ENERGY", "volume": 38.037},
                                                                   {"type": "TIME", "volume": 3.526111}]},
        {"start_date_time": "2026-10-24T15:39:53Z", "dimensions": [{"type": "PARKING_TIME", "volume": 2.116667}]}]}
    rows, reason = cdr_periods({"session_id": "c", "source": "ocpi_cdr", "raw_payload": json.dumps(cdr),
                                "time_zone": "America/Toronto", "end_utc": dt.datetime(2026, 10, 24, 17, 46, 53,
                                                                                     tzinfo=dt.timezone.utc)})
    assert reason is None
    assert [(r["time_s"], r["parking_time_s"]) for r in rows] == [(12694.0, 0.0), (0.0, 7620.0)]
