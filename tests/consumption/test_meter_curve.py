"""Register cleaning: every repair has a reason code and nothing disappears unaccounted."""

from __future__ import annotations

import polars as pl

from tariff_engine.consumption.aligned import align_sessions, spans_from_readings
from tariff_engine.consumption.meter_curve import DROPPED_REASONS, clean_register

from .conftest import readings_frame


def _dropped(repairs: pl.DataFrame) -> pl.DataFrame:
    return repairs.filter(pl.col("reason_code").is_in(DROPPED_REASONS))


def test_reset_mid_session_is_bridged_and_allocated():
    readings = readings_frame([("x", "2026-05-04 10:00", 5000), ("x", "2026-05-04 10:30", 6000),
                               ("x", "2026-05-04 11:00", 200), ("x", "2026-05-04 11:30", 1200)])
    curve, repairs = clean_register(readings)
    # The register restarted from 0: 200 Wh delivered across the gap, then 1000 more.
    assert curve["energy_wh"].to_list() == [5000, 6000, 6200, 7200]
    assert curve["reset_bridged"].to_list() == [False, False, True, False]
    assert repairs["reason_code"].to_list() == ["RESET_BRIDGED"]
    out = align_sessions(curve, spans_from_readings(curve, "UTC"), 30)
    assert out["energy_wh"].to_list() == [1000, 200, 1000]


def test_implausible_reset_gap_carries_no_energy():
    # Drop to a lower, non-zero register 1 minute later: 900 kWh in a minute is impossible, so the
    # register was re-based (session-relative) and the gap carries 0 Wh.
    readings = readings_frame([("x", "2026-05-04 10:00", 900000), ("x", "2026-05-04 10:30", 901000),
                               ("x", "2026-05-04 10:31", 890000), ("x", "2026-05-04 11:00", 890500)])
    curve, _ = clean_register(readings)
    assert curve["energy_wh"].to_list() == [900000, 901000, 901000, 901500]


def test_each_glitch_gets_its_reason_and_rows_are_conserved():
    readings = readings_frame([
        ("g", "2026-05-04 10:00", 0),          # offline Transaction.Begin = 0
        ("g", "2026-05-04 10:00:30", 163630),
        ("g", "2026-05-04 10:00:30", 157440),  # stale duplicate at the same instant
        ("g", "2026-05-04 10:10", 164000),
        ("g", "2026-05-04 10:20", 50),         # Modbus drop-out, next reading is back up
        ("g", "2026-05-04 10:30", 165000),
        ("g", "2026-05-04 10:40", 9e9),        # spike undone by the next reading
        ("g", "2026-05-04 10:50", 166000),
        ("g", "2026-05-04 11:00", 0),          # zero contradicted by the next reading
        ("g", "2026-05-04 11:10", 167000),
        ("g", "1970-01-01 00:00:07", 167000),  # clock not set
        ("g", "2026-05-04 11:20", float("nan")),
        ("g", "2026-05-04 11:30", -5),
        ("g", "2026-05-04 11:40", 166500),     # lower last reading nothing confirms
    ])
    curve, repairs = clean_register(readings)
    assert curve["energy_wh"].to_list() == [163630, 164000, 165000, 166000, 167000]
    assert sorted(repairs["reason_code"].to_list()) == sorted([
        "SPURIOUS_ZERO", "DUPLICATE_TIMESTAMP", "DROPOUT", "SPIKE", "SPURIOUS_ZERO",
        "CLOCK_NOT_SET", "INVALID_REGISTER_VALUE", "INVALID_REGISTER_VALUE", "DROPOUT"])
    assert readings.height == curve.height + _dropped(repairs).height
    dup = repairs.filter(pl.col("reason_code") == "DUPLICATE_TIMESTAMP")
    assert dup["energy_wh"].to_list() == [157440]


def test_cleaning_is_deterministic():
    readings = readings_frame([("a", "2026-05-04 10:00", 10), ("b", "2026-05-04 10:00", 7),
                               ("a", "2026-05-04 10:05", 5), ("a", "2026-05-04 10:10", 30),
                               ("b", "2026-05-04 10:05", 9)])
    first = clean_register(readings)
    second = clean_register(readings.reverse())
    assert first[0].equals(second[0]) and first[1].equals(second[1])
    assert first[0].filter(pl.col("session_id") == "a")["energy_wh"].to_list() == [10, 30]
