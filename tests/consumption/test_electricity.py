"""Electricity rates: precedence (date > week day/any > default), wrap, parsing errors, exact costs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from tariff_engine.consumption.aligned import align_sessions
from tariff_engine.consumption.electricity import (RateError, electricity_cost, parse_electricity_rate,
                                                   session_electricity_cost)

from .conftest import readings_frame, spans_frame

RATE = {"id": 7, "defaultPrice": 0.30, "taxPercentage": 20}
PERIODS = [
    {"weekDay": "mon", "periods": [{"startsAt": "22:00", "endsAt": "06:00", "price": 0.10},
                                   {"startsAt": "17:00", "endsAt": "20:00", "price": 0.50}]},
    {"weekDay": "sat", "periods": [{"startsAt": "00:00", "endsAt": "00:00", "price": 0.20}]},
    {"date": "2026-12-28", "periods": [{"startsAt": "17:00", "endsAt": "19:00", "price": 0.05}]},
]


def _local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_date_periods_take_precedence_over_week_day_periods():
    rate = parse_electricity_rate(RATE, PERIODS)
    # 2026-12-28 is a Monday: the date period wins where it covers the time...
    assert rate.price_at(_local("2026-12-28 17:30")) == Decimal("0.05")
    # ...and the Monday table still applies to the hours the date entry leaves open.
    assert rate.price_at(_local("2026-12-28 19:30")) == Decimal("0.5")
    assert rate.price_at(_local("2026-12-28 23:00")) == Decimal("0.1")
    # Another Monday: the week-day table; wrap covers both ends of the day; gaps use the default.
    assert rate.price_at(_local("2026-12-21 17:30")) == Decimal("0.5")
    assert rate.price_at(_local("2026-12-21 05:59")) == Decimal("0.1")
    assert rate.price_at(_local("2026-12-21 06:00")) == Decimal("0.3")
    assert rate.price_at(_local("2026-12-26 12:00")) == Decimal("0.2")  # Saturday all day
    assert rate.price_at(_local("2026-12-22 12:00")) == Decimal("0.3")  # Tuesday: default


def test_any_applies_every_day_and_cannot_mix_with_days():
    rate = parse_electricity_rate(RATE, [{"weekDay": "any", "periods": [{"startsAt": "00:00", "endsAt": "07:00", "price": "0.08"}]}])
    assert rate.price_at(_local("2026-12-24 06:30")) == Decimal("0.08")
    assert rate.price_at(_local("2026-12-24 07:00")) == Decimal("0.3")
    with pytest.raises(RateError, match="'any' cannot be combined"):
        parse_electricity_rate(RATE, [{"weekDay": "any", "periods": []}, {"weekDay": "mon", "periods": []}])
    with pytest.raises(RateError, match="expected HH:MM"):
        parse_electricity_rate(RATE, [{"weekDay": "mon", "periods": [{"startsAt": "7:00", "endsAt": "08:00", "price": 1}]}])
    with pytest.raises(RateError, match="defaultPrice is required"):
        parse_electricity_rate({"id": 1})


def test_interval_and_session_costs_are_exact_decimals():
    rate = parse_electricity_rate(RATE, PERIODS)
    # Monday 2026-12-28 16:00-18:00 UTC (London = UTC in winter): 16:00-17:00 default 0.30,
    # 17:00-18:00 date price 0.05. 1333 Wh per half hour... 4000 Wh over 2 h = 1000 Wh per interval.
    readings = readings_frame([("e", "2026-12-28 16:00", 0), ("e", "2026-12-28 18:00", 4000),
                               ("f", "2026-12-28 16:00", 0), ("f", "2026-12-28 16:30", 333)])
    spans = spans_frame([("e", "2026-12-28 16:00", "2026-12-28 18:00", "Europe/London"),
                         ("f", "2026-12-28 16:00", "2026-12-28 16:30", "Europe/London")])
    intervals = align_sessions(readings, spans, 30).with_columns(
        pl.when(pl.col("session_id") == "e").then(pl.lit("7")).otherwise(pl.lit("missing")).alias("rate_id"))
    priced = electricity_cost(intervals, {"7": rate})
    e = priced.filter(pl.col("session_id") == "e").sort("interval_start_utc")
    assert e["electricity_cost"].to_list() == [Decimal("0.3000"), Decimal("0.3000"), Decimal("0.0500"), Decimal("0.0500")]
    assert priced.schema["electricity_cost"] == pl.Decimal(18, 4)
    f = priced.filter(pl.col("session_id") == "f")
    assert f["electricity_cost"].to_list() == [None]
    per_session = session_electricity_cost(priced)
    assert per_session.filter(pl.col("session_id") == "e")["electricity_cost"].to_list() == [Decimal("0.7000")]
    assert per_session.filter(pl.col("session_id") == "f")["unpriced_intervals"].to_list() == [1]


def test_half_up_rounding_of_interval_cost():
    from tariff_engine.consumption.electricity import interval_cost

    assert interval_cost(333, Decimal("0.12345")) == Decimal("0.0411")  # 0.04110885
    assert interval_cost(1, Decimal("0.05")) == Decimal("0.0001")       # 0.00005 -> half up


def test_session_cost_is_null_when_any_interval_has_no_price():
    priced = pl.DataFrame({
        "session_id": ["a", "a", "b", "b"],
        "energy_wh": [1000, 500, 250, 250],
        "electricity_cost": [Decimal("0.2800"), Decimal("0.0600"), Decimal("0.0700"), None],
    }, schema_overrides={"electricity_cost": pl.Decimal(18, 4)})
    out = {r["session_id"]: r for r in session_electricity_cost(priced).iter_rows(named=True)}
    # a: 0.28 + 0.06 = 0.34; b: one interval unpriced, so its cost is unknown, not 0.07.
    assert out["a"]["electricity_cost"] == Decimal("0.3400") and out["a"]["unpriced_intervals"] == 0
    assert out["b"]["electricity_cost"] is None and out["b"]["unpriced_intervals"] == 1
