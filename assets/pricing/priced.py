"""Pricing one settlement date: sessions + charging periods + tariffs through `tariff_engine.price_frame`.

Every session of the date gives exactly one row: priced (amounts, no error code) or not (error code and
message, null amounts). The engine is called once per batch of sessions, through the numba kernels.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import dagster as dg
import polars as pl

from assets.finance_metadata import markdown, money_metadata, money_table
from assets.pricing.session_tariffs import CHOICE_SCHEMA, TariffBook, choose_tariffs, load_tariff_book
from assets.pricing.tables import MONEY, PARTITION, PRICED_SESSIONS, TOTAL_COLUMNS
from assets.session_batches import LIGHT_SESSIONS_PER_BATCH, SessionBatch, SpilledParts, read_batch, session_batches
from resources.warehouse import WarehouseResource
from tariff_engine import Tariff, price_frame

ERROR_TEXT = {
    "CREDIT_CDR": "a credit CDR reverses another CDR; it is not priced again",
    "MISSING_SESSION_TIMES": "the session has no start or no end",
    "NO_TIME_ZONE": "the session has no time zone",
}


@dataclass
class PricingBuild:
    """The priced_sessions partition and what the asset reports about it."""

    table: pl.DataFrame
    metadata: dict = field(default_factory=dict)
    sessions_in: int = 0


def _periods(warehouse: WarehouseResource, day: dt.date, batch: SessionBatch) -> pl.DataFrame:
    """One batch of the date's charging periods in the shape `price_frame` reads (power in kW)."""
    periods = read_batch(warehouse, "charging_periods", batch, session_settlement_date=day)
    return periods.select(
        "session_id", pl.col("start_utc").alias("start"), "energy_wh", "time_s",
        pl.col("parking_time_s").alias("parking_s"), "min_current_a", "max_current_a",
        (pl.col("min_power_w") / 1000).alias("min_power_kw"), (pl.col("max_power_w") / 1000).alias("max_power_kw"))


def _choices(sessions: pl.DataFrame, book: TariffBook) -> tuple[pl.DataFrame, dict[str, Tariff]]:
    """The tariff of every session (the rule `charging_periods` cut by), after the checks that make a session
    unpriceable whatever its tariff (a credit CDR, no start or end, no time zone)."""
    code = (pl.when(pl.col("is_credit")).then(pl.lit("CREDIT_CDR"))
            .when(pl.col("start_utc").is_null() | pl.col("end_utc").is_null()).then(pl.lit("MISSING_SESSION_TIMES"))
            .when(pl.col("time_zone").is_null() | (pl.col("time_zone") == "")).then(pl.lit("NO_TIME_ZONE")))
    flagged = sessions.with_columns(code.alias("_code"))
    chosen, pricing = choose_tariffs(flagged.filter(pl.col("_code").is_null()), book)
    refused = flagged.filter(pl.col("_code").is_not_null()).select(
        "session_id", pl.lit(None, pl.String).alias("pricing_key"), pl.lit(None, pl.String).alias("tariff_id"),
        pl.lit(None, pl.String).alias("tariff_origin"), pl.col("_code").alias("error_code"),
        pl.col("_code").replace_strict(ERROR_TEXT, default=None).alias("error"))
    return pl.concat([chosen, refused.cast(CHOICE_SCHEMA)]).sort("session_id"), pricing


def _engine(sessions: pl.DataFrame, choices: pl.DataFrame, periods: pl.DataFrame,
            pricing: dict[str, Tariff]) -> pl.DataFrame:
    """One `price_frame` call for every session that has a tariff and a place on the clock."""
    ready = choices.filter(pl.col("error_code").is_null()).join(sessions, on="session_id").select(
        "session_id", pl.col("pricing_key").alias("tariff_id"), pl.col("time_zone").alias("timezone"),
        pl.col("start_utc").alias("start"), pl.col("end_utc").alias("end"))
    if ready.height == 0:
        return pl.DataFrame(schema={"session_id": pl.String, "currency": pl.String, "engine_error": pl.String,
                                    **{c: MONEY for c in TOTAL_COLUMNS}, "total_energy_wh": pl.Float64,
                                    "total_time_s": pl.Int64, "total_parking_s": pl.Int64, "pricing_warnings": pl.String})
    used = {key: pricing[key] for key in ready["tariff_id"].unique().sort().to_list()}
    priced = price_frame(ready, periods.filter(pl.col("session_id").is_in(ready["session_id"].implode())), used)
    return priced.rename({"error_code": "engine_error"})


def _differences(table: pl.DataFrame) -> pl.DataFrame:
    """Computed minus reported totals, for priced sessions reported in the tariff's currency (the reasons
    for each difference are the `reconciliation` asset's)."""
    comparable = pl.col("error_code").is_null() & (
        pl.col("reported_currency").is_null() | (pl.col("reported_currency") == pl.col("currency")))
    return table.with_columns(
        pl.when(comparable).then(pl.col("total_cost_excl") - pl.col("reported_cost_excl_vat")).cast(MONEY)
        .alias("difference_excl_vat"),
        pl.when(comparable).then(pl.col("total_cost_incl") - pl.col("reported_cost_incl_vat")).cast(MONEY)
        .alias("difference_incl_vat"))


def price_day(warehouse: WarehouseResource, day: dt.date,
              sessions_per_batch: int = LIGHT_SESSIONS_PER_BATCH) -> PricingBuild:
    """Price every session settling on `day`; one row per session, errors coded, nothing dropped.

    Batch by batch of sessions (`assets.session_batches`; a session's price depends on its own periods only):
    the raw payloads, the periods and the engine's work follow a batch; only the priced rows are held."""
    book = load_tariff_book(warehouse)
    sessions_in, orphans = 0, 0
    with SpilledParts(warehouse, f"priced_sessions-{day}") as tables:
        for batch in session_batches(warehouse, day, sessions_per_batch):
            sessions = read_batch(warehouse, "sessions", batch, settlement_date=day).sort("session_id")
            periods = _periods(warehouse, day, batch)
            tables.append(_price_batch(day, sessions, periods, book))
            sessions_in += sessions.height
            orphans += periods.filter(~pl.col("session_id").is_in(sessions["session_id"].implode()))[
                "session_id"].n_unique()
        table = tables.read(PRICED_SESSIONS.empty_frame())
    return PricingBuild(table=table, metadata=summarise(table, orphans), sessions_in=sessions_in)


def _price_batch(day: dt.date, sessions: pl.DataFrame, periods: pl.DataFrame, book: TariffBook) -> pl.DataFrame:
    """The priced_sessions rows of one batch of sessions (sorted by id) and their periods."""
    choices, pricing = _choices(sessions, book)
    engine = _engine(sessions, choices, periods, pricing)
    period_counts = periods.group_by("session_id").len("period_count").with_columns(pl.col("period_count").cast(pl.Int64))
    table = (
        sessions.select("session_id", "source", "operator_id", pl.col("currency").alias("reported_currency"),
                        "reported_cost_excl_vat", "reported_cost_incl_vat")
        .join(choices, on="session_id", how="left")
        .join(engine, on="session_id", how="left")
        .join(period_counts, on="session_id", how="left")
        .with_columns(pl.coalesce("error_code", "engine_error").alias("error_code"),
                      pl.col("period_count").fill_null(0))
    )
    failed = pl.col("error_code").is_not_null()
    table = table.with_columns(
        pl.when(pl.col("error").is_null() & failed).then(pl.concat_str(pl.lit("tariff engine: "), pl.col("error_code")))
        .otherwise(pl.col("error")).alias("error"),
        *[pl.when(failed).then(None).otherwise(pl.col(c)).cast(MONEY).alias(c) for c in TOTAL_COLUMNS],
    )
    return _differences(table).with_columns(pl.lit(day).alias(PARTITION)).select(list(PRICED_SESSIONS.schema)) \
        .sort("session_id")


def summarise(table: pl.DataFrame, orphans: int) -> dict:
    """Materialization figures: sessions priced, errors by code, revenue per currency (floats; the exact
    amounts in the Markdown summary); `orphans` is the number of sessions with periods but no session row."""
    priced = table.filter(pl.col("error_code").is_null())
    metadata: dict[str, object] = {
        "sessions": table.height, "sessions_priced": priced.height,
        "sessions_not_priced": table.height - priced.height,
        "periods_of_unknown_sessions": orphans,
    }
    for code, count in table.filter(pl.col("error_code").is_not_null()).group_by("error_code").len() \
            .sort("error_code").iter_rows():
        metadata[f"errors_{code.lower()}"] = count
    revenue = priced.group_by("currency").agg(pl.col("total_cost_excl").sum(), pl.col("total_cost_incl").sum()) \
        .sort("currency").rows()
    metadata |= money_metadata("revenue", [(c, excl) for c, excl, _ in revenue], "excl_vat")
    metadata |= money_metadata("revenue", [(c, incl) for c, _, incl in revenue], "incl_vat")
    metadata["revenue"] = markdown(money_table(["currency", "revenue excl. VAT", "revenue incl. VAT"], revenue))
    return metadata
