"""The conformance cases: every worked example of the OCPI spec (reference §1.9, errata applied), as data.

Each case: (case id, tariff, session, policy, expected {field: (excl, incl)} with amounts as strings at the
policy's output precision). Shared by the reference and kernel conformance tests.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from tariff_engine.model import PriceComponent, Tariff, TariffElement, TariffRestrictions, TaxRate
from tariff_engine.money import RoundingPolicy
from tariff_engine.policy import PricingPolicy

from .conftest import build_session, example_tariff

OCPI = PricingPolicy()
CENTS = PricingPolicy(rounding=RoundingPolicy(decimals=None))
BERLIN = "Europe/Berlin"
MONDAY = "2018-06-04"  # before tariff_6's end_date_time (2019-06-30)
SATURDAY = "2018-06-09"
D = Decimal


def _time_tariff(before: str, after: str, step: int, dimension: str = "TIME") -> Tariff:
    """A two-price tariff switching at 17:00 local (the mod_cdrs step_size text examples)."""
    return Tariff(
        id="text", currency="EUR",
        elements=(
            TariffElement((PriceComponent(dimension, D(before), step_size=step),), TariffRestrictions(end_time=time(17, 0))),
            TariffElement((PriceComponent(dimension, D(after), step_size=step),)),
        ),
    )


def _energy_step(step: int) -> Tariff:
    return Tariff(id="step", currency="EUR", elements=(TariffElement((PriceComponent("ENERGY", D("0.25"), step_size=step),)),))


def _time_parking(step: int) -> Tariff:
    return Tariff(id="tp", currency="EUR", elements=(TariffElement((
        PriceComponent("TIME", D("1"), step_size=step), PriceComponent("PARKING_TIME", D("2"), step_size=step)),),))


def _north_american(name: str, taxes: tuple[TaxRate, ...]) -> Tariff:
    tariff = example_tariff(name, "2.3.0")
    return Tariff(**{**vars(tariff), "taxes": taxes})


QUEBEC = (TaxRate("GST", D("5")), TaxRate("QST", D("9.975")))


def cases():
    """All conformance cases (built lazily so collection errors name the case)."""
    s = build_session
    at = f"{MONDAY}T10:00"
    return [
        ("01_simple_kwh", example_tariff("tariff_8_simple_025kwh.json"),
         s(at, BERLIN, [(0, dict(kwh=20, time_min=60))], 60), OCPI, {"total_cost": ("5.0000", "5.5000")}),
        ("02_kwh_start_fee", example_tariff("tariff_9_025kwh_start.json"),
         s(at, BERLIN, [(0, dict(kwh=20, time_min=60))], 60), OCPI,
         {"total_cost": ("5.5000", "6.1000"), "total_fixed_cost": ("0.5000", "0.6000")}),
        ("03a_min_price_not_binding", example_tariff("tariff_12_025kwh_min_price.json"),
         s(at, BERLIN, [(0, dict(kwh=20, time_min=60))], 60), OCPI, {"total_cost": ("5.0000", "5.5000")}),
        ("03b_min_price_binding", example_tariff("tariff_12_025kwh_min_price.json"),
         s(at, BERLIN, [(0, dict(kwh="1.2", time_min=10))], 10), OCPI,
         {"total_cost": ("0.5000", "0.5500"), "total_energy_cost": ("0.3000", "0.3300")}),
        ("04_kwh_parking_start", example_tariff("tariff_10_025kwh_parking_start.json"),
         s(at, BERLIN, [(0, dict(kwh=20, time_min=60)), (60, dict(parking_min=40))], 100), OCPI,
         {"total_cost": ("7.0000", "7.9000"), "total_parking_cost": ("1.5000", "1.8000")}),
        ("05a_max_price_binding", example_tariff("tariff_6_025kwh_start_max_price.json"),
         s(at, BERLIN, [(0, dict(kwh=50, time_min=120))], 120), OCPI,
         {"total_cost": ("10.0000", "11.0000"), "total_energy_cost": ("12.5000", "13.7500")}),
        ("05b_max_price_not_binding", example_tariff("tariff_6_025kwh_start_max_price.json"),
         s(at, BERLIN, [(0, dict(kwh=30, time_min=90))], 90), OCPI, {"total_cost": ("8.0000", "8.8500")}),
        ("06_simple_2_per_hour", example_tariff("tariff_1_simple_2hour.json"),
         s(at, BERLIN, [(0, dict(time_min=150, kwh=20))], 150), OCPI, {"total_cost": ("5.0000", "5.5000")}),
        ("07_north_american_exclusive", _north_american("tariff_19_simple_north_american_exclusive.json", QUEBEC),
         s(at, "America/Toronto", [(0, dict(time_min=150))], 150), OCPI,
         {"total_cost": ("5.0000", "5.7488")}),
        ("07b_north_american_exclusive_no_taxes", example_tariff("tariff_19_simple_north_american_exclusive.json", "2.3.0"),
         s(at, "America/Toronto", [(0, dict(time_min=150))], 150), OCPI, {"total_cost": ("5.0000", "5.0000")}),
        ("08_north_american_inclusive", _north_american("tariff_20_simple_north_american_inclusive.json", QUEBEC),
         s(at, "America/Toronto", [(0, dict(time_min=150))], 150), OCPI,
         {"total_cost": ("4.5662", "5.2500")}),
        ("09_time_and_parking", example_tariff("tariff_13_simple_3hour_5parking.json"),
         s(at, BERLIN, [(0, dict(time_min=150, kwh=20)), (150, dict(parking_min=42))], 192), OCPI,
         {"total_cost": ("11.2500", "12.7500")}),
        ("10_alt_text_cents", example_tariff("tariff_2_alt_text.json"),
         s(at, BERLIN, [(0, dict(time_min=150))], 150), CENTS, {"total_cost": ("4.75", "5.00")}),
        ("10_alt_text_ocpi_precision", example_tariff("tariff_2_alt_text.json"),
         s(at, BERLIN, [(0, dict(time_min=150))], 150), OCPI, {"total_cost": ("4.7500", "4.9970")}),
        ("12_alt_url_energy_step", example_tariff("tariff_3_alt_url.json"),
         s(at, BERLIN, [(0, dict(kwh="20.45", time_min=90))], 90), CENTS,
         {"total_cost": ("5.63", "6.24"), "total_energy_cost": ("5.13", "5.64")}),
        ("13a_complex_monday", example_tariff("tariff_4_complex.json"),
         s(f"{MONDAY}T09:30", BERLIN, [(0, dict(time_min=165, min_current=16, max_current=16, kwh=10)), (165, dict(parking_min=42))], 207),
         OCPI, {"total_cost": ("9.0000", "10.3000")}),
        ("13b_complex_saturday_erratum", example_tariff("tariff_4_complex.json"),
         s(f"{SATURDAY}T13:30", BERLIN, [(0, dict(time_min=114, min_current=43, max_current=43, kwh=20)), (114, dict(parking_min=71))], 185),
         OCPI, {"total_cost": ("12.3750", "13.9750")}),
        ("14_free_of_charge", example_tariff("tariff_5_free_of_charge.json"),
         s(at, BERLIN, [(0, dict(time_min=60, kwh=20))], 60), OCPI, {"total_cost": ("0.0000", "0.0000")}),
        ("15_reservation_per_hour", example_tariff("tariff_15_reservation_5_euro_per_hour.json"),
         s(at, BERLIN, [(0, dict(reservation_min=15)), (15, dict(kwh=20, time_min=60))], 75), OCPI,
         {"total_cost": ("6.7500", "7.6000"), "total_reservation_cost": ("1.2500", "1.5000")}),
        ("16_reservation_fee_and_hourly", example_tariff("tariff_16_reservation_2_euro_fee_5_euro_per_hour.json"),
         s(at, BERLIN, [(0, dict(reservation_min=13)), (13, dict(kwh=20, time_min=60))], 73), OCPI,
         {"total_cost": ("8.7500", "10.0000"), "total_reservation_cost": ("3.2500", "3.9000"),
          "total_fixed_cost": ("0.5000", "0.6000")}),
        ("17a_reservation_then_charging", example_tariff("tariff_17_reservation_with_expire_fee.json"),
         s(at, BERLIN, [(0, dict(reservation_min=22)), (22, dict(kwh=20, time_min=60))], 82), OCPI,
         {"total_cost": ("6.5000", "7.3000")}),
        ("17b_reservation_expired_fee", example_tariff("tariff_17_reservation_with_expire_fee.json"),
         s(at, BERLIN, [(0, dict(reservation_min=60))], 60), OCPI, {"total_cost": ("6.0000", "7.2000")}),
        ("18a_reservation_then_charging", example_tariff("tariff_18_reservation_with_expire_time.json"),
         s(at, BERLIN, [(0, dict(reservation_min=22)), (22, dict(kwh=20, time_min=60))], 82), OCPI,
         {"total_cost": ("7.0000", "7.9000")}),
        ("18b_reservation_expired_time", example_tariff("tariff_18_reservation_with_expire_time.json"),
         s(at, BERLIN, [(0, dict(reservation_min=90))], 90), OCPI, {"total_cost": ("9.0000", "10.8000")}),
        ("19_step_switching_1", example_tariff("tariff_14_step_size.json"),
         s(f"{MONDAY}T16:55", BERLIN, [(0, dict(time_min=5)), (5, dict(time_min=5)), (10, dict(parking_min=2))], 12), OCPI,
         {"total_cost": ("0.5500", "0.5500")}),
        ("20_step_switching_2", example_tariff("tariff_14_step_size.json"),
         s(f"{MONDAY}T16:35", BERLIN, [(0, dict(time_min=25)), (25, dict(time_min=10))], 35), OCPI,
         {"total_cost": ("1.3000", "1.3000")}),
        ("21_switch_to_free_element", example_tariff("tariff_14_step_size.json"),
         s(f"{MONDAY}T19:40", BERLIN, [(0, dict(time_min=12)), (12, dict(parking_min=8)), (20, dict(parking_min=12))], 32), OCPI,
         {"total_cost": ("0.7300", "0.7300")}),
        ("22_max_power", example_tariff("tariffrestriction_example_max_power.json"),
         s(at, BERLIN, [(0, dict(kwh=1, time_min=10, max_power=6)), (10, dict(kwh=40, time_min=50, max_power=48)),
                        (60, dict(kwh="0.5", time_min=8, max_power=4))], 68), OCPI,
         {"total_cost": ("20.3000", "24.3600")}),
        ("23_max_duration", example_tariff("tariffrestriction_example_max_duration.json"),
         s(at, BERLIN, [(0, dict(kwh=5, time_min=30)), (30, dict(kwh="1.2", time_min=10))], 40), OCPI,
         {"total_cost": ("0.3000", "0.3600")}),
        ("24a_step_1wh", _energy_step(1), s(at, BERLIN, [(0, dict(kwh="0.1152", time_min=5))], 5), OCPI,
         {"total_cost": ("0.0290", "0.0290")}),
        ("24b_step_25wh", _energy_step(25), s(at, BERLIN, [(0, dict(kwh="0.1152", time_min=5))], 5), OCPI,
         {"total_cost": ("0.0313", "0.0313")}),
        ("24c_step_500wh", _energy_step(500), s(at, BERLIN, [(0, dict(kwh="0.1152", time_min=5))], 5), OCPI,
         {"total_cost": ("0.1250", "0.1250")}),
        ("26_energy_step_text", _time_tariff("0.20", "0.27", 500, "ENERGY"),
         s(f"{MONDAY}T16:00", BERLIN, [(0, dict(kwh="4.3", time_min=60)), (60, dict(kwh="1.1", time_min=20))], 80), OCPI,
         {"total_cost": ("1.1840", "1.1840")}),
        ("27_time_step_text", _time_tariff("5", "7", 600),
         s(f"{MONDAY}T16:54", BERLIN, [(0, dict(time_min=6)), (6, dict(time_min=22))], 28), OCPI,
         {"total_cost": ("3.3000", "3.3000")}),
        ("28_time_parking_step_text", _time_parking(600),
         s(at, BERLIN, [(0, dict(time_min=21)), (21, dict(parking_min=16))], 37), OCPI,
         {"total_cost": ("1.0167", "1.0167")}),
    ]
