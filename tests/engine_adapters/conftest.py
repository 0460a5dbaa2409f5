"""Shared helpers of the adapter and quote tests: build sessions period by period and price them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tariff_engine.model import PricingResult, Session, SessionPeriod, Tariff
from tariff_engine.batch import price_sessions
from tariff_engine.reference import price_session

FIXTURES = Path(__file__).parent / "fixtures"
# Seed 001's worked tariff examples, copied into the repository (tests/fixtures/PROVENANCE.md).
SEED_TARIFFS = Path(__file__).resolve().parents[1] / "fixtures" / "seed-001-examples" / "tariffs.json"


@dataclass(frozen=True)
class Span:
    """One period of a test session: `minutes` long, charging (with `kwh`) or idle."""

    minutes: float
    kwh: str = "0"
    idle: bool = False
    max_power: str | None = None
    rate: str | None = None


def build_session(local_start: str, zone: str, spans: list[Span], session_id: str = "test") -> Session:
    """A session starting at the local wall-clock time `local_start` ("2024-10-02T10:00") in `zone`, one
    period per span, in order."""
    start = datetime.fromisoformat(local_start).replace(tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))
    periods, moment = [], start
    for span in spans:
        hours = Decimal(str(span.minutes)) / 60
        periods.append(SessionPeriod(
            start=moment,
            energy_kwh=Decimal(span.kwh),
            time_h=Decimal(0) if span.idle else hours,
            parking_h=hours if span.idle else Decimal(0),
            max_power=None if span.max_power is None else Decimal(span.max_power),
            electricity_rate=None if span.rate is None else Decimal(span.rate),
        ))
        moment += timedelta(minutes=span.minutes)
    return Session(id=session_id, start=start, end=moment, timezone=zone, periods=tuple(periods))


def price(tariff: Tariff, session: Session) -> PricingResult:
    """Price through the Decimal reference, fail loudly on a per-session error, and require the numba
    kernel path (`tariff_engine.batch.price_sessions`) to give the very same result."""
    result = price_session(tariff, session)
    assert result.error_code is None, result.error
    (kernel,) = price_sessions([tariff], [session])
    assert kernel.error_code is None, kernel.error
    assert kernel.total_cost == result.total_cost
    for category in ("energy", "time", "parking", "fixed", "reservation"):
        assert getattr(kernel, f"total_{category}_cost") == getattr(result, f"total_{category}_cost"), category
    assert kernel.min_price_applied == result.min_price_applied
    return result


def seed_tariff(tariff_id: int) -> dict:
    """One tariff of the seed-001 example file, by id."""
    return next(t for t in json.loads(SEED_TARIFFS.read_text())["data"] if t["id"] == tariff_id)


@pytest.fixture
def fixtures_dir() -> Path:
    """The folder of this suite's JSON fixtures."""
    return FIXTURES
