"""OCPI adapter: every spec example parses, camelCase = snake_case, unknown fields are refused by path,
2.3.0 PriceLimit/tax_included, CDR parsing and time-zone resolution, canonical JSON round trip."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tariff_engine.adapters.ocpi import (
    OcpiFormatError, TimezoneUnresolvedError, parse_cdr, parse_tariff, resolve_timezone, tariff_to_json,
)
from tariff_engine.model import PriceLimit

from .conftest import EXAMPLES


def _camel(value):
    if isinstance(value, dict):
        return {k.split("_")[0] + "".join(p.title() for p in k.split("_")[1:]): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/tariff*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_spec_tariff_parses_and_round_trips(path):
    document = json.loads(path.read_text())
    tariff = parse_tariff(document)
    assert tariff.elements and tariff.currency in ("EUR", "CAD")
    assert parse_tariff(_camel(document)) == tariff
    assert parse_tariff(tariff_to_json(tariff)) == tariff


def test_2_3_0_price_limit_and_tax_included():
    tariff = parse_tariff(json.loads((EXAMPLES / "2.3.0/tariff_6_025kwh_start_max_price.json").read_text()))
    assert tariff.max_price == PriceLimit(Decimal("10.00"), Decimal("11.00"))
    assert tariff.tax_included == "NO"
    assert tariff.end_date_time == datetime(2019, 6, 30, 23, 59, 59, tzinfo=timezone.utc)


def test_2_1_1_style_tariff_without_party_fields_parses():
    document = {"id": "11", "currency": "EUR", "elements": [{"price_components": [
        {"type": "FLAT", "price": 1.0, "step_size": 1}]}], "last_updated": "2016-01-01T00:00:00Z"}
    assert parse_tariff(document).elements[0].price_components[0].price == Decimal("1.0")


@pytest.mark.parametrize("mutate,path", [
    (lambda d: d.update(surprise=1), "$.surprise"),
    (lambda d: d["elements"][0].update(colour="red"), "$.elements[0].colour"),
    (lambda d: d["elements"][0]["price_components"][0].update(discount=1), "$.elements[0].price_components[0].discount"),
    (lambda d: d["elements"][0].update(restrictions={"holiday": True}), "$.elements[0].restrictions.holiday"),
    (lambda d: d["elements"][0]["price_components"][0].update(type="SPEED"), "$.elements[0].price_components[0].type"),
    (lambda d: d["elements"][0]["price_components"][0].update(price="abc"), "$.elements[0].price_components[0].price"),
    (lambda d: d["elements"][0].update(restrictions={"start_time": "24:00"}), "$.elements[0].restrictions.start_time"),
    (lambda d: d["elements"][0].update(restrictions={"day_of_week": ["FUNDAY"]}), "$.elements[0].restrictions.day_of_week[0]"),
    (lambda d: d.update(currency="EURO"), "$.currency"),
    (lambda d: d.update(currency="XYZ"), "$.currency"),
    (lambda d: d.update(elements=[]), "$.elements"),
    (lambda d: d.pop("currency"), "$.currency"),
    (lambda d: d.update(tax_included="MAYBE"), "$.tax_included"),
    (lambda d: d.update(min_price={"excl_vat": 1, "before_taxes": 1}), "$.min_price"),
])
def test_malformed_or_unsupported_fields_are_refused_with_their_path(mutate, path):
    document = json.loads((EXAMPLES / "2.2.1/tariff_9_025kwh_start.json").read_text())
    mutate(document)
    with pytest.raises(OcpiFormatError) as error:
        parse_tariff(document)
    assert error.value.path == path
    assert str(error.value).startswith(path + ":")


def test_cdr_parses_periods_and_resolves_zone_from_country():
    cdr = json.loads((EXAMPLES / "2.2.1/cdr_example.json").read_text())
    session = parse_cdr(cdr)
    assert session.timezone == "Europe/Brussels"
    assert session.id == "ocpi:BE-BEC:12345"
    assert len(session.periods) == 1 and session.periods[0].time_h == Decimal("1.973")
    assert session.periods[0].time_ms == 7_102_800


def test_cdr_zone_from_location_time_zone_and_explicit_override():
    cdr = {"id": "1", "start_date_time": "2024-01-01T10:00:00Z", "end_date_time": "2024-01-01T11:00:00Z",
           "location": {"time_zone": "Europe/Amsterdam", "country": "NLD"}, "charging_periods": []}
    assert resolve_timezone(cdr) == "Europe/Amsterdam"
    assert parse_cdr(cdr, "Asia/Tokyo").timezone == "Asia/Tokyo"


@pytest.mark.parametrize("location", [{"country": "USA"}, {"country": "ESP"}, {}, None])
def test_cdr_zone_never_falls_back_to_utc(location):
    cdr = {"id": "1", "start_date_time": "2024-01-01T10:00:00Z", "end_date_time": "2024-01-01T11:00:00Z",
           "charging_periods": []}
    if location is not None:
        cdr["cdr_location"] = location
    with pytest.raises(TimezoneUnresolvedError):
        parse_cdr(cdr)


def test_cdr_camel_case_and_measurements():
    cdr = {"id": "c", "startDateTime": "2024-01-01T10:00:00Z", "endDateTime": "2024-01-01T11:00:00Z",
           "chargingPeriods": [{"startDateTime": "2024-01-01T10:00:00Z", "dimensions": [
               {"type": "ENERGY", "volume": 3.5}, {"type": "MAX_CURRENT", "volume": 32}, {"type": "STATE_OF_CHARGE", "volume": 80}]}]}
    period = parse_cdr(cdr, "Europe/Berlin").periods[0]
    assert (period.energy_kwh, period.max_current) == (Decimal("3.5"), Decimal("32"))


def test_cdr_unknown_dimension_is_refused_with_path():
    cdr = {"id": "c", "start_date_time": "2024-01-01T10:00:00Z", "end_date_time": "2024-01-01T11:00:00Z",
           "charging_periods": [{"start_date_time": "2024-01-01T10:00:00Z", "dimensions": [{"type": "WARP", "volume": 1}]}]}
    with pytest.raises(OcpiFormatError) as error:
        parse_cdr(cdr, "Europe/Berlin")
    assert error.value.path == "$.charging_periods[0].dimensions[0].type"


def test_cdr_totals_in_all_three_shapes():
    from tariff_engine.adapters.ocpi import cdr_totals
    from tariff_engine.model import Amount, TaxAmount

    v221 = cdr_totals(json.loads((EXAMPLES / "2.2.1/cdr_example.json").read_text()))
    assert v221["total_cost"] == Amount(Decimal("4.00"), Decimal("4.40"))
    assert v221["total_energy"] == Decimal("15.342") and v221["total_time"] == Decimal("1.973")
    v230 = cdr_totals(json.loads((EXAMPLES / "2.3.0/cdr_example.json").read_text()))
    assert v230["total_cost"] == Amount(Decimal("4.00"), Decimal("4.40"), (TaxAmount("VAT", Decimal("0.40")),))
    assert cdr_totals({"total_cost": 2.5})["total_cost"] == Amount(Decimal("2.5"), Decimal("2.5"))  # 2.1.1
    with pytest.raises(OcpiFormatError) as error:
        cdr_totals({"total_cost": {"incl_vat": 1}})
    assert error.value.path == "$.total_cost.excl_vat"


@pytest.mark.parametrize("mutate,path", [
    (lambda d: d["elements"][0]["price_components"][0].update(vat=-5), "$.elements[0].price_components[0]"),
    (lambda d: d["elements"][0].update(restrictions={"min_kwh": -1}), "$.elements[0].restrictions"),
    (lambda d: d.update(max_price={"excl_vat": -1}), "$.max_price"),
])
def test_negative_taxes_thresholds_and_limits_are_refused(mutate, path):
    document = json.loads((EXAMPLES / "2.2.1/tariff_9_025kwh_start.json").read_text())
    mutate(document)
    with pytest.raises(OcpiFormatError) as error:
        parse_tariff(document)
    assert error.value.path == path
