"""Chargeprice-style quotes (seed 002 `POST /v1/charge_prices`): what a hypothetical charge would cost.

`quote(request, tariffs)` takes a seed-002 `charge_price_request` document and tariffs (canonical
`Tariff`s, or `QuoteTariff`s from `load_tariff_directory`) and returns the seed-002 JSON:API response:
one `charge_price` per tariff with a `charge_point_prices` entry per requested charge point and
`meta.charge_points` (the duration and energy used). An invalid request returns the seed's error document
instead of raising. One module per job: `request` (validation and the charge per charge point), `charge`
(the hypothetical session, cut by the pipeline's period cutter), `response` (the documents), `tariffs`
(quote entries, tariff folders), `cli` (`python -m tariff_engine quote`).

All (tariff, charge point) pairs are priced in one numba kernel batch (`batch.price_sessions`); a tariff the
fixed-point kernels cannot represent is priced by the Decimal reference (same semantics). Tariffs in another
currency than the requested one are not priced (no exchange rates), reason given. Tariffs that cannot be
priced are returned with `price: null` and a `no_price_reason` when `show_price_unavailable` is true;
otherwise they are left out of `data` and listed in `meta.unpriced_tariffs` (an extension), so nothing
disappears silently.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from ..batch import price_sessions
from ..model import PricingResult, Tariff
from ..money import RoundingPolicy
from ..policy import PricingPolicy
from ..reference import price_session
from .charge import QuoteCharge, build_quote_sessions
from .request import ChargePoint, QuoteRequest, QuoteRequestError, parse_request
from .response import blocking_fee_start, charge_price_document, price_distribution, unavailable
from .tariffs import QuoteTariff, as_entries


def _charge_or_reason(entry: QuoteTariff, point: ChargePoint, request: QuoteRequest) -> QuoteCharge | str:
    """The quoted charge under this tariff, or why it cannot be priced."""
    tariff = entry.tariff
    if tariff is None:
        return entry.error or "the tariff cannot be priced"
    if tariff.currency != request.currency:
        return f"tariff is priced in {tariff.currency}, not {request.currency} (no exchange rates)"
    if tariff.electricity_rate_required and entry.electricity_rate is None:
        return "the tariff follows an electricity rate and none was provided"
    zone = ZoneInfo(request.zone)
    local = datetime.combine(request.local_day, time(request.start_minute // 60, request.start_minute % 60), tzinfo=zone)
    return QuoteCharge(tariff, point, local.astimezone(timezone.utc), request.zone, entry.electricity_rate,
                       f"quote:{entry.tariff_id}:{point.plug}:{point.power_kw}")


def _price_all(jobs: list[tuple[QuoteTariff, ChargePoint]], request: QuoteRequest, policy: PricingPolicy) -> list[dict[str, Any]]:
    """Price every (tariff, charge point) in one kernel batch; a tariff the fixed-point kernels cannot
    represent is priced by the Decimal reference instead (same semantics, same result)."""
    prepared = [_charge_or_reason(entry, point, request) for entry, point in jobs]
    charged = [i for i in range(len(jobs)) if isinstance(prepared[i], QuoteCharge)]
    batch = list(zip(charged, build_quote_sessions([prepared[i] for i in charged])))
    tariffs = [jobs[i][0].tariff for i, _ in batch]
    results: dict[int, PricingResult] = {}
    if batch:
        priced = price_sessions(tariffs, [session for _, session in batch], list(range(len(batch))), policy, breakdown=False)
        for (i, session), result in zip(batch, priced):
            if result.error_code == "TARIFF_NOT_COMPILABLE":
                result = price_session(jobs[i][0].tariff, session, policy)
            results[i] = result
    out = []
    for i, (entry, point) in enumerate(jobs):
        base = {"power": point.request_power, "plug": point.plug}
        if i not in results:
            out.append(unavailable(base, prepared[i]))
            continue
        result = results[i]
        if result.error_code is not None:
            out.append(unavailable(base, f"{result.error_code}: {result.error}"))
            continue
        total = result.total_cost.incl_vat
        out.append({**base, "price": total, "price_distribution": price_distribution(result, total),
                    "blocking_fee_start": blocking_fee_start(entry.tariff, point.duration_min), "no_price_reason": None})
    return out


def _selected(entries: Sequence[QuoteTariff], request: QuoteRequest) -> list[tuple[QuoteTariff, bool]]:
    """(tariff, always shown) pairs after the request's tariff relationship filter."""
    if request.tariff_filter is None:
        return [(entry, False) for entry in entries]
    listed = set(request.tariff_filter)
    if request.include_mode == "always":
        return [(entry, entry.tariff_id in listed) for entry in entries]
    return [(entry, request.include_mode == "exclusive") for entry in entries if entry.tariff_id in listed]


def quote(
    request: Mapping[str, Any],
    tariffs: Iterable[Tariff | QuoteTariff],
    *,
    vehicles: Mapping[str, Mapping[str, Any]] | None = None,
    timezone_name: str | None = None,
    on_date: date | None = None,
) -> dict[str, Any]:
    """Price a seed-002 `charge_price_request` under every tariff; the seed-002 response, or its error
    document (`{"errors": […]}`) for an invalid request.

    `vehicles`: id -> {battery_capacity_kwh, max_ac_kw, max_dc_kw} for battery-range requests;
    `timezone_name`: the station's IANA zone (else derived from its country); `on_date`: the local day of
    the charge (default today). Prices are `Decimal`s (use `dumps` for JSON text).
    """
    entries = as_entries(tariffs)
    try:
        parsed = parse_request(request, vehicles or {}, timezone_name, on_date)
    except QuoteRequestError as error:
        return error.document()
    policy = PricingPolicy(rounding=RoundingPolicy(mode="HALF_UP", stage="TOTAL", decimals=None))
    selected = _selected(entries, parsed)
    jobs = [(entry, point) for entry, _ in selected for point in parsed.charge_points]
    all_prices = _price_all(jobs, parsed, policy)
    per_tariff = len(parsed.charge_points)
    data, unpriced = [], []
    for position, (entry, always) in enumerate(selected):
        prices = all_prices[position * per_tariff:(position + 1) * per_tariff]
        priceable = any(p["price"] is not None for p in prices)
        if not priceable and not (parsed.show_unavailable or always):
            unpriced.append({"tariff": entry.tariff_id, "reason": prices[0]["no_price_reason"]})
            continue
        if not parsed.show_unavailable and not always:
            prices = [p for p in prices if p["price"] is not None]
        data.append(charge_price_document(entry, parsed, prices))
    meta: dict[str, Any] = {"charge_points": [
        {"power": point.request_power, "plug": point.plug, "duration": float(point.duration_min),
         "energy": float(point.energy_kwh)} for point in parsed.charge_points]}
    if unpriced:
        meta["unpriced_tariffs"] = unpriced
    return {"data": data, "meta": meta}
