"""Why a figure of ours differs from a source's: the one rule that names the reason of every difference.

A *comparison* is one figure of one session (an amount per dimension, or the energy or duration) as we
computed it and as one source reported it (the session's own record, or a linked record of another source).
`reason_expr` gives every comparison of a frame exactly one reason code (`reason_for`: of one comparison),
checked in this order (first match wins):

| # | when | reason code | what finance does |
|---|---|---|---|
| 1 | we could not price it: no tariff known for the record or its EVSE | SOURCE_HAS_NO_TARIFF | assign a tariff to the EVSE, or load the tariff the record names |
| 2 | it is a credit CDR (a reversal of another CDR) | CREDIT_REVERSAL | nothing: it is booked against the CDR it reverses |
| 3 | we could not price it for another reason (the engine error is in `explanation`) | NOT_PRICED | fix the cause the error names, re-settle the day |
| 4 | the source reported no such figure | NOT_REPORTED | nothing to reconcile: our figure stands |
| 5 | the source reported another currency than the tariff's | CURRENCY | check the record's currency and the tariff's |
| 6 | the two figures are within the tolerance | AGREES | nothing |
| 7 | the source names a tariff and we priced with another one | TARIFF_DIFFERS | check which tariff was in force (tariff ids in `explanation`) |
| 8 | the source's energy differs from the energy we priced | ENERGY_DIFFERS | check the meter data of both (kWh in `explanation`) |
| 9 | the source's duration or parking time differs from the periods we priced | DURATION_DIFFERS | check the session times of both |
| 10 | the source charged more, the tariff charges idle time and the source reports no idle time | IDLE_NOT_REPORTED | ask the source for the idle time, or accept its idle fee |
| 11 | the difference is at most one cent per line the source rounds on its own (its non-zero dimensions) | ROUNDING | nothing: the source rounds per line, we keep 4 decimals |
| 12 | otherwise: same tariff, same quantities, different amount | CALCULATION_DIFFERS | the source applied the tariff differently: raise it with the source |

Quantities of linked records (energy_wh, duration_s) go through the same rule with `energy_differs` /
`duration_differs` set: beyond their tolerance they are ENERGY_DIFFERS / DURATION_DIFFERS (rows 8, 9).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal

import polars as pl

REASONS: dict[str, str] = {
    "AGREES": "Within the tolerance.",
    "NOT_REPORTED": "The source reports no such figure; ours stands.",
    "SOURCE_HAS_NO_TARIFF": "No tariff is known for the record or its EVSE, so we could not price it.",
    "CREDIT_REVERSAL": "A credit CDR reverses another CDR; it is not priced again.",
    "NOT_PRICED": "The tariff engine could not price the session (engine error in the explanation).",
    "CURRENCY": "The source reported another currency than the tariff's.",
    "TARIFF_DIFFERS": "The source names another tariff than the one we priced with.",
    "ENERGY_DIFFERS": "The source's energy differs from the energy we priced.",
    "DURATION_DIFFERS": "The source's session or parking duration differs from the periods we priced.",
    "IDLE_NOT_REPORTED": "The source charged an idle fee but reports no idle time, so we cannot price it.",
    "ROUNDING": "Within the rounding allowance: the source rounds each line to the cent, we keep 4 decimals.",
    "CALCULATION_DIFFERS": "Same tariff and quantities, yet the source's amount differs from the tariff's.",
}

# Reasons that are not a difference between two figures.
NOT_A_DIFFERENCE = frozenset({"AGREES", "NOT_REPORTED"})
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Comparison:
    """One figure of one session, ours and the source's, and the facts the reason depends on.

    `tariff_differs`: the source names tariff ids and ours is not one of them (None: it names none).
    `energy_differs` / `duration_differs`: the quantities we priced differ from the source's beyond one Wh /
    one second. `idle_unknown`: the source charges idle time it does not report (its tariff has an idle fee
    and its record carries no parking time). `priced_lines`: how many amounts the source rounds separately.
    """

    ours: Decimal | None
    theirs: Decimal | None
    tolerance: Decimal
    error_code: str | None = None
    same_currency: bool = True
    tariff_differs: bool | None = None
    energy_differs: bool = False
    duration_differs: bool = False
    idle_unknown: bool = False
    priced_lines: int = 1


AMOUNT = pl.Decimal(38, 8)
"""The type of a comparison's figures and tolerance: every amount (4 places) and quantity of the tables, exactly
enough (a float quantity to 8 places, up to 10**30)."""


def reason_expr() -> pl.Expr:
    """The reason code of every comparison of a frame (module docstring, first matching row). Its columns are
    the fields of `Comparison`: ``ours``, ``theirs`` and ``tolerance`` as `AMOUNT`, the facts as booleans (a
    null one is false), ``error_code`` and ``priced_lines``."""
    ours, theirs = pl.col("ours"), pl.col("theirs")
    difference = ours - theirs
    error = pl.col("error_code")
    cents = pl.lit(CENT, AMOUNT) * pl.max_horizontal(pl.col("priced_lines"), 1).cast(AMOUNT)
    return (pl.when(error == "NO_TARIFF").then(pl.lit("SOURCE_HAS_NO_TARIFF"))
            .when(error == "CREDIT_CDR").then(pl.lit("CREDIT_REVERSAL"))
            .when(error.is_not_null() | ours.is_null()).then(pl.lit("NOT_PRICED"))
            .when(theirs.is_null()).then(pl.lit("NOT_REPORTED"))
            .when(~pl.col("same_currency")).then(pl.lit("CURRENCY"))
            .when(difference.abs() <= pl.col("tolerance")).then(pl.lit("AGREES"))
            .when(pl.col("tariff_differs")).then(pl.lit("TARIFF_DIFFERS"))
            .when(pl.col("energy_differs")).then(pl.lit("ENERGY_DIFFERS"))
            .when(pl.col("duration_differs")).then(pl.lit("DURATION_DIFFERS"))
            .when(pl.col("idle_unknown") & (difference < 0)).then(pl.lit("IDLE_NOT_REPORTED"))
            .when(difference.abs() <= cents).then(pl.lit("ROUNDING"))
            .otherwise(pl.lit("CALCULATION_DIFFERS")))


def reason_for(c: Comparison) -> str:
    """The reason code of one comparison: `reason_expr` on a frame of one row."""
    schema = {"ours": AMOUNT, "theirs": AMOUNT, "tolerance": AMOUNT, "error_code": pl.String,
              "same_currency": pl.Boolean, "tariff_differs": pl.Boolean, "energy_differs": pl.Boolean,
              "duration_differs": pl.Boolean, "idle_unknown": pl.Boolean, "priced_lines": pl.Int64}
    row = pl.DataFrame({name: [value] for name, value in asdict(c).items()}, schema=schema)
    return row.select(reason_expr()).item()
