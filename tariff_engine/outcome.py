"""The intermediate outcome both pricers produce, and its assembly into a `PricingResult`.

The Decimal reference and the numba kernels each compute a `SessionOutcome` (integer nano amounts, already
rounded per the policy's stage); `assemble` turns either into the public `PricingResult`, so the two paths
differ only in how they compute, never in how they report.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .model import Amount, BreakdownRow, PricingResult, Tariff, TaxAmount
from .money import INTERNAL_DECIMALS, nano_to_decimal
from .policy import PricingPolicy

# Reporting categories, in the order of the OCPI totals.
CATEGORIES: tuple[str, ...] = ("energy", "time", "parking", "fixed", "reservation")
ENERGY_CAT, TIME_CAT, PARKING_CAT, FIXED_CAT, RESERVATION_CAT = range(5)
_MS_PER_HOUR = Decimal(3_600_000)
_VOLUME_EXPONENT = Decimal("0.000001")


def tax_slot_names(tariff: Tariff) -> tuple[str, ...]:
    """Names of the tax slots: slot 0 is the per-component `vat`, then the tariff's named taxes."""
    return ("VAT",) + tuple(tax.name for tax in tariff.taxes)


@dataclass(frozen=True)
class SessionOutcome:
    """A priced session in integer nano units (1e-9 currency).

    `category_excl`/`category_incl`: per category, rounded to the output precision; `category_taxes`: per
    category and tax slot, unrounded shares used to name the taxes; `total_excl`/`total_incl`: rounded
    totals after min/max bounds. Quantities: energy in mWh, time and parking in ms.
    """

    category_excl: tuple[int, ...]
    category_incl: tuple[int, ...]
    category_taxes: tuple[tuple[int, ...], ...]
    total_excl: int
    total_incl: int
    min_price_applied: bool
    max_price_applied: bool
    energy_mwh: int
    time_ms: int
    parking_ms: int
    rows: tuple[BreakdownRow, ...] = ()
    error_code: str | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()


def split_taxes(total_tax: int, shares: tuple[int, ...], names: tuple[str, ...], unit: int) -> tuple[TaxAmount, ...]:
    """Split a rounded tax total over the named slots in proportion to `shares` (floor to `unit`, the last
    non-zero slot takes the remainder), merging slots of the same name; exact: parts sum to `total_tax`."""
    if total_tax == 0 and not any(shares):
        return ()
    share_sum = sum(shares)
    if share_sum == 0:
        return (TaxAmount(names[0], nano_to_decimal(total_tax)),)
    used = [i for i, share in enumerate(shares) if share]
    parts: dict[str, int] = {}
    remaining = total_tax
    for position, slot in enumerate(used):
        if position == len(used) - 1:
            part = remaining
        else:
            part = (total_tax * shares[slot] // share_sum) // unit * unit
        remaining -= part
        parts[names[slot]] = parts.get(names[slot], 0) + part
    return tuple(TaxAmount(name, nano_to_decimal(amount)) for name, amount in parts.items())


def _amount(excl: int, incl: int, shares: tuple[int, ...], names: tuple[str, ...], unit: int, exponent: Decimal) -> Amount:
    """Rounded nano amounts (multiples of `unit`) as an `Amount` at the output precision."""
    decimals = -exponent.as_tuple().exponent
    if excl == 0 and incl == 0 and not any(shares):
        zero = Decimal(0).scaleb(-decimals)
        return Amount(zero, zero)
    taxes = tuple(
        TaxAmount(t.name, t.amount.quantize(exponent)) for t in split_taxes(incl - excl, shares, names, unit)
    )
    # amounts are multiples of `unit`: integer division is exact and scaleb sets the exponent
    return Amount(Decimal(excl // unit).scaleb(-decimals), Decimal(incl // unit).scaleb(-decimals), taxes)


def volume_decimal(value: int, dimension: str) -> Decimal:
    """A breakdown volume in reporting units: mWh as kWh, ms as hours (40 significant digits), FLAT as is."""
    if dimension == "FLAT":
        return Decimal(value)
    if dimension == "ENERGY":
        return Decimal(value).scaleb(-6)
    with decimal.localcontext() as context:
        context.prec = 40
        return Decimal(value) / _MS_PER_HOUR


def hours(ms: int) -> Decimal:
    """Milliseconds as hours, half-up to 6 decimals (reporting precision of quantities)."""
    return (Decimal(ms) / _MS_PER_HOUR).quantize(_VOLUME_EXPONENT, rounding=ROUND_HALF_UP)


def assemble(session_id: str, tariff: Tariff, outcome: SessionOutcome, policy: PricingPolicy) -> PricingResult:
    """Turn a `SessionOutcome` into the public `PricingResult` (Decimal amounts at the output precision)."""
    decimals = policy.rounding.output_decimals(tariff.currency)
    exponent = Decimal(1).scaleb(-decimals)
    unit = 10 ** (INTERNAL_DECIMALS - decimals)
    names = tax_slot_names(tariff)
    if outcome.error_code is not None:
        zero = Amount(Decimal(0).quantize(exponent), Decimal(0).quantize(exponent))
        return PricingResult(
            session_id, tariff.currency, zero, zero, zero, zero, zero, zero,
            Decimal(0), Decimal(0), Decimal(0), error_code=outcome.error_code, error=outcome.error,
        )
    categories = [
        _amount(outcome.category_excl[c], outcome.category_incl[c], outcome.category_taxes[c], names, unit, exponent)
        for c in range(len(CATEGORIES))
    ]
    total_shares = tuple(sum(column) for column in zip(*outcome.category_taxes))
    total = _amount(outcome.total_excl, outcome.total_incl, total_shares, names, unit, exponent)
    return PricingResult(
        session_id=session_id,
        currency=tariff.currency,
        total_cost=total,
        total_energy_cost=categories[ENERGY_CAT],
        total_time_cost=categories[TIME_CAT],
        total_parking_cost=categories[PARKING_CAT],
        total_fixed_cost=categories[FIXED_CAT],
        total_reservation_cost=categories[RESERVATION_CAT],
        total_energy=Decimal(outcome.energy_mwh).scaleb(-6),
        total_time=hours(outcome.time_ms + outcome.parking_ms),
        total_parking_time=hours(outcome.parking_ms),
        min_price_applied=outcome.min_price_applied,
        max_price_applied=outcome.max_price_applied,
        breakdown=outcome.rows,
        warnings=outcome.warnings,
    )
