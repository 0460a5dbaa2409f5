"""Property: for random curves, intervals are never negative and sum exactly to the session energy."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariff_engine.consumption.aligned import align_sessions
from tariff_engine.consumption.meter_curve import clean_register

ZONES = ["Europe/London", "America/Toronto", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC"]
BASE = dt.datetime(2026, 3, 27, 12, 0, tzinfo=dt.timezone.utc)  # near both spring clock changes


@st.composite
def session_curves(draw):
    n = draw(st.integers(min_value=1, max_value=40))
    gaps = draw(st.lists(st.integers(min_value=0, max_value=4 * 3600), min_size=n, max_size=n))
    steps = draw(st.lists(st.one_of(st.integers(0, 5000), st.floats(0, 5000, allow_nan=False)), min_size=n, max_size=n))
    offset = draw(st.integers(min_value=0, max_value=30 * 86400))
    start_register = draw(st.integers(min_value=0, max_value=10**9))
    times, values = [], []
    t = BASE + dt.timedelta(seconds=offset)
    v = float(start_register)
    for gap, step in zip(gaps, steps):
        t += dt.timedelta(seconds=gap, microseconds=draw(st.integers(0, 999_999)))
        v += step
        times.append(t)
        values.append(v)
    zone = draw(st.sampled_from(ZONES))
    minutes = draw(st.sampled_from([15, 30, 60]))
    return times, values, zone, minutes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(session_curves())
def test_intervals_sum_to_session_energy_and_are_non_negative(curve):
    times, values, zone, minutes = curve
    readings = pl.DataFrame({"session_id": ["s"] * len(times), "timestamp": times, "energy_wh": values},
                            schema={"session_id": pl.String, "timestamp": pl.Datetime("us", "UTC"),
                                    "energy_wh": pl.Float64})
    cleaned, _ = clean_register(readings)
    spans = pl.DataFrame({"session_id": ["s"], "start_utc": [times[0]], "end_utc": [times[-1]], "time_zone": [zone]},
                         schema={"session_id": pl.String, "start_utc": pl.Datetime("us", "UTC"),
                                 "end_utc": pl.Datetime("us", "UTC"), "time_zone": pl.String})
    out = align_sessions(cleaned, spans, minutes)
    energy = out["energy_wh"].to_list()
    total = cleaned["energy_wh"].max() - cleaned["energy_wh"].min()
    assert min(energy) >= 0
    assert sum(energy) == int(total + 0.5)
    starts = out["interval_start_utc"].to_list()
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert out["settlement_period"].min() >= 1
    assert out["settlement_period"].max() <= 24 * 60 // minutes + 60 // minutes
