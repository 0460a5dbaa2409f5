"""One convention for money in materialization metadata, used by every asset that reports amounts.

- A money figure is one float key per currency, `<measure>_<CUR>[_<suffix>]`, e.g. `revenue_GBP_incl_vat`,
  so the UI plots it across partitions; there is no second `_float` or text key for the same figure.
- The exact Decimal text goes into the asset's Markdown summary (`money_table`), which is what finance reads.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable, Sequence

import dagster as dg


def money_key(measure: str, currency: str | None, suffix: str = "") -> str:
    """`revenue`, `GBP`, `incl_vat` -> `revenue_GBP_incl_vat` (an unknown currency is `XXX`, ISO's "none")."""
    return "_".join(part for part in (measure, currency or "XXX", suffix) if part)


def money_metadata(measure: str, amounts: Iterable[tuple[str | None, Decimal | None]], suffix: str = "") -> dict:
    """Float metadata values, one per currency, for plotting; the exact text belongs in the Markdown."""
    return {money_key(measure, currency, suffix): float(amount or 0) for currency, amount in amounts}


def exact(value: object) -> str:
    """A cell of a Markdown summary: Decimals as their exact text, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)


def money_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table whose amounts are exact Decimal text."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(exact(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(text: str) -> dg.MetadataValue:
    """Markdown metadata (the UI renders it on the materialization)."""
    return dg.MetadataValue.md(text)
