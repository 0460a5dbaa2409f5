"""The model's extensions and policies, computed by hand: idle-fee grace with increments and a cap,
electricity-rate markups, connection-fee conditions, power levels, the wrap-weekday policy, DST, currency
minor units, rounding modes and stages. Each case is checked on the reference and on the kernels."""

from __future__ import annotations

from datetime import time
from decimal import Decimal as D

import pytest

from tariff_engine.model import PriceComponent as PC
from tariff_engine.model import Tariff, TariffElement, TariffRestrictions
from tariff_engine.money import RoundingPolicy
from tariff_engine.policy import PricingPolicy
from tariff_engine.batch import price_sessions
from tariff_engine.reference import price_session

from .conftest import build_session as s

OCPI = PricingPolicy()
BERLIN = "Europe/Berlin"


def _tariff(*elements, currency="EUR", **kwargs) -> Tariff:
    return Tariff("x", currency, tuple(TariffElement(tuple(c), r) for c, r in elements), **kwargs)


IDLE = _tariff(
    ([PC("PARKING_TIME", D("6.00"), billing_increment=600, max_amount=D("10.00"))], TariffRestrictions(min_idle_duration=1800)),
    ([PC("ENERGY", D("0.30"), step_size=1)], None),
)
RATE = _tariff(([PC("ENERGY", D(0), price_basis="ELECTRICITY_RATE", markup_percent=D("20"), markup_fixed=D("0.05"))], None))
CONNECTION = _tariff(
    ([PC("FLAT", D("1.00"))], TariffRestrictions(session_min_duration=600, session_min_kwh=D("1"))),
    ([PC("ENERGY", D("0.25"))], None),
)
AVERAGE = _tariff(([PC("ENERGY", D("0.50"))], TariffRestrictions(min_avg_power=D("50"))), ([PC("ENERGY", D("0.40"))], None))
PEAK = _tariff(([PC("ENERGY", D("0.30"))], TariffRestrictions(max_peak_power=D("22"))), ([PC("ENERGY", D("0.45"))], None))
FRIDAY_NIGHT = _tariff(
    ([PC("ENERGY", D("0.20"))], TariffRestrictions(start_time=time(22), end_time=time(6), day_of_week=("FRIDAY",))),
    ([PC("ENERGY", D("0.40"))], None),
)
NIGHT_TIME = _tariff(([PC("TIME", D("1.00"))], TariffRestrictions(end_time=time(3))), ([PC("TIME", D("3.00"))], None))
THIRDS = _tariff(([PC("TIME", D("1.00"))], None))


def _policy(**rounding) -> PricingPolicy:
    return PricingPolicy(rounding=RoundingPolicy(**rounding))


CASES = [
    # 20 kWh (6.00) then 30 min grace (free) then 47 min idle -> 5 started 10-minute increments (5.00)
    ("idle_fee_after_grace", IDLE, s("2024-06-03T10:00", BERLIN, [(0, dict(kwh=20, time_min=60)), (60, dict(parking_min=30)),
                                                                  (90, dict(parking_min=47))], 137), OCPI, "11.0000"),
    # 150 min idle would be 15.00: capped at 10.00
    ("idle_fee_capped", IDLE, s("2024-06-03T10:00", BERLIN, [(0, dict(kwh=20, time_min=60)), (60, dict(parking_min=30)),
                                                             (90, dict(parking_min=150))], 240), OCPI, "16.0000"),
    # 10 kWh at 0.10*1.2+0.05 = 0.17 -> 1.70; 5 kWh at 0.123457*1.2 = 0.1481484 -> 0.148148 + 0.05 -> 0.99074
    ("electricity_rate_markup", RATE, s("2024-06-03T10:00", BERLIN, [(0, dict(kwh=10, time_min=30, rate="0.10")),
                                                                     (30, dict(kwh=5, time_min=30, rate="0.123457"))], 60), OCPI, "2.6907"),
    ("connection_fee_not_due", CONNECTION, s("2024-06-03T10:00", BERLIN, [(0, dict(kwh=2, time_min=5))], 5), OCPI, "0.5000"),
    ("connection_fee_due", CONNECTION, s("2024-06-03T10:00", BERLIN, [(0, dict(kwh=2, time_min=15))], 15), OCPI, "1.5000"),
    ("average_power_high", AVERAGE, s("2024-06-03T10:00", BERLIN, [(0, dict(kwh=30, time_min=30))], 30), OCPI, "15.0000"),
    ("average_power_low", AVERAGE, s("2024-06-03T10:00", BERLIN, [(0, dict(kwh=30, time_min=60))], 60), OCPI, "12.0000"),
    ("peak_power_low", PEAK, s("2024-06-03T10:00", BERLIN, [(0, dict(kwh=10, time_min=60, max_power=11))], 60), OCPI, "3.0000"),
    ("peak_power_high", PEAK, s("2024-06-03T10:00", BERLIN, [(0, dict(kwh=5, time_min=30, max_power=11)),
                                                             (30, dict(kwh=5, time_min=30, max_power=22))], 60), OCPI, "4.5000"),
    # Saturday 02:00 inside a Friday 22:00-06:00 window
    ("wrap_instant", FRIDAY_NIGHT, s("2024-06-08T02:00", BERLIN, [(0, dict(kwh=10, time_min=60))], 60), OCPI, "4.0000"),
    ("wrap_window_start", FRIDAY_NIGHT, s("2024-06-08T02:00", BERLIN, [(0, dict(kwh=10, time_min=60))], 60),
     PricingPolicy(wrap_weekday="WINDOW_START"), "2.0000"),
    # spring forward: 01:30 CET + 30 min -> 03:00 CEST; elapsed 1 h: 0.5 h before 03:00 at 1.00, 0.5 h after at 3.00
    ("dst_spring_forward", NIGHT_TIME, s("2024-03-31T01:30", BERLIN, [(0, dict(time_min=30)), (30, dict(time_min=30))], 60), OCPI, "2.0000"),
    # fall back: 02:30 CEST, then 02:00 CET (the wall clock repeats): both periods start before 03:00 -> 1.5 h at 1.00
    ("dst_fall_back", NIGHT_TIME, s("2024-10-27T02:30", BERLIN, [(0, dict(time_min=30)), (30, dict(time_min=60))], 90), OCPI, "1.5000"),
    ("jpy_half_up", _tariff(([PC("ENERGY", D("55.05"))], None), currency="JPY"),
     s("2024-06-03T10:00", "Asia/Tokyo", [(0, dict(kwh=10, time_min=60))], 60), _policy(decimals=None), "551"),
    ("jpy_half_even", _tariff(([PC("ENERGY", D("55.05"))], None), currency="JPY"),
     s("2024-06-03T10:00", "Asia/Tokyo", [(0, dict(kwh=10, time_min=60))], 60), _policy(mode="HALF_EVEN", decimals=None), "550"),
    ("bhd_three_decimals", _tariff(([PC("ENERGY", D("0.12345"))], None), currency="BHD"),
     s("2024-06-03T10:00", "Asia/Bahrain", [(0, dict(kwh=10, time_min=60))], 60), _policy(decimals=None), "1.235"),
    ("bhd_down", _tariff(([PC("ENERGY", D("0.12345"))], None), currency="BHD"),
     s("2024-06-03T10:00", "Asia/Bahrain", [(0, dict(kwh=10, time_min=60))], 60), _policy(mode="DOWN", decimals=None), "1.234"),
    ("stage_total", THIRDS, s("2024-06-03T10:00", BERLIN, [(0, dict(time_min=20)), (20, dict(time_min=20)), (40, dict(time_min=20))], 60),
     _policy(decimals=2), "1.00"),
    ("stage_line", THIRDS, s("2024-06-03T10:00", BERLIN, [(0, dict(time_min=20)), (20, dict(time_min=20)), (40, dict(time_min=20))], 60),
     _policy(decimals=2, stage="LINE"), "0.99"),
]


@pytest.mark.parametrize("case_id,tariff,session,policy,expected", CASES, ids=[c[0] for c in CASES])
def test_extension_priced_by_hand(case_id, tariff, session, policy, expected):
    reference = price_session(tariff, session, policy)
    kernel = price_sessions([tariff], [session], policy=policy)[0]
    assert reference.error_code is None, reference.error
    assert str(reference.total_cost.excl_vat) == expected
    assert kernel == reference


def test_idle_fee_breakdown_shows_increment_and_cap():
    rows = price_sessions([IDLE], [CASES[1][2]])[0].breakdown
    parking = [r for r in rows if r.dimension == "PARKING_TIME"]
    assert len(parking) == 1 and parking[0].period_index == 2
    assert parking[0].raw_volume == D("2.5") and parking[0].billed_volume == D("2.5")
    assert parking[0].excl_vat == D("10")  # 15.00 capped by max_amount


def test_the_step_goes_to_the_last_period_still_billing_after_the_increments():
    """A period's negative energy (a feed-in) rounded up by its billing increment to nothing bills nothing, so the
    step_size remainder goes to the last period still billing energy (found by the property test: the kernel gave
    it to the emptied period, with the same total but another breakdown)."""
    tariff = _tariff(([PC("ENERGY", D("2.80"), step_size=900, billing_increment=300)], None))
    session = s("2024-06-03T10:00", BERLIN, [(0, dict(kwh=0.0622, time_min=10)), (10, dict(time_min=10)),
                                            (20, dict(kwh=-0.0681, time_min=10))], 30)
    # 62.2 Wh -> 300 Wh (increment); -68.1 Wh -> 0 Wh; total 300 Wh -> 900 Wh (step), all on the first period.
    reference = price_session(tariff, session, OCPI)
    kernel = price_sessions([tariff], [session], policy=OCPI)[0]
    assert reference.error_code is None, reference.error
    assert str(reference.total_cost.excl_vat) == "2.5200"
    energy = [r for r in reference.breakdown if r.dimension == "ENERGY"]
    assert [(r.period_index, r.raw_volume, r.billed_volume) for r in energy] == [(0, D("0.0622"), D("0.9"))]
    assert energy[0].step_volume == D("0.8378") and energy[0].excl_vat == D("2.52")
    assert kernel == reference
