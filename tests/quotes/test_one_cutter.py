"""Quotes are cut by the pipeline's period cutter (`consumption.periods` + `price_changes`): the same cuts for
the same tariff, including a kWh threshold and a daylight-saving night, and hand-computed prices."""

from __future__ import annotations

import datetime as dt
from datetime import datetime, timezone
from decimal import Decimal

import polars as pl

from tariff_engine.consumption.periods import split_charging_periods
from tariff_engine.consumption.price_changes import rules_from_tariff
from tariff_engine.model import PriceComponent, Tariff, TariffElement, TariffRestrictions
from tariff_engine.quotes.charge import QuoteCharge, build_quote_sessions
from tariff_engine.quotes.request import ChargePoint
from tariff_engine.reference import price_session


def _tariff() -> Tariff:
    return Tariff("cut", "EUR", (
        TariffElement((PriceComponent("ENERGY", Decimal("0.30")),), TariffRestrictions(max_kwh=Decimal("10"))),
        TariffElement((PriceComponent("ENERGY", Decimal("0.20")),), TariffRestrictions(start_time=dt.time(1), end_time=dt.time(5))),
        TariffElement((PriceComponent("ENERGY", Decimal("0.25")),)),
    ))


def _charge(start: datetime, minutes: int, kwh: int) -> QuoteCharge:
    point = ChargePoint(Decimal(22), "type2", Decimal(minutes), Decimal(kwh), Decimal(22), 22)
    return QuoteCharge(_tariff(), point, start, "Europe/Amsterdam", None, "q")


def test_quote_periods_are_the_pipeline_cutters_periods():
    # 2025-03-30 00:00-04:00 local CET/CEST (23:00-02:00 UTC, 3 real hours: 02:00 local is skipped), 30 kWh at
    # 10 kW: 10 kWh reached at 00:00 UTC (01:00 CET, also the 01:00 window edge), the next edge 05:00 local is
    # after the end. Cuts: 23:00, 00:00 UTC.
    start = datetime(2025, 3, 29, 23, 0, tzinfo=timezone.utc)
    charge = _charge(start, 180, 30)
    session = build_quote_sessions([charge])[0]
    spans = pl.DataFrame({"session_id": ["q"], "start_utc": [start], "end_utc": [datetime(2025, 3, 30, 2, 0, tzinfo=timezone.utc)],
                          "time_zone": ["Europe/Amsterdam"], "rule_key": ["t"]})
    curve = pl.DataFrame({"session_id": ["q", "q"], "timestamp": [start, datetime(2025, 3, 30, 2, 0, tzinfo=timezone.utc)],
                          "energy_wh": [0.0, 30000.0]})
    pipeline = split_charging_periods(curve, spans, rules={"t": rules_from_tariff(_tariff())})
    assert [p.start for p in session.periods] == pipeline["start_utc"].to_list()
    assert [p.start.strftime("%H:%M") for p in session.periods] == ["23:00", "00:00"]
    assert [p.energy_kwh for p in session.periods] == [Decimal(10), Decimal(20)]
    assert [p.time_h for p in session.periods] == [Decimal(1), Decimal(2)]
    # 10 kWh x 0.30 + 20 kWh x 0.20 (01:00-05:00 local window) = 7.00
    assert price_session(_tariff(), session).total_cost.excl_vat == Decimal("7.0000")


def test_a_kwh_threshold_inside_an_hour_is_cut_at_the_whole_millisecond_it_is_reached():
    # 25 kWh in 60 min from 12:00 local: 10 kWh are reached after 24 min exactly; 10 x 0.30 + 15 x 0.25 = 6.75
    start = datetime(2025, 6, 2, 10, 0, tzinfo=timezone.utc)
    session = build_quote_sessions([_charge(start, 60, 25)])[0]
    assert [(p.start.strftime("%H:%M:%S.%f"), p.energy_kwh) for p in session.periods] == [
        ("10:00:00.000000", Decimal(10)), ("10:24:00.000000", Decimal(15))]
    assert price_session(_tariff(), session).total_cost.excl_vat == Decimal("6.7500")
