"""The seed 003 (Eevion) session report computed from our own sessions, and its comparison with Eevion's.

Eevion's `POST /session/report` groups sessions by station, site or region and appends two rows: `total`
(the sum over the groups of count, cancel_count and the total_* metrics) and `average` (that total divided
by the number of groups). We build the same rows per currency (cents of different currencies never add up),
from the engine's price incl. VAT and the electricity bought, per day and per month.
"""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from assets.settlement.tables import MONEY, REPORT_METRICS, STATION_REPORTS

GROUPINGS = {"station": "evse_uid", "site": "location_id", "region": "region"}
# ISO 4217 minor units that are not 2; every other currency has cents.
MINOR_UNIT_FACTORS = {"JPY": 1, "KRW": 1, "ISK": 1, "CLP": 1, "VND": 1, "BHD": 1000, "KWD": 1000, "JOD": 1000,
                      "OMR": 1000, "TND": 1000}
AVERAGE_QUANTUM = Decimal("0.0001")
CARD_METHODS = ("AUTH_REQUEST", "WHITELIST")


def start_with(source: pl.Expr, auth_method: pl.Expr, emsp_id: pl.Expr) -> pl.Expr:
    """How a session was started, in Eevion's words (Card, iOS, Android, Eevion, Roaming, Unknown, and App)."""
    method = auth_method.str.to_uppercase()
    return (pl.when(emsp_id.is_not_null()).then(pl.lit("Roaming"))
            .when(source == "eevion").then(auth_method.fill_null("Unknown"))
            .when(method == "COMMAND").then(pl.lit("App"))
            .when(auth_method.is_null()).then(pl.lit("Unknown"))
            .otherwise(pl.lit("Card")))


def _minor_units(amount: str) -> pl.Expr:
    factor = pl.col("currency").replace_strict(MINOR_UNIT_FACTORS, default=100, return_dtype=pl.Int64)
    return (pl.col(amount) * factor).round(0, mode="half_away_from_zero").cast(MONEY)


def report_sessions(sessions: pl.DataFrame, priced: pl.DataFrame, electricity: pl.DataFrame,
                    locations: pl.DataFrame, power: pl.DataFrame) -> pl.DataFrame:
    """One row per session (credit CDRs excluded) with what the report adds up, amounts in minor units."""
    return (
        sessions.filter(~pl.col("is_credit").fill_null(False))
        .join(priced.select("session_id", pl.col("currency").alias("priced_currency"), "error_code",
                            "total_cost_incl"), on="session_id", how="left")
        .join(electricity.select("session_id", "electricity_cost"), on="session_id", how="left")
        .join(locations, on="location_id", how="left")
        .join(power, on="session_id", how="left")
        .with_columns(pl.coalesce("priced_currency", "currency").alias("currency"),
                      pl.when(pl.col("priced_currency").is_null()).then(None)
                      .otherwise(pl.col("total_cost_incl")).alias("total_cost_incl"))
        .with_columns(
            _minor_units("total_cost_incl").fill_null(Decimal(0)).alias("cost_cents"),
            _minor_units("electricity_cost").fill_null(Decimal(0)).alias("energy_cost_cents"),
            (pl.col("energy_wh") == 0).alias("cancelled"),
            (pl.col("error_code").is_not_null() | pl.col("priced_currency").is_null()).alias("unpriced"),
            start_with(pl.col("source"), pl.col("auth_method"), pl.col("emsp_id")).alias("start_with"),
        )
    )


def _most_common(values: list[str | None]) -> str | None:
    counts = Counter(v for v in values if v is not None)
    if not counts:
        return None
    return min(counts, key=lambda v: (-counts[v], v))


def _quotient(total: Decimal, count: float) -> Decimal:
    return (total / Decimal(int(count))).quantize(AVERAGE_QUANTUM, rounding=ROUND_HALF_UP)


def group_rows(rows: pl.DataFrame, group_by: str) -> pl.DataFrame:
    """The report's group rows for one grouping, per currency."""
    key = GROUPINGS[group_by]
    label = [pl.col("location").first().alias("location"), pl.col("location_id").first().alias("location_id")] \
        if group_by != "region" else [pl.lit(None, pl.String()).alias("location"),
                                      pl.lit(None, pl.String()).alias("location_id")]
    grouped = rows.sort("session_id").group_by("currency", pl.col(key).fill_null("(unknown)").alias("group_key")).agg(
        *label,
        pl.len().cast(pl.Float64).alias("count"),
        pl.col("cancelled").sum().cast(pl.Float64).alias("cancel_count"),
        pl.col("unpriced").sum().cast(pl.Float64).alias("unpriced_count"),
        pl.col("cost_cents").sum().cast(MONEY).alias("total_cost_cents"),
        pl.col("energy_cost_cents").sum().cast(MONEY).alias("total_energy_cost_cents"),
        pl.col("energy_wh").sum().cast(pl.Float64).alias("total_energy_watt_hours"),
        pl.col("total_time_s").sum().cast(pl.Float64).alias("total_duration_seconds"),
        pl.col("maximum_power_watts").max().alias("maximum_power_watts"),
        pl.col("customer_id").drop_nulls().n_unique().cast(pl.Int64).alias("unique_customers"),
        pl.col("start_with").alias("_starts"),
    )
    return grouped.with_columns(
        pl.lit(group_by).alias("group_by"), pl.lit("group").alias("row_kind"),
        pl.struct("total_cost_cents", "count").map_elements(
            lambda r: _quotient(r["total_cost_cents"], r["count"]), return_dtype=MONEY).alias("average_cost_cents"),
        (pl.col("total_duration_seconds") / pl.col("count")).alias("average_duration_seconds"),
        pl.col("_starts").map_elements(_most_common, return_dtype=pl.String).alias("most_common_start_with"),
    ).drop("_starts")


def summary_rows(groups: pl.DataFrame) -> pl.DataFrame:
    """Eevion's `total` and `average` rows per currency and grouping, over the group rows."""
    out = []
    for (currency, group_by), part in groups.group_by("currency", "group_by", maintain_order=True):
        totals = {m: part[m].sum() for m in REPORT_METRICS}
        n = part.height
        average = {m: (_quotient(v, n) if isinstance(v, Decimal) else v / n) for m, v in totals.items()}
        for kind, values in (("total", totals), ("average", average)):
            out.append({"currency": currency, "group_by": group_by, "group_key": kind, "row_kind": kind, **values})
    schema = {c: STATION_REPORTS.schema[c] for c in ("currency", "group_by", "group_key", "row_kind", *REPORT_METRICS)}
    return pl.DataFrame(out, schema=schema)


def build_report(rows: pl.DataFrame) -> pl.DataFrame:
    """Group, total and average rows for every grouping (period columns not yet set)."""
    groups = pl.concat([group_rows(rows, g) for g in GROUPINGS], how="diagonal_relaxed")
    return pl.concat([groups, summary_rows(groups)], how="diagonal_relaxed")


def stamp_report(report: pl.DataFrame, period: str, start, end) -> pl.DataFrame:
    """The report with its period columns, in the table's column order and sort key."""
    return report.with_columns(pl.lit(period).alias("period"), pl.lit(start).alias("period_start"),
                               pl.lit(end).alias("period_end")) \
        .select(list(STATION_REPORTS.schema)).sort(list(STATION_REPORTS.sort_by))


# -- comparison with Eevion's own report --------------------------------------------------------------

COMPARED = {"count": "count", "cancel_count": "cancel_count", "unique_customers": "unique_customers",
            "total_cost_cents": "total_cost_cents", "average_cost_cents": "average_cost_cents",
            "total_energy_cost_cents": "total_energy_cost_cents", "total_energy_watt_hours": "total_energy_wh",
            "total_duration_seconds": "total_duration_s", "average_duration_seconds": "average_duration_s"}
"""Our metric -> the eevion_reports column holding Eevion's figure."""


def _decimal(value) -> Decimal | None:
    if value is None:
        return None
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(AVERAGE_QUANTUM, ROUND_HALF_UP)


def compare_with_eevion(eevion_rows: pl.DataFrame, rows: pl.DataFrame) -> list[dict]:
    """For each Eevion report (period, grouping): its rows against ours over the same sessions' start period and
    the same groups; one dict per (row, metric) that differs. `rows` are report_sessions rows with start_utc."""
    differences = []
    for (start, end, group_by), report in eevion_rows.group_by("period_start", "period_end", "group_by",
                                                               maintain_order=True):
        key = GROUPINGS[group_by]
        keys = report.filter(pl.col("row_kind") == "group")["group_key"].to_list()
        ours_rows = rows.filter((pl.col("start_utc") >= start) & (pl.col("start_utc") < end)
                                & pl.col(key).is_in(keys)).with_columns(pl.lit("*").alias("currency"))
        ours = build_report(ours_rows).filter(pl.col("group_by") == group_by) if ours_rows.height else None
        mine = {} if ours is None else {r["group_key"]: r for r in ours.iter_rows(named=True)}
        for theirs in report.iter_rows(named=True):
            our_row = mine.get(theirs["group_key"], {})
            for metric, column in COMPARED.items():
                their_value, our_value = _decimal(theirs.get(column)), _decimal(our_row.get(metric))
                if their_value is None and our_value is None or their_value == our_value:
                    continue
                differences.append({
                    "report_date": start.date(), "period_start_utc": start, "period_end_utc": end,
                    "group_by": group_by, "group_key": theirs["group_key"], "metric": metric,
                    "eevion_value": their_value, "our_value": our_value,
                    "difference": None if their_value is None or our_value is None else our_value - their_value})
    return differences
