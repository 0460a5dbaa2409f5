"""Property tests: the numba kernels equal the Decimal reference to the last decimal on random tariffs and
sessions (DST change days, windows wrapping midnight, every restriction, caps, taxes, policies)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariff_engine.model import (
    WEEKDAYS, PriceComponent, PriceLimit, Session, SessionPeriod, Tariff, TariffElement, TariffRestrictions, TaxRate,
)
from tariff_engine.money import RoundingPolicy
from tariff_engine.policy import PricingPolicy
from tariff_engine.batch import price_sessions
from tariff_engine.reference import price_session
from tariff_engine.spec import THRESHOLDS, ThresholdSpec

ZONES = ["Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe"]
# DST change days (EU, US, Lord Howe's 30-minute shift) and ordinary days.
DAYS = [date(2024, 3, 31), date(2024, 10, 27), date(2024, 3, 10), date(2024, 11, 3), date(2024, 4, 7),
        date(2024, 10, 6), date(2024, 6, 14), date(2024, 12, 31)]


def decimals(max_value: int, places: int) -> st.SearchStrategy[Decimal]:
    return st.integers(0, max_value * 10**places).map(lambda v: Decimal(v).scaleb(-places))


def signed(strategy):
    """Mostly positive, sometimes negated (credits: V2G feed-in, negative-price hours)."""
    return st.tuples(strategy, st.integers(0, 5)).map(lambda pair: -pair[0] if pair[1] == 0 else pair[0])


def prices():
    """Prices with up to 6 decimals, sometimes up to 12 (beyond the old micro limit), sometimes negative."""
    return st.integers(0, 9).flatmap(lambda n: signed(decimals(12, 6 if n < 7 else 12) if n >= 5 else decimals(12, n)))


def optional(strategy, p_none: float = 0.75):
    return st.one_of(st.none(), strategy) if p_none else strategy


hhmm = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@st.composite
def restrictions(draw):
    if draw(st.booleans()):
        return None
    if draw(st.integers(0, 3)) == 0:  # a bare reservation element, so reservation pricing is exercised often
        return TariffRestrictions(reservation=draw(st.sampled_from(["RESERVATION", "RESERVATION_EXPIRES"])))
    start_date = draw(optional(st.sampled_from(DAYS)))
    thresholds = {spec.name: draw(optional(threshold_values(spec), 0.75 if spec.cuts_periods or spec.quantity in
                                                      ("min_current", "max_current", "min_power", "max_power") else 0.85))
                  for spec in THRESHOLDS}
    return TariffRestrictions(
        start_time=draw(optional(hhmm, 0.5)),
        end_time=draw(optional(hhmm, 0.5)),
        start_date=start_date,
        end_date=draw(optional(st.sampled_from(DAYS))),
        day_of_week=draw(optional(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True).map(tuple))),
        reservation=draw(optional(st.sampled_from(["RESERVATION", "RESERVATION_EXPIRES"]), 0.6)),
        **thresholds,
    )


def threshold_values(spec: ThresholdSpec):
    """Values of a threshold restriction, from its spec row: in its unit, around what sessions here reach."""
    if spec.kind == "SECONDS":
        return st.integers(0, {"since_start": 14400, "idle": 7200, "session_duration": 7200}[spec.quantity])
    return {"kWh": decimals(60, 2), "A": decimals(64, 1), "kW": decimals(50, 1)}[spec.unit]


@st.composite
def components(draw):
    kind = draw(st.sampled_from(["ENERGY", "TIME", "PARKING_TIME", "FLAT", "RESERVATION", "ENERGY", "TIME", "PARKING_TIME"]))
    rate_linked = kind == "ENERGY" and draw(st.integers(0, 4)) == 0
    return PriceComponent(
        type=kind,
        price=draw(prices()),
        vat=draw(optional(decimals(25, draw(st.integers(0, 3))), 0.3)),
        step_size=draw(st.sampled_from([0, 1, 1, 60, 100, 300, 500, 900, 1800])),
        billing_increment=draw(st.sampled_from([0, 0, 0, 60, 300, 1000])),
        max_amount=draw(optional(decimals(20, 2), 0.8)),
        price_basis="ELECTRICITY_RATE" if rate_linked else "FIXED",
        markup_fixed=draw(signed(decimals(1, draw(st.sampled_from([4, 4, 8]))))) if rate_linked else Decimal(0),
        markup_percent=draw(decimals(50, 3)) if rate_linked else Decimal(0),
    )


@st.composite
def tariffs(draw):
    elements = tuple(
        TariffElement(tuple(draw(st.lists(components(), min_size=1, max_size=3))), draw(restrictions()))
        for _ in range(draw(st.integers(1, 5)))
    )
    def limit():
        return draw(optional(st.builds(PriceLimit, decimals(30, 2), optional(decimals(35, 2), 0.4)), 0.7))
    return Tariff(
        id="t", currency=draw(st.sampled_from(["EUR", "JPY", "BHD", "CAD"])), elements=elements,
        tax_included=draw(st.sampled_from([None, "NO", "YES", "N/A"])),
        min_price=limit(), max_price=limit(),
        taxes=tuple(draw(st.lists(st.builds(TaxRate, st.sampled_from(["GST", "QST", "VAT"]), decimals(15, 3)), max_size=2))),
    )


@st.composite
def sessions(draw, index: int = 0):
    zone = draw(st.sampled_from(ZONES))
    day = draw(st.sampled_from(DAYS))
    from zoneinfo import ZoneInfo
    local = datetime.combine(day, time(0)) + timedelta(seconds=draw(st.integers(0, 86399)))
    start = local.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
    start += timedelta(microseconds=draw(st.integers(0, 999_999)))
    periods = []
    cursor = start
    reservation_first = draw(st.integers(0, 2)) == 0
    for index in range(draw(st.sampled_from([1, 2, 3, 4, 5, 6, 8, 0]))):
        kind = "reservation" if reservation_first and index == 0 else draw(st.sampled_from(["charge", "charge", "park", "mixed"]))
        length_s = draw(st.integers(0, 5400))
        hours = Decimal(length_s) / 3600
        energy = draw(signed(decimals(25, 4))) if kind in ("charge", "mixed") else Decimal(0)
        periods.append(SessionPeriod(
            start=cursor,
            energy_kwh=energy,
            time_h=hours if kind in ("charge", "mixed") else Decimal(0),
            parking_h=hours if kind == "park" else (Decimal(draw(st.integers(0, 600))) / 3600 if kind == "mixed" else Decimal(0)),
            reservation_h=(hours + Decimal(1) / 3600 if kind == "reservation"
                           else Decimal(draw(st.integers(0, 900))) / 3600 if kind == "mixed" else Decimal(0)),
            min_current=draw(optional(decimals(64, 2), 0.5)),
            max_current=draw(optional(decimals(64, 2), 0.5)),
            min_power=draw(optional(decimals(50, 3), 0.5)),
            max_power=draw(optional(decimals(50, 3), 0.5)),
            electricity_rate=draw(optional(signed(decimals(1, 6)), 0.03)),
        ))
        cursor += timedelta(seconds=length_s, milliseconds=draw(st.integers(0, 999)))
    end = cursor + timedelta(seconds=draw(st.integers(0, 600)))
    glitch = draw(st.integers(0, 9))
    if glitch == 0 and periods:  # the first period starts before the session (within or beyond the tolerance)
        periods[0] = replace(periods[0], start=start - timedelta(seconds=draw(st.integers(1, 1200))))
    elif glitch == 1 and len(periods) > 1:  # periods out of order
        periods = draw(st.permutations(periods))
    elif glitch == 2 and periods:  # reservation time together with charging: both halves priced
        periods[-1] = replace(periods[-1], reservation_h=Decimal(1) / 60)
    return Session(f"s{index}", start, end, zone, tuple(periods),
                   reservation_expired=draw(st.sampled_from([None, None, True, False])))


def _same(kernel, reference) -> bool:
    """Equal results; error messages may differ in wording (the codes must not)."""
    return replace(kernel, error=None) == replace(reference, error=None)


policies = st.builds(
    PricingPolicy,
    rounding=st.builds(RoundingPolicy, st.sampled_from(["HALF_UP", "HALF_EVEN", "UP", "DOWN"]),
                       st.sampled_from(["TOTAL", "LINE"]), st.sampled_from([None, 2, 4])),
    apply_step_size=st.booleans(),
    wrap_weekday=st.sampled_from(["INSTANT", "WINDOW_START"]),
    glitches=st.sampled_from(["WARN", "WARN", "STRICT"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tariff=tariffs(), batch=st.lists(sessions(), min_size=1, max_size=6), policy=policies)
def test_kernel_equals_reference(tariff, batch, policy):
    kernel = price_sessions([tariff], batch, policy=policy)
    for session, result in zip(batch, kernel):
        assert _same(result, price_session(tariff, session, policy))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(st.tuples(tariffs(), sessions()), min_size=2, max_size=8), policy=policies)
def test_mixed_tariff_batch_equals_reference(batch, policy):
    """Many tariffs in one kernel call: each session is priced under its own tariff."""
    tariffs_ = [t for t, _ in batch]
    results = price_sessions(tariffs_, [s for _, s in batch], list(range(len(batch))), policy)
    for (tariff, session), result in zip(batch, results):
        assert _same(result, price_session(tariff, session, policy))
