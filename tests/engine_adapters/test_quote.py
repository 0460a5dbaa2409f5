"""Chargeprice-style quotes (seed 002): exact prices, distributions, blocking fees and error documents."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal

import pytest

from tariff_engine.adapters.eevion import tariff_from_eevion
from tariff_engine.adapters.platform import tariff_from_platform
from tariff_engine.cli import main
from tariff_engine.quotes import QuoteTariff, dumps, load_tariff_directory, quote

from .conftest import FIXTURES, seed_tariff

DAY = date(2024, 10, 2)
VIENNA = "Europe/Vienna"


@pytest.fixture
def request_body() -> dict:
    return json.loads((FIXTURES / "quote_request.json").read_text())


@pytest.fixture
def tariffs() -> list[QuoteTariff]:
    return load_tariff_directory(FIXTURES / "quote_tariffs", VIENNA)


def prices_by_tariff(response: dict) -> dict[str, list]:
    return {item["relationships"]["tariff"]["data"]["id"]: item["attributes"]["charge_point_prices"]
            for item in response["data"]}


def test_energy_and_duration_priced_under_every_tariff(request_body, tariffs):
    # 30 kWh in 60 min from 12:00, on a 22 kW type2 and a 150 kW ccs point (same charge on both):
    # ocpi-blocking: 30 x 0.50 = 15.00 + TIME 6.00/h after 45 min: 15 min = 1.50  => 16.50 (no VAT)
    # ocpi-energy-time: (1.00 + 30 x 0.40 + 1 h x 1.20) = 14.20 net x 1.2 = 17.04
    # platform 105: flat 2.00 + 5 x 0.35 + 20 x 0.40 = 9.75 + 4 units x 0.50 = 2.00  => 13.75
    response = quote(request_body, tariffs, on_date=DAY)
    prices = prices_by_tariff(response)
    assert set(prices) == {"ocpi-blocking", "ocpi-energy-time", "105"}
    for tariff_id, expected in (("ocpi-blocking", "16.50"), ("ocpi-energy-time", "17.04"), ("105", "13.75")):
        assert [p["price"] for p in prices[tariff_id]] == [Decimal(expected)] * 2
        assert [p["plug"] for p in prices[tariff_id]] == ["type2", "ccs"]
    assert prices["ocpi-blocking"][0]["price_distribution"] == {"kwh": 0.9091, "minute": 0.0909}
    assert prices["ocpi-energy-time"][0]["price_distribution"] == {"session": 0.0704, "kwh": 0.8451, "minute": 0.0845}
    assert prices["ocpi-blocking"][0]["blocking_fee_start"] == 45
    assert prices["ocpi-energy-time"][0]["blocking_fee_start"] is None
    assert response["meta"]["charge_points"] == [
        {"power": 22, "plug": "type2", "duration": 60.0, "energy": 30.0},
        {"power": 150, "plug": "ccs", "duration": 60.0, "energy": 30.0}]


def test_unpriceable_tariffs_are_listed_not_dropped(request_body, tariffs):
    response = quote(request_body, tariffs, on_date=DAY)
    reasons = {entry["tariff"]: entry["reason"] for entry in response["meta"]["unpriced_tariffs"]}
    assert reasons["655fb8dbe3a4efc253eada3e"] == "tariff is priced in CAD, not EUR (no exchange rates)"
    assert "charging is not allowed" in reasons["111"]
    # 5 tariffs in = 3 priced + 2 unpriced
    assert len(response["data"]) + len(reasons) == len(tariffs) == 5


def test_show_price_unavailable_returns_null_prices_with_reasons(request_body, tariffs):
    request_body["data"]["attributes"]["options"]["show_price_unavailable"] = True
    response = quote(request_body, tariffs, on_date=DAY)
    prices = prices_by_tariff(response)
    assert len(response["data"]) == 5 and "unpriced_tariffs" not in response["meta"]
    assert [p["price"] for p in prices["111"]] == [None, None]
    assert prices["655fb8dbe3a4efc253eada3e"][0]["no_price_reason"].startswith("tariff is priced in CAD")


def test_tariff_relationship_filters_the_tariffs(request_body, tariffs):
    request_body["data"]["relationships"] = {"tariffs": {"data": [{"id": "105", "type": "tariff"}],
                                                          "meta": {"include": "filter"}}}
    assert list(prices_by_tariff(quote(request_body, tariffs, on_date=DAY))) == ["105"]


def test_day_night_boundary_cuts_the_quote_session(request_body):
    # Platform 103 from 21:30, 7 kWh in 70 min (6 kW): 21:30-22:00 3 kWh day, 22:00-22:40 4 kWh night:
    # 0.50 + 3 x 0.49 + 4 x 0.32 + day duration 2 blocks x 0.30 = 3.85
    options = request_body["data"]["attributes"]["options"]
    options.update({"energy": 7, "duration": 70, "start_time": 1290})
    tariff = QuoteTariff("103", tariff_from_platform(seed_tariff(103), tax_percentage=20))
    prices = prices_by_tariff(quote(request_body, [tariff], on_date=DAY))["103"]
    assert prices[0]["price"] == Decimal("3.85")
    assert prices[0]["price_distribution"] == {"session": 0.1299, "kwh": 0.7143, "minute": 0.1558}


def test_vehicle_and_battery_range(request_body, tariffs):
    # 75 kWh battery 20 % -> 80 % = 45 kWh. type2: min(22, vehicle AC 11) = 11 kW -> 245.45… min, ceil 245.5;
    # ccs: min(150, vehicle DC 120) = 120 kW -> 22.5 min. ocpi-energy-time (TIME step 60 s):
    # type2: 1.00 + 18.00 + 246 min x 1.20/h = 4.92 -> 23.92 net x 1.2 = 28.704 -> 28.70
    # ccs:   1.00 + 18.00 + 23 min x 1.20/h = 0.46 -> 19.46 net x 1.2 = 23.352 -> 23.35
    options = request_body["data"]["attributes"]["options"]
    del options["energy"], options["duration"]
    options["battery_range"] = [20.0, 80.0]
    request_body["data"]["relationships"] = {"vehicle": {"data": {"id": "46adf982-4e41-431b-833a-dfa89b484c71", "type": "car"}}}
    vehicles = json.loads((FIXTURES / "vehicles.json").read_text())
    response = quote(request_body, tariffs, vehicles=vehicles, on_date=DAY)
    assert [p["price"] for p in prices_by_tariff(response)["ocpi-energy-time"]] == [Decimal("28.70"), Decimal("23.35")]
    assert [(cp["duration"], cp["energy"]) for cp in response["meta"]["charge_points"]] == [(245.5, 45.0), (22.5, 45.0)]


def test_idle_fee_after_grace_is_a_blocking_fee(request_body):
    # Eevion kWh 0.30 + idle fee after 10 min grace: charging 60 min, so the blocking fee starts at 70 min;
    # the quoted charge has no idle time: 30 kWh x 0.30 = 9.00
    options = request_body["data"]["attributes"]["options"]
    options["currency"] = "CAD"
    tariff = tariff_from_eevion({"type": "kwh", "price": 0.3, "id": "idle",
                                 "idleFee": {"price": 0.4, "unit": "minute", "gracePeriod": 10}}, currency="CAD")
    prices = prices_by_tariff(quote(request_body, [tariff], on_date=DAY))["idle"]
    assert (prices[0]["price"], prices[0]["blocking_fee_start"]) == (Decimal("9.00"), 70)


def bad(request: dict, path: list[str], value) -> dict:
    body = copy.deepcopy(request)
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


OPTIONS = ["data", "attributes", "options"]


@pytest.mark.parametrize(("change", "status", "title"), [
    ((["data", "type"], "charge_price"), "400", "data.type must be charge_price_request"),
    ((["data", "attributes", "station"], KeyError), "400", "station is required and must be an object"),
    ((OPTIONS + ["battery_range"], [20, 80]), "400", "give either energy and duration, or vehicle and battery_range"),
    ((OPTIONS + ["duration"], KeyError), "400", "energy and duration must be given together"),
    ((OPTIONS + ["energy"], -5), "400", "options.energy must be greater than 0"),
    ((OPTIONS + ["start_time"], 1440), "400", "options.start_time must be an integer between 0 and 1439"),
    ((OPTIONS + ["currency"], "ATS"), "404", "No currency with iso ATS"),
    ((["data", "attributes", "station", "charge_points"], [{"power": 22, "plug": "usb"}]), "400",
     "station.charge_points[0].plug must be one of ccs, chademo, type2, type1, type3, schuko, tesla_ccs, tesla_suc"),
])
def test_invalid_requests_get_the_seed_error_document(request_body, tariffs, change, status, title):
    response = quote(bad(request_body, *change), tariffs, on_date=DAY)
    code = {"400": "BAD_REQUEST", "404": "NOT_FOUND"}[status]
    assert response == {"errors": [{"status": status, "code": code, "title": title}]}


def test_unknown_vehicle_is_not_found(request_body, tariffs):
    options = request_body["data"]["attributes"]["options"]
    del options["energy"], options["duration"]
    options["battery_range"] = [10, 90]
    request_body["data"]["relationships"] = {"vehicle": {"data": {"id": "nope", "type": "car"}}}
    assert quote(request_body, tariffs, on_date=DAY)["errors"][0]["title"] == "No vehicle with id nope"


def test_quote_is_deterministic_and_serialises_exact_numbers(request_body, tariffs):
    first, second = quote(request_body, tariffs, on_date=DAY), quote(request_body, tariffs, on_date=DAY)
    assert dumps(first) == dumps(second)
    assert '"price": 17.04' in dumps(first)


def test_cli_quote_prints_the_response(capsys):
    code = main(["quote", "--request", str(FIXTURES / "quote_request.json"), "--tariffs",
                 str(FIXTURES / "quote_tariffs"), "--date", "2024-10-02"])
    assert code == 0
    response = json.loads(capsys.readouterr().out)
    prices = {item["relationships"]["tariff"]["data"]["id"]: item["attributes"]["charge_point_prices"][0]["price"]
              for item in response["data"]}
    assert prices == {"ocpi-blocking": 16.5, "ocpi-energy-time": 17.04, "105": 13.75}


def test_cli_invalid_request_exits_non_zero(tmp_path, capsys):
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"data": {"type": "charge_price_request", "attributes": {}}}))
    code = main(["quote", "--request", str(request), "--tariffs", str(FIXTURES / "quote_tariffs")])
    assert code == 2
    assert json.loads(capsys.readouterr().out)["errors"][0]["code"] == "BAD_REQUEST"


def test_tariff_the_kernels_cannot_compile_is_priced_by_the_reference(request_body):
    # 360-minute blocks of 1.00: 1/6 per hour has no 6-decimal form, so the kernels refuse the tariff and
    # the quote falls back to the Decimal reference: 30 kWh x 0.40 = 12.00 + one started block 1.00 => 13.00
    document = {"id": 900, "type": "duration+energy", "currency": "EUR",
                "pricing": {"pricePerKwh": 0.4, "pricePeriodInMinutes": 360, "pricePerPeriod": 1.0,
                            "idleFeePerMinute": 0.0}}
    tariff = QuoteTariff("900", tariff_from_platform(document))
    prices = prices_by_tariff(quote(request_body, [tariff], on_date=DAY))["900"]
    assert [p["price"] for p in prices] == [Decimal("13.00"), Decimal("13.00")]


def test_energy_linked_tariffs_use_the_rate_in_the_tariff_folder(tmp_path, request_body):
    # Rate 12: 0.12 from 00:00 to 06:00, else 0.25. 20 kWh in 120 min from 05:00 (10 kW):
    # energy tou (15 % + 0.08): 10 x (0.12 x 1.15 + 0.08) = 2.18 + 10 x (0.25 x 1.15 + 0.08) = 3.675 => 5.855 -> 5.86
    # optimised (threshold 0.18): 10 x 0.35 + 10 x 0.55 = 9.00
    rate = {"id": 12, "defaultPrice": 0.25, "taxPercentage": 20,
            "pricePeriods": [{"weekDay": "any", "periods": [{"startsAt": "00:00", "endsAt": "06:00", "price": 0.12}]}]}
    energy_tou = seed_tariff(104)
    energy_tou["pricing"]["lockPriceOnSessionStart"] = False
    for name, document in (("rate.json", rate), ("tou.json", energy_tou), ("optimised.json", seed_tariff(109))):
        (tmp_path / name).write_text(json.dumps(document))
    (tmp_path / "broken.json").write_text("{not json")
    options = request_body["data"]["attributes"]["options"]
    options.update({"energy": 20, "duration": 120, "start_time": 300, "show_price_unavailable": True})
    response = quote(request_body, load_tariff_directory(tmp_path, VIENNA), on_date=DAY)
    prices = prices_by_tariff(response)
    assert prices["104"][0]["price"] == Decimal("5.86")
    assert prices["109"][0]["price"] == Decimal("9.00")
    assert prices["broken"][0]["price"] is None
    assert prices["broken"][0]["no_price_reason"].startswith("broken.json: unreadable JSON")


def test_cli_rejects_a_malformed_date(capsys):
    code = main(["quote", "--request", str(FIXTURES / "quote_request.json"), "--tariffs",
                 str(FIXTURES / "quote_tariffs"), "--date", "02.10.2024"])
    assert code == 2
    assert json.loads(capsys.readouterr().out)["errors"][0]["title"] == "--date must be YYYY-MM-DD, got '02.10.2024'"
