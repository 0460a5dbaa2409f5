"""`POST /v1/charge_prices` (seed 002, Chargeprice) as a Starlette ASGI app.

- Auth: the `API-Key` header must match one of the configured keys (plain text or `sha256:<hex>`), compared
  in constant time; otherwise 403 FORBIDDEN (`api_key missing` / `api_key invalid`).
- Body: a JSON:API `charge_price_request` (seed 002), priced over the tariffs offered at its `station.network`
  (see `tariffs.py`). Validation, pricing and the response document are the
  engine's `tariff_engine.quotes.quote` (one numba kernel call for every tariff × charge point of the request),
  run in a worker thread so the event loop stays free.
- Errors are the seed's error documents `{"errors": [{"status", "code", "title"}]}`: 400 BAD_REQUEST (bad JSON,
  wrong content type, invalid request), 403 FORBIDDEN, 404 NOT_FOUND (unknown currency or vehicle, unknown
  path), 405 for another method, 500 INTERNAL_SERVER_ERROR (no internals in the title).
- `Accept-Language` is accepted and ignored: every text is English (the seed's default).
- Prices are exact decimals written as JSON numbers (orjson).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from resources.quote_service.tariffs import OfferedTariffs, WarehouseTariffs
from tariff_engine.quotes import quote

log = logging.getLogger("chargeledger.quote_service")
KEYS_ENV = "CHARGELEDGER_QUOTE_API_KEYS"
WAREHOUSE_ENV = "CHARGELEDGER_WAREHOUSE"
TIMEZONE_ENV = "CHARGELEDGER_QUOTE_TIMEZONE"
VEHICLES_ENV = "CHARGELEDGER_QUOTE_VEHICLES"
MAX_BODY_BYTES = 1_000_000
_CODES = {400: "BAD_REQUEST", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
          500: "INTERNAL_SERVER_ERROR"}


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)  # exact: ≤ 4 decimals
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def json_response(document: Mapping[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(document, default=_encode), status_code=status, media_type="application/json")


def error_response(status: int, title: str) -> Response:
    """The seed's error document."""
    return json_response({"errors": [{"status": str(status), "code": _CODES.get(status, "BAD_REQUEST"),
                                      "title": title}]}, status)


class ApiKeys:
    """Configured API keys, plain or `sha256:<hex>`; checked in constant time."""

    def __init__(self, keys: Collection[str]) -> None:
        self._digests = [bytes.fromhex(k[7:]) if k.startswith("sha256:") else hashlib.sha256(k.encode()).digest()
                         for k in keys if k]
        if not self._digests:
            raise ValueError("no API key configured")

    def accepts(self, key: str) -> bool:
        digest = hashlib.sha256(key.encode()).digest()
        return any(hmac.compare_digest(digest, known) for known in self._digests)  # no early exit


def create_app(tariffs: Callable[[], OfferedTariffs], api_keys: Collection[str], *,
               timezone_name: str | None = None, vehicles: Mapping[str, Mapping[str, Any]] | None = None) -> Starlette:
    """The quote service over `tariffs()` (called per request, e.g. `WarehouseTariffs(...).current`)."""
    keys = ApiKeys(api_keys)

    async def charge_prices(request: Request) -> Response:
        key = request.headers.get("api-key")
        if not key:
            return error_response(403, "api_key missing")
        if not keys.accepts(key):
            return error_response(403, "api_key invalid")
        if "json" not in request.headers.get("content-type", ""):
            return error_response(400, "Content-Type must be application/json")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return error_response(400, f"request body larger than {MAX_BODY_BYTES} bytes")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_response(400, "request body is not valid JSON")
        entries = tariffs().for_request(document)
        result = await run_in_threadpool(quote, document, entries, vehicles=vehicles, timezone_name=timezone_name)
        if "errors" in result:
            return json_response(result, int(result["errors"][0]["status"]))
        return json_response(result)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        title = {404: f"No route {request.url.path}", 405: f"{request.method} is not allowed here"}.get(
            exc.status_code, str(exc.detail))
        return error_response(exc.status_code, title)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("quote failed")  # the details go to the server log, not to the caller
        return error_response(500, "an unexpected error happened")

    return Starlette(routes=[Route("/v1/charge_prices", charge_prices, methods=["POST"])],
                     exception_handlers={HTTPException: http_error, Exception: server_error})


def app_from_env() -> Starlette:
    """The app as `python -m resources.quote_service` configures it (uvicorn factory; one per worker)."""
    tariffs = WarehouseTariffs(os.environ.get(WAREHOUSE_ENV, "data/warehouse"))
    print(f"quote service: {len(tariffs.current().entries)} tariffs from {tariffs.table_dir}", flush=True)
    vehicles_file = os.environ.get(VEHICLES_ENV)
    vehicles = json.loads(Path(vehicles_file).read_text(encoding="utf-8")) if vehicles_file else None
    keys = [k.strip() for k in os.environ.get(KEYS_ENV, "").split(",") if k.strip()]
    warm_up(tariffs.current().entries)
    return create_app(tariffs.current, keys, timezone_name=os.environ.get(TIMEZONE_ENV) or None, vehicles=vehicles)


def warm_up(entries: list) -> None:
    """Price one hypothetical charge before serving, so the numba kernels are compiled (or loaded from the
    cache) before the first caller waits for them."""
    priceable = [e for e in entries if e.tariff is not None][:1]
    if not priceable:
        return
    request = {"data": {"type": "charge_price_request", "attributes": {
        "data_adapter": "chargeprice",
        "station": {"longitude": 0.0, "latitude": 0.0, "country": "XX", "network": "warm-up",
                    "charge_points": [{"power": 22, "plug": "type2"}]},
        "options": {"energy": 10, "duration": 60, "currency": priceable[0].tariff.currency}}}}
    quote(request, priceable, timezone_name="UTC")
