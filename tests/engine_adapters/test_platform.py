"""Platform (seed 001) tariff types priced through the Decimal reference, each computed by hand.

All seed tariffs are read with 20 % VAT, prices gross (tax included), in Europe/Berlin.
"""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from tariff_engine.adapters.platform import PlatformTariffError, tariff_from_platform
from tariff_engine.consumption.electricity import parse_electricity_rate
from tariff_engine.reference import price_session

from .conftest import Span, build_session, price, seed_tariff

BERLIN = "Europe/Berlin"


def platform(tariff_id: int, **options) -> object:
    return tariff_from_platform(seed_tariff(tariff_id), tax_percentage=20, timezone_name=BERLIN, **options)


def test_flat_rate_charges_the_session_price_once():
    # 5.00 gross per session; net 5 / 1.2 = 4.16666… -> 4.1667
    result = price(platform(101), build_session("2024-10-02T10:00", BERLIN, [Span(30, "7"), Span(30, "8")]))
    assert result.total_cost.incl_vat == Decimal("5.0000")
    assert result.total_cost.excl_vat == Decimal("4.1667")
    assert result.total_fixed_cost.incl_vat == Decimal("5.0000")


def test_duration_energy_with_idle_grace_and_block_billing():
    # 60 min charging 10 kWh, then 15 min idle (grace) and 15.5 min idle (charged, 1-min blocks):
    # connection 1.00 (90.5 min >= 2 min, 10 kWh >= 0.5) + energy 10 x 0.45 = 4.50
    # + duration 60 x 0.02 = 1.20 + idle ceil(15.5) = 16 min x 0.20 = 3.20  => 9.90 gross
    # net: 1/1.2 + 4.5/1.2 + 1.2/1.2 + 3.2/1.2 = 0.833333333 + 3.75 + 1 + 2.666666667 = 8.25
    session = build_session("2024-10-02T10:00", BERLIN, [Span(60, "10"), Span(15, idle=True), Span(15.5, idle=True)])
    result = price(platform(102), session)
    assert result.total_fixed_cost.incl_vat == Decimal("1.0000")
    assert result.total_energy_cost.incl_vat == Decimal("4.5000")
    assert result.total_time_cost.incl_vat == Decimal("1.2000")
    assert result.total_parking_cost.incl_vat == Decimal("3.2000")
    assert result.total_cost.incl_vat == Decimal("9.9000")
    assert result.total_cost.excl_vat == Decimal("8.2500")


def test_duration_energy_idle_fee_only_inside_its_window():
    # Idle fee window 08:00-22:00: idle from 21:45 to 22:30, grace ends 22:00 -> nothing charged.
    # connection 1.00 + energy 2 x 0.45 = 0.90 + duration 45 x 0.02 = 0.90 => 2.80
    session = build_session("2024-10-02T21:00", BERLIN, [Span(45, "2"), Span(15, idle=True), Span(30, idle=True)])
    result = price(platform(102), session)
    assert result.total_parking_cost.incl_vat == Decimal("0.0000")
    assert result.total_cost.incl_vat == Decimal("2.8000")


def test_duration_energy_duration_limit_caps_the_duration_fee():
    # 400 min charging, 20 kWh: duration 400 x 0.02 = 8.00 capped at 6.00; 1.00 + 9.00 + 6.00 = 16.00
    result = price(platform(102), build_session("2024-10-02T08:00", BERLIN, [Span(400, "20")]))
    assert result.total_time_cost.incl_vat == Decimal("6.0000")
    assert result.total_cost.incl_vat == Decimal("16.0000")


def test_duration_energy_minimum_price_raises_both_totals():
    # 1 min, 0.1 kWh: no connection fee (1 min < 2 min); 0.045 + 0.02 = 0.065 < minPrice 1.50 gross
    # -> total 1.50 gross, 1.50 / 1.2 = 1.25 net
    result = price(platform(102), build_session("2024-10-02T10:00", BERLIN, [Span(1, "0.1")]))
    assert result.total_fixed_cost.incl_vat == Decimal("0.0000")
    assert result.min_price_applied
    assert result.total_cost.incl_vat == Decimal("1.5000")
    assert result.total_cost.excl_vat == Decimal("1.2500")


def test_tariff_validity_dates_follow_the_local_zone():
    # restrictions.startDate 2024-10-01 (local): a session on 30 Sep 23:30 Berlin is before it.
    result = price_session(platform(102), build_session("2024-09-30T23:30", BERLIN, [Span(20, "1")]))
    assert result.error_code == "TARIFF_NOT_ACTIVE"


def test_day_night_with_session_start_idle_grace():
    # Day 07:00-22:00. 20 min charging 5 kWh, idle 10 min, idle 30 min.
    # connection 0.50 + energy 5 x 0.49 = 2.45 + duration 20 min -> 2 blocks of 15 min x 0.30 = 0.60
    # + idle after 30 min from session start: 30 min x 0.25 = 7.50  => 11.05
    session = build_session("2024-10-02T10:00", BERLIN, [Span(20, "5"), Span(10, idle=True), Span(30, idle=True)])
    result = price(platform(103), session)
    assert result.total_time_cost.incl_vat == Decimal("0.6000")
    assert result.total_parking_cost.incl_vat == Decimal("7.5000")
    assert result.total_cost.incl_vat == Decimal("11.0500")


def test_day_night_switch_at_night_start():
    # 21:30-22:00 day 3 kWh, 22:00-22:40 night 4 kWh, idle 20 min at night (idle fee 0.00 replaces duration):
    # 0.50 + 3 x 0.49 = 1.47 + 4 x 0.32 = 1.28 + day duration 2 blocks x 0.30 = 0.60 + 0  => 3.85
    session = build_session("2024-10-02T21:30", BERLIN, [Span(30, "3"), Span(40, "4"), Span(20, idle=True)])
    result = price(platform(103), session)
    assert result.total_energy_cost.incl_vat == Decimal("2.7500")
    assert result.total_cost.incl_vat == Decimal("3.8500")


def energy_tou_unlocked() -> dict:
    document = copy.deepcopy(seed_tariff(104))
    document["pricing"]["lockPriceOnSessionStart"] = False
    return document


def test_energy_tou_marks_up_the_electricity_rate():
    # 16:00-17:00 10 kWh at rate 0.20: 0.20 x 1.15 + 0.08 = 0.31 -> 3.10
    # 17:00-18:00 10 kWh at rate 0.30 (flexible slot 17-21): 0.30 x 1.15 + 0.15 = 0.495 -> 4.95
    # idle 20 min grace, then 10 min x 0.10 = 1.00  => 9.05
    tariff = tariff_from_platform(energy_tou_unlocked(), tax_percentage=20)
    session = build_session("2024-10-02T16:00", BERLIN, [
        Span(60, "10", rate="0.20"), Span(60, "10", rate="0.30"),
        Span(20, idle=True, rate="0.30"), Span(10, idle=True, rate="0.30")])
    result = price(tariff, session)
    assert result.total_energy_cost.incl_vat == Decimal("8.0500")
    assert result.total_parking_cost.incl_vat == Decimal("1.0000")
    assert result.total_cost.incl_vat == Decimal("9.0500")


def test_standard_tiers_energy_duration_and_idle():
    # 6 kW for 120 min (12 kWh; periods cut at 5 and 10 kWh), then 40 min idle.
    # flat 2.00 (first kWh level) + energy 0-5 free, 5 x 0.35 = 1.75, 2 x 0.40 = 0.80
    # + duration 120 min = 8 units x 0.50 = 4.00 + idle 40 min -> 3 units x 0.30 = 0.90  => 9.45
    session = build_session("2024-10-02T10:00", BERLIN, [
        Span(50, "5"), Span(50, "5"), Span(20, "2"), Span(40, idle=True)])
    result = price(platform(105), session)
    assert result.total_fixed_cost.incl_vat == Decimal("2.0000")
    assert result.total_energy_cost.incl_vat == Decimal("2.5500")
    assert result.total_time_cost.incl_vat == Decimal("4.0000")
    assert result.total_parking_cost.incl_vat == Decimal("0.9000")
    assert result.total_cost.incl_vat == Decimal("9.4500")


def test_standard_duration_levels_and_their_flat_fees_add_up():
    # 400 min (periods cut at unit 9 = 135 min and unit 25 = 375 min), 4 kWh (first kWh level, fee 0):
    # flats 2.00 (kWh level 1) + 10.00 (duration level 3 reached) = 12.00
    # duration units 0-8: 9 x 0.50 = 4.50, units 9-24: 16 x 0.55 = 8.80, units 25+: 0  => 25.30
    session = build_session("2024-10-02T08:00", BERLIN, [Span(135, "1"), Span(240, "2"), Span(25, "1")])
    result = price(platform(105), session)
    assert result.total_fixed_cost.incl_vat == Decimal("12.0000")
    assert result.total_time_cost.incl_vat == Decimal("13.3000")
    assert result.total_cost.incl_vat == Decimal("25.3000")


def test_standard_tod_special_date_overrides_the_slot_fees():
    # 25 Dec (holiday): connection 0, energy 10 x 0.39 = 3.90, duration 0  => 3.90
    result = price(platform(106), build_session("2024-12-25T10:00", BERLIN, [Span(60, "10")]))
    assert result.total_fixed_cost.incl_vat == Decimal("0.0000")
    assert result.total_cost.incl_vat == Decimal("3.9000")


def test_standard_tod_regular_day_with_idle_blocks():
    # 27 Dec 10:00 (07-22 slot): connection 0.50 + 10 x 0.49 = 4.90 + 60 min x 0.30/15 min = 1.20
    # idle 10 min grace, then 10 min billed as one 15-min idle block x 2.25/min = 33.75  => 40.35
    session = build_session("2024-12-27T10:00", BERLIN, [Span(60, "10"), Span(10, idle=True), Span(10, idle=True)])
    result = price(platform(106), session)
    assert result.total_parking_cost.incl_vat == Decimal("33.7500")
    assert result.total_cost.incl_vat == Decimal("40.3500")


@pytest.mark.parametrize(("kwh", "expected"), [
    ("15", "5.4000"),   # average 15 kW <= 22: 60 min x 0.09
    ("11", "3.0000"),   # average exactly 11 kW: "up to 11" includes it: 60 x 0.05
    ("60", "12.0000"),  # above the top level: the top level's 0.20 x 60
])
def test_average_power_levels(kwh, expected):
    result = price(platform(108), build_session("2024-10-02T10:00", BERLIN, [Span(60, kwh)]))
    assert result.total_time_cost.incl_vat == Decimal(expected)


def test_peak_power_levels_regular_then_excess():
    # peak 120 kW -> level <= 150: 30 min x 0.49 = 14.70 regular, 15 min x 0.80 = 12.00 excess => 26.70
    session = build_session("2024-10-02T10:00", BERLIN, [Span(30, "60", max_power="120"), Span(15, "25", max_power="110")])
    result = price(platform(107), session)
    assert result.total_cost.incl_vat == Decimal("26.7000")


def test_peak_power_exactly_at_level_bound_uses_that_level():
    # peak exactly 50 kW -> level <= 50: 20 min x 0.29 = 5.80
    session = build_session("2024-10-02T10:00", BERLIN, [Span(20, "15", max_power="50")])
    assert price(platform(107), session).total_cost.incl_vat == Decimal("5.8000")


def test_optimised_dynamic_pricing_follows_cheap_rate_slots():
    # rate 0.12 from 00:00 to 06:00 (<= threshold 0.18: optimised 0.35), else 0.25 (boosted 0.55)
    # 05:00-06:00 10 kWh x 0.35 = 3.50, 06:00-07:00 10 kWh x 0.55 = 5.50  => 9.00
    rate = parse_electricity_rate({"id": 12, "defaultPrice": 0.25, "taxPercentage": 20},
                                  [{"weekDay": "any", "periods": [{"startsAt": "00:00", "endsAt": "06:00", "price": 0.12}]}])
    session = build_session("2024-10-02T05:00", BERLIN, [Span(60, "10"), Span(60, "10")])
    assert price(platform(109, electricity_rate=rate), session).total_cost.incl_vat == Decimal("9.0000")


def test_free_tariff_is_an_explicit_zero():
    result = price(platform(110), build_session("2024-10-02T10:00", BERLIN, [Span(60, "10")]))
    assert result.total_cost.incl_vat == Decimal("0.0000")
    assert [row.dimension for row in result.breakdown] == ["FLAT"]


def test_prices_without_tax_add_vat_on_top():
    # flat 5.00 net with 20 % -> 6.00 gross
    tariff = tariff_from_platform(seed_tariff(101), tax_percentage=20, prices_include_tax=False)
    result = price(tariff, build_session("2024-10-02T10:00", BERLIN, [Span(10, "1")]))
    assert (result.total_cost.excl_vat, result.total_cost.incl_vat) == (Decimal("5.0000"), Decimal("6.0000"))


def test_block_restart_is_opt_in_for_duration_fees_running_through_idle():
    document = copy.deepcopy(seed_tariff(102))
    for key in ("idleFeePerMinute", "durationFeeLimit"):
        document["pricing"][key] = None
    with pytest.raises(PlatformTariffError) as error:
        tariff_from_platform(document, timezone_name=BERLIN)
    assert error.value.path == "$.pricing.pricePerPeriod"
    # Opted in: 30.5 min charging -> 31 blocks, 10 min idle -> 10 blocks, x 0.02 = 0.82;
    # + connection 1.00 + energy 1 x 0.45  => 2.27
    tariff = tariff_from_platform(document, timezone_name=BERLIN, split_blocks_at_idle=True)
    session = build_session("2024-10-02T10:00", BERLIN, [Span(30.5, "1"), Span(10, idle=True)])
    assert price(tariff, session).total_cost.incl_vat == Decimal("2.2700")


def broken(tariff_id: int, **changes) -> dict:
    document = copy.deepcopy(seed_tariff(tariff_id))
    for key, value in changes.items():
        document["pricing"][key] = value
    return document


@pytest.mark.parametrize(("document", "options", "path"), [
    (seed_tariff(111), {}, "$.type"),
    (seed_tariff(104), {}, "$.pricing.lockPriceOnSessionStart"),
    (broken(101, pricePerKwh=0.3), {}, "$.pricing.pricePerKwh"),
    (broken(101, surcharge=1), {}, "$.pricing.surcharge"),
    (broken(106, timePeriods=[{"startTime": "00:00", "endTime": "07:00"}, {"startTime": "08:00", "endTime": "00:00"},
                              {"startTime": "07:00", "endTime": "07:30"}]), {"timezone_name": BERLIN}, "$.pricing.timePeriods"),
    (broken(105, multiIdleFee=[{"firstUnit": 0, "lastUnit": None, "feePerUnit": 0.1, "flatFee": 1}]), {},
     "$.pricing.multiIdleFee[0].flatFee"),
    (seed_tariff(109), {}, "$.pricing.thresholdPriceForEnergy"),
    (seed_tariff(102), {}, "$.restrictions.startDate"),
    (broken(102, pricePeriodInMinutes=7), {"timezone_name": BERLIN}, "$.pricing.pricePeriodInMinutes"),
    (broken(105, multiPricePerKwh=[{"firstKwh": 0, "lastKwh": 5, "feePerKwh": 0.3}, {"firstKwh": 6, "lastKwh": None}]),
     {}, "$.pricing.multiPricePerKwh[1].firstKwh"),
])
def test_unpriceable_tariffs_are_refused_naming_the_field(document, options, path):
    with pytest.raises(PlatformTariffError) as error:
        tariff_from_platform(document, **options)
    assert error.value.path == path
    assert str(error.value).startswith(path)


@pytest.mark.parametrize(("minutes", "kwh", "expected"), [
    (3, "6", "2.0000"),    # 6 kWh reaches the second level's flat 2.00; 3 min < 5 min: no connection fee
    (10, "2", "1.0000"),   # connection fee only (>= 5 min and >= 1 kWh)
    (10, "6", "3.0000"),   # both
    (3, "0.5", "0.0000"),  # neither
])
def test_connection_fee_conditions_combine_with_level_flat_fees(minutes, kwh, expected):
    document = {"id": 7, "type": "standard", "currency": "EUR", "pricing": {
        "connectionFee": 1.0, "connectionFeeMinimumSessionDuration": 5, "connectionFeeMinimumSessionEnergy": 1,
        "multiPricePerKwh": [{"firstKwh": 0, "lastKwh": 5, "feePerKwh": 0, "flatFee": 0},
                             {"firstKwh": 5, "lastKwh": None, "feePerKwh": 0, "flatFee": 2.0}]}}
    result = price(tariff_from_platform(document), build_session("2024-10-02T10:00", BERLIN, [Span(minutes, kwh)]))
    assert result.total_fixed_cost.incl_vat == Decimal(expected)


def test_duration_fee_window_and_grace_period():
    # Duration fee 0.50 per started 15 min, only 08:00-18:00 and after 10 min from the session start:
    # 17:00-17:10 grace (1 kWh), 17:10-18:00 50 min -> 4 blocks = 2.00, 18:00-18:30 outside the window;
    # energy 9 x 0.30 = 2.70  => 4.70
    document = {"id": 8, "type": "duration+energy", "currency": "EUR", "pricing": {
        "pricePerKwh": 0.3, "pricePeriodInMinutes": 15, "pricePerPeriod": 0.5, "durationFeeFrom": "08:00",
        "durationFeeTo": "18:00", "durationFeeGracePeriod": 10, "idleFeePerMinute": 0.0}}
    session = build_session("2024-10-02T17:00", BERLIN, [Span(10, "1"), Span(50, "5"), Span(30, "3")])
    result = price(tariff_from_platform(document), session)
    assert result.total_time_cost.incl_vat == Decimal("2.0000")
    assert result.total_cost.incl_vat == Decimal("4.7000")
