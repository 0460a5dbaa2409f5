"""Charging periods: cuts at tariff boundaries, thresholds, crossings and state switches (hand computed)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from tariff_engine.consumption.periods import split_charging_periods, to_engine_sessions
from tariff_engine.consumption.price_changes import PriceChangeRules, rules_from_tariff
from tariff_engine.model import PriceComponent, Tariff, TariffElement, TariffRestrictions

from .conftest import readings_frame, spans_frame, utc


def _tariff(*restrictions: TariffRestrictions) -> Tariff:
    elements = [TariffElement((PriceComponent("ENERGY", Decimal("0.30")),), r) for r in restrictions]
    elements.append(TariffElement((PriceComponent("ENERGY", Decimal("0.25")),)))
    return Tariff(id="t", currency="EUR", elements=tuple(elements))


def _cuts(periods: pl.DataFrame) -> list[str]:
    return [p.strftime("%m-%d %H:%M:%S") for p in periods["start_utc"].to_list()]


def _frame(rows, name, column):
    return pl.DataFrame({"session_id": [r[0] for r in rows], "timestamp": [utc(r[1]) for r in rows],
                         column: [r[2] for r in rows]},
                        schema={"session_id": pl.String, "timestamp": pl.Datetime("us", "UTC"), column: pl.Float64})


def test_rules_from_tariff_collect_every_boundary():
    tariff = _tariff(
        TariffRestrictions(start_time=dt.time(18), end_time=dt.time(22), day_of_week=("MONDAY",)),
        TariffRestrictions(min_kwh=Decimal("10"), max_kwh=Decimal("20.5"), max_duration=1800),
        TariffRestrictions(max_power=Decimal("7.4"), min_current=Decimal("16"), min_idle_duration=900),
    )
    rules = rules_from_tariff(tariff)
    assert rules.time_edges_s == (0, 18 * 3600, 22 * 3600)
    assert rules.kwh_thresholds_wh == (10000.0, 20500.0)
    assert rules.duration_thresholds_s == (1800,)
    assert rules.power_thresholds_w == (7400.0,)
    assert rules.current_thresholds_a == (16.0,)
    assert rules.idle_thresholds_s == (900,)


def test_local_window_edges_and_midnight_in_summer_time():
    # 16:30-23:30 UTC = 17:30-00:30 BST at 7 kW: cut at 18:00, 22:00 and 00:00 local.
    tariff = _tariff(TariffRestrictions(start_time=dt.time(18), end_time=dt.time(22), day_of_week=("MONDAY",)))
    curve = readings_frame([("s", "2026-05-04 16:30", 0), ("s", "2026-05-04 23:30", 49000)])
    spans = spans_frame([("s", "2026-05-04 16:30", "2026-05-04 23:30", "Europe/London")]).with_columns(
        pl.lit("t").alias("rule_key"))
    periods = split_charging_periods(curve, spans, rules={"t": rules_from_tariff(tariff)})
    assert _cuts(periods) == ["05-04 16:30:00", "05-04 17:00:00", "05-04 21:00:00", "05-04 23:00:00"]
    assert periods["energy_wh"].to_list() == [3500, 28000, 14000, 3500]
    assert periods["state"].unique().to_list() == ["CHARGING"]
    assert periods["time_s"].to_list() == [1800.0, 14400.0, 7200.0, 1800.0]
    assert periods["min_power_w"].to_list() == [7000.0] * 4


def test_kwh_threshold_is_interpolated_between_sparse_readings():
    curve = readings_frame([("k", "2026-05-04 10:00", 500), ("k", "2026-05-04 10:20", 4500),
                            ("k", "2026-05-04 11:00", 12500)])
    spans = spans_frame([("k", "2026-05-04 10:00", "2026-05-04 11:00", "UTC")]).with_columns(pl.lit("r").alias("rule_key"))
    rules = {"r": PriceChangeRules(kwh_thresholds_wh=(10000.0,), duration_thresholds_s=(600,))}
    periods = split_charging_periods(curve, spans, rules=rules)
    # 10 kWh since start is reached at 4000 + 6000 Wh -> 30 of the 40 minutes after 10:20.
    assert _cuts(periods) == ["05-04 10:00:00", "05-04 10:10:00", "05-04 10:50:00"]
    assert periods["energy_wh"].to_list() == [2000, 8000, 2000]
    assert periods["max_power_w"].to_list() == [12000.0, 12000.0, 12000.0]
    assert periods["min_power_w"].to_list() == [12000.0, 12000.0, 12000.0]


def test_power_and_current_crossings_are_interpolated():
    curve = readings_frame([("p", "2026-05-04 10:00", 0), ("p", "2026-05-04 11:00", 7000)])
    spans = spans_frame([("p", "2026-05-04 10:00", "2026-05-04 11:00", "UTC")]).with_columns(pl.lit("r").alias("rule_key"))
    power = _frame([("p", "2026-05-04 10:00", 11000.0), ("p", "2026-05-04 10:40", 3000.0),
                    ("p", "2026-05-04 11:00", 3000.0)], "power", "power_w")
    current = _frame([("p", "2026-05-04 10:00", 48.0), ("p", "2026-05-04 11:00", 12.0)], "current", "current_a")
    rules = {"r": PriceChangeRules(power_thresholds_w=(7000.0,), current_thresholds_a=(30.0,))}
    periods = split_charging_periods(curve, spans, power=power, current=current, rules=rules)
    # Power falls through 7 kW half-way to 10:40 (10:20); current through 30 A half-way to 11:00 (10:30).
    assert _cuts(periods) == ["05-04 10:00:00", "05-04 10:20:00", "05-04 10:30:00"]
    assert periods["min_power_w"].to_list() == [7000.0, 5000.0, 3000.0]
    assert periods["max_power_w"].to_list() == [11000.0, 7000.0, 5000.0]
    assert periods["min_current_a"].to_list() == [36.0, 30.0, 12.0]
    assert periods["max_current_a"].to_list() == [48.0, 36.0, 30.0]
    assert periods["energy_wh"].sum() == 7000


def test_ocpp_charging_states_define_parking():
    curve = readings_frame([("c", "2026-05-04 10:00", 0), ("c", "2026-05-04 11:00", 11000),
                            ("c", "2026-05-04 12:00", 11000)])
    spans = spans_frame([("c", "2026-05-04 10:00", "2026-05-04 12:30", "UTC")])
    states = pl.DataFrame({
        "session_id": ["c"] * 4,
        "timestamp": [utc("2026-05-04 10:00"), utc("2026-05-04 10:40"), utc("2026-05-04 11:00"), utc("2026-05-04 11:30")],
        "charging_state": ["Charging", "SuspendedEVSE", "SuspendedEV", "EVConnected"],
    })
    periods = split_charging_periods(curve, spans, states=states)
    # SuspendedEVSE is the charger withholding power: still charging time, no cut.
    assert _cuts(periods) == ["05-04 10:00:00", "05-04 11:00:00"]
    assert periods["state"].to_list() == ["CHARGING", "PARKING"]
    assert periods["time_s"].to_list() == [3600.0, 0.0]
    assert periods["parking_time_s"].to_list() == [0.0, 5400.0]
    assert periods["energy_wh"].to_list() == [11000, 0]
    with pytest.raises(ValueError, match="unknown charging states"):
        split_charging_periods(curve, spans, states=states.with_columns(pl.lit("Dancing").alias("charging_state")))


def test_parking_from_power_threshold_and_idle_grace():
    # 50 W trickle after 11:00 is below the 100 W threshold: parking; idle fee after 15 min grace.
    curve = readings_frame([("i", "2026-05-04 10:00", 0), ("i", "2026-05-04 11:00", 22000),
                            ("i", "2026-05-04 12:00", 22050)])
    spans = spans_frame([("i", "2026-05-04 10:00", "2026-05-04 12:00", "UTC")]).with_columns(pl.lit("r").alias("rule_key"))
    periods = split_charging_periods(curve, spans, rules={"r": PriceChangeRules(idle_thresholds_s=(900,))})
    assert _cuts(periods) == ["05-04 10:00:00", "05-04 11:00:00", "05-04 11:15:00"]
    assert periods["state"].to_list() == ["CHARGING", "PARKING", "PARKING"]
    assert periods["energy_wh"].to_list() == [22000, 13, 37]  # 50 W: 12.5 Wh in 15 min, rounded cumulatively


def test_wall_edges_on_clock_change_days():
    rules = {"r": PriceChangeRules(time_edges_s=(1 * 3600 + 1800,))}  # 01:30 local
    curve = readings_frame([("spring", "2026-03-29 00:00", 0), ("spring", "2026-03-29 03:00", 3000),
                            ("fall", "2026-10-24 23:00", 0), ("fall", "2026-10-25 03:00", 4000)])
    spans = spans_frame([("spring", "2026-03-29 00:00", "2026-03-29 03:00", "Europe/London"),
                         ("fall", "2026-10-24 23:00", "2026-10-25 03:00", "Europe/London")]).with_columns(
        pl.lit("r").alias("rule_key"))
    periods = split_charging_periods(curve, spans, rules=rules)
    spring = periods.filter(pl.col("session_id") == "spring")
    # 01:30 GMT never happens on 29 March: the price switches at the jump (01:00 UTC).
    assert _cuts(spring) == ["03-29 00:00:00", "03-29 01:00:00"]
    fall = periods.filter(pl.col("session_id") == "fall")
    # 01:30 happens twice on 25 October: 00:30 UTC (BST) and 01:30 UTC (GMT).
    assert _cuts(fall) == ["10-24 23:00:00", "10-25 00:30:00", "10-25 01:30:00"]
    assert fall["energy_wh"].to_list() == [1500, 1000, 1500]


def test_engine_sessions_carry_ocpi_units():
    curve = readings_frame([("e", "2026-05-04 10:00", 0), ("e", "2026-05-04 10:45", 5250)])
    spans = spans_frame([("e", "2026-05-04 10:00", "2026-05-04 11:00", "Europe/Paris")])
    periods = split_charging_periods(curve, spans)
    (session,) = to_engine_sessions(periods, spans)
    assert session.timezone == "Europe/Paris" and len(session.periods) == 2
    charging, parking = session.periods
    assert charging.energy_kwh == Decimal("5.25") and charging.time_h == Decimal("0.75")
    assert charging.max_power == Decimal("7") and charging.min_current is None
    assert parking.parking_h == Decimal("0.25") and parking.energy_kwh == 0


def test_electricity_rate_linked_tariff_cuts_at_rate_slots_and_prices_each_period():
    from tariff_engine.consumption.electricity import parse_electricity_rate, rates_at_period_starts

    rate = parse_electricity_rate({"id": 1, "defaultPrice": "0.30"},
                                  [{"weekDay": "any", "periods": [{"startsAt": "00:30", "endsAt": "05:30", "price": "0.09"}]}])
    tariff = Tariff(id="tou", currency="GBP", elements=(TariffElement((PriceComponent(
        "ENERGY", Decimal(0), price_basis="ELECTRICITY_RATE", markup_fixed=Decimal("0.10")),)),))
    rules = rules_from_tariff(tariff, rate)
    assert rules.time_edges_s == (0, 1800, 5 * 3600 + 1800)
    # 23:00-02:00 UTC in winter London: cut at local midnight and at 00:30.
    curve = readings_frame([("n", "2026-01-12 23:00", 0), ("n", "2026-01-13 02:00", 21000)])
    spans = spans_frame([("n", "2026-01-12 23:00", "2026-01-13 02:00", "Europe/London")]).with_columns(
        pl.lit("tou").alias("rule_key"))
    periods = split_charging_periods(curve, spans, rules={"tou": rules})
    assert _cuts(periods) == ["01-12 23:00:00", "01-13 00:00:00", "01-13 00:30:00"]
    assert periods["energy_wh"].to_list() == [7000, 3500, 10500]
    prices = rates_at_period_starts(periods, {"n": "Europe/London"}, {"n": rate})
    assert prices == {("n", 0): Decimal("0.30"), ("n", 1): Decimal("0.30"), ("n", 2): Decimal("0.09")}
    (session,) = to_engine_sessions(periods, spans, prices)
    assert [p.electricity_rate for p in session.periods] == [Decimal("0.30"), Decimal("0.30"), Decimal("0.09")]
