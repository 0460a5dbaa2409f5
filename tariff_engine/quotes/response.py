"""The seed-002 quote response documents: `charge_price` entries, price shares, blocking fee, JSON text.

Per (tariff, charge point): `price` is the total incl. taxes at the currency's minor unit (half-up),
`price_distribution` its shares by session / kwh / minute, `blocking_fee_start` the minute a blocking fee
starts (seed definition), `no_price_reason` why a tariff could not be priced.
"""

from __future__ import annotations

import json
import uuid
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any, Mapping

from ..model import PricingResult, Tariff
from .request import QuoteRequest
from .tariffs import QuoteTariff


_SHARE = Decimal("0.0001")


def blocking_fee_start(tariff: Tariff, charge_minutes: Decimal) -> int | None:
    """Minutes after the start of charge when a blocking fee starts to count, per the seed's definition: a
    minute-based component starting after the start, and no minute-based component from the start.

    TIME components count from `min_duration` (0 when absent); PARKING_TIME ones from the end of the charge
    (plus `min_idle_duration`) or from `min_duration` if later. Only components with a price count."""
    starts: list[Decimal] = []
    for element in tariff.elements:
        r = element.restrictions
        if r is not None and r.reservation is not None:
            continue
        for component in element.price_components:
            if component.type not in ("TIME", "PARKING_TIME") or component.price <= 0:
                continue
            since_start = Decimal(r.min_duration if r and r.min_duration else 0) / 60
            if component.type == "PARKING_TIME":
                idle = Decimal(r.min_idle_duration if r and r.min_idle_duration else 0) / 60
                since_start = max(since_start, charge_minutes + idle)
            starts.append(since_start)
    if not starts or min(starts) == 0:
        return None
    return int(min(starts).to_integral_value(rounding=ROUND_CEILING))


def price_distribution(result: PricingResult, total: Decimal) -> dict[str, float]:
    """Shares of the total by session / kwh / minute (4 decimals, summing to 1); a minimum-price top-up
    counts as a session share."""
    parts = {
        "session": result.total_fixed_cost.incl_vat + result.total_reservation_cost.incl_vat,
        "kwh": result.total_energy_cost.incl_vat,
        "minute": result.total_time_cost.incl_vat + result.total_parking_cost.incl_vat,
    }
    parts["session"] += total - sum(parts.values())
    parts = {key: value for key, value in parts.items() if value > 0}
    if total <= 0 or not parts:
        return {}
    shares = {key: (value / total).quantize(_SHARE, rounding=ROUND_HALF_UP) for key, value in parts.items()}
    largest = max(shares, key=lambda key: (parts[key], key))
    shares[largest] += 1 - sum(shares.values())
    return {key: float(value) for key, value in shares.items()}


def _number_out(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def unavailable(base: dict[str, Any], reason: str | None) -> dict[str, Any]:
    """A charge point price that could not be computed, with its reason."""
    return {**base, "price": None, "price_distribution": {}, "blocking_fee_start": None, "no_price_reason": reason}


def charge_price_document(entry: QuoteTariff, request: QuoteRequest, prices: list[dict[str, Any]]) -> dict[str, Any]:
    """The seed-002 `charge_price` resource of one tariff with its charge point prices."""
    currency = entry.tariff.currency if entry.tariff is not None else request.currency
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"chargeledger:tariff:{entry.tariff_id}")),
        "type": "charge_price",
        "attributes": {
            "provider": entry.provider,
            "tariff_name": entry.tariff_name,
            "url": None,
            "monthly_min_sales": 0,
            "total_monthly_fee": 0,
            "flat_rate": False,
            "direct_payment": entry.direct_payment,
            "provider_customer_tariff": False,
            "currency": currency,
            "start_time": request.start_minute,
            "tags": [],
            "branding": None,
            "charge_point_prices": prices,
        },
        "relationships": {"tariff": {"data": {"id": entry.tariff_id, "type": "tariff"}}},
    }


def dumps(document: Mapping[str, Any]) -> str:
    """JSON text of a quote response; Decimal prices are written as exact JSON numbers."""

    def encode(value: Any) -> Any:
        if isinstance(value, Decimal):
            return _number_out(value)
        raise TypeError(f"not JSON serializable: {type(value).__name__}")

    return json.dumps(document, default=encode, ensure_ascii=False, indent=2)
