"""Clock-aligned allocation: hand-computed intervals, midnight, clock changes, sparse data, rounding."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tariff_engine.consumption.aligned import align_sessions, spans_from_readings
from tariff_engine.consumption.settlement import periods_in_day

from .conftest import readings_frame, spans_frame


def _rows(out: pl.DataFrame) -> list[tuple]:
    return [(r["interval_start_local"], r["settlement_date"].isoformat(), r["settlement_period"], r["energy_wh"])
            for r in out.iter_rows(named=True)]


def test_interpolation_across_boundaries_and_midnight():
    # 1000 Wh over 100 min (10 Wh/min), then 3000 Wh over 80 min (37.5 Wh/min).
    readings = readings_frame([("a", "2026-03-20 23:10", 1000), ("a", "2026-03-21 00:50", 2000),
                               ("a", "2026-03-21 02:10", 5000)])
    out = align_sessions(readings, spans_from_readings(readings, "Europe/London"), 30)
    assert _rows(out) == [
        ("2026-03-20T23:00:00+00:00", "2026-03-20", 47, 200),
        ("2026-03-20T23:30:00+00:00", "2026-03-20", 48, 300),
        ("2026-03-21T00:00:00+00:00", "2026-03-21", 1, 300),
        ("2026-03-21T00:30:00+00:00", "2026-03-21", 2, 200 + 375),
        ("2026-03-21T01:00:00+00:00", "2026-03-21", 3, 1125),
        ("2026-03-21T01:30:00+00:00", "2026-03-21", 4, 1125),
        ("2026-03-21T02:00:00+00:00", "2026-03-21", 5, 375),
    ]
    assert out["interval_start_utc"][0] == dt.datetime(2026, 3, 20, 23, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("zone", "day", "minutes", "expected"),
    [
        ("Europe/London", dt.date(2026, 3, 29), 30, 46),
        ("Europe/London", dt.date(2026, 10, 25), 30, 50),
        ("Europe/London", dt.date(2026, 6, 1), 30, 48),
        ("America/Toronto", dt.date(2026, 3, 8), 30, 46),
        ("America/Toronto", dt.date(2026, 11, 1), 30, 50),
        ("Europe/Berlin", dt.date(2026, 3, 29), 15, 92),
        ("Europe/Berlin", dt.date(2026, 10, 25), 15, 100),
        ("America/Toronto", dt.date(2026, 11, 1), 60, 25),
    ],
)
def test_periods_per_day(zone, day, minutes, expected):
    assert periods_in_day(zone, day, minutes) == expected


def test_london_spring_forward_day_has_46_periods():
    # 1000 Wh/h from local midnight to local midnight of 29 March 2026 (23 hours).
    readings = readings_frame([("s", "2026-03-29 00:00", 0), ("s", "2026-03-29 23:00", 23000)])
    spans = spans_frame([("s", "2026-03-29 00:00", "2026-03-29 23:00", "Europe/London")])
    out = align_sessions(readings, spans, 30)
    assert out.height == 46
    assert out["settlement_period"].to_list() == list(range(1, 47))
    assert set(out["energy_wh"].to_list()) == {500}
    assert out["interval_start_local"][1] == "2026-03-29T00:30:00+00:00"
    assert out["interval_start_local"][2] == "2026-03-29T02:00:00+01:00"  # 01:00-02:00 never happened
    assert out["settlement_date"].unique().to_list() == [dt.date(2026, 3, 29)]


def test_london_fall_back_session_repeats_the_hour():
    readings = readings_frame([("s", "2026-10-24 23:00", 0), ("s", "2026-10-25 03:00", 4000)])
    spans = spans_frame([("s", "2026-10-24 23:00", "2026-10-25 03:00", "Europe/London")])
    out = align_sessions(readings, spans, 30)
    assert _rows(out) == [
        ("2026-10-25T00:00:00+01:00", "2026-10-25", 1, 500),
        ("2026-10-25T00:30:00+01:00", "2026-10-25", 2, 500),
        ("2026-10-25T01:00:00+01:00", "2026-10-25", 3, 500),
        ("2026-10-25T01:30:00+01:00", "2026-10-25", 4, 500),
        ("2026-10-25T01:00:00+00:00", "2026-10-25", 5, 500),  # Elexon: period 5 starts 01:00 GMT
        ("2026-10-25T01:30:00+00:00", "2026-10-25", 6, 500),
        ("2026-10-25T02:00:00+00:00", "2026-10-25", 7, 500),
        ("2026-10-25T02:30:00+00:00", "2026-10-25", 8, 500),
    ]


def test_toronto_spring_forward_and_fall_back():
    readings = readings_frame([("spring", "2026-03-08 05:00", 0), ("spring", "2026-03-08 09:00", 8000),
                               ("fall", "2026-11-01 04:00", 100), ("fall", "2026-11-01 08:00", 4100)])
    spans = spans_frame([("spring", "2026-03-08 05:00", "2026-03-08 09:00", "America/Toronto"),
                         ("fall", "2026-11-01 04:00", "2026-11-01 08:00", "America/Toronto")])
    out = align_sessions(readings, spans, 30)
    spring = out.filter(pl.col("session_id") == "spring")
    assert spring["interval_start_local"].to_list() == [
        "2026-03-08T00:00:00-05:00", "2026-03-08T00:30:00-05:00", "2026-03-08T01:00:00-05:00",
        "2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00",
        "2026-03-08T04:00:00-04:00", "2026-03-08T04:30:00-04:00",
    ]
    assert spring["settlement_period"].to_list() == list(range(1, 9))
    assert spring["energy_wh"].to_list() == [1000] * 8
    fall = out.filter(pl.col("session_id") == "fall")
    assert fall["interval_start_local"].to_list() == [
        "2026-11-01T00:00:00-04:00", "2026-11-01T00:30:00-04:00", "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:00:00-05:00", "2026-11-01T02:30:00-05:00",
    ]
    assert fall["settlement_period"].to_list() == list(range(1, 9))
    assert fall["energy_wh"].sum() == 4000


def test_last_period_of_long_and_short_days():
    readings = readings_frame([("long", "2026-10-25 22:00", 0), ("long", "2026-10-26 00:00", 400),
                               ("short", "2026-03-29 22:00", 0), ("short", "2026-03-30 00:00", 400)])
    spans = spans_frame([("long", "2026-10-25 22:00", "2026-10-26 00:00", "Europe/London"),
                         ("short", "2026-03-29 22:00", "2026-03-30 00:00", "Europe/London")])
    out = align_sessions(readings, spans, 30)
    long_day = out.filter(pl.col("session_id") == "long")
    assert long_day["settlement_period"].to_list() == [47, 48, 49, 50]
    short_day = out.filter(pl.col("session_id") == "short")
    # 22:00 UTC is 23:00 BST: the last two periods of the 46-period day, then the next day.
    assert short_day["settlement_period"].to_list() == [45, 46, 1, 2]
    assert short_day["settlement_date"].to_list() == [dt.date(2026, 3, 29)] * 2 + [dt.date(2026, 3, 30)] * 2


def test_sparse_readings_spread_linearly():
    readings = readings_frame([("p", "2026-05-04 10:10", 0), ("p", "2026-05-04 13:40", 2100)])
    out = align_sessions(readings, spans_from_readings(readings, "Europe/London"), 30)
    assert out["energy_wh"].to_list() == [200, 300, 300, 300, 300, 300, 300, 100]
    assert out["interval_start_local"][0] == "2026-05-04T11:00:00+01:00"


def test_rounding_keeps_the_total_exact():
    readings = readings_frame([("r", "2026-05-04 10:00", 0), ("r", "2026-05-04 10:45", 1000)])
    out = align_sessions(readings, spans_from_readings(readings, "UTC"), 30)
    assert out["energy_wh"].to_list() == [667, 333]


def test_15_and_60_minute_intervals_and_half_hour_zone():
    readings = readings_frame([("k", "2026-05-04 10:00", 0), ("k", "2026-05-04 12:00", 1200)])
    out15 = align_sessions(readings, spans_from_readings(readings, "Europe/London"), 15)
    assert out15.height == 8 and set(out15["energy_wh"].to_list()) == {150}
    # Kolkata is UTC+05:30: local hours start at :30 UTC, so 10:00-12:00 UTC touches three local hours.
    out60 = align_sessions(readings, spans_from_readings(readings, "Asia/Kolkata"), 60)
    assert out60["interval_start_local"].to_list() == [
        "2026-05-04T15:00:00+05:30", "2026-05-04T16:00:00+05:30", "2026-05-04T17:00:00+05:30"]
    assert out60["energy_wh"].to_list() == [300, 600, 300]
    assert out60["settlement_period"].to_list() == [16, 17, 18]


def test_session_span_clips_readings_and_no_readings_gives_zero():
    readings = readings_frame([("c", "2026-05-04 10:00", 0), ("c", "2026-05-04 11:00", 600)])
    spans = spans_frame([("c", "2026-05-04 10:15", "2026-05-04 10:45", "UTC"),
                         ("empty", "2026-05-04 10:00", "2026-05-04 10:40", "UTC")])
    out = align_sessions(readings, spans, 30)
    assert out.filter(pl.col("session_id") == "c")["energy_wh"].to_list() == [150, 150]
    assert out.filter(pl.col("session_id") == "empty")["energy_wh"].to_list() == [0, 0]


def test_bad_interval_and_zone_are_refused():
    readings = readings_frame([("c", "2026-05-04 10:00", 0), ("c", "2026-05-04 11:00", 600)])
    with pytest.raises(ValueError, match="interval must be one of"):
        align_sessions(readings, spans_from_readings(readings, "UTC"), 20)
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        align_sessions(readings, spans_from_readings(readings, "Mars/Olympus"), 30)
