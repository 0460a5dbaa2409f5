"""Choosing a session's tariff: sealed record first, then its tariff_ids, then its EVSE's (own family first)."""

from __future__ import annotations

import json

import polars as pl

from assets.pricing.session_tariffs import choose
from tariff_engine import parse_tariff

from .conftest import ENERGY_TARIFF, TIME_TARIFF

KNOWN = {"T-ENERGY": parse_tariff(ENERGY_TARIFF), "T-TIME": parse_tariff(TIME_TARIFF),
         "301": parse_tariff(ENERGY_TARIFF | {"id": "301"})}
FAMILY = {"T-ENERGY": "ocpi", "T-TIME": "ocpi", "301": "platform"}


def _row(source: str, tariff_ids=(), payload=None) -> dict:
    return {"session_id": f"{source}:1", "source": source, "tariff_ids": list(tariff_ids),
            "raw_payload": None if payload is None else json.dumps(payload)}


def test_evse_tariff_of_the_sessions_own_family_is_preferred():
    platform, _ = choose(_row("cpms_session"), KNOWN, FAMILY, ["T-ENERGY", "301"])
    ocpp, _ = choose(_row("ocpp"), KNOWN, FAMILY, ["T-ENERGY", "301"])
    assert (platform.tariff_id, platform.origin) == ("301", "evse")
    assert (ocpp.tariff_id, ocpp.origin) == ("T-ENERGY", "evse")


def test_session_tariff_ids_win_over_the_evse_and_unknown_ids_are_skipped():
    choice, sealed = choose(_row("ocpp", ["NOPE", "T-TIME"]), KNOWN, FAMILY, ["T-ENERGY"])
    assert (choice.pricing_key, choice.tariff_id, choice.origin, sealed) == ("T-TIME", "T-TIME", "session", None)


def test_a_refused_sealed_tariff_falls_back_to_a_known_one_else_is_reported():
    payload = {"currency": "CAD", "tariff": {"type": "kwh", "price": 0.4, "id": "e1", "colour": "red"}}
    fallback, _ = choose(_row("eevion", ["T-TIME"], payload), KNOWN, FAMILY, [])
    refused, _ = choose(_row("eevion", ["e1"], payload), KNOWN, FAMILY, [])
    assert (fallback.tariff_id, fallback.origin) == ("T-TIME", "session")
    assert refused.error_code == "TARIFF_REFUSED" and "$.tariff.colour" in refused.error


def test_cdr_attached_tariff_is_used_under_a_session_scoped_key():
    payload = {"id": "c1", "tariffs": [TIME_TARIFF], "charging_periods": [{"tariff_id": "T-TIME"}]}
    choice, sealed = choose(_row("ocpi_cdr", ["T-TIME"], payload), KNOWN, FAMILY, [])
    assert (choice.pricing_key, choice.tariff_id, choice.origin) == ("session:ocpi_cdr:1", "T-TIME", "session_payload")
    assert sealed == KNOWN["T-TIME"]


def test_nothing_known_is_no_tariff():
    choice, _ = choose(_row("interval", ["X"]), KNOWN, FAMILY, ["Y"])
    assert (choice.pricing_key, choice.error_code) == (None, "NO_TARIFF")
    assert choice.error == "no known tariff: session names X, its EVSE names Y"


def test_camel_case_cdr_picks_the_attached_tariff_its_periods_name():
    # A camelCase CDR (the platform's ocpiData) attaching two tariffs; its periods name the second one. Only the
    # `tariffs` and `chargingPeriods` members are snake-cased; the rest of the CDR is not read.
    payload = {"ocpiData": {"id": "c2", "cdrLocation": {"timeZone": "Europe/Amsterdam"},
                            "tariffs": [ENERGY_TARIFF, TIME_TARIFF],
                            "chargingPeriods": [{"startDateTime": "2026-10-24T10:00:00Z", "tariffId": "T-TIME"}]}}
    choice, sealed = choose(_row("cpms_cdr", [], payload), KNOWN, FAMILY, ["T-ENERGY"])
    assert (choice.tariff_id, choice.origin) == ("T-TIME", "session_payload")
    assert sealed == KNOWN["T-TIME"]


def test_sessions_attaching_the_same_tariff_share_one_parse():
    payload = {"id": "c1", "tariffs": [TIME_TARIFF], "charging_periods": [{"tariff_id": "T-TIME"}]}
    first = choose(_row("ocpi_cdr", [], payload), KNOWN, FAMILY, [])[1]
    second = choose(_row("ocpi_cdr", [], payload | {"id": "c9"}), KNOWN, FAMILY, [])[1]
    assert first is second and first == KNOWN["T-TIME"]


def test_sessions_with_the_same_eevion_tariff_share_one_conversion_and_errors_repeat():
    from tariff_engine.adapters.eevion import tariff_from_eevion_session

    payload = {"id": "s1", "currency": "CAD", "taxIncluded": False,
               "taxes": [{"name": "GST", "percentage": 5}], "tariff": {"type": "kwh", "price": 0.4, "id": "e1"}}
    first = choose(_row("eevion", [], payload), KNOWN, FAMILY, [])
    second = choose(_row("eevion", [], payload | {"id": "s2", "energy": 12.5}), KNOWN, FAMILY, [])
    assert first[1] is second[1] and first[1] == tariff_from_eevion_session(payload)
    assert (first[0].tariff_id, first[0].origin, first[1].tax_included) == ("e1", "session_payload", "NO")
    # The currency is part of what is remembered: the same tariff in USD is another tariff.
    usd = choose(_row("eevion", [], payload | {"currency": "USD"}), KNOWN, FAMILY, [])[1]
    assert usd.currency == "USD" and first[1].currency == "CAD"
    broken = payload | {"tariff": {"type": "kwh", "price": 0.4, "id": "e1", "colour": "red"}}
    for _ in range(2):  # a refusal is not remembered as a tariff: every session gets the adapter's message
        refused, sealed = choose(_row("eevion", [], broken), KNOWN, FAMILY, [])
        assert sealed is None and refused.error_code == "TARIFF_REFUSED" and "$.tariff.colour" in refused.error


def test_remembered_choices_are_those_of_a_fresh_choice_under_the_same_book_only():
    from assets.pricing.session_tariffs import TariffBook, choose_tariffs

    evses = {("L1", "E1"): ["T-ENERGY"]}
    cdr = {"id": "c1", "tariffs": [TIME_TARIFF], "charging_periods": [{"tariff_id": "T-TIME"}]}
    sessions = pl.DataFrame({
        "session_id": ["a", "b", "c"], "source": ["ocpp", "ocpi_cdr", "interval"],
        "tariff_ids": [["T-TIME"], [], ["X"]], "raw_payload": [None, json.dumps(cdr), None],
        "location_id": ["L1", "L1", "L1"], "evse_uid": ["E1", "E1", "E9"]})
    fresh = choose_tariffs(sessions, TariffBook(KNOWN, FAMILY, evses))
    book = TariffBook(KNOWN, FAMILY, evses, fingerprint=b"book-1")
    once, twice = choose_tariffs(sessions, book), choose_tariffs(sessions, book)
    assert once[0].equals(fresh[0]) and twice[0].equals(fresh[0]) and once[1] == twice[1] == fresh[1]
    assert once[0]["pricing_key"].to_list() == ["T-TIME", "session:b", None]
    # Another book (T-TIME gone) is chosen under afresh, not read from what the first book gave.
    other = TariffBook({"T-ENERGY": KNOWN["T-ENERGY"]}, FAMILY, evses, fingerprint=b"book-2")
    assert choose_tariffs(sessions, other)[0]["pricing_key"].to_list() == ["T-ENERGY", "session:b", None]
    # The same session with another payload (a corrected CDR) is chosen for again.
    corrected = sessions.with_columns(pl.Series("raw_payload", [None, json.dumps(cdr | {"tariffs": []}), None]))
    assert choose_tariffs(corrected, book)[0]["pricing_key"].to_list() == ["T-TIME", "T-ENERGY", None]
