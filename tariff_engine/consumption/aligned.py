"""Polars front end of the clock-aligned allocation kernel.

`align_sessions` takes cleaned cumulative readings and session spans and returns one row per
(session, clock interval) with integer Wh that sum exactly to the session's register delta; see
`allocation` for the algorithm and `settlement` for the labels.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from tariff_engine.consumption.allocation import allocate_intervals, count_intervals, interval_us, session_deltas
from tariff_engine.consumption.settlement import label_settlement
from tariff_engine.consumption.timezones import build_zone_timelines

ALIGNED_SCHEMA = {
    "session_id": pl.String,
    "interval_start_utc": pl.Datetime("us", "UTC"),
    "interval_start_local": pl.String,
    "settlement_date": pl.Date,
    "settlement_period": pl.Int32,
    "time_zone": pl.String,
    "energy_wh": pl.Int64,
}


def spans_from_readings(readings: pl.DataFrame, time_zone: str) -> pl.DataFrame:
    """Session spans taken from the first and last reading of each session (used by the CLI)."""
    return readings.group_by("session_id").agg(
        pl.col("timestamp").min().alias("start_utc"), pl.col("timestamp").max().alias("end_utc")
    ).with_columns(pl.lit(time_zone).alias("time_zone")).sort("session_id")


def csr_by_session(spans: pl.DataFrame, readings: pl.DataFrame) -> tuple[np.ndarray, pl.DataFrame]:
    """Readings ordered by (session position in `spans`, timestamp) and the CSR offsets into them."""
    order = spans.select("session_id").with_row_index("_s")
    joined = readings.join(order, on="session_id", how="inner").sort(["_s", "timestamp"])
    counts = np.bincount(joined["_s"].to_numpy(), minlength=spans.height) if joined.height else np.zeros(spans.height, np.int64)
    ptr = np.zeros(spans.height + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr, joined


def align_sessions(readings: pl.DataFrame, spans: pl.DataFrame, interval_minutes: int = 30) -> pl.DataFrame:
    """Allocate each session's energy to clock intervals of its site's local clock.

    `readings`: session_id, timestamp (Datetime us UTC), energy_wh (cleaned cumulative, Float64).
    `spans`: session_id, start_utc, end_utc (Datetime us UTC), time_zone (IANA). Readings outside a
    span are clipped (the register is interpolated at the span edges). Returns `ALIGNED_SCHEMA` rows.
    """
    step = interval_us(interval_minutes)
    if spans.height == 0:
        return pl.DataFrame(schema=ALIGNED_SCHEMA)
    spans = spans.sort("session_id")
    if spans["session_id"].is_duplicated().any():
        raise ValueError("spans hold a session_id more than once")
    bad = spans.filter(pl.col("end_utc") < pl.col("start_utc"))
    if bad.height:
        raise ValueError(f"sessions end before they start: {bad['session_id'].head(5).to_list()}")
    ptr, ordered = csr_by_session(spans, readings)
    start_us = spans["start_utc"].dt.epoch("us").to_numpy()
    end_us = spans["end_utc"].dt.epoch("us").to_numpy()
    zones = spans["time_zone"].to_list()
    timelines = build_zone_timelines(zones, int(start_us.min()), int(end_us.max()))
    zone_index = np.asarray([timelines.index(z) for z in zones], dtype=np.int64)
    out_ptr = count_intervals(start_us, end_us, zone_index, timelines.zone_ptr, timelines.segment_start_us,
                              timelines.segment_offset_us, step)
    labels, energy = allocate_intervals(
        ptr, ordered["timestamp"].dt.epoch("us").to_numpy(), ordered["energy_wh"].cast(pl.Float64).to_numpy(),
        start_us, end_us, zone_index, timelines.zone_ptr, timelines.segment_start_us,
        timelines.segment_offset_us, step, out_ptr,
    )
    owner = np.repeat(np.arange(spans.height), np.diff(out_ptr))
    intervals = spans.select("session_id", "time_zone")[owner].with_columns(
        pl.Series("interval_start_utc", labels).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        pl.Series("energy_wh", energy, dtype=pl.Int64),
    )
    return label_settlement(intervals, interval_minutes).select(list(ALIGNED_SCHEMA)).cast(ALIGNED_SCHEMA)


def register_delta(readings: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """Per span: the whole-Wh energy the allocation must conserve, round(R(end) - R(start)) of the
    interpolated register (0 without readings). Columns session_id, expected_wh."""
    if spans.height == 0:
        return pl.DataFrame(schema={"session_id": pl.String, "expected_wh": pl.Int64})
    spans = spans.sort("session_id")
    ptr, ordered = csr_by_session(spans, readings)
    expected = session_deltas(ptr, ordered["timestamp"].dt.epoch("us").to_numpy(),
                              ordered["energy_wh"].cast(pl.Float64).to_numpy(),
                              spans["start_utc"].dt.epoch("us").to_numpy(), spans["end_utc"].dt.epoch("us").to_numpy())
    return spans.select("session_id").with_columns(pl.Series("expected_wh", expected, dtype=pl.Int64))
