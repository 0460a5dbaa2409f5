"""Benchmark of the quote service (seed 002) over HTTP; prints quotes/s, p50/p99 latency and ratios from one run.

A throw-away warehouse gets 50 EUR tariffs (energy, time with and without blocking fees, session fees,
time-of-day windows, power bands, parking); the service runs on uvicorn in a child process of its own. The
request is the seed's energy + duration example with two charge points (22 kW type2, 150 kW ccs), so each
quote prices 100 (tariff, charge point) pairs in one kernel call.

1. Sequential: one keep-alive client, one request at a time: quotes/s, p50/p99/max latency.
2. Concurrent: 4 clients in threads: quotes/s and p50/p99 latency under load.
3. The same request through `tariff_engine.quotes.quote` in this process: quotes/s; the ratio HTTP / in-process
   is the cost of the service (parsing, auth, JSON, the event loop).

    .venv/bin/python -m bench.bench_quotes [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import polars as pl

from assets.pricing.tables import TARIFFS
from resources.quote_service import WarehouseTariffs
from resources.warehouse import WarehouseResource
from tariff_engine.quotes import quote

TARIFF_COUNT = 50


def tariff(n: int) -> dict:
    """Tariff n of 50: a mix of the shapes real CPO tariffs have (all in EUR, VAT 21 %)."""
    energy = {"type": "ENERGY", "price": f"{0.25 + 0.01 * n:.2f}", "vat": "21", "step_size": 1}
    elements = [{"price_components": [energy]}]
    kind = n % 5
    if kind == 1:  # blocking fee: per minute after 2 hours
        elements.append({"price_components": [{"type": "TIME", "price": "6.00", "vat": "21", "step_size": 60}],
                         "restrictions": {"min_duration": 7200}})
    elif kind == 2:  # session fee plus a cheaper night energy price
        elements.insert(0, {"price_components": [{"type": "ENERGY", "price": "0.19", "vat": "21", "step_size": 1}],
                            "restrictions": {"start_time": "22:00", "end_time": "06:00"}})
        elements.append({"price_components": [{"type": "FLAT", "price": "0.35", "vat": "21", "step_size": 0}]})
    elif kind == 3:  # DC power band and charging time
        elements.insert(0, {"price_components": [{"type": "ENERGY", "price": "0.69", "vat": "21", "step_size": 1}],
                            "restrictions": {"min_power": 50}})
        elements.append({"price_components": [{"type": "TIME", "price": "1.20", "vat": "21", "step_size": 60}]})
    elif kind == 4:  # peak window and parking
        elements.insert(0, {"price_components": [{"type": "ENERGY", "price": "0.55", "vat": "21", "step_size": 1}],
                            "restrictions": {"start_time": "17:00", "end_time": "20:00", "day_of_week": [
                                "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}})
        elements.append({"price_components": [{"type": "PARKING_TIME", "price": "3.00", "vat": "21", "step_size": 60}]})
    return {"id": f"BENCH-{n:02d}", "currency": "EUR", "country_code": "NL", "party_id": "BEN", "elements": elements}


def request_body() -> dict:
    return {"data": {"type": "charge_price_request", "attributes": {
        "data_adapter": "chargeprice",
        "station": {"longitude": 4.9041, "latitude": 52.3676, "country": "NL", "network": "NL-BEN",
                    "charge_points": [{"power": 22, "plug": "type2"}, {"power": 150, "plug": "ccs"}]},
        "options": {"energy": 30, "duration": 45, "start_time": 1020}}}}


def write_warehouse(root: Path) -> WarehouseResource:
    warehouse = WarehouseResource(root=str(root))
    documents = [tariff(n) for n in range(TARIFF_COUNT)]
    rows = [{"tariff_id": d["id"], "source": "ocpi", "currency": "EUR", "tax_included": "N/A",
             "tariff_json": json.dumps(d), "record_ref": f"bench/{d['id']}", "raw_payload": json.dumps(d)} for d in documents]
    warehouse.write_partition(TARIFFS, pl.DataFrame(rows, schema=TARIFFS.schema))
    return warehouse


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_clients(url: str, headers: dict, body: bytes, clients: int, per_client: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        mine = []
        with httpx.Client(timeout=60, headers=headers) as http:
            for _ in range(per_client):
                started = time.perf_counter()
                reply = http.post(url, content=body)
                mine.append(time.perf_counter() - started)
                assert reply.status_code == 200, reply.text[:300]
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 sequential and 4 x 25 concurrent requests")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of the service")
    args = parser.parse_args()
    sequential, per_client = (100, 25) if args.quick else (500, 125)
    key = secrets.token_urlsafe(18)
    body = json.dumps(request_body()).encode()
    headers = {"API-Key": key, "Content-Type": "application/json"}
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = write_warehouse(Path(tmp) / "warehouse")
        port = free_port()
        env = {**os.environ, "CHARGELEDGER_QUOTE_API_KEYS": key}
        child = subprocess.Popen([sys.executable, "-m", "resources.quote_service", "--port", str(port), "--warehouse",
                                  str(warehouse.root_path), "--timezone", "Europe/Amsterdam", "--workers", str(args.workers)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/v1/charge_prices"
        try:
            deadline = time.monotonic() + 60
            while True:  # wait for the service, and warm it up (numba compiles on first use)
                try:
                    reply = httpx.post(url, content=body, headers=headers, timeout=60)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the quote service did not start")
                    time.sleep(0.2)
            document = reply.json()
            priced = sum(p["price"] is not None for item in document["data"] for p in item["attributes"]["charge_point_prices"])
            assert reply.status_code == 200 and len(document["data"]) == TARIFF_COUNT and priced == 2 * TARIFF_COUNT
            seq_s, seq_lat = run_clients(url, headers, body, 1, sequential)
            conc_s, conc_lat = run_clients(url, headers, body, 4, per_client)
        finally:
            child.terminate()
            child.wait(timeout=10)
        request = request_body()
        entries = WarehouseTariffs(warehouse.root_path).current().for_request(request)
        quote(request, entries, timezone_name="Europe/Amsterdam")
        started = time.perf_counter()
        for _ in range(sequential):
            quote(request, entries, timezone_name="Europe/Amsterdam")
        local_s = time.perf_counter() - started

    ms = lambda seconds: f"{seconds * 1000:.1f} ms"  # noqa: E731
    print(f"request: {TARIFF_COUNT} tariffs x 2 charge points, 30 kWh in 45 min; uvicorn, {args.workers} worker(s)")
    print(f"HTTP sequential: {sequential / seq_s:8.1f} quotes/s  p50 {ms(statistics.median(seq_lat))}  "
          f"p99 {ms(percentile(seq_lat, 0.99))}  max {ms(max(seq_lat))}")
    print(f"HTTP 4 clients:  {4 * per_client / conc_s:8.1f} quotes/s  p50 {ms(statistics.median(conc_lat))}  "
          f"p99 {ms(percentile(conc_lat, 0.99))}")
    print(f"in-process quote(): {sequential / local_s:5.1f} quotes/s ({ms(local_s / sequential)} each)")
    print(f"ratio HTTP sequential / in-process quotes/s: {local_s / seq_s:.2f} (1.00 = the service adds nothing)")


if __name__ == "__main__":
    main()
