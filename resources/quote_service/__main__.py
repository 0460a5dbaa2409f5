"""`python -m resources.quote_service --port 8810`: the quote service on uvicorn.

API keys come from CHARGELEDGER_QUOTE_API_KEYS (comma-separated; plain or `sha256:<hex>`), never from the
command line; the warehouse from --warehouse or CHARGELEDGER_WAREHOUSE (default data/warehouse).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import uvicorn

from resources.quote_service.app import create_app
from resources.quote_service.tariffs import WarehouseTariffs

KEYS_ENV = "CHARGELEDGER_QUOTE_API_KEYS"


def main() -> None:
    parser = argparse.ArgumentParser(description="Chargeprice-style quote service (seed 002) over the warehouse's tariffs")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8810)
    parser.add_argument("--warehouse", default=os.environ.get("CHARGELEDGER_WAREHOUSE", "data/warehouse"))
    parser.add_argument("--timezone", help="IANA zone of every station (default: from the station's country)")
    parser.add_argument("--vehicles", help="JSON file: vehicle id -> {battery_capacity_kwh, max_ac_kw, max_dc_kw}")
    args = parser.parse_args()
    keys = [k.strip() for k in os.environ.get(KEYS_ENV, "").split(",") if k.strip()]
    if not keys:
        raise SystemExit(f"set ${KEYS_ENV} (comma-separated API keys, plain or sha256:<hex>)")
    vehicles = json.loads(Path(args.vehicles).read_text(encoding="utf-8")) if args.vehicles else None
    tariffs = WarehouseTariffs(args.warehouse)
    print(f"quote service: {len(tariffs.current().entries)} tariffs from {tariffs.table_dir}", flush=True)
    uvicorn.run(create_app(tariffs.current, keys, timezone_name=args.timezone, vehicles=vehicles),
                host=args.host, port=args.port)


if __name__ == "__main__":
    main()
