"""Chargeprice-compatible quote service (seed 002): `POST /v1/charge_prices` over the warehouse's tariffs.

`create_app(tariffs, api_keys)` is the ASGI app (Starlette); `WarehouseTariffs(root).current` feeds it the
`tariffs` table. `python -m resources.quote_service` (or `make quotes`) serves it with uvicorn.
"""

from resources.quote_service.app import create_app
from resources.quote_service.tariffs import OfferedTariffs, WarehouseTariffs, offered_tariffs

__all__ = ["OfferedTariffs", "WarehouseTariffs", "create_app", "offered_tariffs"]
