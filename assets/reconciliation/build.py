"""Building the `reconciliation` rows of one settlement date (no Dagster here).

For every session of the date (one `priced_sessions` row each) we compare, dimension by dimension, our
figures with those of its own record (the amounts the source reported) and with each linked record of
another source (`session_links`: the same physical session as OCPP, interval data, the platform or Eevion
saw it). The facts a reason depends on (tariff, energy, duration, idle time, lines rounded) are gathered
here; the reason itself is `reasons.reason_expr`, the one rule. Every step is a polars expression over a batch
of sessions: a Python object per comparison cost about 10 µs, some 10 CPU-s for a date of 90,000 sessions.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import dagster as dg
import polars as pl

from assets.pricing.session_tariffs import FAMILY_OF_SOURCE, TariffBook, choose_tariffs, load_tariff_book
from assets.reconciliation.reasons import AMOUNT, NOT_A_DIFFERENCE, reason_expr
from assets.reconciliation.tables import PARTITION, RECONCILIATION
from assets.checks import BucketSchemaCheck
from assets.session_batches import LIGHT_SESSIONS_PER_BATCH, SessionBatch, read_batch, session_batches
from resources.warehouse import SortedPartsWriter, WarehouseResource
from tariff_engine import Tariff

TOLERANCE_ENV = "CHARGELEDGER_RECONCILIATION_TOLERANCE"
DEFAULT_TOLERANCE = Decimal("0.01")
ITEMISED = ("energy", "time", "parking", "fixed")


@dataclass(frozen=True)
class Tolerances:
    """How far two figures may be apart and still agree: money (per amount, in the currency), energy in Wh,
    durations in seconds."""

    money: Decimal = DEFAULT_TOLERANCE
    energy_wh: Decimal = Decimal(1)
    duration_s: Decimal = Decimal(60)


def money_tolerance(configured: str | None) -> Decimal:
    """The money tolerance: the asset's config if set, else $CHARGELEDGER_RECONCILIATION_TOLERANCE, else 0.01."""
    text = configured if configured not in (None, "") else os.environ.get(TOLERANCE_ENV) or str(DEFAULT_TOLERANCE)
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise ValueError(f"reconciliation tolerance {text!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"reconciliation tolerance {text!r} must be a non-negative number")
    return value


@dataclass
class ReconciliationBuild:
    """The partition's rows (as written, without the partition column) and the figures the asset reports."""

    table: pl.DataFrame
    sessions_in: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    schema: dg.AssetCheckResult | None = None


def _charges_idle(tariff: Tariff | None) -> bool:
    return tariff is not None and any(c.type == "PARKING_TIME" and c.price > 0
                                      for e in tariff.elements for c in e.price_components)


COLUMNS = ("session_id", "source", "counterpart", "counterpart_id", "dimension", "unit", "ours", "theirs",
           "difference", "reason_code", "explanation")

# The session columns the comparisons read (`_record_rows`, `_link_rows`, `_explained`).
ROW_INPUTS = ("session_id", "source", "currency", "reported_currency", "error_code", "error", "pricing_warnings",
              "tariff_ids", "tariff_origin", "tariff_id", "total_energy_wh", "energy_wh", "total_time_s_ours",
              "total_time_s", "parking_time_s", "total_parking_s", *[f"total_{name}_cost_excl" for name in ITEMISED],
              "total_cost_excl", "total_cost_incl", "reported_cost_excl_vat", "reported_cost_incl_vat",
              *[f"reported_{name}_cost" for name in ITEMISED], "start_utc", "end_utc")


def _amount(expr: pl.Expr) -> pl.Expr:
    """A figure as a comparison holds it (`reasons.AMOUNT`); a float quantity (Wh) to 8 places, half to even, a
    figure beyond the type null (it is then not compared, as an unpriced figure)."""
    return expr.cast(AMOUNT, strict=False)


def _text(expr: pl.Expr) -> pl.Expr:
    """A value as the explanations print it; a missing one as None."""
    return expr.cast(pl.String).fill_null("None")


def _whole(expr: pl.Expr) -> pl.Expr:
    """A float quantity printed to the unit (half to even), as finance reads energies in the explanations."""
    return _text(expr.round(0).cast(pl.Int64, strict=False))


def _joined(parts: list[pl.Expr]) -> pl.Expr:
    """The parts that are not null, joined with '; ' (null when none is)."""
    joined = pl.concat_str(parts, separator="; ", ignore_nulls=True)
    return pl.when(joined == "").then(None).otherwise(joined)


def _plain(expr: pl.Expr) -> pl.Expr:
    """A decimal amount without trailing zeros (12.5000 -> 12.5, 100.0000 -> 100), as finance reads it."""
    return expr.cast(pl.String).str.replace(r"0+$", "").str.replace(r"\.$", "")


def _explained(facts: pl.Expr) -> pl.Expr:
    """The explanation of each comparison row (columns of `reason_expr` with ``reason_code``, the session's
    ``error_code``/``error``/``pricing_warnings``): the reason's figures (``facts``, with the difference), or
    the engine's error (or, priced without one, that a figure of ours is missing: a linked record's energy or
    duration when the session has none); a glitch the engine repaired to price the session
    (priced_sessions.pricing_warnings) is named on every row of the session."""
    reason, difference = pl.col("reason_code"), pl.col("ours") - pl.col("theirs")
    warnings = pl.col("pricing_warnings")
    warned = pl.when(warnings.is_not_null() & (warnings != "")).then(
        pl.concat_str(pl.lit("priced with engine warnings "), warnings))
    text = (pl.when(reason.is_in(["NOT_PRICED", "SOURCE_HAS_NO_TARIFF", "CREDIT_REVERSAL"]))
            .then(pl.when(pl.col("session_error_code").is_null()).then(pl.lit("we have no such figure of the session"))
                  .otherwise(pl.concat_str(pl.col("session_error_code"), pl.lit(": "), _text(pl.col("session_error")))))
            .when(reason == "AGREES").then(None)
            .when(reason == "NOT_REPORTED").then(pl.lit("the counterpart reports no such figure"))
            .when(difference.is_null()).then(facts)
            .otherwise(pl.concat_str(facts, pl.lit("; difference "), _plain(difference))))
    return _joined([text, warned])


def _record_rows(sessions: pl.DataFrame, tol: Tolerances, known_ids: list[str]) -> pl.DataFrame:
    """Ours against each session's own record (``sessions``: ROW_INPUTS and ``charges_idle``): each itemised
    dimension, the tax and both totals. The tariff differs only when the record names a tariff we know and we
    priced with another one (a snapshot id we do not have, like the platform's, says nothing about which tariff
    it was)."""
    priced = pl.col("error_code").is_null()
    named = pl.col("tariff_ids").fill_null([]).list.eval(
        pl.element().filter(pl.element().is_not_null() & (pl.element() != "")))
    tariff_differs = ((named.list.len() > 0) & pl.col("tariff_origin").ne_missing("session_payload")
                      & (pl.col("tariff_id").is_null() | ~named.list.contains(pl.col("tariff_id")))
                      & named.list.eval(pl.element().is_in(known_ids)).list.any())
    energy_gap = (_amount(pl.col("total_energy_wh").fill_null(0)) - _amount(pl.col("energy_wh").fill_null(0))).abs()
    parking = pl.col("parking_time_s").fill_null(0)
    time_gap = (pl.col("total_time_s_ours").fill_null(0) - pl.col("total_time_s").fill_null(0)).abs()
    parking_gap = (pl.col("total_parking_s").fill_null(0) - parking).abs()
    over_duration = lambda gap: gap.cast(AMOUNT) > pl.lit(tol.duration_s, AMOUNT)  # noqa: E731
    lines = pl.sum_horizontal([pl.col(f"total_{name}_cost_excl").fill_null(0) != 0 for name in ITEMISED])
    facts = sessions.with_columns(
        pl.coalesce("currency", "reported_currency").alias("unit"),
        (pl.col("reported_currency").is_null() | pl.col("reported_currency").eq_missing(pl.col("currency")))
        .alias("same_currency"),
        tariff_differs.fill_null(False).alias("tariff_differs"),
        (priced & (energy_gap > pl.lit(tol.energy_wh, AMOUNT))).fill_null(False).alias("energy_differs"),
        (priced & (over_duration(time_gap) | ((parking != 0) & over_duration(parking_gap)))).alias("duration_differs"),
        (pl.col("charges_idle") & (parking == 0)).alias("session_idle_unknown"),
        pl.when(lines == 0).then(1).otherwise(lines).cast(pl.Int64).alias("lines"),
    ).with_columns(_record_facts().alias("facts"))
    tax_ours = pl.when(priced).then(pl.col("total_cost_incl") - pl.col("total_cost_excl"))
    tax_theirs = pl.col("reported_cost_incl_vat") - pl.col("reported_cost_excl_vat")
    figures = [(name, pl.col(f"total_{name}_cost_excl"), pl.col(f"reported_{name}_cost"), pl.lit(1, pl.Int64))
               for name in ITEMISED]
    figures += [("tax", tax_ours, tax_theirs, pl.col("lines")),
                ("total_excl", pl.col("total_cost_excl"), pl.col("reported_cost_excl_vat"), pl.col("lines")),
                ("total_incl", pl.col("total_cost_incl"), pl.col("reported_cost_incl_vat"), pl.col("lines"))]
    return pl.concat([facts.select(
        "session_id", "source", pl.lit("record").alias("counterpart"), pl.col("session_id").alias("counterpart_id"),
        pl.lit(dimension).alias("dimension"), "unit", _amount(ours).alias("ours"), _amount(theirs).alias("theirs"),
        pl.lit(tol.money, AMOUNT).alias("tolerance"), "error_code", "same_currency", "tariff_differs",
        "energy_differs", "duration_differs",
        (pl.col("session_idle_unknown") & pl.lit(dimension not in ("energy", "time", "fixed"))).alias("idle_unknown"),
        dimension_lines.alias("priced_lines"), "facts", "pricing_warnings",
        pl.col("error_code").alias("session_error_code"), pl.col("error").alias("session_error"))
        for dimension, ours, theirs, dimension_lines in figures])


def _record_facts() -> pl.Expr:
    """What a difference against the session's own record rests on, in words."""
    tariff = _text(pl.col("tariff_id"))
    return _joined([
        pl.when(~pl.col("same_currency")).then(pl.concat_str(
            pl.lit("source reports "), _text(pl.col("reported_currency")), pl.lit(", tariff "), tariff,
            pl.lit(" is in "), _text(pl.col("currency")))),
        pl.when(pl.col("tariff_differs")).then(pl.concat_str(
            pl.lit("source names tariff "), pl.col("tariff_ids").list.join(", "), pl.lit("; priced with "), tariff,
            pl.lit(" ("), _text(pl.col("tariff_origin")), pl.lit(")"))),
        pl.when(pl.col("energy_differs")).then(pl.concat_str(
            pl.lit("source "), _whole(pl.col("energy_wh")), pl.lit(" Wh, priced "), _whole(pl.col("total_energy_wh")),
            pl.lit(" Wh"))),
        pl.when(pl.col("duration_differs")).then(pl.concat_str(
            pl.lit("source "), _text(pl.col("total_time_s")), pl.lit(" s ("), _text(pl.col("parking_time_s")),
            pl.lit(" s parking), priced "), _text(pl.col("total_time_s_ours")), pl.lit(" s ("),
            _text(pl.col("total_parking_s")), pl.lit(" s parking)"))),
        pl.when(pl.col("session_idle_unknown")).then(pl.concat_str(
            pl.lit("tariff "), tariff, pl.lit(" charges idle time; the source reports none"))),
        pl.when(~(~pl.col("same_currency") | pl.col("tariff_differs") | pl.col("energy_differs")
                  | pl.col("duration_differs") | pl.col("session_idle_unknown"))).then(pl.concat_str(
            pl.lit("same tariff "), tariff, pl.lit(" and quantities; "), pl.col("lines").cast(pl.String),
            pl.lit(" amount(s) the source rounds to the cent"))),
    ])


def _link_rows(sessions: pl.DataFrame, links: pl.DataFrame, tol: Tolerances) -> pl.DataFrame:
    """Ours against each linked record of another source: energy, duration and (when it reports one) the
    cost."""
    joined = links.rename({"energy_wh": "linked_energy_wh", "start_utc": "linked_start_utc",
                           "end_utc": "linked_end_utc", "currency": "linked_currency",
                           "reported_cost_excl_vat": "linked_cost_excl", "reported_cost_incl_vat": "linked_cost_incl"}
                          ).join(sessions, on="session_id", how="inner")
    ours_wh, theirs_wh = _amount(pl.col("energy_wh")), _amount(pl.col("linked_energy_wh"))
    ours_s = (pl.col("end_utc") - pl.col("start_utc")).dt.total_seconds()
    theirs_s = (pl.col("linked_end_utc") - pl.col("linked_start_utc")).dt.total_seconds()
    family = lambda source: source.replace_strict(FAMILY_OF_SOURCE, default=None, return_dtype=pl.String)  # noqa: E731
    # Another tariff family bills the same session under its own tariff (an Eevion or platform session
    # record beside the roaming CDR): a difference in cost is then a difference of tariffs.
    linked = joined.with_columns(
        ours_wh.alias("ours_wh"), theirs_wh.alias("theirs_wh"), ours_s.alias("ours_s"), theirs_s.alias("theirs_s"),
        family(pl.col("linked_source")).ne_missing(family(pl.col("source"))).alias("tariff_differs"),
    ).with_columns(
        ((pl.col("ours_wh") - pl.col("theirs_wh")).abs() > pl.lit(tol.energy_wh, AMOUNT)).fill_null(False)
        .alias("energy_differs"),
        ((pl.col("ours_s") - pl.col("theirs_s")).abs().cast(AMOUNT) > pl.lit(tol.duration_s, AMOUNT))
        .fill_null(False).alias("duration_differs"),
        pl.concat_str(pl.col("linked_source"), pl.lit(" record "), pl.col("linked_session_id"), pl.lit(": "),
                      _whole(pl.col("linked_energy_wh")), pl.lit(" Wh over "), _text(pl.col("theirs_s")),
                      pl.lit(" s; ours "), _whole(pl.col("energy_wh")), pl.lit(" Wh over "), _text(pl.col("ours_s")),
                      pl.lit(" s")).alias("quantity_facts"),
    )
    cost_facts = pl.when(pl.col("tariff_differs")).then(pl.concat_str(
        pl.col("linked_source"), pl.lit(" bills it under its own "), _text(family(pl.col("linked_source"))),
        pl.lit(" tariff, we under "), _text(pl.col("tariff_id")))).otherwise(pl.col("quantity_facts"))
    same_currency = pl.col("linked_currency").is_null() | pl.col("linked_currency").eq_missing(pl.col("currency"))
    common = ["session_id", "source", pl.col("linked_source").alias("counterpart"),
              pl.col("linked_session_id").alias("counterpart_id")]
    errors = [pl.col("error_code").alias("session_error_code"), pl.col("error").alias("session_error")]
    # A quantity beyond its tolerance is a difference of that quantity (ENERGY_DIFFERS / DURATION_DIFFERS).
    quantities = (("energy_wh", "Wh", "ours_wh", "theirs_wh", tol.energy_wh),
                  ("duration_s", "s", "ours_s", "theirs_s", tol.duration_s))
    frames = [linked.select(
        *common, pl.lit(dimension).alias("dimension"), pl.lit(unit).alias("unit"), _amount(pl.col(ours)).alias("ours"),
        _amount(pl.col(theirs)).alias("theirs"), pl.lit(tolerance, AMOUNT).alias("tolerance"),
        pl.lit(None, pl.String).alias("error_code"), pl.lit(True).alias("same_currency"),
        pl.lit(None, pl.Boolean).alias("tariff_differs"), pl.lit(dimension == "energy_wh").alias("energy_differs"),
        pl.lit(dimension == "duration_s").alias("duration_differs"), pl.lit(False).alias("idle_unknown"),
        pl.lit(1, pl.Int64).alias("priced_lines"), pl.col("quantity_facts").alias("facts"), "pricing_warnings",
        *errors) for dimension, unit, ours, theirs, tolerance in quantities]
    frames += [linked.select(
        *common, pl.lit(dimension).alias("dimension"), pl.coalesce("currency", "linked_currency").alias("unit"),
        _amount(pl.col(ours)).alias("ours"), _amount(pl.col(theirs)).alias("theirs"),
        pl.lit(tol.money, AMOUNT).alias("tolerance"), "error_code", same_currency.alias("same_currency"),
        "tariff_differs", "energy_differs", "duration_differs", pl.lit(False).alias("idle_unknown"),
        pl.lit(4, pl.Int64).alias("priced_lines"), cost_facts.alias("facts"), "pricing_warnings", *errors)
        for dimension, ours, theirs in (("total_excl", "total_cost_excl", "linked_cost_excl"),
                                        ("total_incl", "total_cost_incl", "linked_cost_incl"))]
    return pl.concat(frames)


def _inputs(warehouse: WarehouseResource, day: dt.date, batch: SessionBatch) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One batch of the date's priced sessions with the session columns the comparisons need, and its links."""
    priced = read_batch(warehouse, "priced_sessions", batch, settlement_date=day).rename(
        {"total_time_s": "total_time_s_ours"})
    sessions = read_batch(warehouse, "sessions", batch, columns=[
        "session_id", "location_id", "evse_uid", "raw_payload", "tariff_ids", "energy_wh", "total_time_s",
        "parking_time_s", "start_utc", "end_utc", *[f"reported_{name}_cost" for name in ITEMISED]],
        settlement_date=day)
    links = read_batch(warehouse, "session_links", batch, settlement_date=day)
    return priced.join(sessions, on="session_id", how="left").sort("session_id"), links


def reconcile_day(warehouse: WarehouseResource, day: dt.date, tol: Tolerances,
                  sessions_per_batch: int = LIGHT_SESSIONS_PER_BATCH) -> ReconciliationBuild:
    """Every comparison of the sessions settling on `day` (module docstring), written as the date's partition,
    batch by batch of sessions (`assets.session_batches`): the raw payloads and the Python objects held follow
    a batch, and each batch's comparison rows are streamed into the partition; the day's comparison rows are
    then read back (without the partition column) for the figures."""
    book = load_tariff_book(warehouse)
    known_ids = frozenset(book.known)
    sessions_in = 0
    schema_check = BucketSchemaCheck(RECONCILIATION)
    with SortedPartsWriter(warehouse, RECONCILIATION, {PARTITION: day}, distinct_groups=True) as writer:
        for batch in session_batches(warehouse, day, sessions_per_batch):
            sessions, links = _inputs(warehouse, day, batch)
            sessions_in += sessions.height
            rows = _batch_rows(sessions, links, book, known_ids, tol)
            if rows.height:
                frame = rows.with_columns(pl.lit(day).alias(PARTITION)).select(list(RECONCILIATION.schema))
                schema_check.add(frame)
                writer.append(frame)
        writer.commit()
    table = warehouse.scan(RECONCILIATION, **{PARTITION: day}).drop(PARTITION).collect()
    return ReconciliationBuild(table=table, sessions_in=sessions_in, metadata=summarise(table, tol),
                               schema=schema_check.result())


def _batch_rows(sessions: pl.DataFrame, links: pl.DataFrame, book: TariffBook, known_ids: frozenset[str],
                tol: Tolerances) -> pl.DataFrame:
    """The comparison rows of one batch of sessions (priced, with their session columns) and their links, as
    the table stores them (without the partition column), in any order."""
    choices, pricing = choose_tariffs(sessions.filter(pl.col("error_code").is_null()), book)
    # Whether a session's tariff charges idle time: decided once per tariff, not once per session.
    idle_by_key = pl.DataFrame({"pricing_key": list(pricing), "charges_idle": [
        _charges_idle(tariff) for tariff in pricing.values()]}, schema={"pricing_key": pl.String,
                                                                       "charges_idle": pl.Boolean})
    charges_idle = choices.select("session_id", "pricing_key").join(idle_by_key, on="pricing_key", how="left")
    # The raw payload only serves the tariff choice above.
    inputs = sessions.select(ROW_INPUTS).join(charges_idle.select("session_id", "charges_idle"), on="session_id",
                                              how="left").with_columns(pl.col("charges_idle").fill_null(False))
    return comparison_rows(inputs, links, tol, known_ids)


def comparison_rows(sessions: pl.DataFrame, links: pl.DataFrame, tol: Tolerances,
                    known_ids: frozenset[str]) -> pl.DataFrame:
    """Every comparison of some sessions (ROW_INPUTS and ``charges_idle``: whether the tariff we priced with
    charges idle time) and their links, with its reason and explanation, as the table stores them (without the
    partition column), in any order."""
    comparisons = pl.concat([_record_rows(sessions, tol, sorted(known_ids)), _link_rows(sessions, links, tol)])
    money = RECONCILIATION.schema["ours"]
    return comparisons.with_columns(reason_expr().alias("reason_code")).select(
        *COLUMNS[:6], pl.col("ours").cast(money, strict=False), pl.col("theirs").cast(money, strict=False),
        (pl.col("ours") - pl.col("theirs")).cast(money, strict=False).alias("difference"), "reason_code",
        _explained(pl.col("facts")).alias("explanation"))


def session_reasons(table: pl.DataFrame) -> pl.DataFrame:
    """One reason per session against its own record: that of its incl. VAT total, else of its excl. total
    when the source reports no incl. figure."""
    totals = table.filter((pl.col("counterpart") == "record") & pl.col("dimension").is_in(["total_excl", "total_incl"]))
    incl = totals.filter(pl.col("dimension") == "total_incl")
    excl = totals.filter(pl.col("dimension") == "total_excl")
    chosen = pl.concat([incl.filter(pl.col("reason_code") != "NOT_REPORTED"),
                        excl.filter(~pl.col("session_id").is_in(
                            incl.filter(pl.col("reason_code") != "NOT_REPORTED")["session_id"].implode()))])
    return chosen.sort("session_id")


def summarise(table: pl.DataFrame, tol: Tolerances) -> dict[str, Any]:
    """Counts and amounts per reason (sessions against their own record), and the largest differences."""
    per_session = session_reasons(table)
    metadata: dict[str, Any] = {"sessions": per_session.height, "comparisons": table.height,
                                "tolerance": float(tol.money)}
    for reason, count in per_session.group_by("reason_code").len().sort("reason_code").iter_rows():
        metadata[f"sessions_{reason.lower()}"] = count
    amounts = per_session.filter(pl.col("difference").is_not_null()).group_by("reason_code", "unit").agg(
        pl.col("difference").sum()).sort("reason_code", "unit")
    lines = []
    for reason, unit, amount in amounts.iter_rows():
        if reason in NOT_A_DIFFERENCE:
            continue
        metadata[f"difference_{reason.lower()}_{unit}"] = float(amount)
        lines.append(f"| {reason} | {unit} | {amount} |")
    links = table.filter((pl.col("counterpart") != "record") & pl.col("dimension").is_in(["energy_wh", "duration_s"]))
    for dimension, reason, count in links.group_by("dimension", "reason_code").len().sort("dimension", "reason_code").iter_rows():
        metadata[f"linked_{dimension}_{reason.lower()}"] = count
    metadata["summary"] = _markdown(table, lines)
    return metadata


def _largest(money: pl.DataFrame, title: str, limit: int) -> list[str]:
    largest = money.with_columns(pl.col("difference").abs().alias("_abs")).sort(
        ["_abs", "session_id", "counterpart_id", "dimension"], descending=[True, False, False, False]).head(limit)
    text = ["", title, "", "| session | counterpart | dimension | ours | theirs | difference | reason | explanation |",
            "|---|---|---|---|---|---|---|---|"]
    for r in largest.iter_rows(named=True):
        text.append(f"| {r['session_id']} | {r['counterpart_id']} | {r['dimension']} | {r['ours']} {r['unit']} | "
                    f"{r['theirs']} | {r['difference']} | {r['reason_code']} | {(r['explanation'] or '').replace('|', '/')} |")
    return text


def _markdown(table: pl.DataFrame, amount_lines: list[str]) -> str:
    money = table.filter(~pl.col("dimension").is_in(["energy_wh", "duration_s"])
                         & ~pl.col("reason_code").is_in(list(NOT_A_DIFFERENCE)) & pl.col("difference").is_not_null())
    own = money.filter(pl.col("counterpart") == "record")
    return "\n".join(["Differences by reason (sessions against their own record, sum of ours - theirs):", "",
                      "| reason | currency | difference |", "|---|---|---|", *amount_lines,
                      *_largest(own, "Largest differences against the session's own record:", 15),
                      *_largest(money.filter(pl.col("counterpart") != "record"),
                                "Largest differences against linked records of other sources:", 10)])
