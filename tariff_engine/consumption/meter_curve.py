"""Cleaning a session's cumulative energy register (Energy.Active.Import.Register, Wh).

Real chargers send duplicate, zero, stale and glitched register values (tariffs-and-metering.md §4.3).
Rules, applied per session in time order (reason codes are stable; they name the repair):

- `INVALID_REGISTER_VALUE`: null, NaN, infinite or negative value, dropped.
- `CLOCK_NOT_SET`: timestamp before 2000-01-01 (charger clock not yet set), dropped.
- `DUPLICATE_TIMESTAMP`: several values at one instant (e.g. a Periodic 163630 and a stale
  Transaction.Begin 157440 or 0): the highest is kept, since a register never runs backwards.
- `SPURIOUS_ZERO`: a 0 that the neighbouring readings contradict (the next reading is at or above the
  level before it, or an offline Transaction.Begin = 0 followed by an implausible jump), dropped.
- `DROPOUT`: a value below the previous one that the next reading contradicts (it is back at or above
  the previous level), or a lower last reading that nothing confirms, dropped.
- `SPIKE`: a jump implying more than `MAX_PLAUSIBLE_POWER_W` that the next reading undoes, dropped.
- `RESET_BRIDGED`: a drop that the next reading confirms (the register restarted). The reading is kept
  and every later value is shifted so the curve continues. The energy across the gap is the new value
  (the register is assumed to restart from 0) when that is physically plausible for the gap, else 0.

Dropped readings are returned with their reason so the caller can quarantine them: readings in =
curve points + repairs dropped.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numba import njit

MAX_PLAUSIBLE_POWER_W = 1_000_000.0  # 1 MW: above any charger; faster growth is a glitch
CLOCK_FLOOR_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z

KEPT = 0
SPURIOUS_ZERO = 1
DROPOUT = 2
SPIKE = 3
RESET_BRIDGED = 4
REASON_CODES = {
    SPURIOUS_ZERO: "SPURIOUS_ZERO",
    DROPOUT: "DROPOUT",
    SPIKE: "SPIKE",
    RESET_BRIDGED: "RESET_BRIDGED",
}
DROPPED_REASONS = ("INVALID_REGISTER_VALUE", "CLOCK_NOT_SET", "DUPLICATE_TIMESTAMP", "SPURIOUS_ZERO",
                   "DROPOUT", "SPIKE")
_US_PER_HOUR = 3_600_000_000.0


@njit(cache=True)
def _implausible(v0, v1, t0, t1):
    """True when rising from v0 to v1 between t0 and t1 needs more than the plausible power."""
    hours = (t1 - t0) / _US_PER_HOUR
    return (v1 - v0) > MAX_PLAUSIBLE_POWER_W * max(hours, 1.0 / 3600.0)


@njit(cache=True)
def clean_register_kernel(reading_ptr, time_us, value_wh):
    """Per reading: the cleaned cumulative value (NaN when dropped) and a reason (see module constants).

    Readings are CSR by session, sorted by time, one per instant.
    """
    n = time_us.shape[0]
    cleaned = np.full(n, np.nan)
    reason = np.zeros(n, dtype=np.int8)
    for s in range(reading_ptr.shape[0] - 1):
        lo = reading_ptr[s]
        hi = reading_ptr[s + 1]
        have_prev = False
        prev_raw = 0.0
        prev_t = 0
        shift = 0.0
        for i in range(lo, hi):
            v = value_wh[i]
            t = time_us[i]
            has_next = i + 1 < hi
            if not have_prev:
                if v == 0.0 and has_next and _implausible(0.0, value_wh[i + 1], t, time_us[i + 1]):
                    reason[i] = SPURIOUS_ZERO
                    continue
                have_prev = True
            elif v >= prev_raw:
                if (_implausible(prev_raw, v, prev_t, t) and has_next and value_wh[i + 1] < v):
                    reason[i] = SPIKE
                    continue
            else:
                contradicted = (not has_next) or value_wh[i + 1] >= prev_raw
                if contradicted:
                    reason[i] = SPURIOUS_ZERO if v == 0.0 else DROPOUT
                    continue
                # The next reading confirms the lower level: the register restarted.
                if _implausible(0.0, v, prev_t, t):
                    shift += prev_raw - v
                else:
                    shift += prev_raw
                reason[i] = RESET_BRIDGED
            cleaned[i] = v + shift
            prev_raw = v
            prev_t = t
    return cleaned, reason


def clean_register(readings: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clean cumulative registers of many sessions.

    `readings`: session_id (str, or an integer key that sorts like the ids), timestamp (Datetime us UTC),
    energy_wh (Float64), plus any other columns (e.g. record_ref), which are carried through. Returns
    `(curve, repairs)`: the curve has the input columns with energy_wh cleaned (non-decreasing) and
    `reset_bridged` (bool); repairs has the input columns as received plus reason_code, one row per dropped
    reading and per bridged reset (the latter also stay in the curve). Both are sorted by session, time and value, so the result does not depend on
    the input order.
    """
    extra = [c for c in readings.columns if c not in ("session_id", "timestamp", "energy_wh", "reason_code")]
    session = pl.col("session_id")
    frame = readings.with_columns(
        session if readings.schema["session_id"].is_integer() else session.cast(pl.String),
        pl.col("timestamp").cast(pl.Datetime("us", "UTC")),
        pl.col("energy_wh").cast(pl.Float64),
    ).select("session_id", "timestamp", "energy_wh", *extra)
    order = ["session_id", "timestamp", "energy_wh", *[c for c in extra if frame.schema[c] == pl.String]]
    frame = frame.sort(order, nulls_last=True).with_row_index("_row")
    value = pl.col("energy_wh")
    invalid = value.is_null() | value.is_nan() | value.is_infinite() | (value < 0) | pl.col("timestamp").is_null()
    early = pl.col("timestamp").dt.epoch("us") < CLOCK_FLOOR_US
    frame = frame.with_columns(
        pl.when(invalid).then(pl.lit("INVALID_REGISTER_VALUE"))
        .when(early).then(pl.lit("CLOCK_NOT_SET"))
        .otherwise(pl.lit(None, pl.String)).alias("reason_code")
    )
    rejected = frame.filter(pl.col("reason_code").is_not_null())
    valid = frame.filter(pl.col("reason_code").is_null())
    # One value per instant: the highest (a register never runs backwards); the rest are repairs.
    keep = valid.select(pl.col("_row").last().over(["session_id", "timestamp"]) == pl.col("_row")).to_series()
    duplicates = valid.filter(~keep).with_columns(pl.lit("DUPLICATE_TIMESTAMP").alias("reason_code"))
    unique = valid.filter(keep)

    sizes = unique.group_by("session_id", maintain_order=True).len()
    ptr = np.zeros(sizes.height + 1, dtype=np.int64)
    np.cumsum(sizes["len"].to_numpy(), out=ptr[1:])
    cleaned, reason = clean_register_kernel(
        ptr, unique["timestamp"].dt.epoch("us").to_numpy(), unique["energy_wh"].to_numpy()
    )
    codes = np.array([None, *REASON_CODES.values()], dtype=object)[reason]
    unique = unique.with_columns(
        pl.Series("cleaned_wh", cleaned, dtype=pl.Float64),
        pl.Series("reason_code", codes.tolist(), dtype=pl.String),
    )
    curve = unique.filter(pl.col("cleaned_wh").is_not_nan()).select(
        "session_id", "timestamp", pl.col("cleaned_wh").alias("energy_wh"),
        (pl.col("reason_code") == "RESET_BRIDGED").fill_null(False).alias("reset_bridged"), *extra,
    )
    repair_cols = ["session_id", "timestamp", "energy_wh", *extra, "reason_code", "_row"]
    repairs = pl.concat([
        rejected.select(repair_cols), duplicates.select(repair_cols),
        unique.filter(pl.col("reason_code").is_not_null()).select(repair_cols),
    ]).sort("_row").drop("_row")
    return curve, repairs
