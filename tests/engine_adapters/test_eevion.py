"""Eevion (seed 003) tariff types priced through the Decimal reference, each computed by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tariff_engine.adapters.eevion import EevionTariffError, tariff_from_eevion, tariff_from_eevion_session

from .conftest import Span, build_session, price

VANCOUVER = "America/Vancouver"


def eevion(tariff: dict, **options) -> object:
    return tariff_from_eevion(tariff, currency="CAD", **options)


def test_flat_fee_once_per_session():
    result = price(eevion({"type": "flat", "price": 2.5}),
                   build_session("2024-07-10T14:00", VANCOUVER, [Span(30, "3"), Span(30, "4")]))
    assert result.total_cost.incl_vat == Decimal("2.5000")


def test_time_fee_per_hour_prorated():
    # 2.00 / hour x 90 min = 3.00 (idle afterwards is not charging time: free)
    session = build_session("2024-07-12T10:23", VANCOUVER, [Span(90, "5"), Span(20, idle=True)])
    result = price(eevion({"type": "time", "price": 2, "unit": "hour", "id": "61ddb27b23947c922533b953"}), session)
    assert result.total_cost.incl_vat == Decimal("3.0000")


def test_time_fee_per_minute_unit():
    # 0.05 / minute = 3.00 / hour x 45 min = 2.25
    session = build_session("2024-07-12T10:00", VANCOUVER, [Span(45, "5")])
    assert price(eevion({"type": "time", "price": 0.05, "unit": "minutes"}), session).total_cost.incl_vat == Decimal("2.2500")


def test_kwh_fee_from_the_seed_session():
    # Seed session 668efa48…: 2769 Wh at 0.30 / kWh = 0.8307, no taxes listed -> tax N/A
    seed_session = {
        "currency": "CAD", "taxIncluded": True, "taxes": [],
        "tariff": {"type": "kwh", "price": 0.3,
                   "occupancyFee": {"minPrice": 0, "maxPrice": 0, "price": 0, "unit": "hour", "isActive": False},
                   "paymentCycleUnit": "hour", "priceIncrement": 0, "id": "655fb8dbe3a4efc253eada3e",
                   "name": "$0.30/kWh", "isPrivate": False},
    }
    tariff = tariff_from_eevion_session(seed_session)
    assert tariff.tax_included == "N/A" and len(tariff.elements) == 1
    result = price(tariff, build_session("2024-07-10T14:16:53", VANCOUVER, [Span(138.8166, "2.769")]))
    assert result.total_cost.incl_vat == Decimal("0.8307")


def test_tiered_energy_is_graduated():
    # 0-10 kWh at 0.30 = 3.00, 10-15 kWh at 0.20 = 1.00  => 4.00 (period cut at 10 kWh)
    tariff = eevion({"type": "tiered", "tiers": [{"upTo": 10, "price": 0.30}, {"upTo": None, "price": 0.20}]})
    session = build_session("2024-07-10T14:00", VANCOUVER, [Span(40, "10"), Span(20, "5")])
    assert price(tariff, session).total_cost.incl_vat == Decimal("4.0000")


def test_time_tiered_raises_the_hourly_price():
    # first hour at 2.00/h = 2.00, next 30 min at 4.00/h = 2.00  => 4.00 (period cut at 60 min)
    tariff = eevion({"type": "time-tiered", "unit": "hour", "tiers": [{"upTo": 1, "price": 2}, {"upTo": None, "price": 4}]})
    session = build_session("2024-07-10T14:00", VANCOUVER, [Span(60, "7"), Span(30, "3")])
    assert price(tariff, session).total_cost.incl_vat == Decimal("4.0000")


def test_occupancy_fee_escalates_each_payment_cycle_up_to_max_price():
    # energy 10 kWh x 0.30 = 3.00; occupancy 1.00/h rising 1.00 each hour up to 3.00/h:
    # hour 1: 1.00, hour 2: 2.00, 30 min at 3.00/h = 1.50 (charging 120 min, idle 30 min)  => 7.50
    tariff = eevion({"type": "kwh", "price": 0.3, "paymentCycleUnit": "hour", "priceIncrement": 1,
                     "occupancyFee": {"price": 1, "unit": "hour", "maxPrice": 3, "minPrice": 0, "isActive": True}})
    session = build_session("2024-07-10T14:00", VANCOUVER, [Span(60, "5"), Span(60, "5"), Span(30, idle=True)])
    result = price(tariff, session)
    assert result.total_energy_cost.incl_vat == Decimal("3.0000")
    assert result.total_time_cost.incl_vat == Decimal("3.0000")
    assert result.total_parking_cost.incl_vat == Decimal("1.5000")
    assert result.total_cost.incl_vat == Decimal("7.5000")


def test_idle_fee_grace_then_escalation_capped():
    # energy 10 kWh x 0.30 = 3.00; idle after charging ends: 10 min grace free,
    # then 6.00/h for 60 min = 6.00, 9.00/h for 60 min = 9.00, capped 12.00/h for 50 min = 10.00  => 28.00
    tariff = eevion({"type": "kwh", "price": 0.3, "paymentCycleUnit": "hour", "priceIncrement": 3,
                     "idleFee": {"price": 6, "unit": "hour", "maxPrice": 12, "gracePeriod": 10, "isActive": False}})
    session = build_session("2024-07-10T14:00", VANCOUVER, [
        Span(60, "10"), Span(10, idle=True), Span(60, idle=True), Span(60, idle=True), Span(50, idle=True)])
    result = price(tariff, session)
    assert result.total_parking_cost.incl_vat == Decimal("25.0000")
    assert result.total_cost.incl_vat == Decimal("28.0000")


def test_occupancy_and_idle_fee_add_up_while_idle():
    # kwh 0.30 x 2 = 0.60; occupancy 1.20/h for 90 min = 1.80; idle fee 0.10/min (no grace) for 30 min = 3.00
    # => 5.40
    tariff = eevion({"type": "kwh", "price": 0.3, "occupancyFee": {"price": 1.2, "unit": "hour"},
                     "idleFee": {"price": 0.1, "unit": "minute"}})
    session = build_session("2024-07-10T14:00", VANCOUVER, [Span(60, "2"), Span(30, idle=True)])
    assert price(tariff, session).total_cost.incl_vat == Decimal("5.4000")


def test_tax_included_is_split_out_of_the_price():
    # 10 kWh x 0.30 = 3.00 incl. 13 % HST: net 3 / 1.13 = 2.654867… -> 2.6549, tax 0.3451
    session = {"currency": "CAD", "taxIncluded": True, "tariff": {"type": "kwh", "price": 0.3},
               "taxes": [{"amount": 0, "description": "TVH/HST 13% #783700537RT0001"}]}
    result = price(tariff_from_eevion_session(session), build_session("2024-01-21T20:16", "America/Toronto", [Span(60, "10")]))
    assert result.total_cost.incl_vat == Decimal("3.0000")
    assert result.total_cost.excl_vat == Decimal("2.6549")
    assert [(t.name, t.amount) for t in result.total_cost.taxes] == [("TVH/HST 13% #783700537RT0001", Decimal("0.3451"))]


def test_taxes_on_top_when_not_included():
    # 3.00 net + GST 5 % (0.15) + PST 7 % (0.21) = 3.36
    session = {"currency": "CAD", "taxIncluded": False, "tariff": {"type": "kwh", "price": 0.3},
               "taxes": [{"description": "GST 5%"}, {"description": "PST", "percentage": 7}]}
    result = price(tariff_from_eevion_session(session), build_session("2024-01-21T12:00", VANCOUVER, [Span(60, "10")]))
    assert result.total_cost.excl_vat == Decimal("3.0000")
    assert result.total_cost.incl_vat == Decimal("3.3600")
    assert {t.name: t.amount for t in result.total_cost.taxes} == {"GST 5%": Decimal("0.1500"), "PST": Decimal("0.2100")}


@pytest.mark.parametrize(("tariff", "taxes", "path"), [
    ({"type": "subscription", "price": 1}, None, "$.tariff.type"),
    ({"type": "kwh", "price": 0.3, "surcharge": 1}, None, "$.tariff.surcharge"),
    ({"type": "kwh", "price": 0.3, "priceIncrement": 1, "paymentCycleUnit": "hour",
      "idleFee": {"price": 1, "unit": "hour", "maxPrice": 0}}, None, "$.tariff.idleFee.maxPrice"),
    ({"type": "time", "price": 2, "unit": "hour", "occupancyFee": {"price": 1, "unit": "hour"}}, None,
     "$.tariff.occupancyFee"),
    ({"type": "time", "price": 2, "unit": "fortnight"}, None, "$.tariff.unit"),
    ({"type": "tiered", "tiers": [{"upTo": None, "price": 1}, {"upTo": 5, "price": 2}]}, None, "$.tariff.tiers[0].upTo"),
    ({"type": "kwh", "price": -1}, None, "$.tariff.price"),
    ({"type": "kwh", "price": 0.3}, [{"description": "HST"}], "$.taxes[0].description"),
])
def test_unpriceable_tariffs_are_refused_naming_the_field(tariff, taxes, path):
    with pytest.raises(EevionTariffError) as error:
        tariff_from_eevion(tariff, currency="CAD", taxes=taxes)
    assert error.value.path == path


def test_grace_period_minutes_spelling_prices_like_grace_period():
    # The generator (and some exports) write `gracePeriodMinutes`; same session as above => 28.00.
    tariff = eevion({"type": "kwh", "price": 0.3, "paymentCycleUnit": "hour", "priceIncrement": 3,
                     "idleFee": {"price": 6, "unit": "hour", "maxPrice": 12, "gracePeriodMinutes": 10, "isActive": False}})
    session = build_session("2024-07-10T14:00", VANCOUVER, [
        Span(60, "10"), Span(10, idle=True), Span(60, idle=True), Span(60, idle=True), Span(50, idle=True)])
    assert price(tariff, session).total_cost.incl_vat == Decimal("28.0000")
