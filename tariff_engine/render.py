"""Results straight from the kernel's integer outputs: OCPI JSON texts and `PricingResult`s without detours.

The slow path builds a `SessionOutcome`, then Decimal `Amount`s, then strings, value by value. For the common
case (a tariff without named taxes, so every tax is "VAT" and no tax split is needed) the same texts and
Decimals follow from integer arithmetic alone; values repeat a lot (zeros, common prices), so each distinct
value is formatted once per call. Sessions whose tariff has named taxes go through the slow assembly.
"""

from __future__ import annotations

import dataclasses
import decimal
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Callable

import numpy as np

from .kernels import BatchOutput
from .model import Amount, PricingResult, Tariff, TaxAmount
from .money import INTERNAL_DECIMALS
from .outcome import hours
from .policy import PricingPolicy, warning_codes

_FOUR_DECIMALS = Decimal("0.0001")


def decimal_text(value: int, decimals: int) -> str:
    """`str(Decimal(value).scaleb(-decimals))` for an integer count of output units."""
    if value >= 0 and 1 <= decimals <= 6:  # plain notation whenever the adjusted exponent is >= -6
        whole, fraction = divmod(value, 10**decimals)
        return f"{whole}.{fraction:0{decimals}d}"
    if decimals == 0:
        return str(value)
    return str(Decimal(value).scaleb(-decimals))


def energy_text(mwh: int) -> str:
    """The slow path's `str(Decimal(mwh).scaleb(-6).normalize())` ("0" for zero): kWh without trailing zeros."""
    if mwh == 0:
        return "0"
    if mwh > 0 and mwh % 1_000_000:
        whole, fraction = divmod(mwh, 1_000_000)
        return f"{whole}.{fraction:06d}".rstrip("0")
    return str(Decimal(mwh).scaleb(-6).normalize())  # whole kWh: normalize may switch to exponent notation


def hours_text(ms: int) -> str:
    """The slow path's `str(hours(ms).quantize(Decimal("0.0001")))`: half-up to 6 decimals, then the
    context's rounding (half-even by default) to 4."""
    if ms < 0 or decimal.getcontext().rounding != ROUND_HALF_EVEN:
        return str(hours(ms).quantize(_FOUR_DECIMALS))
    micro_hours = (10 * ms + 18) // 36  # ms / 3.6 half-up: hours to 6 decimals
    whole, remainder = divmod(micro_hours, 100)
    if remainder > 50 or (remainder == 50 and whole % 2):
        whole += 1
    return f"{whole // 10_000}.{whole % 10_000:04d}"


def _memo(function: Callable[[int], Any]) -> Callable[[int], Any]:
    """A per-call cache of `function` over ints (outputs repeat: zeros, common amounts)."""
    cache: dict[int, Any] = {}

    def cached(value: int) -> Any:
        result = cache.get(value)
        if result is None:
            result = cache[value] = function(value)
        return result

    return cached


def unit_and_decimals(tariff: Tariff, policy: PricingPolicy) -> tuple[int, int]:
    """(rounding unit in nano, output decimals) of `tariff`'s currency under `policy`."""
    decimals = policy.rounding.output_decimals(tariff.currency)
    return 10 ** (INTERNAL_DECIMALS - decimals), decimals


def _texts(values: np.ndarray, format_one: Callable[[int], str]) -> np.ndarray:
    """`format_one` over an integer array, each distinct value formatted once; an object array of texts."""
    distinct, inverse = np.unique(values, return_inverse=True)
    texts = np.empty(distinct.shape[0], dtype=object)
    texts[:] = [format_one(value) for value in distinct.tolist()]
    return texts[inverse.reshape(values.shape)]


def priced_json(output: BatchOutput, indexes: list[int], session_ids: list[str], tariffs: list[Tariff],
                policy: PricingPolicy) -> list[dict[str, Any]]:
    """OCPI JSON (as `cdr_json.result_to_json` writes it) of priced sessions `indexes` (error 0, tariff
    without named taxes); `session_ids[k]`/`tariffs[k]` belong to `indexes[k]`."""
    if not indexes:
        return []
    rows = np.asarray(indexes, dtype=np.int64)
    # the 12 amounts of each session in output order: total, energy, time, parking, fixed, reservation
    amounts = np.empty((rows.shape[0], 12), dtype=np.int64)
    amounts[:, 0:2] = output.totals[rows]
    amounts[:, 2::2] = output.category_excl[rows]
    amounts[:, 3::2] = output.category_incl[rows]
    units = np.empty(rows.shape[0], dtype=np.int64)
    decimals_of = np.empty(rows.shape[0], dtype=np.int64)
    for k, tariff in enumerate(tariffs):
        units[k], decimals_of[k] = unit_and_decimals(tariff, policy)
    amount_texts = np.empty(amounts.shape, dtype=object)
    for decimals in np.unique(decimals_of).tolist():
        group = decimals_of == decimals
        amount_texts[group] = _texts(amounts[group] // units[group][:, None],
                                     lambda value, d=decimals: decimal_text(value, d))
    quantities = output.quantities[rows]
    energy = _texts(quantities[:, 0], energy_text).tolist()
    time = _texts(quantities[:, 1] + quantities[:, 2], hours_text).tolist()
    parking = _texts(quantities[:, 2], hours_text).tolist()
    flags = output.flags[rows].tolist()
    warnings = output.warnings[rows].tolist()
    documents = []
    for k, t in enumerate(amount_texts.tolist()):
        documents.append({
            "id": session_ids[k], "currency": tariffs[k].currency,
            "total_cost": {"excl_vat": t[0], "incl_vat": t[1]},
            "total_energy_cost": {"excl_vat": t[2], "incl_vat": t[3]},
            "total_time_cost": {"excl_vat": t[4], "incl_vat": t[5]},
            "total_parking_cost": {"excl_vat": t[6], "incl_vat": t[7]},
            "total_fixed_cost": {"excl_vat": t[8], "incl_vat": t[9]},
            "total_reservation_cost": {"excl_vat": t[10], "incl_vat": t[11]},
            "total_energy": energy[k], "total_time": time[k], "total_parking_time": parking[k],
            "min_price_applied": bool(flags[k] & 1), "max_price_applied": bool(flags[k] & 2),
        })
        if warnings[k]:
            documents[-1]["warnings"] = list(warning_codes(warnings[k]))
    return documents


def priced_results(output: BatchOutput, indexes: list[int], session_ids: list[str], tariffs: list[Tariff],
                   policy: PricingPolicy) -> list[PricingResult]:
    """`PricingResult`s (no breakdown) equal to what `outcome.assemble` builds, for priced sessions whose
    tariff has no named taxes (so every tax is one "VAT" line: the tax total itself)."""
    if not indexes:
        return []
    rows = np.asarray(indexes, dtype=np.int64)
    totals = output.totals[rows].tolist()
    excl = output.category_excl[rows].tolist()
    incl = output.category_incl[rows].tolist()
    vat_shares = output.category_tax[rows, :, 0].tolist()
    quantities = output.quantities[rows].tolist()
    flags = output.flags[rows].tolist()
    warnings = output.warnings[rows].tolist()
    numbers: dict[int, Callable[[int], Decimal]] = {}
    amount_cache: dict[tuple[int, int, bool, int], Amount] = {}

    def vat_amount(excl: int, incl: int, share: int, unit: int, number: Callable[[int], Decimal]) -> Amount:
        # Amounts are immutable values: equal ones (zeros above all) are built once and shared
        key = (excl, incl, share != 0, unit)
        amount = amount_cache.get(key)
        if amount is None:
            amount = amount_cache[key] = _vat_amount(excl, incl, share, unit, number)
        return amount

    energy = _memo(lambda mwh: Decimal(mwh).scaleb(-6))
    hour = _memo(hours)
    results = []
    for k, tariff in enumerate(tariffs):
        unit, decimals = unit_and_decimals(tariff, policy)
        number = numbers.get(decimals)
        if number is None:
            number = numbers[decimals] = _memo(lambda value, d=decimals: Decimal(value).scaleb(-d))
        shares = vat_shares[k]
        amounts = [vat_amount(totals[k][0], totals[k][1], sum(shares), unit, number)]
        amounts.extend(vat_amount(excl[k][c], incl[k][c], shares[c], unit, number) for c in range(5))
        energy_mwh, time_ms, parking_ms = quantities[k]
        results.append(_new_result(
            session_id=session_ids[k], currency=tariff.currency, total_cost=amounts[0],
            total_energy_cost=amounts[1], total_time_cost=amounts[2], total_parking_cost=amounts[3],
            total_fixed_cost=amounts[4], total_reservation_cost=amounts[5], total_energy=energy(energy_mwh),
            total_time=hour(time_ms + parking_ms), total_parking_time=hour(parking_ms),
            min_price_applied=bool(flags[k] & 1), max_price_applied=bool(flags[k] & 2),
            warnings=warning_codes(warnings[k]),
        ))
    return results


# A frozen dataclass's __init__ sets each of PricingResult's 17 fields through object.__setattr__: half the
# cost of a priced session on this path. With no __post_init__ and no __slots__ (checked here, at import)
# filling __dict__ in one call builds the very same object; otherwise the ordinary constructor is used.
_RESULT_DEFAULTS = {field.name: field.default for field in dataclasses.fields(PricingResult)
                    if field.default is not dataclasses.MISSING}
_DIRECT_RESULTS = not hasattr(PricingResult, "__post_init__") and "__slots__" not in vars(PricingResult) and \
    all(field.default_factory is dataclasses.MISSING or field.name == "breakdown"
        for field in dataclasses.fields(PricingResult))


def _new_result(**fields: Any) -> PricingResult:
    """A `PricingResult` (no breakdown), equal in every respect to `PricingResult(**fields)`."""
    if not _DIRECT_RESULTS:
        return PricingResult(**fields)
    result = object.__new__(PricingResult)
    result.__dict__.update(_RESULT_DEFAULTS, breakdown=(), **fields)
    return result


def _vat_amount(excl: int, incl: int, share: int, unit: int, number: Callable[[int], Decimal]) -> Amount:
    """`outcome._amount` for a single "VAT" slot: rounded amounts, the tax line is incl - excl."""
    if excl == 0 and incl == 0 and share == 0:
        return Amount(number(0), number(0))
    tax = incl - excl
    taxes = () if tax == 0 and share == 0 else (TaxAmount("VAT", number(tax // unit)),)
    return Amount(number(excl // unit), number(incl // unit), taxes)
