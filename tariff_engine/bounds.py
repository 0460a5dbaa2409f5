"""The min_price / max_price rule: how a bound moves the pre-tax and post-tax totals of a session.

The rule (written once here; `kernels._bound` is its integer twin and the property tests hold them equal):
1. A bound with both amounts bounds the pre-tax and the post-tax total independently.
2. A bound given only excl. VAT (`PriceLimit.incl_vat` is None) moves the pre-tax total from E to the bound
   B, and the taxes scale with the adjusted base: the post-tax total I becomes I x B / E (half-up to 1e-9
   currency units), i.e. the session's own effective tax rate applies to the new base. Examples: min 5.00
   excl on 2 kWh x 0.25 at 21 % VAT (E 0.50, I 0.605) gives 6.05 incl; max 10.00 excl on 100 kWh x 0.25 at
   20 % (E 25.00, I 30.00) gives 12.00 incl.
3. When nothing was priced (E = 0) the session has no rate of its own; the tariff's rate applies instead:
   I = B x (1 + r / 100), r being the one rate every component of the tariff carries (its `vat`, else the
   sum of the tariff's named taxes; 0 under tax_included N/A or when no component is taxed). A tariff whose
   components carry different rates cannot say which applies: the session is refused with
   BOUND_TAX_AMBIGUOUS rather than given a guessed tax.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .model import PriceLimit, Tariff
from .money import decimal_to_nano


class BoundTaxAmbiguous(Exception):
    """Rule 3 cannot pick a tax rate (the tariff's components carry different rates)."""


def bound_tax_rate(tariff: Tariff) -> Decimal | None:
    """The tariff's single tax rate in percent (rule 3), or None when its components disagree."""
    if tariff.tax_included == "N/A":
        return Decimal(0)
    named = sum((tax.percentage for tax in tariff.taxes), Decimal(0))
    rates = {component.vat if component.vat is not None else named
             for element in tariff.elements for component in element.price_components}
    return rates.pop() if len(rates) == 1 else None


def _scaled_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def apply_bound(excl: int, incl: int, limit: PriceLimit, lower: bool, tariff_rate: Decimal | None) -> tuple[int, int, bool]:
    """(excl, incl, moved): nano totals after a min (lower=True) or max bound. Raises BoundTaxAmbiguous."""
    limit_excl = decimal_to_nano(limit.excl_vat)
    moved_excl = excl < limit_excl if lower else excl > limit_excl
    new_excl = limit_excl if moved_excl else excl
    if limit.incl_vat is not None:
        limit_incl = decimal_to_nano(limit.incl_vat)
        moved_incl = incl < limit_incl if lower else incl > limit_incl
        return new_excl, limit_incl if moved_incl else incl, moved_excl or moved_incl
    if not moved_excl:
        return excl, incl, False
    if excl != 0:
        return new_excl, _scaled_half_up(Decimal(incl) * Decimal(new_excl) / Decimal(excl)), True
    if tariff_rate is None:
        raise BoundTaxAmbiguous("the bound gives no incl. VAT amount, nothing was priced and the tariff's "
                                "components carry different tax rates")
    return new_excl, new_excl + _scaled_half_up(Decimal(new_excl) * tariff_rate / 100), True
