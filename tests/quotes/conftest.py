"""The quote service on a real uvicorn server on 127.0.0.1, over a throw-away warehouse's `tariffs` table."""

from __future__ import annotations

import json
import socket
import threading
import time

import polars as pl
import pytest
import uvicorn

from assets.pricing.tables import TARIFFS
from resources.quote_service import WarehouseTariffs, create_app

API_KEY = "quote-key-" + "7f3a" * 4

# Canonical OCPI tariffs written for these tests (not copied from anywhere).
# T-A: 1.00 per session + 0.40 per kWh, VAT 0 -> 30 kWh = 13.00 EUR.
# T-B: 0.30 per kWh, 6.00 per hour after the first 2 hours (a blocking fee), VAT 21 %
#      -> 30 kWh over 180 min = (9.00 + 6.00) x 1.21 = 18.15 EUR, blocking fee from minute 120.
# T-C: a GBP tariff, 0.50 per kWh: not priced in EUR (no exchange rates).
TARIFF_A = {"id": "T-A", "currency": "EUR", "country_code": "NL", "party_id": "GRX", "elements": [
    {"price_components": [{"type": "FLAT", "price": "1.00", "vat": "0", "step_size": 0},
                          {"type": "ENERGY", "price": "0.40", "vat": "0", "step_size": 1}]}]}
TARIFF_B = {"id": "T-B", "currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": "21", "step_size": 1}]},
    {"price_components": [{"type": "TIME", "price": "6.00", "vat": "21", "step_size": 60}],
     "restrictions": {"min_duration": 7200}}]}
TARIFF_C = {"id": "T-C", "currency": "GBP", "elements": [
    {"price_components": [{"type": "ENERGY", "price": "0.50", "vat": "20", "step_size": 1}]}]}


def write_tariffs(warehouse, documents: list[dict]) -> None:
    rows = [{"tariff_id": d["id"], "source": "ocpi", "currency": d["currency"], "tax_included": "N/A",
             "tariff_json": json.dumps(d), "record_ref": f"test/{d['id']}.json", "raw_payload": json.dumps(d)}
            for d in documents]
    warehouse.write_partition(TARIFFS, pl.DataFrame(rows, schema={c: TARIFFS.schema[c] for c in TARIFFS.schema}))


def charge_price_request(**options) -> dict:
    return {"data": {"type": "charge_price_request", "attributes": {
        "data_adapter": "chargeprice",
        "station": {"longitude": 4.9041, "latitude": 52.3676, "country": "NL", "network": "NL-GRX",
                    "charge_points": [{"power": 22, "plug": "type2"}]},
        "options": {"energy": 30, "duration": 180, "start_time": 720} | options}}}


class RunningServer:
    """uvicorn serving an app in a thread, on a socket bound beforehand (no port race)."""

    def __init__(self, app) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "RunningServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def quote_warehouse(tmp_warehouse):
    write_tariffs(tmp_warehouse, [TARIFF_A, TARIFF_B, TARIFF_C])
    return tmp_warehouse


@pytest.fixture
def service(quote_warehouse):
    app = create_app(WarehouseTariffs(quote_warehouse.root_path).current, [API_KEY], timezone_name="Europe/Amsterdam")
    with RunningServer(app) as running:
        yield running
