"""Shared helpers for the tariff-engine tests: example tariffs and a compact session builder."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[2] / ".numba_cache"))

from tariff_engine.adapters.ocpi import parse_tariff  # noqa: E402
from tariff_engine.model import Session, SessionPeriod, Tariff  # noqa: E402

# The OCPI specification's example files, copied into the repository (tests/fixtures/PROVENANCE.md).
EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "ocpi-examples"


def example_tariff(name: str, version: str = "2.2.1") -> Tariff:
    """A spec example tariff file parsed into the model."""
    return parse_tariff(json.loads((EXAMPLES / version / name).read_text()))


def build_session(local_start: str, tz: str, periods: list[tuple[float, dict]], end_minutes: float, session_id: str = "s") -> Session:
    """A session starting at `local_start` (wall clock in `tz`); periods as (minutes after start, dims);
    dims keys: kwh, time_min, parking_min, reservation_min, min_current, max_current, min_power, max_power,
    rate (electricity rate)."""
    start = datetime.fromisoformat(local_start).replace(tzinfo=ZoneInfo(tz)).astimezone(ZoneInfo("UTC"))
    built = []
    for offset, dims in periods:
        built.append(
            SessionPeriod(
                start=start + timedelta(minutes=offset),
                energy_kwh=Decimal(str(dims.get("kwh", 0))),
                time_h=Decimal(str(dims.get("time_min", 0))) / 60,
                parking_h=Decimal(str(dims.get("parking_min", 0))) / 60,
                reservation_h=Decimal(str(dims.get("reservation_min", 0))) / 60,
                min_current=_opt(dims.get("min_current")),
                max_current=_opt(dims.get("max_current")),
                min_power=_opt(dims.get("min_power")),
                max_power=_opt(dims.get("max_power")),
                electricity_rate=_opt(dims.get("rate")),
            )
        )
    return Session(session_id, start, start + timedelta(minutes=end_minutes), tz, tuple(built))


def _opt(value):
    return None if value is None else Decimal(str(value))


@pytest.fixture
def session_builder():
    """The `build_session` helper as a fixture."""
    return build_session
