"""`POST /v1/charge_prices` over HTTP (uvicorn on loopback): seed-002 shapes, prices, errors, auth, reloads."""

from __future__ import annotations

import httpx
import pytest

from resources.quote_service import WarehouseTariffs, create_app
import polars as pl

from assets.reference.tables import EVSES
from tests.quotes.conftest import (API_KEY, TARIFF_A, TARIFF_B, RunningServer, charge_price_request,
                                   write_tariffs)

HEADERS = {"API-Key": API_KEY, "Content-Type": "application/json", "Accept-Language": "de"}


def post(service, body, headers=HEADERS) -> httpx.Response:
    return httpx.post(f"{service.url}/v1/charge_prices", json=body, headers=headers, timeout=30)


def by_tariff(document: dict) -> dict[str, dict]:
    return {item["relationships"]["tariff"]["data"]["id"]: item for item in document["data"]}


def test_prices_every_tariff_with_distribution_and_blocking_fee(service):
    response = post(service, charge_price_request())
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    document = response.json()
    prices = by_tariff(document)
    assert set(prices) == {"T-A", "T-B"}  # T-C is in GBP: listed as unpriced, not silently dropped
    assert document["meta"]["unpriced_tariffs"] == [
        {"tariff": "T-C", "reason": "tariff is priced in GBP, not EUR (no exchange rates)"}]
    a = prices["T-A"]
    assert a["type"] == "charge_price" and a["attributes"]["currency"] == "EUR"
    assert a["attributes"]["provider"] == "NL*GRX" and a["attributes"]["start_time"] == 720
    assert a["attributes"]["charge_point_prices"] == [
        {"power": 22, "plug": "type2", "price": 13, "price_distribution": {"session": 0.0769, "kwh": 0.9231},
         "blocking_fee_start": None, "no_price_reason": None}]
    b = prices["T-B"]["attributes"]["charge_point_prices"][0]
    assert (b["price"], b["price_distribution"], b["blocking_fee_start"]) == (18.15, {"kwh": 0.6, "minute": 0.4}, 120)
    assert document["meta"]["charge_points"] == [{"power": 22, "plug": "type2", "duration": 180.0, "energy": 30.0}]


def test_show_price_unavailable_and_tariff_relationship_filter(service):
    shown = post(service, charge_price_request(show_price_unavailable=True)).json()
    c = by_tariff(shown)["T-C"]["attributes"]["charge_point_prices"][0]
    assert c["price"] is None and "GBP" in c["no_price_reason"]
    body = charge_price_request()
    body["data"]["relationships"] = {"tariffs": {"data": [{"id": "T-B", "type": "tariff"}], "meta": {"include": "exclusive"}}}
    assert set(by_tariff(post(service, body).json())) == {"T-B"}


@pytest.mark.parametrize("headers, title", [
    ({"Content-Type": "application/json"}, "api_key missing"),
    ({"API-Key": "not-" + API_KEY, "Content-Type": "application/json"}, "api_key invalid"),
])
def test_api_key_is_required(service, headers, title):
    response = post(service, charge_price_request(), headers=headers)
    assert response.status_code == 403
    assert response.json() == {"errors": [{"status": "403", "code": "FORBIDDEN", "title": title}]}
    assert API_KEY not in response.text


def test_invalid_requests_get_the_seeds_error_documents(service):
    bad_json = httpx.post(f"{service.url}/v1/charge_prices", content=b"{not json", headers=HEADERS)
    assert bad_json.status_code == 400 and bad_json.json()["errors"][0]["code"] == "BAD_REQUEST"
    both = charge_price_request(battery_range=[20.0, 80.0])
    response = post(service, both)
    assert response.status_code == 400
    assert response.json()["errors"][0]["title"] == "give either energy and duration, or vehicle and battery_range"
    currency = post(service, charge_price_request(currency="ATS"))
    assert currency.status_code == 404
    assert currency.json() == {"errors": [{"status": "404", "code": "NOT_FOUND", "title": "No currency with iso ATS"}]}
    wrong_type = httpx.post(f"{service.url}/v1/charge_prices", content=b"{}", headers={"API-Key": API_KEY,
                                                                                       "Content-Type": "text/plain"})
    assert wrong_type.status_code == 400
    unknown = httpx.get(f"{service.url}/v1/tariffs", headers=HEADERS)
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == "NOT_FOUND"
    method = httpx.get(f"{service.url}/v1/charge_prices", headers=HEADERS)
    assert method.status_code == 405 and method.json()["errors"][0]["status"] == "405"


def test_new_tariffs_are_picked_up_without_restart(service, quote_warehouse):
    assert set(by_tariff(post(service, charge_price_request()).json())) == {"T-A", "T-B"}
    cheaper = {**TARIFF_A, "id": "T-A2", "elements": [{"price_components": [
        {"type": "ENERGY", "price": "0.20", "vat": "0", "step_size": 1}]}]}
    write_tariffs(quote_warehouse, [TARIFF_A, TARIFF_B, cheaper])
    prices = by_tariff(post(service, charge_price_request()).json())
    assert prices["T-A2"]["attributes"]["charge_point_prices"][0]["price"] == 6


def test_unexpected_failure_is_a_500_without_internals(quote_warehouse):
    def broken():
        raise RuntimeError("disk /secret/path unreadable")

    with RunningServer(create_app(broken, [API_KEY])) as running:
        response = post(running, charge_price_request())
    assert response.status_code == 500
    assert response.json() == {"errors": [{"status": "500", "code": "INTERNAL_SERVER_ERROR",
                                           "title": "an unexpected error happened"}]}


def test_unreadable_tariff_row_is_reported_not_dropped(tmp_warehouse):
    write_tariffs(tmp_warehouse, [TARIFF_A, {"id": "T-X", "currency": "EUR", "elements": "not a list"}])
    entries = WarehouseTariffs(tmp_warehouse.root_path).current().entries
    assert [(e.tariff_id, e.tariff is None) for e in entries] == [("T-A", False), ("T-X", True)]
    assert "T-X cannot be read" in entries[1].error


def test_station_network_selects_the_operators_tariffs(service, quote_warehouse):
    # T-A belongs to NL-GRX by its OCPI party; the EVSEs put T-B at NL-GRX and T-C at GB-VLT.
    evses = [{"location_id": "L1", "evse_uid": "1", "operator_id": "NL-GRX", "tariff_ids": ["T-B"]},
             {"location_id": "L2", "evse_uid": "1", "operator_id": "GB-VLT", "tariff_ids": ["T-C"]}]
    quote_warehouse.write_partition(EVSES, pl.DataFrame([{c: e.get(c) for c in EVSES.schema} for e in evses],
                                                        schema=EVSES.schema))
    at_grx = post(service, charge_price_request()).json()
    assert set(by_tariff(at_grx)) == {"T-A", "T-B"} and "unpriced_tariffs" not in at_grx["meta"]
    body = charge_price_request(currency="GBP")
    body["data"]["attributes"]["station"]["network"] = "gb*vlt"
    at_vlt = by_tariff(post(service, body).json())
    assert set(at_vlt) == {"T-C"}
    # 30 kWh x 0.50 GBP x 1.20 VAT
    assert at_vlt["T-C"]["attributes"]["charge_point_prices"][0]["price"] == 18
    body["data"]["attributes"]["station"]["network"] = "DE-XYZ"
    assert post(service, body).json()["data"] == []
    listed = charge_price_request(show_price_unavailable=True)
    listed["data"]["relationships"] = {"tariffs": {"data": [{"id": "T-C", "type": "tariff"}], "meta": {"include": "always"}}}
    assert set(by_tariff(post(service, listed).json())) == {"T-A", "T-B", "T-C"}


def test_app_from_env_is_what_make_quotes_serves(quote_warehouse, monkeypatch):
    from resources.quote_service.app import app_from_env

    monkeypatch.setenv("CHARGELEDGER_QUOTE_API_KEYS", "other-key, sha256:" + __import__("hashlib").sha256(
        API_KEY.encode()).hexdigest())
    monkeypatch.setenv("CHARGELEDGER_WAREHOUSE", str(quote_warehouse.root_path))
    monkeypatch.setenv("CHARGELEDGER_QUOTE_TIMEZONE", "Europe/Amsterdam")
    monkeypatch.delenv("CHARGELEDGER_QUOTE_VEHICLES", raising=False)
    with RunningServer(app_from_env()) as running:
        response = post(running, charge_price_request())  # the key matches its configured sha256 digest
    assert response.status_code == 200 and set(by_tariff(response.json())) == {"T-A", "T-B"}
