"""Pricing one settlement date: sessions + charging periods + tariffs through `tariff_engine.price_frame`.

Every session of the date gives exactly one row: priced (amounts, no error code) or not (error code and
message, null amounts). The engine is called once per partition, through the numba kernels.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

import polars as pl

import assets.consumption.tables  # noqa: F401  (registers charging_periods)
import assets.reference.tables  # noqa: F401  (registers evses)
import assets.sessions.tables  # noqa: F401  (registers sessions)
from assets.finance_metadata import markdown, money_metadata, money_table
from assets.pricing.session_tariffs import choose, evse_tariff_lists
from assets.pricing.tables import MONEY, PARTITION, PRICED_SESSIONS, TOTAL_COLUMNS
from resources.warehouse import WarehouseResource
from tariff_engine import OcpiFormatError, Tariff, parse_tariff, price_frame

UTC = pl.Datetime("us", "UTC")
TOLERANCE = Decimal("0.01")
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


def load_tariffs(warehouse: WarehouseResource) -> tuple[dict[str, Tariff], dict[str, str]]:
    """Canonical tariffs of the `tariffs` table by id, and the family (source) of each."""
    if not warehouse.has_data("tariffs"):
        return {}, {}
    known, family = {}, {}
    for tariff_id, source, text in warehouse.read("tariffs").select("tariff_id", "source", "tariff_json").iter_rows():
        try:
            known[tariff_id] = parse_tariff(json.loads(text))
        except (OcpiFormatError, ValueError):
            continue  # the tariffs asset only writes what parses; a hand-edited row just is not a known tariff
        family[tariff_id] = source
    return known, family


def _periods(warehouse: WarehouseResource, day: dt.date) -> pl.DataFrame:
    """The date's charging periods in the shape `price_frame` reads (power in kW)."""
    periods = warehouse.read("charging_periods", session_settlement_date=day)
    return periods.select(
        "session_id", pl.col("start_utc").alias("start"), "energy_wh", "time_s",
        pl.col("parking_time_s").alias("parking_s"), "min_current_a", "max_current_a",
        (pl.col("min_power_w") / 1000).alias("min_power_kw"), (pl.col("max_power_w") / 1000).alias("max_power_kw"))


def _choices(sessions: pl.DataFrame, known: dict[str, Tariff], family: dict[str, str],
             evses: dict[tuple[str, str], list[str]]) -> tuple[pl.DataFrame, dict[str, Tariff]]:
    rows, pricing = [], dict(known)
    for row in sessions.iter_rows(named=True):
        if row["is_credit"]:
            code = "CREDIT_CDR"
        elif row["start_utc"] is None or row["end_utc"] is None:
            code = "MISSING_SESSION_TIMES"
        elif not row["time_zone"]:
            code = "NO_TIME_ZONE"
        else:
            code = None
        if code is not None:
            rows.append({"session_id": row["session_id"], "pricing_key": None, "tariff_id": None,
                         "tariff_origin": None, "error_code": code, "error": ERROR_TEXT[code]})
            continue
        choice, sealed = choose(row, known, family, evses.get((row["location_id"], row["evse_uid"]), []))
        if sealed is not None:
            pricing[choice.pricing_key] = sealed
        rows.append({"session_id": row["session_id"], "pricing_key": choice.pricing_key, "tariff_id": choice.tariff_id,
                     "tariff_origin": choice.origin, "error_code": choice.error_code, "error": choice.error})
    schema = {"session_id": pl.String, "pricing_key": pl.String, "tariff_id": pl.String, "tariff_origin": pl.String,
              "error_code": pl.String, "error": pl.String}
    return pl.DataFrame(rows, schema=schema), pricing


def _engine(sessions: pl.DataFrame, choices: pl.DataFrame, periods: pl.DataFrame,
            pricing: dict[str, Tariff]) -> pl.DataFrame:
    """One `price_frame` call for every session that has a tariff and a place on the clock."""
    ready = choices.filter(pl.col("error_code").is_null()).join(sessions, on="session_id").select(
        "session_id", pl.col("pricing_key").alias("tariff_id"), pl.col("time_zone").alias("timezone"),
        pl.col("start_utc").alias("start"), pl.col("end_utc").alias("end"))
    if ready.height == 0:
        return pl.DataFrame(schema={"session_id": pl.String, "currency": pl.String, "engine_error": pl.String,
                                    **{c: MONEY for c in TOTAL_COLUMNS}, "total_energy_wh": pl.Float64,
                                    "total_time_s": pl.Int64, "total_parking_s": pl.Int64})
    used = {key: pricing[key] for key in ready["tariff_id"].unique().sort().to_list()}
    priced = price_frame(ready, periods.filter(pl.col("session_id").is_in(ready["session_id"].implode())), used)
    return priced.rename({"error_code": "engine_error"})


def _reconcile(table: pl.DataFrame) -> pl.DataFrame:
    priced = pl.col("error_code").is_null()
    same_currency = pl.col("reported_currency").is_null() | (pl.col("reported_currency") == pl.col("currency"))
    diff_excl = pl.when(priced & same_currency).then(pl.col("total_cost_excl") - pl.col("reported_cost_excl_vat"))
    diff_incl = pl.when(priced & same_currency).then(pl.col("total_cost_incl") - pl.col("reported_cost_incl_vat"))
    table = table.with_columns(diff_excl.cast(MONEY).alias("difference_excl_vat"),
                               diff_incl.cast(MONEY).alias("difference_incl_vat"))
    # The incl. VAT total is what the customer paid; compare it when the source states it.
    compared = pl.coalesce("difference_incl_vat", "difference_excl_vat")
    reported = pl.col("reported_cost_incl_vat").is_not_null() | pl.col("reported_cost_excl_vat").is_not_null()
    return table.with_columns(
        pl.when(~priced).then(pl.lit("NOT_PRICED"))
        .when(~reported).then(pl.lit("NOT_REPORTED"))
        .when(~same_currency).then(pl.lit("CURRENCY_MISMATCH"))
        .when(compared.abs() <= pl.lit(TOLERANCE, dtype=MONEY)).then(pl.lit("MATCH"))
        .otherwise(pl.lit("MISMATCH")).alias("reconciliation"))


def price_day(warehouse: WarehouseResource, day: dt.date) -> PricingBuild:
    """Price every session settling on `day`; one row per session, errors coded, nothing dropped."""
    sessions = warehouse.read("sessions", settlement_date=day).sort("session_id")
    known, family = load_tariffs(warehouse)
    evses = evse_tariff_lists(warehouse.read("evses")) if warehouse.has_data("evses") else {}
    choices, pricing = _choices(sessions, known, family, evses)
    periods = _periods(warehouse, day)
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
    table = _reconcile(table).with_columns(pl.lit(day).alias(PARTITION)).select(list(PRICED_SESSIONS.schema)) \
        .sort("session_id")
    return PricingBuild(table=table, metadata=summarise(table, periods, sessions), sessions_in=sessions.height)


def summarise(table: pl.DataFrame, periods: pl.DataFrame, sessions: pl.DataFrame) -> dict:
    """Materialization figures: sessions priced, errors by code, exact revenue per currency, reconciliation."""
    priced = table.filter(pl.col("error_code").is_null())
    orphans = periods.filter(~pl.col("session_id").is_in(sessions["session_id"].implode()))["session_id"].n_unique()
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
    for status in ("MATCH", "MISMATCH", "NOT_REPORTED", "CURRENCY_MISMATCH", "NOT_PRICED"):
        metadata[f"reconciliation_{status.lower()}"] = int((table["reconciliation"] == status).sum())
    return metadata
