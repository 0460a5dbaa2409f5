"""Money rules (currency minor units, rounding modes) and lint findings on the spec examples."""

from __future__ import annotations

import json

import pytest

from tariff_engine.lint import lint_document
from tariff_engine.money import RoundingPolicy, UnknownCurrencyError, minor_units, round_nano_int

from .conftest import EXAMPLES


@pytest.mark.parametrize("currency,units", [("EUR", 2), ("JPY", 0), ("BHD", 3), ("KWD", 3), ("CLF", 4), ("CAD", 2)])
def test_minor_units(currency, units):
    assert minor_units(currency) == units


def test_unknown_currency_is_refused():
    with pytest.raises(UnknownCurrencyError):
        minor_units("XYZ")


@pytest.mark.parametrize("value,mode,expected", [
    (125, "HALF_UP", 130), (125, "HALF_EVEN", 120), (135, "HALF_EVEN", 140), (121, "UP", 130), (129, "DOWN", 120),
    (-125, "HALF_UP", -130), (-125, "HALF_EVEN", -120), (-121, "UP", -120), (-121, "DOWN", -130), (120, "UP", 120),
])
def test_round_nano_int_modes(value, mode, expected):
    assert round_nano_int(value, 10, mode) == expected


def test_policy_output_decimals_follow_currency_when_unset():
    policy = RoundingPolicy(decimals=None)
    assert policy.output_decimals("JPY") == 0 and policy.output_decimals("BHD") == 3
    assert RoundingPolicy().output_decimals("JPY") == 4


def test_lint_complex_example_warns_about_missing_fallbacks_only():
    findings = lint_document(json.loads((EXAMPLES / "2.2.1/tariff_4_complex.json").read_text()))
    assert {(f.code, f.path) for f in findings} == {("NO_FALLBACK", "$.elements")}
    assert sorted(f.message.split(":")[0].split()[-1] for f in findings) == ["PARKING_TIME", "TIME"]


def test_lint_flags_contradictions_reservation_misuse_and_precision():
    document = {"id": "x", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.1234567890123456"}]},
        {"price_components": [{"type": "ENERGY", "price": 0.3}], "restrictions": {"reservation": "RESERVATION"}},
        {"price_components": [{"type": "TIME", "price": 1}], "restrictions": {"min_kwh": 10, "max_kwh": 5}},
    ]}
    codes = {(f.severity, f.code, f.path) for f in lint_document(document)}
    assert ("ERROR", "RESERVATION_DIMENSION", "$.elements[1].price_components[0].type") in codes
    assert ("WARNING", "CONTRADICTORY_RESTRICTIONS", "$.elements[2].restrictions.max_kwh") in codes
    assert ("ERROR", "NOT_REPRESENTABLE", "$.elements[0].price_components[0].price") in codes


def test_lint_malformed_document_is_one_error_with_path():
    findings = lint_document({"id": "x", "currency": "EUR", "elements": [{"price_components": [{"type": "X", "price": 1}]}]})
    assert [(f.severity, f.code, f.path) for f in findings] == [("ERROR", "MALFORMED", "$.elements[0].price_components[0].type")]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/tariff*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_lint_raises_no_error_on_any_spec_example(path):
    findings = lint_document(json.loads(path.read_text()))
    assert not [f for f in findings if f.severity == "ERROR"]
    assert not [f for f in findings if f.code == "UNREACHABLE_ELEMENT"]  # e.g. EXPIRES vs RESERVATION elements
