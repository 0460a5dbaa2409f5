"""One rule for amounts the engine could not split into net and VAT.

A tariff whose prices include tax without naming the rate (`tax_included` YES and no component `vat`: the
platform's gross prices) comes out of the engine with excl. = incl. = the gross amount. Such a session is
taken at the issuer's standard VAT rate (`vat_percent` in the operator's reference document); without that
rate it cannot be split (VAT_RATE_UNKNOWN). Partner settlement and invoicing both use this rule.
"""

from __future__ import annotations

import json
from decimal import Decimal

import polars as pl


class VatRateUnknown(ValueError):
    """A gross-priced session whose issuer has no standard VAT rate."""


def is_gross_priced(tax_included: str | None, excl: Decimal | None, incl: Decimal | None) -> bool:
    return tax_included == "YES" and excl is not None and excl == incl and excl != 0


def issuer_vat_rates(operators: pl.DataFrame) -> dict[str, Decimal]:
    """Operator → standard VAT percent, from `vat_percent` of its reference document (absent: unknown)."""
    rates = {}
    for operator_id, raw in operators.select("operator_id", "raw_payload").iter_rows():
        try:
            value = json.loads(raw or "{}", parse_float=Decimal).get("vat_percent")
        except (ValueError, AttributeError):
            value = None
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and value >= 0:
            rates[operator_id] = Decimal(value)
    return rates


def tariff_tax_included(tariffs: pl.DataFrame) -> pl.DataFrame:
    """tariff_id → tax_included, for joining onto priced sessions."""
    return tariffs.select("tariff_id", "tax_included").unique("tariff_id", keep="first")
