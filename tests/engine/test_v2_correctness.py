"""Issue 11 correctness items, each hand-computed, each priced by the kernels AND the Decimal reference:
reservation time sharing a period with charging, min/max bounds given only excl. VAT, the glitch policy,
prices beyond 6 decimals, negative prices and volumes (V2G), and quotes of duration fees without idle fee."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import polars as pl
import pytest

from tariff_engine.model import PriceComponent, PriceLimit, Session, SessionPeriod, Tariff, TariffElement, TariffRestrictions
from tariff_engine.policy import DEFAULT_POLICY, STRICT_POLICY
from tariff_engine.batch import price_sessions
from tariff_engine.cdr_json import price_cdrs
from tariff_engine.frames import price_frame
from tariff_engine.quotes import QuoteTariff, quote
from tariff_engine.adapters.platform import tariff_from_platform
from tariff_engine.reference import price_session

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=timezone.utc)  # a Tuesday


def both(tariff: Tariff, session: Session, policy=DEFAULT_POLICY):
    """The kernel result, after checking it equals the reference's (error wording aside)."""
    kernel = price_sessions([tariff], [session], policy=policy)[0]
    reference = price_session(tariff, session, policy)
    assert kernel.error_code == reference.error_code
    if kernel.error_code is None:
        assert kernel == reference
    return kernel


def period(minutes: float, **volumes) -> SessionPeriod:
    return SessionPeriod(start=T0 + timedelta(minutes=minutes), **volumes)


def session(*periods: SessionPeriod, minutes: float = 60) -> Session:
    return Session("s", T0, T0 + timedelta(minutes=minutes), "Europe/Amsterdam", periods)


def energy_tariff(price: str, vat: str | None = None, **limits) -> Tariff:
    return Tariff("e", "EUR", (TariffElement((PriceComponent("ENERGY", Decimal(price), vat=None if vat is None else Decimal(vat)),)),),
                  **limits)


# ---- reservation time together with charging ----------------------------------------------------------------


def test_reservation_time_in_a_charging_period_is_priced_not_dropped():
    # TIME 2.00/h for 30 min and RESERVATION_TIME 4.00/h for 30 min in ONE period: before, only the 1.00 of
    # charging time was billed and the 2.00 of reservation silently dropped; then it was refused. Each half is
    # priced by its own elements: 0.5 h x 4.00 = 2.00 reservation + 0.5 h x 2.00 = 1.00 time = 3.00.
    tariff = Tariff("r", "EUR", (
        TariffElement((PriceComponent("TIME", Decimal("4.00")),), TariffRestrictions(reservation="RESERVATION")),
        TariffElement((PriceComponent("TIME", Decimal("2.00")),)),
    ))
    mixed = both(tariff, session(period(0, time_h=Decimal("0.5"), reservation_h=Decimal("0.5"))))
    assert mixed.error_code is None
    assert (mixed.total_reservation_cost.excl_vat, mixed.total_time_cost.excl_vat) == (Decimal("2.0000"), Decimal("1.0000"))
    assert mixed.total_cost.excl_vat == Decimal("3.0000")
    # the same volumes split into a reservation period and a charging period cost the same
    split = both(tariff, session(period(0, reservation_h=Decimal("0.5")), period(30, time_h=Decimal("0.5"))))
    assert split.total_cost == mixed.total_cost
    # the breakdown names both lines, the reservation one marked as such
    rows = price_sessions([tariff], [session(period(0, time_h=Decimal("0.5"), reservation_h=Decimal("0.5")))], breakdown=True)[0].breakdown
    assert [(r.dimension, r.element_index, r.billed_volume, r.excl_vat, r.reservation) for r in rows] == [
        ("TIME", 1, Decimal("0.5"), Decimal("1.000000000"), False),
        ("RESERVATION_TIME", 0, Decimal("0.5"), Decimal("2.000000000"), True),
    ]


def test_mixed_reservation_period_charges_both_flat_fees_and_energy():
    # reservation element: FLAT 1.50 + RESERVATION 3.00/h (15-min steps); charging element: FLAT 0.50,
    # ENERGY 0.30/kWh. One period: 10 kWh, 20 min charging, 10 min reservation (rounded up to 15 min).
    # session FLAT 0.50 + energy 3.00 + reservation FLAT 1.50 + 0.25 h x 3.00 = 0.75 -> 5.75 excl;
    # nothing priced for TIME (no TIME component) -> time cost 0.
    tariff = Tariff("m", "EUR", (
        TariffElement((PriceComponent("FLAT", Decimal("1.50")), PriceComponent("RESERVATION", Decimal("3.00"), step_size=900)),
                      TariffRestrictions(reservation="RESERVATION")),
        TariffElement((PriceComponent("FLAT", Decimal("0.50")), PriceComponent("ENERGY", Decimal("0.30")))),
    ))
    volumes = dict(energy_kwh=Decimal(10), time_h=Decimal(1) / 3, reservation_h=Decimal(1) / 6)
    result = both(tariff, session(period(0, **volumes), minutes=30))
    assert result.total_fixed_cost.excl_vat == Decimal("0.5000")
    assert result.total_energy_cost.excl_vat == Decimal("3.0000")
    assert result.total_reservation_cost.excl_vat == Decimal("2.2500")  # 1.50 FLAT + 0.75 time
    assert result.total_cost.excl_vat == Decimal("5.7500")
    # an expired reservation mixed with charging is not "expired" (the session charged): RESERVATION prices it
    expiring = Tariff("x", "EUR", (
        TariffElement((PriceComponent("FLAT", Decimal("9.00")),), TariffRestrictions(reservation="RESERVATION_EXPIRES")),
        *tariff.elements,
    ))
    assert both(expiring, session(period(0, **volumes), minutes=30)).total_cost.excl_vat == Decimal("5.7500")


# ---- min/max price given only excl. VAT -----------------------------------------------------------------------


def test_min_price_excl_only_scales_vat_with_the_adjusted_base():
    # 2 kWh x 0.25 = 0.50 excl, 0.605 incl (21 %); min 5.00 excl -> VAT on 5.00 = 1.05 -> 6.05 (was 5.105)
    tariff = energy_tariff("0.25", "21", min_price=PriceLimit(Decimal("5.00")))
    result = both(tariff, session(period(0, energy_kwh=Decimal(2), time_h=Decimal(1))))
    assert (result.total_cost.excl_vat, result.total_cost.incl_vat) == (Decimal("5.0000"), Decimal("6.0500"))
    assert result.min_price_applied


def test_max_price_excl_only_scales_vat_with_the_adjusted_base():
    # 100 kWh x 0.25 = 25.00 excl, 30.00 incl (20 %); max 10.00 excl -> 12.00 incl (was 15.00: 50 % VAT)
    tariff = energy_tariff("0.25", "20", max_price=PriceLimit(Decimal("10.00")))
    result = both(tariff, session(period(0, energy_kwh=Decimal(100), time_h=Decimal(1))))
    assert (result.total_cost.excl_vat, result.total_cost.incl_vat) == (Decimal("10.0000"), Decimal("12.0000"))
    assert result.max_price_applied


def test_min_price_on_an_unpriced_session_uses_the_tariffs_rate_or_refuses_when_ambiguous():
    # nothing priced (0 kWh): the tariff's one rate, 21 % -> 5.00 excl, 6.05 incl
    tariff = energy_tariff("0.25", "21", min_price=PriceLimit(Decimal("5.00")))
    result = both(tariff, session(period(0, time_h=Decimal(1))))
    assert (result.total_cost.excl_vat, result.total_cost.incl_vat) == (Decimal("5.0000"), Decimal("6.0500"))
    # two components with different rates: no rate to choose, refused rather than guessed
    mixed = Tariff("m", "EUR", (TariffElement((PriceComponent("ENERGY", Decimal("0.25"), vat=Decimal(21)),
                                               PriceComponent("FLAT", Decimal(0), vat=Decimal(9)))),),
                   min_price=PriceLimit(Decimal("5.00")))
    assert both(mixed, session(period(0, time_h=Decimal(1)))).error_code == "BOUND_TAX_AMBIGUOUS"
    # ... but with a session total of its own the session's rate applies: 2 kWh x 0.25 at 21 % -> 6.05
    result = both(mixed, session(period(0, energy_kwh=Decimal(2), time_h=Decimal(1))))
    assert result.total_cost.incl_vat == Decimal("6.0500")


def test_a_bound_with_both_amounts_still_bounds_each_total_independently():
    tariff = energy_tariff("0.25", "21", min_price=PriceLimit(Decimal("5.00"), Decimal("5.50")))
    result = both(tariff, session(period(0, energy_kwh=Decimal(2), time_h=Decimal(1))))
    assert (result.total_cost.excl_vat, result.total_cost.incl_vat) == (Decimal("5.0000"), Decimal("5.5000"))


# ---- the glitch policy ----------------------------------------------------------------------------------------

# 0.20 per kWh for the first 10 kWh of the session, then 0.30
TIERED = Tariff("tier", "EUR", (
    TariffElement((PriceComponent("ENERGY", Decimal("0.20")),), TariffRestrictions(max_kwh=Decimal(10))),
    TariffElement((PriceComponent("ENERGY", Decimal("0.30")),)),
))
# 0.50 per kWh in periods starting 11:00-11:30 Amsterdam (10:00-10:30 UTC), else 0.10
WINDOWED = Tariff("win", "EUR", (
    TariffElement((PriceComponent("ENERGY", Decimal("0.50")),), TariffRestrictions(start_time=datetime(1, 1, 1, 11).time(),
                                                                                  end_time=datetime(1, 1, 1, 11, 30).time())),
    TariffElement((PriceComponent("ENERGY", Decimal("0.10")),)),
))


def test_a_first_period_minutes_before_the_start_is_priced_at_the_start_with_a_warning():
    # the period starts 10:57 local (3 minutes early); moved to 11:00 it is in the 0.50 window: 4 kWh = 2.00
    early = Session("s", T0, T0 + timedelta(minutes=20), "Europe/Amsterdam",
                    (SessionPeriod(T0 - timedelta(minutes=3), energy_kwh=Decimal(4), time_h=Decimal("0.3")),))
    result = both(WINDOWED, early)
    assert result.total_cost.excl_vat == Decimal("2.0000")
    assert result.warnings == ("PERIOD_BEFORE_SESSION_START",)
    strict = both(WINDOWED, early, STRICT_POLICY)
    assert strict.error_code == "PERIOD_OUTSIDE_SESSION" and strict.warnings == ()
    # beyond the tolerance (15 min) it is refused under every policy
    too_early = Session("s", T0, T0 + timedelta(minutes=20), "Europe/Amsterdam",
                        (SessionPeriod(T0 - timedelta(minutes=16), energy_kwh=Decimal(4)),))
    assert both(WINDOWED, too_early).error_code == "PERIOD_OUTSIDE_SESSION"


def test_periods_out_of_order_are_sorted_with_a_warning_and_refused_when_strict():
    # sent as [10:30 5 kWh, 10:00 10 kWh]; in order: 10 kWh x 0.20 = 2.00, then 5 kWh x 0.30 = 1.50 -> 3.50
    unordered = session(period(30, energy_kwh=Decimal(5), time_h=Decimal("0.5")),
                        period(0, energy_kwh=Decimal(10), time_h=Decimal("0.5")))
    result = both(TIERED, unordered)
    assert result.total_cost.excl_vat == Decimal("3.5000")
    assert result.warnings == ("PERIODS_OUT_OF_ORDER",)
    assert both(TIERED, unordered, STRICT_POLICY).error_code == "NON_MONOTONIC_PERIODS"
    in_order = both(TIERED, session(*reversed(unordered.periods)))
    assert in_order.total_cost == result.total_cost and in_order.warnings == ()


def test_warnings_reach_the_frame_and_json_results():
    sessions = pl.DataFrame({
        "session_id": ["ok", "late"], "tariff_id": ["tier", "tier"], "timezone": ["Europe/Amsterdam"] * 2,
        "start": [T0, T0], "end": [T0 + timedelta(hours=1)] * 2,
    })
    periods = pl.DataFrame({
        "session_id": ["ok", "ok", "late", "late"],
        "start": [T0, T0 + timedelta(minutes=30), T0 + timedelta(minutes=30), T0],
        "energy_wh": [10_000.0, 5_000.0, 5_000.0, 10_000.0], "time_s": [1800.0] * 4, "parking_s": [0.0] * 4,
    })
    frame = price_frame(sessions, periods, {"tier": TIERED})
    assert frame["total_cost_excl"].to_list() == [Decimal("3.5000")] * 2
    assert frame["pricing_warnings"].to_list() == [None, "PERIODS_OUT_OF_ORDER"]
    strict = price_frame(sessions, periods, {"tier": TIERED}, STRICT_POLICY)
    assert strict["error_code"].to_list() == [None, "NON_MONOTONIC_PERIODS"]

    cdr = {"id": "c1", "start_date_time": "2025-03-04T10:00:00Z", "end_date_time": "2025-03-04T11:00:00Z",
           "currency": "EUR", "charging_periods": [
               {"start_date_time": "2025-03-04T10:30:00Z", "dimensions": [{"type": "ENERGY", "volume": 5}]},
               {"start_date_time": "2025-03-04T10:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 10}]}]}
    tariff_json = {"id": "tier", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 1}], "restrictions": {"max_kwh": 10}},
        {"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]}]}
    [document] = price_cdrs([cdr], [tariff_json], timezone="Europe/Amsterdam")
    assert document["total_cost"]["excl_vat"] == "3.5000"
    assert document["warnings"] == ["PERIODS_OUT_OF_ORDER"]


# ---- kernel limits: precision and sign ------------------------------------------------------------------------


def test_prices_with_more_than_6_decimals_are_priced_exactly_by_the_kernel():
    # 3 kWh x 0.12345678 = 0.37037034 excl, + 20 % = 0.074074068 -> 0.444444408 incl -> 0.3704 / 0.4444
    tariff = energy_tariff("0.12345678", "20")
    result = both(tariff, session(period(0, energy_kwh=Decimal(3), time_h=Decimal(1))))
    assert result.error_code is None
    assert (result.total_cost.excl_vat, result.total_cost.incl_vat) == (Decimal("0.3704"), Decimal("0.4444"))
    # the breakdown keeps the exact unit price
    assert price_sessions([tariff], [session(period(0, energy_kwh=Decimal(3)))])[0].breakdown[0].price == Decimal("0.12345678")


def test_negative_prices_and_feed_in_energy_are_priced_by_the_kernel():
    # a negative-price hour: 10 kWh x -0.05 = -0.50 excl, 21 % VAT -> -0.605 -> -0.6050 incl (half away from 0)
    tariff = energy_tariff("-0.05", "21")
    result = both(tariff, session(period(0, energy_kwh=Decimal(10), time_h=Decimal(1))))
    assert (result.total_cost.excl_vat, result.total_cost.incl_vat) == (Decimal("-0.5000"), Decimal("-0.6050"))
    # V2G: 8 kWh charged at 0.30, then 5 kWh fed back (negative volume) at 0.30: 2.40 - 1.50 = 0.90, FLAT 0.50
    v2g = Tariff("v2g", "EUR", (TariffElement((PriceComponent("ENERGY", Decimal("0.30")), PriceComponent("FLAT", Decimal("0.50")))),))
    result = both(v2g, session(period(0, energy_kwh=Decimal(8), time_h=Decimal("0.5")),
                               period(30, energy_kwh=Decimal(-5), time_h=Decimal("0.5"))))
    assert (result.total_energy_cost.excl_vat, result.total_cost.excl_vat) == (Decimal("0.9000"), Decimal("1.4000"))
    assert result.total_energy == Decimal(3)
    # negative time is still a bad volume
    assert both(v2g, session(period(0, time_h=Decimal(-1)))).error_code == "NEGATIVE_VOLUME"


def test_a_negative_electricity_rate_is_priced():
    # dynamic tariff: rate -0.08 + 10 % markup = -0.088, + 0.02 fixed = -0.068 per kWh x 10 kWh = -0.68
    tariff = Tariff("dyn", "EUR", (TariffElement((PriceComponent(
        "ENERGY", Decimal(0), price_basis="ELECTRICITY_RATE", markup_percent=Decimal(10), markup_fixed=Decimal("0.02")),)),))
    result = both(tariff, session(period(0, energy_kwh=Decimal(10), time_h=Decimal(1), electricity_rate=Decimal("-0.08"))))
    assert result.total_cost.excl_vat == Decimal("-0.6800")


# ---- quotes of duration fees without an idle fee ----------------------------------------------------------------

DURATION_ENERGY = {"id": 9001, "operatorId": 1, "name": "kWh + minutes", "type": "duration+energy", "currency": "EUR",
                   "pricing": {"pricePerKwh": 0.40, "pricePerPeriod": 0.10, "pricePeriodInMinutes": 1}}
REQUEST = {"data": {"type": "charge_price_request", "attributes": {
    "data_adapter": "chargeprice",
    "station": {"longitude": 4.9, "latitude": 52.37, "country": "NL", "network": "n1", "charge_points": [{"power": 22, "plug": "type2"}]},
    "options": {"energy": 30, "duration": 60, "start_time": 720, "currency": "EUR"}}}}


def test_duration_energy_tariff_without_idle_fee_is_quoted():
    # 30 kWh x 0.40 = 12.00 + 60 one-minute blocks x 0.10 = 6.00 -> 18.00 (prices include tax, none given)
    tariff = tariff_from_platform(DURATION_ENERGY, never_idle=True)
    response = quote(REQUEST, [QuoteTariff("9001", tariff)], timezone_name="Europe/Amsterdam", on_date=date(2025, 3, 4))
    [item] = response["data"]
    [price] = item["attributes"]["charge_point_prices"]
    assert price["price"] == Decimal("18.00") and price["no_price_reason"] is None
    assert price["price_distribution"] == {"kwh": 0.6667, "minute": 0.3333}


def test_quote_directory_loads_duration_energy_tariff_without_idle_fee(tmp_path):
    from tariff_engine.quotes import load_tariff_directory

    (tmp_path / "9001.json").write_text(json.dumps(DURATION_ENERGY))
    [entry] = load_tariff_directory(tmp_path, "Europe/Amsterdam")
    assert entry.error is None and entry.tariff is not None
    response = quote(REQUEST, [entry], timezone_name="Europe/Amsterdam", on_date=date(2025, 3, 4))
    assert response["data"][0]["attributes"]["charge_point_prices"][0]["price"] == Decimal("18.00")
