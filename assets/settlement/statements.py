"""Settlement statements: per operator and currency, what a period's sessions sold, bought and left unsettled.

Pure functions over `SettlementInputs`, the same for a day and a month. Every amount is an exact sum of
DECIMAL(18,4) values; nothing passes through a float. The VAT lines of a statement row add up to its revenue
exactly: each priced session's total is split into its dimension amounts (energy, time, parking, fixed,
reservation) plus, when a min/max price moved the total, an `adjustment` amount, each at its own rate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from assets.pricing.tables import AMOUNT_NAMES
from assets.settlement.inputs import SettlementInputs
from assets.settlement.tables import (MONEY, RATE, SETTLEMENT_STATEMENT_EXCEPTIONS, SETTLEMENT_STATEMENT_VAT,
                                      SETTLEMENT_STATEMENTS)
from assets.settlement.vat import ADJUSTMENT, assign_rates, tariff_rates

NO_PRICED_ROW = "NO_PRICED_ROW"
"""Code for a settled session that priced_sessions has no row for (pricing not run for its day)."""
ZERO = pl.lit(Decimal(0)).cast(MONEY)


@dataclass(frozen=True)
class Statement:
    """The three tables of one period's statement."""

    statement: pl.DataFrame
    vat: pl.DataFrame
    exceptions: pl.DataFrame


def settled_sessions(inputs: SettlementInputs) -> pl.DataFrame:
    """One row per settled session with its engine price (null amounts when not priced) and its currency."""
    priced = inputs.priced.rename({"currency": "priced_currency"})
    return (
        inputs.sessions.select("session_id", "operator_id", "currency", "energy_wh")
        .join(priced, on="session_id", how="left")
        .with_columns(
            pl.coalesce("priced_currency", "currency").alias("currency"),
            pl.when(pl.col("priced_currency").is_null() & pl.col("error_code").is_null())
            .then(pl.lit(NO_PRICED_ROW)).otherwise(pl.col("error_code")).alias("error_code"),
        )
        .drop("priced_currency")
    )


def _sales(sessions: pl.DataFrame) -> pl.DataFrame:
    priced = pl.col("error_code").is_null()
    return sessions.group_by("operator_id", "currency").agg(
        pl.len().cast(pl.Int64).alias("sessions"),
        priced.sum().cast(pl.Int64).alias("sessions_priced"),
        (~priced).sum().cast(pl.Int64).alias("sessions_not_priced"),
        (pl.col("energy_wh") == 0).sum().cast(pl.Int64).alias("sessions_without_energy"),
        pl.col("energy_wh").sum().alias("energy_wh"),
        pl.col("total_cost_excl").filter(priced).sum().cast(MONEY).alias("revenue_excl_vat"),
        pl.col("total_cost_incl").filter(priced).sum().cast(MONEY).alias("revenue_incl_vat"),
    )


def _electricity(sessions: pl.DataFrame, electricity: pl.DataFrame) -> pl.DataFrame:
    """Electricity bought per operator and the rate's currency; a session without a cost row counts as unknown."""
    known = pl.col("electricity_cost").is_not_null()
    return (
        sessions.select("session_id", "operator_id", pl.col("currency").alias("sale_currency"))
        .join(electricity, on="session_id", how="left")
        .with_columns(pl.coalesce("currency", "sale_currency").alias("currency"))
        .group_by("operator_id", "currency").agg(
            pl.col("electricity_cost").sum().cast(MONEY).alias("electricity_bought"),
            known.sum().cast(pl.Int64).alias("sessions_with_electricity_cost"),
            (~known).sum().cast(pl.Int64).alias("sessions_without_electricity_cost"),
        )
    )


def statement_rows(sessions: pl.DataFrame, electricity: pl.DataFrame) -> pl.DataFrame:
    """Sales and electricity joined per operator and currency, with VAT and gross margin."""
    counts = ("sessions", "sessions_priced", "sessions_not_priced", "sessions_without_energy",
              "sessions_with_electricity_cost", "sessions_without_electricity_cost")
    money = ("revenue_excl_vat", "revenue_incl_vat", "electricity_bought")
    joined = _sales(sessions).join(_electricity(sessions, electricity), on=["operator_id", "currency"],
                                   how="full", coalesce=True, nulls_equal=True)
    return joined.with_columns(
        *[pl.col(c).fill_null(0) for c in counts],
        pl.col("energy_wh").fill_null(0.0),
        *[pl.col(c).fill_null(ZERO).cast(MONEY) for c in money],
    ).with_columns(
        (pl.col("revenue_incl_vat") - pl.col("revenue_excl_vat")).cast(MONEY).alias("vat_amount"),
        (pl.col("revenue_excl_vat") - pl.col("electricity_bought")).cast(MONEY).alias("gross_margin"),
    )


def amount_lines(sessions: pl.DataFrame, tariffs: dict[str, str]) -> pl.DataFrame:
    """Per priced session: one line per non-zero dimension amount (and adjustment), with its VAT rate (vat.py)."""
    priced = sessions.filter(pl.col("error_code").is_null())
    sum_excl = pl.sum_horizontal([pl.col(f"total_{n}_cost_excl").fill_null(ZERO) for n in AMOUNT_NAMES])
    sum_incl = pl.sum_horizontal([pl.col(f"total_{n}_cost_incl").fill_null(ZERO) for n in AMOUNT_NAMES])
    priced = priced.with_columns(
        (pl.col("total_cost_excl") - sum_excl).cast(MONEY).alias(f"total_{ADJUSTMENT}_cost_excl"),
        (pl.col("total_cost_incl") - sum_incl).cast(MONEY).alias(f"total_{ADJUSTMENT}_cost_incl"),
    )
    keys = ["session_id", "operator_id", "currency", "tariff_id"]
    lines = pl.concat([
        priced.select(*keys, pl.lit(name).alias("dimension"),
                      pl.col(f"total_{name}_cost_excl").fill_null(ZERO).cast(MONEY).alias("excl"),
                      pl.col(f"total_{name}_cost_incl").fill_null(ZERO).cast(MONEY).alias("incl"))
        for name in (*AMOUNT_NAMES, ADJUSTMENT)
    ]).filter((pl.col("excl") != 0) | (pl.col("incl") != 0))
    known = tariff_rates({t: tariffs[t] for t in lines["tariff_id"].drop_nulls().unique() if t in tariffs})
    rates = pl.DataFrame(
        [{"tariff_id": t, "dimension": d, "tariff_rate": r} for (t, d), r in known.items()],
        schema={"tariff_id": pl.String(), "dimension": pl.String(), "tariff_rate": RATE})
    lines = lines.join(rates, on=["tariff_id", "dimension"], how="left").sort("session_id", "dimension")
    assigned = assign_rates(list(lines.select("session_id", "dimension", "excl", "incl", "tariff_rate").iter_rows()))
    return lines.with_columns(pl.Series("vat_rate", [r for r, _ in assigned], dtype=RATE),
                              pl.Series("vat_rate_source", [s for _, s in assigned], dtype=pl.String))


def vat_rows(lines: pl.DataFrame) -> pl.DataFrame:
    """Amount lines added up per operator, currency and rate."""
    return lines.group_by("operator_id", "currency", "vat_rate").agg(
        pl.col("vat_rate_source").unique().sort().str.join("+").alias("vat_rate_source"),
        pl.col("session_id").n_unique().cast(pl.Int64).alias("sessions"),
        pl.col("excl").sum().cast(MONEY).alias("amount_excl_vat"),
        pl.col("incl").sum().cast(MONEY).alias("amount_incl_vat"),
    ).with_columns((pl.col("amount_incl_vat") - pl.col("amount_excl_vat")).cast(MONEY).alias("vat_amount"))


def exception_rows(sessions: pl.DataFrame, quarantine: pl.DataFrame) -> pl.DataFrame:
    """Sessions not priced per operator and error code; quarantined records per asset and reason code."""
    not_priced = sessions.filter(pl.col("error_code").is_not_null()).group_by("operator_id", "error_code").agg(
        pl.len().cast(pl.Int64).alias("records")).select(
        pl.lit("NOT_PRICED").alias("kind"), "operator_id", pl.lit("priced_sessions").alias("source_asset"),
        pl.col("error_code").alias("code"), "records")
    quarantined = quarantine.group_by("source_asset", "reason_code").agg(pl.len().cast(pl.Int64).alias("records")) \
        .select(pl.lit("QUARANTINED").alias("kind"), pl.lit(None, pl.String()).alias("operator_id"), "source_asset",
                pl.col("reason_code").alias("code"), "records")
    return pl.concat([not_priced, quarantined])


def build_statement(inputs: SettlementInputs, period: str, start: dt.date, end: dt.date) -> Statement:
    """The statement of the settlement dates start..end (a `day` or a `month`)."""
    sessions = settled_sessions(inputs)
    stamp = [pl.lit(period).alias("period"), pl.lit(start).alias("period_start"), pl.lit(end).alias("period_end")]

    def finish(frame: pl.DataFrame, spec) -> pl.DataFrame:
        return frame.with_columns(stamp).select(list(spec.schema)).sort(list(spec.sort_by), nulls_last=True)

    return Statement(
        statement=finish(statement_rows(sessions, inputs.electricity), SETTLEMENT_STATEMENTS),
        vat=finish(vat_rows(amount_lines(sessions, inputs.tariffs)), SETTLEMENT_STATEMENT_VAT),
        exceptions=finish(exception_rows(sessions, inputs.quarantine), SETTLEMENT_STATEMENT_EXCEPTIONS),
    )
