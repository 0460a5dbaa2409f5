"""Fixtures and builders shared by the consumption tests."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl
import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[2] / ".numba_cache"))

UTC = dt.timezone.utc


def utc(text: str) -> dt.datetime:
    """An aware UTC datetime from 'YYYY-MM-DD HH:MM[:SS]'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def readings_frame(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    """Register readings (session_id, 'YYYY-MM-DD HH:MM', Wh) as the library expects them."""
    return pl.DataFrame(
        {
            "session_id": [r[0] for r in rows],
            "timestamp": [utc(r[1]) for r in rows],
            "energy_wh": [float(r[2]) for r in rows],
        },
        schema={"session_id": pl.String, "timestamp": pl.Datetime("us", "UTC"), "energy_wh": pl.Float64},
    )


def spans_frame(rows: list[tuple[str, str, str, str]]) -> pl.DataFrame:
    """Session spans (session_id, start, end, zone)."""
    return pl.DataFrame(
        {
            "session_id": [r[0] for r in rows],
            "start_utc": [utc(r[1]) for r in rows],
            "end_utc": [utc(r[2]) for r in rows],
            "time_zone": [r[3] for r in rows],
        },
        schema={"session_id": pl.String, "start_utc": pl.Datetime("us", "UTC"),
                "end_utc": pl.Datetime("us", "UTC"), "time_zone": pl.String},
    )


@pytest.fixture
def linear_session():
    """A builder: one session with a reading every `step_min` minutes at a constant power."""

    def build(session_id: str, start: str, end: str, wh_per_hour: float, step_min: int = 5) -> pl.DataFrame:
        t0, t1 = utc(start), utc(end)
        rows = []
        t = t0
        while t <= t1:
            rows.append((session_id, t.strftime("%Y-%m-%d %H:%M:%S"), (t - t0).total_seconds() / 3600 * wh_per_hour))
            t += dt.timedelta(minutes=step_min)
        return readings_frame(rows)

    return build
