"""Bad input: every bad session gets its stable error code (same in reference and kernels) and never stops
the batch; tariffs the kernels cannot represent, unknown currencies and unknown tariffs are per-session errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from tariff_engine.model import PriceComponent, Session, SessionPeriod, Tariff, TariffElement
from tariff_engine.batch import price_sessions
from tariff_engine.reference import price_session

from .conftest import build_session, example_tariff

T0 = datetime(2018, 6, 4, 8, 0, tzinfo=timezone.utc)


def _good(session_id: str) -> Session:
    return build_session("2018-06-04T10:00", "Europe/Berlin", [(0, dict(kwh=20, time_min=60))], 60, session_id)


def _bad_sessions() -> list[tuple[str, Session]]:
    good = _good("x")
    period = good.periods[0]
    return [
        ("NO_PERIODS", replace(good, id="no-periods", periods=())),
        ("UNKNOWN_TIMEZONE", replace(good, id="bad-zone", timezone="Mars/Olympus")),
        ("INVALID_SESSION_TIMES", replace(good, id="ends-first", end=good.start - timedelta(seconds=1))),
        # beyond the 15-minute glitch tolerance: refused under every policy
        ("PERIOD_OUTSIDE_SESSION", replace(good, id="outside", periods=(replace(period, start=good.start - timedelta(minutes=16)),))),
        ("PERIOD_OUTSIDE_SESSION", replace(good, id="after-end", periods=(replace(period, start=good.end + timedelta(minutes=1)),))),
        ("NEGATIVE_VOLUME", replace(good, id="negative", periods=(replace(period, time_h=Decimal("-1")),))),
        ("NEGATIVE_MEASUREMENT", replace(good, id="neg-power", periods=(replace(period, max_power=Decimal("-3")),))),
        ("TARIFF_NOT_ACTIVE", replace(good, id="too-late", start=datetime(2020, 1, 1, tzinfo=timezone.utc),
                                      end=datetime(2020, 1, 1, 1, tzinfo=timezone.utc),
                                      periods=(replace(period, start=datetime(2020, 1, 1, tzinfo=timezone.utc)),))),
    ]


def test_bad_sessions_get_codes_and_good_ones_in_the_same_batch_are_priced():
    tariff = example_tariff("tariff_6_025kwh_start_max_price.json")  # end_date_time 2019-06-30
    bad = _bad_sessions()
    batch = [_good("first")] + [session for _, session in bad] + [_good("last")]
    results = price_sessions([tariff], batch)
    assert [r.error_code for r in results] == [None] + [code for code, _ in bad] + [None]
    for result in (results[0], results[-1]):
        assert (result.total_cost.excl_vat, result.total_cost.incl_vat) == (Decimal("5.5000"), Decimal("6.1000"))
    for session, result in zip(batch, results):
        reference = price_session(tariff, session)
        assert reference.error_code == result.error_code
        assert result.error_code is None or result.error  # a sentence, not only a code
    assert results[1].total_cost.excl_vat == Decimal("0.0000")


def test_missing_electricity_rate_is_a_session_error():
    tariff = Tariff("r", "EUR", (TariffElement((PriceComponent("ENERGY", Decimal(0), price_basis="ELECTRICITY_RATE"),)),))
    session = _good("no-rate")
    assert price_sessions([tariff], [session])[0].error_code == "MISSING_ELECTRICITY_RATE"
    assert price_session(tariff, session).error_code == "MISSING_ELECTRICITY_RATE"


def test_unrepresentable_tariff_and_unknown_currency_fail_only_their_sessions():
    good = example_tariff("tariff_9_025kwh_start.json")
    too_precise = Tariff("p", "EUR", (TariffElement((PriceComponent("ENERGY", Decimal("0.1234567890123456")),)),))
    unknown_currency = Tariff("c", "XYZ", (TariffElement((PriceComponent("ENERGY", Decimal("0.25")),)),))
    sessions = [_good("a"), _good("b"), _good("c"), _good("d")]
    results = price_sessions([good, too_precise, unknown_currency], sessions, [0, 1, 2, -1])
    assert [r.error_code for r in results] == [None, "TARIFF_NOT_COMPILABLE", "UNKNOWN_CURRENCY", "UNKNOWN_TARIFF"]
    assert price_session(unknown_currency, sessions[2]).error_code == "UNKNOWN_CURRENCY"
    assert "more than 15 decimals" in results[1].error
    assert "unknown currency" in results[2].error
    assert results[0].total_cost.excl_vat == Decimal("5.5000")


def test_zero_step_size_and_zero_length_periods_do_not_crash():
    tariff = Tariff("z", "EUR", (TariffElement((PriceComponent("TIME", Decimal("2"), step_size=0),)),))
    session = Session("z", T0, T0 + timedelta(hours=1), "UTC", (
        SessionPeriod(T0, time_h=Decimal("0.5")), SessionPeriod(T0 + timedelta(minutes=30)),
        SessionPeriod(T0 + timedelta(minutes=30), time_h=Decimal("0.5"))))
    result = price_sessions([tariff], [session])[0]
    assert result.total_cost.excl_vat == Decimal("2.0000")
    assert result == price_session(tariff, session)
