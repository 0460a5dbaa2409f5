"""The batch APIs: `price_cdrs` (OCPI JSON in, JSON out) and `price_frame` (polars in, polars out)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import polars as pl

from tariff_engine import price_cdrs, price_frame
from tariff_engine.cdr_json import result_to_json

from .conftest import EXAMPLES, example_tariff


def _cdr(version: str = "2.2.1") -> dict:
    return json.loads((EXAMPLES / version / "cdr_example.json").read_text())


def test_cdr_example_priced_with_its_own_tariff():
    result = price_cdrs([_cdr()], [])[0]
    assert result["total_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.4000"}
    assert result["total_time_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.4000"}
    assert result["total_time"] == "1.9730"
    assert result["id"] == "ocpi:BE-BEC:12345"


def test_2_3_0_cdr_example_and_given_tariff_by_id():
    tariff = _cdr("2.3.0")["tariffs"][0]
    result = price_cdrs([_cdr("2.3.0")], {"12": tariff})[0]
    assert result["total_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.4000"}


def test_bad_cdrs_do_not_stop_the_batch():
    no_zone = _cdr()
    no_zone["cdr_location"] = {"country": "USA"}
    broken = _cdr()
    broken["charging_periods"][0]["dimensions"][0]["volume"] = "lots"
    unknown_tariff = _cdr()
    unknown_tariff["tariffs"] = []
    results = price_cdrs([_cdr(), no_zone, broken, "not an object", unknown_tariff, _cdr()], [])
    assert [r.get("error", {}).get("code") for r in results] == [
        None, "TIMEZONE_UNRESOLVED", "MALFORMED_CDR", "MALFORMED_CDR", "UNKNOWN_TARIFF", None]
    assert results[-1]["total_cost"]["incl_vat"] == "4.4000"
    assert "$.charging_periods[0].dimensions[0].volume" in results[2]["error"]["message"]


def test_explicit_timezone_overrides_and_malformed_tariff_is_reported():
    bad_tariff = {"id": "12", "currency": "EUR", "elements": [{"price_components": [{"type": "TIME", "price": 2, "bogus": 1}]}]}
    result = price_cdrs([_cdr()], [bad_tariff], timezone="Europe/Brussels")[0]
    assert result["error"]["code"] == "MALFORMED_TARIFF"
    assert "$.elements[0].price_components[0].bogus" in result["error"]["message"]


def test_price_frame_prices_sessions_exactly_with_decimal_columns():
    utc = timezone.utc
    sessions = pl.DataFrame({
        "session_id": ["a", "b", "c"],
        "tariff_id": ["complex", "complex", "missing"],
        "timezone": ["Europe/Berlin"] * 3,
        "start": [datetime(2018, 6, 4, 7, 30, tzinfo=utc), datetime(2018, 6, 9, 11, 30, tzinfo=utc), datetime(2018, 6, 4, tzinfo=utc)],
        "end": [datetime(2018, 6, 4, 10, 57, tzinfo=utc), datetime(2018, 6, 9, 14, 35, tzinfo=utc), datetime(2018, 6, 4, 1, tzinfo=utc)],
    })
    periods = pl.DataFrame({
        "session_id": ["a", "a", "b", "b", "c"],
        "start": [datetime(2018, 6, 4, 7, 30, tzinfo=utc), datetime(2018, 6, 4, 10, 15, tzinfo=utc),
                  datetime(2018, 6, 9, 11, 30, tzinfo=utc), datetime(2018, 6, 9, 13, 24, tzinfo=utc), datetime(2018, 6, 4, tzinfo=utc)],
        "energy_wh": [10_000, 0, 20_000, 0, 1],
        "time_s": [165 * 60, 0, 114 * 60, 0, 60],
        "parking_s": [0, 42 * 60, 0, 71 * 60, 0],
        "min_current_a": [16.0, None, 43.0, None, None],
        "max_current_a": [16.0, None, 43.0, None, None],
    })
    frame = price_frame(sessions, periods, {"complex": example_tariff("tariff_4_complex.json")})
    assert frame["total_cost_excl"].dtype == pl.Decimal(18, 4)
    assert frame["total_cost_excl"].to_list()[:2] == [Decimal("9.0000"), Decimal("12.3750")]
    assert frame["total_cost_incl"].to_list()[:2] == [Decimal("10.3000"), Decimal("13.9750")]
    assert frame["error_code"].to_list() == [None, None, "UNKNOWN_TARIFF"]
    assert frame["total_parking_s"].to_list()[:2] == [42 * 60, 71 * 60]


def test_result_to_json_of_error():
    from tariff_engine.batch import price_sessions
    from .conftest import build_session

    from dataclasses import replace

    session = replace(build_session("2018-06-04T10:00", "UTC", [(0, dict(kwh=1))], 10, "e"), timezone="Nowhere/City")
    result = price_sessions([example_tariff("tariff_8_simple_025kwh.json")], [session])[0]
    assert result_to_json(result) == {"id": "e", "error": {"code": "UNKNOWN_TIMEZONE", "message": "unknown time zone"}}


def test_price_frame_decimal_rates_reservation_bad_zone_and_orphans():
    import pytest

    from tariff_engine.model import PriceComponent, Tariff, TariffElement, TariffRestrictions

    utc = timezone.utc
    rate_tariff = Tariff("rate", "EUR", (
        TariffElement((PriceComponent("TIME", Decimal("5")),), TariffRestrictions(reservation="RESERVATION")),
        TariffElement((PriceComponent("ENERGY", Decimal(0), price_basis="ELECTRICITY_RATE", markup_percent=Decimal("20")),)),
    ))
    t0 = datetime(2024, 5, 1, 8, tzinfo=utc)
    t1 = datetime(2024, 5, 1, 8, 15, tzinfo=utc)
    t2 = datetime(2024, 5, 1, 9, 15, tzinfo=utc)
    sessions = pl.DataFrame({"session_id": ["r", "z"], "tariff_id": ["rate", "rate"], "timezone": ["Europe/Paris", "Bad/Zone"],
                             "start": [t0, t0], "end": [t2, t2]})
    periods = pl.DataFrame({
        "session_id": ["r", "r", "z"], "start": [t0, t1, t0], "energy_wh": [0, 10_000, 1_000], "time_s": [0, 3600, 3600],
        "parking_s": [0, 0, 0], "reservation_s": [900, 0, 0],
        "electricity_rate": pl.Series([None, Decimal("0.123457"), Decimal("0.1")], dtype=pl.Decimal(10, 6)),
    })
    frame = price_frame(sessions, periods, {"rate": rate_tariff})
    # reservation 15 min at 5/h = 1.25; 10 kWh at round6(0.123457 * 1.2) = 0.148148 -> 1.48148
    assert frame["total_reservation_cost_excl"].to_list()[0] == Decimal("1.2500")
    assert frame["total_energy_cost_excl"].to_list()[0] == Decimal("1.4815")
    assert frame["total_cost_excl"].to_list()[0] == Decimal("2.7315")
    assert frame["error_code"].to_list() == [None, "UNKNOWN_TIMEZONE"]
    orphan = periods.with_columns(pl.lit("ghost").alias("session_id"))
    with pytest.raises(ValueError, match="belong to no session"):
        price_frame(sessions, orphan, {"rate": rate_tariff})


def test_empty_batches_and_session_without_periods():
    from tariff_engine.batch import price_sessions

    assert price_sessions([], []) == [] and price_cdrs([], []) == []
    utc = timezone.utc
    sessions = pl.DataFrame({"session_id": ["lonely"], "tariff_id": ["t"], "timezone": ["UTC"],
                             "start": [datetime(2024, 1, 1, tzinfo=utc)], "end": [datetime(2024, 1, 1, 1, tzinfo=utc)]})
    periods = pl.DataFrame(schema={"session_id": pl.String, "start": pl.Datetime("us", "UTC"), "energy_wh": pl.Int64,
                                   "time_s": pl.Int64, "parking_s": pl.Int64})
    tariffs = {"t": example_tariff("tariff_8_simple_025kwh.json")}
    assert price_frame(sessions, periods, tariffs)["error_code"].to_list() == ["NO_PERIODS"]
    assert price_frame(sessions.clear(), periods, tariffs).height == 0
