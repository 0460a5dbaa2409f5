"""The VAT rate of each priced amount: from the tariff when it is unambiguous, else from the amounts.

The engine prices a component with its own `vat`, else with the tariff's named taxes added together (e.g.
GST 5 % + PST 7 % = 12 %), and with no tax at all when the tariff says `tax_included = N/A`. A dimension's
rate is known from the tariff when every component of that dimension carries the same effective rate.
Otherwise (several rates for one dimension, an unknown tariff, or the part of a total that a min/max price
moved) the rate is derived from the amounts, (incl - excl) / excl in percent, 4 decimals half-up.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

from tariff_engine import Tariff, parse_tariff

RATE_QUANTUM = Decimal("0.0001")
# priced_sessions amount column prefix -> the dimension types the engine prices into it
DIMENSION_TYPES = {"energy": ("ENERGY",), "time": ("TIME",), "parking": ("PARKING_TIME",), "fixed": ("FLAT",),
                   "reservation": ("RESERVATION",)}
ADJUSTMENT = "adjustment"
"""The part of a session's total that its dimension amounts do not explain (a min/max price)."""


def component_rate(tariff: Tariff, vat: Decimal | None) -> Decimal:
    """The effective tax rate, in percent, the engine applies to one price component."""
    if tariff.tax_included == "N/A":
        return Decimal(0)
    if vat is not None:
        return vat
    return sum((tax.percentage for tax in tariff.taxes), Decimal(0))


def dimension_rates(tariff: Tariff) -> dict[str, Decimal]:
    """The amount columns of a tariff that carry exactly one rate, and that rate."""
    found: dict[str, set[Decimal]] = {}
    for element in tariff.elements:
        reservation = bool(element.restrictions and element.restrictions.reservation)
        for component in element.price_components:
            column = "reservation" if reservation else next(
                name for name, types in DIMENSION_TYPES.items() if component.type in types)
            found.setdefault(column, set()).add(component_rate(tariff, component.vat).normalize())
    return {column: rates.pop().quantize(RATE_QUANTUM) for column, rates in found.items() if len(rates) == 1}


def tariff_rates(tariff_documents: dict[str, str]) -> dict[tuple[str, str], Decimal]:
    """(tariff_id, amount column) -> rate, for every canonical tariff JSON that parses."""
    rates: dict[tuple[str, str], Decimal] = {}
    for tariff_id, document in sorted(tariff_documents.items()):
        for column, rate in dimension_rates(parse_tariff(json.loads(document))).items():
            rates[(tariff_id, column)] = rate
    return rates


def derived_rate(excl: Decimal, incl: Decimal) -> Decimal | None:
    """(incl - excl) / excl in percent, 4 decimals half-up; None when excl is 0 (no basis to derive from)."""
    if excl == 0:
        return None
    return ((incl - excl) * 100 / excl).quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)
