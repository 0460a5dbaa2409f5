"""`python -m resources.quote_service --port 8810`: the quote service on uvicorn.

API keys come from CHARGELEDGER_QUOTE_API_KEYS (comma-separated; plain or `sha256:<hex>`), never from the
command line; the warehouse from --warehouse or CHARGELEDGER_WAREHOUSE (default data/warehouse). The options
are handed to the app factory (`app.app_from_env`) through the environment, so `--workers N` processes each
build the same app.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from resources.quote_service.app import KEYS_ENV, TIMEZONE_ENV, VEHICLES_ENV, WAREHOUSE_ENV


def main() -> None:
    parser = argparse.ArgumentParser(description="Chargeprice-style quote service (seed 002) over the warehouse's tariffs")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8810)
    parser.add_argument("--warehouse", default=os.environ.get(WAREHOUSE_ENV, "data/warehouse"))
    parser.add_argument("--timezone", help="IANA zone of every station (default: from the station's country)")
    parser.add_argument("--vehicles", help="JSON file: vehicle id -> {battery_capacity_kwh, max_ac_kw, max_dc_kw}")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (quotes are CPU-bound)")
    args = parser.parse_args()
    if not any(k.strip() for k in os.environ.get(KEYS_ENV, "").split(",")):
        raise SystemExit(f"set ${KEYS_ENV} (comma-separated API keys, plain or sha256:<hex>)")
    os.environ[WAREHOUSE_ENV] = str(Path(args.warehouse).resolve())
    os.environ[TIMEZONE_ENV] = args.timezone or ""
    os.environ[VEHICLES_ENV] = str(Path(args.vehicles).resolve()) if args.vehicles else ""
    uvicorn.run("resources.quote_service.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers)


if __name__ == "__main__":
    main()
