"""Building the `reconciliation` rows of one settlement date (no Dagster here).

For every session of the date (one `priced_sessions` row each) we compare, dimension by dimension, our
figures with those of its own record (the amounts the source reported) and with each linked record of
another source (`session_links`: the same physical session as OCPP, interval data, the platform or Eevion
saw it). The facts a reason depends on (tariff, energy, duration, idle time, lines rounded) are gathered
here; the reason itself is `reasons.reason_for`, the one rule.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

import dagster as dg
import polars as pl

from assets.pricing.session_tariffs import FAMILY_OF_SOURCE, TariffBook, choose_tariffs, load_tariff_book
from assets.reconciliation.reasons import NOT_A_DIFFERENCE, Comparison, reason_for
from assets.reconciliation.tables import PARTITION, RECONCILIATION
from assets.checks import BucketSchemaCheck
from assets.session_batches import LIGHT_SESSIONS_PER_BATCH, SessionBatch, SortedBatchWriter, read_batch, session_batches
from resources.warehouse import WarehouseResource
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


def _dec(value: Any) -> Decimal | None:
    if value is None or type(value) is Decimal:  # a Decimal is already exact (what Decimal(str(...)) gives back)
        return value
    return Decimal(str(value))


def _charges_idle(tariff: Tariff | None) -> bool:
    return tariff is not None and any(c.type == "PARKING_TIME" and c.price > 0
                                      for e in tariff.elements for c in e.price_components)


COLUMNS = ("session_id", "source", "counterpart", "counterpart_id", "dimension", "unit", "ours", "theirs",
           "difference", "reason_code", "explanation")


def _row(session: Mapping[str, Any], counterpart: str, counterpart_id: str, dimension: str, unit: str | None,
         ours: Decimal | None, theirs: Decimal | None, comparison: Comparison, why: str) -> tuple:
    """One comparison as a tuple of COLUMNS."""
    reason = reason_for(comparison)
    difference = None if ours is None or theirs is None else ours - theirs
    return (session["session_id"], session["source"], counterpart, counterpart_id, dimension, unit, ours, theirs,
            difference, reason, explain(reason, why, session, difference))


def explain(reason: str, facts: str, session: Mapping[str, Any], difference: Decimal | None) -> str | None:
    """The explanation text of a row: the reason's figures (`facts`), or the engine's error; a glitch the engine
    repaired to price the session (priced_sessions.pricing_warnings) is named on every row of the session."""
    warned = f"priced with engine warnings {session['pricing_warnings']}" if session.get("pricing_warnings") else None
    if reason in ("NOT_PRICED", "SOURCE_HAS_NO_TARIFF", "CREDIT_REVERSAL"):
        text = f"{session['error_code']}: {session['error']}"
    elif reason == "AGREES":
        text = None
    elif reason == "NOT_REPORTED":
        text = "the counterpart reports no such figure"
    else:
        text = facts if difference is None else f"{facts}; difference {difference.normalize():f}"
    return "; ".join(part for part in (text, warned) if part) or None


def _record_rows(s: Mapping[str, Any], charges_idle: bool, known_ids: frozenset[str],
                 tol: Tolerances) -> list[tuple]:
    """Ours against the session's own record: each itemised dimension, the tax and both totals. The tariff
    differs only when the record names a tariff we know and we priced with another one (a snapshot id we do
    not have, like the platform's, says nothing about which tariff it was)."""
    currency = s["currency"] or s["reported_currency"]
    priced = s["error_code"] is None
    named = [t for t in s["tariff_ids"] or [] if t]
    tariff_differs = (bool(named) and s["tariff_origin"] != "session_payload" and s["tariff_id"] not in named
                      and any(t in known_ids for t in named))
    energy_differs = priced and abs(Decimal(str(s["total_energy_wh"] or 0)) - Decimal(str(s["energy_wh"] or 0))) > tol.energy_wh
    duration_differs = priced and (abs((s["total_time_s_ours"] or 0) - (s["total_time_s"] or 0)) > tol.duration_s or (
        bool(s["parking_time_s"]) and abs((s["total_parking_s"] or 0) - s["parking_time_s"]) > tol.duration_s))
    lines = sum(1 for name in ITEMISED if (s[f"total_{name}_cost_excl"] or 0) != 0) or 1
    facts = {
        "same_currency": s["reported_currency"] is None or s["reported_currency"] == s["currency"],
        "tariff_differs": tariff_differs, "energy_differs": energy_differs, "duration_differs": duration_differs,
        "idle_unknown": charges_idle and not s["parking_time_s"], "priced_lines": lines,
    }
    why = _facts_text(s, tariff_differs, energy_differs, duration_differs, facts["idle_unknown"], facts["same_currency"],
                      lines)
    rows = []
    ours_tax = None if not priced else s["total_cost_incl"] - s["total_cost_excl"]
    theirs_tax = None if s["reported_cost_incl_vat"] is None or s["reported_cost_excl_vat"] is None else \
        s["reported_cost_incl_vat"] - s["reported_cost_excl_vat"]
    figures = [(name, s[f"total_{name}_cost_excl"], s[f"reported_{name}_cost"], 1) for name in ITEMISED]
    figures += [("tax", ours_tax, theirs_tax, lines), ("total_excl", s["total_cost_excl"], s["reported_cost_excl_vat"], lines),
                ("total_incl", s["total_cost_incl"], s["reported_cost_incl_vat"], lines)]
    for dimension, ours, theirs, dimension_lines in figures:
        comparison = Comparison(ours=_dec(ours), theirs=_dec(theirs), tolerance=tol.money, error_code=s["error_code"],
                                **(facts | {"priced_lines": dimension_lines,
                                            "idle_unknown": facts["idle_unknown"] and dimension not in ("energy", "time", "fixed")}))
        rows.append(_row(s, "record", s["session_id"], dimension, currency, _dec(ours), _dec(theirs), comparison, why))
    return rows


def _facts_text(s: Mapping[str, Any], tariff_differs: bool, energy_differs: bool, duration_differs: bool,
                idle_unknown: bool, same_currency: bool, lines: int) -> str:
    parts = []
    if not same_currency:
        parts.append(f"source reports {s['reported_currency']}, tariff {s['tariff_id']} is in {s['currency']}")
    if tariff_differs:
        parts.append(f"source names tariff {', '.join(s['tariff_ids'])}; priced with {s['tariff_id']} ({s['tariff_origin']})")
    if energy_differs:
        parts.append(f"source {s['energy_wh']:.0f} Wh, priced {s['total_energy_wh']:.0f} Wh")
    if duration_differs:
        parts.append(f"source {s['total_time_s']} s ({s['parking_time_s']} s parking), priced "
                     f"{s['total_time_s_ours']} s ({s['total_parking_s']} s parking)")
    if idle_unknown:
        parts.append(f"tariff {s['tariff_id']} charges idle time; the source reports none")
    if not parts:
        parts.append(f"same tariff {s['tariff_id']} and quantities; {lines} amount(s) the source rounds to the cent")
    return "; ".join(parts)


def _link_rows(s: Mapping[str, Any], link: Mapping[str, Any], tol: Tolerances) -> list[tuple]:
    """Ours against a linked record of another source: energy, duration and (when it reports one) the cost."""
    ours_wh, theirs_wh = _dec(s["energy_wh"]), _dec(link["energy_wh"])
    ours_s = Decimal(int((s["end_utc"] - s["start_utc"]).total_seconds())) if s["end_utc"] and s["start_utc"] else None
    theirs_s = Decimal(int((link["end_utc"] - link["start_utc"]).total_seconds())) if link["end_utc"] and link["start_utc"] else None
    energy_differs = None not in (ours_wh, theirs_wh) and abs(ours_wh - theirs_wh) > tol.energy_wh
    duration_differs = None not in (ours_s, theirs_s) and abs(ours_s - theirs_s) > tol.duration_s
    source, other = link["linked_source"], link["linked_session_id"]
    # Another tariff family bills the same session under its own tariff (an Eevion or platform session
    # record beside the roaming CDR): a difference in cost is then a difference of tariffs.
    tariff_differs = FAMILY_OF_SOURCE.get(source) != FAMILY_OF_SOURCE.get(s["source"])
    quantity_facts = f"{source} record {other}: {link['energy_wh']:.0f} Wh over {theirs_s} s; ours {s['energy_wh']:.0f} Wh over {ours_s} s"
    rows = [
        _row(s, source, other, "energy_wh", "Wh", ours_wh, theirs_wh,
             Comparison(ours=ours_wh, theirs=theirs_wh, tolerance=tol.energy_wh, energy_differs=True), quantity_facts),
        _row(s, source, other, "duration_s", "s", ours_s, theirs_s,
             Comparison(ours=ours_s, theirs=theirs_s, tolerance=tol.duration_s, duration_differs=True), quantity_facts),
    ]
    cost_facts = (f"{source} bills it under its own {FAMILY_OF_SOURCE.get(source)} tariff, we under "
                  f"{s['tariff_id']}" if tariff_differs else quantity_facts)
    for dimension, ours, theirs in (("total_excl", s["total_cost_excl"], link["reported_cost_excl_vat"]),
                                    ("total_incl", s["total_cost_incl"], link["reported_cost_incl_vat"])):
        comparison = Comparison(ours=_dec(ours), theirs=_dec(theirs), tolerance=tol.money, error_code=s["error_code"],
                                same_currency=link["currency"] is None or link["currency"] == s["currency"],
                                tariff_differs=tariff_differs, energy_differs=energy_differs,
                                duration_differs=duration_differs, priced_lines=4)
        rows.append(_row(s, source, other, dimension, s["currency"] or link["currency"], _dec(ours), _dec(theirs),
                         comparison, cost_facts))
    return rows


# The session columns the comparison rows read (`_record_rows`, `_link_rows`, `explain`): converting the other
# amounts of every row to Python Decimals cost about a third of the loop.
ROW_INPUTS = ("session_id", "source", "currency", "reported_currency", "error_code", "error", "pricing_warnings",
              "tariff_ids", "tariff_origin", "tariff_id", "total_energy_wh", "energy_wh", "total_time_s_ours",
              "total_time_s", "parking_time_s", "total_parking_s", *[f"total_{name}_cost_excl" for name in ITEMISED],
              "total_cost_excl", "total_cost_incl", "reported_cost_excl_vat", "reported_cost_incl_vat",
              *[f"reported_{name}_cost" for name in ITEMISED], "start_utc", "end_utc")


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
    a batch; only the comparison rows, the result, are read back whole, to be written in one piece."""
    book = load_tariff_book(warehouse)
    known_ids = frozenset(book.known)
    schema = {c: t for c, t in RECONCILIATION.schema.items() if c != PARTITION}
    sessions_in = 0
    schema_check = BucketSchemaCheck(RECONCILIATION)
    with SortedBatchWriter(warehouse, RECONCILIATION, **{PARTITION: day}) as writer:
        for batch in session_batches(warehouse, day, sessions_per_batch):
            sessions, links = _inputs(warehouse, day, batch)
            sessions_in += sessions.height
            rows = _batch_rows(sessions, links, book, known_ids, tol)
            if rows:
                frame = _rows_frame(rows, schema) \
                    .with_columns(pl.lit(day).alias(PARTITION)).select(list(RECONCILIATION.schema))
                schema_check.add(frame)
                writer.append(frame)
        table = writer.write()
    return ReconciliationBuild(table=table, sessions_in=sessions_in, metadata=summarise(table, tol),
                               schema=schema_check.result())


def _rows_frame(rows: list[tuple], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The comparison rows (tuples of COLUMNS) as a frame of ``schema``, column by column.

    strict=False gives what row dicts gave: an amount beyond DECIMAL(18,4) is null, more places are rounded half
    to even. The amounts go in as their plain decimal text: polars parses that about six times faster than it
    converts Python Decimals, with the same rounding and the same nulls."""
    columns = []
    for name, values in zip(COLUMNS, zip(*rows)):
        dtype = schema[name]
        if isinstance(dtype, pl.Decimal):
            text = [None if value is None else format(value, "f") for value in values]
            columns.append(pl.Series(name, text, dtype=pl.String).cast(dtype, strict=False))
        else:
            columns.append(pl.Series(name, values, dtype=dtype, strict=False))
    return pl.DataFrame(columns)


def _batch_rows(sessions: pl.DataFrame, links: pl.DataFrame, book: TariffBook, known_ids: frozenset[str],
                tol: Tolerances) -> list[tuple]:
    """The comparison rows of one batch of sessions (priced, with their session columns) and their links."""
    choices, pricing = choose_tariffs(sessions.filter(pl.col("error_code").is_null()), book)
    # Whether a session's tariff charges idle time: decided once per tariff, not once per session.
    idle_by_key = {key: _charges_idle(tariff) for key, tariff in pricing.items()}
    charges_idle = {session_id: idle_by_key.get(key, False) for session_id, key in
                    choices.select("session_id", "pricing_key").iter_rows()}
    links_of: dict[str, list[dict]] = {}
    for link in links.sort(["session_id", "linked_session_id"]).iter_rows(named=True):
        links_of.setdefault(link["session_id"], []).append(link)
    rows: list[tuple] = []
    # The raw payload only serves the tariff choice above.
    for session in sessions.select(ROW_INPUTS).iter_rows(named=True):
        rows += _record_rows(session, charges_idle.get(session["session_id"], False), known_ids, tol)
        for link in links_of.get(session["session_id"], []):
            rows += _link_rows(session, link, tol)
    return rows


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
