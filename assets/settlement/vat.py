"""The VAT rate of each priced amount, checked against the amounts themselves: the one rule for it.

`assign_rates` is used by the settlement statements (`statements.amount_lines`) and by invoicing
(`assets.invoicing.drafting.session_rates`), so a session's amount carries the same rate on its statement line
and on its invoice line. (Gross-priced amounts, excl. = incl. at an unnamed rate, are the separate issuer-rate
rule of `assets.partner_settlement.vat`.)

The engine prices a component with its own `vat`, else with the tariff's named taxes added together (e.g.
GST 5 % + PST 7 % = 12 %), and with no tax when the tariff says `tax_included = N/A`. The tariff a session
was priced with is not always the one in `tariffs` (a tariff sealed in the session record wins), so a rate
is only taken when it fits the amounts: excl x rate / 100 equals incl - excl within what rounding both
amounts to 4 decimals allows (`fits`). In order:
1. `tariff`: the one rate every component of that dimension carries in the `tariffs` row, if it fits;
2. `derived`: the simplest non-negative rate (fewest decimals, up to 4) that fits the amounts;
3. `session`: for an amount too small to show a rate, and for the `adjustment` (the part of a total that
   its dimension amounts do not explain: rounding of the total, a min/max price), the session's rate when
   all its other amounts have one;
4. otherwise the rate is null (`undetermined`); the amounts still count in the statement.
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
    """(tariff_id, amount column) -> rate, for every canonical tariff JSON that parses; a tariff that does not
    (it could not have priced anything) simply gives no rate, and its sessions' rates are derived."""
    rates: dict[tuple[str, str], Decimal] = {}
    for tariff_id, document in sorted(tariff_documents.items()):
        try:
            tariff = parse_tariff(json.loads(document))
        except (ValueError, TypeError):  # OcpiFormatError and TariffModelError are ValueErrors
            continue
        for column, rate in dimension_rates(tariff).items():
            rates[(tariff_id, column)] = rate
    return rates


HALF_UNIT = Decimal("0.00005")


def fits(excl: Decimal, incl: Decimal, rate: Decimal) -> bool:
    """Whether taxing excl at `rate` percent gives incl, within the rounding of both to 4 decimals.

    With excl and incl each within half a unit of the 4th decimal of the exact amounts, excl x rate/100 can
    miss incl - excl by at most half a unit x (2 + rate/100)."""
    return abs(excl * rate / 100 - (incl - excl)) <= HALF_UNIT * (2 + rate / 100)


def derived_rate(excl: Decimal, incl: Decimal) -> Decimal | None:
    """The simplest non-negative rate that fits the amounts, or None (no basis: 0 or too small an amount)."""
    if excl <= 0 or incl < excl:
        return None
    exact = (incl - excl) * 100 / excl
    for places in range(5):
        rate = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if fits(excl, incl, rate):
            return rate.quantize(RATE_QUANTUM)
    return None


def assign_rates(lines: list[tuple[str, str, Decimal, Decimal, Decimal | None]]) -> list[tuple[Decimal | None, str]]:
    """(session_id, dimension, excl, incl, tariff rate or None) per line -> (rate, source), in the module's order."""
    out: list[tuple[Decimal | None, str] | None] = []
    session_rates: dict[str, set[Decimal]] = {}
    for session_id, dimension, excl, incl, tariff_rate in lines:
        found: tuple[Decimal | None, str] | None = None
        if dimension != ADJUSTMENT:
            if tariff_rate is not None and fits(excl, incl, tariff_rate):
                found = (tariff_rate, "tariff")
            elif (rate := derived_rate(excl, incl)) is not None:
                found = (rate, "derived")
        if found is not None:
            session_rates.setdefault(session_id, set()).add(found[0])
        out.append(found)
    resolved = []
    for (session_id, _, excl, incl, _), found in zip(lines, out):
        if found is None:
            rates = session_rates.get(session_id, set())
            if len(rates) == 1:
                found = (next(iter(rates)), "session")
            elif (rate := derived_rate(excl, incl)) is not None:
                found = (rate, "derived")
            else:
                found = (None, "undetermined")
        resolved.append(found)
    return resolved
