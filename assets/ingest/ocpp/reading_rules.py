"""Repair rules for meter readings: duplicates, zero Begin registers, relative registers, rollbacks and resets.

Applied to the candidates of one landing date, with the accepted readings of earlier landing dates of
the same transactions as context (their decisions are final and are replayed, never revised). Only the
overall (phase-less) energy register ``Energy.Active.Import.Register`` of a transaction takes part in
rules 3-5 (non-transactional and per-phase readings get rules 1-2 only); readings are
ordered by their (repaired) timestamp (at the same instant Transaction.Begin first, Transaction.End last),
then receive time, never by arrival order.

| # | rule / reason code              | condition                                                             | outcome |
|---|---------------------------------|-----------------------------------------------------------------------|---------|
| 0 | ``attributed_to_transaction``   | a 1.6 reading without ``transactionId`` (chargers that omit it, clock-aligned data) taken on a connector while exactly one transaction ran there | transaction_id := that transaction; with none or several, it stays non-transactional |
| 1 | ``DUPLICATE_READING``           | same key (charge point, transaction or connector/EVSE, timestamp, measurand, phase, location, context) and same value as an earlier reading (replayed frame, re-sent StopTransaction data) | quarantined |
| 2 | ``CONFLICTING_READING``         | same key, different value                                              | the first received is kept, the later quarantined |
| 3 | ``session_relative_register``   | 1.6 transaction with meterStart M > 0 whose register readings are all below M (they count from 0 for the session, lifetime registers in Start/Stop) | value := value + M (also for later landing dates once decided) |
| 4 | ``BEGIN_REGISTER_ZERO``      | a ``Transaction.Begin`` register of 0 while meterStart or a later register reading of the transaction is higher than ``MAX_PLAUSIBLE_POWER_W`` could have delivered since | quarantined (the dummy 0 a rebooted charger sends while offline; subtracting it would bill the lifetime register) |
| 5a | ``REGISTER_ROLLBACK``          | a register lower than the running maximum of its segment, and a later reading returns to that maximum (a Modbus glitch) | quarantined |
| 5b | ``register_reset``             | a register lower than the running maximum that never returns to it (meter replaced / reset) | kept, starts a new segment; the transaction's energy sums the segments |

Keys of rule 1 use the charge point and transaction (or connector/EVSE for non-transactional readings),
so the same value read at the same instant under a different context (Growatt: ``Sample.Periodic`` and
``Transaction.Begin``) is two readings, never an overwrite.

The rules run over frames (``attribute_frame``, ``drop_duplicates_frame``, ``apply_register_rules_frame``):
joins and window expressions, and the sequential walk of rule 5 as a numba kernel (``register_walk``); only
rule 3's lift is Python, on the few lifted readings (it must round exactly as ``round(value + M, 6)``).
``attribute_to_transactions``, ``drop_duplicates`` and ``apply_register_rules`` apply the same functions to
lists of candidate dicts.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from assets.ingest.common.keyset import row_hash
from assets.ingest.ocpp.reading_columns import CANDIDATE_SCHEMA
from assets.ingest.ocpp.readings import METERING_ACTIONS, ReadingRejection, reading_payload, rule_reason
from assets.ingest.ocpp.register_walk import RESET, ROLLED_BACK, register_walk
from resources.row_order import sorted_rows

ENERGY_REGISTER = "Energy.Active.Import.Register"
MAX_PLAUSIBLE_POWER_W = 400_000
# Registers are compared with a small tolerance so float noise from kWh -> Wh conversion is no "drop".
REGISTER_TOLERANCE_WH = 0.5
BEGIN_ZERO_SLACK_WH = 1_000.0


CONTEXT_RANK = {"Transaction.Begin": 0, "Transaction.End": 2}


def register_order(reading: dict) -> tuple:
    """Time order of register readings; at the same instant a Transaction.Begin comes first, End last."""
    return (reading["timestamp"], CONTEXT_RANK.get(reading["context"], 1), reading["received_at"],
            reading["record_ref"])


def _as_frame(readings: list[dict]) -> pl.DataFrame:
    """Candidate dicts as a frame of ``reading_columns.CANDIDATE_SCHEMA`` (absent keys as null)."""
    return pl.DataFrame({c: [r.get(c) for r in readings] for c in CANDIDATE_SCHEMA}, schema=CANDIDATE_SCHEMA)


def attribute_to_transactions(candidates: list[dict],
                              intervals: dict[tuple[str, int], list[tuple[datetime, datetime | None, str]]]) -> None:
    """Rule 0 on candidate dicts, in place (``attribute_frame``)."""
    result = attribute_frame(_as_frame(candidates), intervals)
    for reading, transaction_id, repair in zip(candidates, result.get_column("transaction_id").to_list(),
                                               result.get_column("repair").to_list()):
        reading["transaction_id"], reading["repair"] = transaction_id, repair


def drop_duplicates(candidates: list[dict], history: list[dict]) -> tuple[list[dict], list[ReadingRejection]]:
    """Rules 1 and 2 on candidate dicts (``drop_duplicates_frame``): (kept in receive order, rejections)."""
    kept, rejected = drop_duplicates_frame(_as_frame(candidates), _as_frame(history).select(history_columns()))
    kept = sorted_rows(kept, ["received_at", "record_ref"], nulls_last=False)
    by_ref = {r["record_ref"]: r for r in candidates}
    rejections = [ReadingRejection(ref, code, rule_reason(code, first), reading_payload(by_ref[ref]))
                  for ref, code, first in rejected.select("record_ref", "_code", "_first").iter_rows()]
    return [by_ref[ref] for ref in kept.get_column("record_ref").to_list()], rejections


def apply_register_rules(candidates: list[dict], history: list[dict],
                         meter_starts: dict[str, tuple[float, datetime]]) -> tuple[list[dict], list[ReadingRejection]]:
    """Rules 3-5 on candidate dicts (``apply_register_rules_frame``): (accepted, with values and repairs
    updated in place, rejections)."""
    accepted, rejected = apply_register_rules_frame(_as_frame(candidates), _as_frame(history).select(history_columns()),
                                                    meter_starts)
    updates = {ref: (value, repair) for ref, value, repair in accepted.select("record_ref", "value", "repair").iter_rows()}
    for reading in candidates:
        if reading["record_ref"] in updates:
            reading["value"], reading["repair"] = updates[reading["record_ref"]]
    by_ref = {r["record_ref"]: r for r in candidates}
    rejections = [ReadingRejection(ref, code, rule_reason(code, None), reading_payload(by_ref[ref]))
                  for ref, code in rejected.select("record_ref", "_code").iter_rows()]
    return [r for r in candidates if r["record_ref"] in updates], rejections


# -- the same rules over frames (``build_meter_readings``): columns, joins and the rule 5 kernel ----------

SESSION_RELATIVE = "session_relative_register"
REGISTER_RESET = "register_reset"
ATTRIBUTED = "attributed_to_transaction"
KEY_COLUMNS = ["charge_point_id", "_owner", "timestamp", "measurand", "phase", "location", "context"]
# What the rules read of the earlier dates' readings (``history``): the key and its owner's columns, the value,
# and the register walk's order and repairs. A shard reads only these (not the raw texts, unit or message id), and
# so do the dict wrappers below, which the tests compare with the scalar rules.
HISTORY_COLUMNS = ["record_ref", "transaction_id", "charge_point_id", "connector_id", "evse_id", "timestamp",
                   "received_at", "measurand", "phase", "location", "context", "value", "repair"]
# Of those, what only the register walk reads (rules 3-5, the overall register's rows): rules 1-2 read the key and
# the value of every row.
REGISTER_ONLY_COLUMNS = ("record_ref", "received_at", "repair")


def history_columns() -> list[pl.Expr]:
    """``HISTORY_COLUMNS`` as a shard reads them: ``REGISTER_ONLY_COLUMNS`` null outside the overall register's
    rows. Two thirds of a day's readings are power, current and per-phase values, and their record references
    (file and line, the widest column) were most of the bytes of the history spilled per group."""
    register = _overall_register()
    return [pl.when(register).then(pl.col(name)).alias(name) if name in REGISTER_ONLY_COLUMNS else pl.col(name)
            for name in HISTORY_COLUMNS]


def _owner_expr() -> pl.Expr:
    """The owner part of ``reading_key``: the transaction, else ``connector:<c>/evse:<e>`` (None as "None")."""
    return (pl.when(pl.col("transaction_id").is_not_null()).then(pl.col("transaction_id"))
            .otherwise(pl.format("connector:{}/evse:{}", pl.col("connector_id").cast(pl.String()).fill_null("None"),
                                 pl.col("evse_id").cast(pl.String()).fill_null("None")))).alias("_owner")


def _with_repair(condition: pl.Expr, rule: str) -> pl.Expr:
    """``_add_repair`` where ``condition`` holds."""
    repair = pl.col("repair")
    added = pl.when(repair.is_null() | (repair == "")).then(pl.lit(rule)).otherwise(repair + f";{rule}")
    return pl.when(condition).then(added).otherwise(repair).alias("repair")


def _has_repair_expr(rule: str) -> pl.Expr:
    return pl.col("repair").str.split(";").list.contains(rule).fill_null(False)


def may_be_attributed() -> pl.Expr:
    """The ``ocpp_messages`` rows whose readings rule 0 (``attribute_frame``) may give a transaction: 1.6 metering
    CALLs without one (the frame's ``transaction_id`` is what their readings carry). Only the charge points that
    sent such a frame need the recent transactions that rule 0 looks for."""
    return ((pl.col("protocol") == "ocpp1.6") & (pl.col("message_type") == "CALL") & (pl.col("direction") == "in")
            & pl.col("action").is_in(list(METERING_ACTIONS)) & pl.col("transaction_id").is_null())


def attribute_frame(candidates: pl.DataFrame,
                    intervals: dict[tuple[str, int], list[tuple[datetime, datetime | None, str]]]) -> pl.DataFrame:
    """Rule 0 (``attribute_to_transactions``) over a frame of candidates."""
    orphan = ((pl.col("transaction_id").is_null() & (pl.col("protocol") == "ocpp1.6") & pl.col("connector_id").is_not_null()
               & (pl.col("connector_id") != 0)))
    if not intervals or candidates.filter(orphan).is_empty():
        return candidates
    spans = pl.DataFrame(
        [(cp, connector, start, stop, transaction_id) for (cp, connector), items in intervals.items()
         for start, stop, transaction_id in items],
        schema={"charge_point_id": pl.String(), "connector_id": pl.Int64(), "_start": candidates.schema["timestamp"],
                "_stop": candidates.schema["timestamp"], "_running": pl.String()}, orient="row")
    indexed = candidates.with_row_index("_i")
    running = (indexed.filter(orphan).select("_i", "charge_point_id", "connector_id", "timestamp")
               .join(spans, on=["charge_point_id", "connector_id"])
               .filter((pl.col("_start") <= pl.col("timestamp"))
                       & (pl.col("_stop").is_null() | (pl.col("timestamp") <= pl.col("_stop"))))
               .group_by("_i").agg(pl.len().alias("_n"), pl.col("_running").first())
               .filter(pl.col("_n") == 1).select("_i", "_running"))
    attributed = pl.col("_running").is_not_null()
    return (indexed.join(running, on="_i", how="left", maintain_order="left")
            .with_columns(pl.coalesce("_running", "transaction_id").alias("transaction_id"), _with_repair(attributed, ATTRIBUTED))
            .drop("_i", "_running"))


def drop_duplicates_frame(candidates: pl.DataFrame, history: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rules 1 and 2 (``drop_duplicates``) over frames: (kept candidates, in their order; rejected candidates
    with ``_code`` and ``_first``, the value received first, in receive order)."""
    key_hash = row_hash(KEY_COLUMNS, seed=0)
    indexed = candidates.with_columns(_owner_expr()).with_row_index("_i")
    earlier = (history.with_columns(_owner_expr()).select(*KEY_COLUMNS, pl.col("value").alias("_seen"))
               .cast(indexed.select(KEY_COLUMNS).schema)  # the same types: equal keys, equal hashes
               .with_columns(key_hash.alias("_hash")))
    # Most keys occur once and are not in history. Equal keys have equal hashes, so a key whose hash is
    # neither repeated nor in history is its own first reading, whatever the order; only the other rows go
    # through the exact (and costly) steps below, and only they are put in receive order. Ordering every
    # candidate instead (most tie on the instant received, so the record refs were ranked) was 6 % of
    # ``meter_readings``. A hash collision only sends a row there, never decides it.
    indexed = indexed.with_columns(key_hash.alias("_hash"))
    may_repeat = pl.col("_hash").is_duplicated() | pl.col("_hash").is_in(earlier.get_column("_hash").implode())
    subset = sorted_rows(indexed.filter(may_repeat), ["received_at", "record_ref"], nulls_last=False)
    # Only the earlier readings whose hash a candidate of the subset has can share its key (every reading of
    # such a key stays, so the last of each is the one a whole-history ``unique`` keeps). On the day after a
    # 100,000-session day (9.3 M earlier readings in 57 groups) this part took 1.7-1.8 CPU-s instead of 4.2-4.5.
    seen = (earlier.filter(pl.col("_hash").is_in(subset.get_column("_hash").implode())).drop("_hash")
            .unique(subset=KEY_COLUMNS, keep="last", maintain_order=True))
    subset = subset.with_columns(pl.struct(KEY_COLUMNS).is_first_distinct().alias("_leading"))
    repeated = subset.filter(~pl.col("_leading")).select(KEY_COLUMNS).unique()
    leaders = (subset.filter(pl.col("_leading")).join(repeated, on=KEY_COLUMNS, how="semi", nulls_equal=True)
               .select(*KEY_COLUMNS, pl.col("value").alias("_leader")))
    subset = (subset.join(seen, on=KEY_COLUMNS, how="left", nulls_equal=True, maintain_order="left")
              .join(leaders, on=KEY_COLUMNS, how="left", nulls_equal=True, maintain_order="left"))
    first_value = (pl.when(pl.col("_seen").is_not_null()).then(pl.col("_seen"))
                   .when(~pl.col("_leading")).then(pl.col("_leader")))
    rejected = (subset.with_columns(first_value.alias("_first")).filter(pl.col("_first").is_not_null())
                .select(*candidates.columns, "_first")
                .with_columns(pl.when((pl.col("_first") - pl.col("value")).abs() <= 1e-9)
                              .then(pl.lit("DUPLICATE_READING")).otherwise(pl.lit("CONFLICTING_READING"))
                              .alias("_code")))
    dropped = subset.filter(first_value.is_not_null()).get_column("_i")
    kept = indexed.filter(~pl.col("_i").is_in(dropped.implode())) if dropped.len() else indexed
    return kept.select(candidates.columns), rejected


def _overall_register() -> pl.Expr:
    return ((pl.col("measurand") == ENERGY_REGISTER) & pl.col("phase").is_null()
            & pl.col("transaction_id").is_not_null() & (pl.col("transaction_id") != ""))


def apply_register_rules_frame(candidates: pl.DataFrame, history: pl.DataFrame,
                               meter_starts: dict[str, tuple[float, datetime]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rules 3-5 (``apply_register_rules``) over frames: (accepted candidates, rejected candidates with
    ``_code``). Rule 3's lift (``round(value + meterStart, 6)``) is Python on the few lifted readings."""
    indexed = candidates.with_row_index("_i")
    new = indexed.filter(_overall_register())
    no_rejections = indexed.clear().with_columns(pl.lit(None, pl.String()).alias("_code"))
    if new.is_empty():
        return candidates, no_rejections.drop("_i")
    timestamp_type = candidates.schema["timestamp"]
    starts = pl.DataFrame([(tx, float(value), moment) for tx, (value, moment) in meter_starts.items()],
                          schema={"transaction_id": pl.String(), "_ms": pl.Float64(), "_ms_at": timestamp_type},
                          orient="row")
    old = (history.filter(_overall_register())
           .join(new.select("transaction_id").unique(), on="transaction_id", how="semi")
           .select("transaction_id", "timestamp", "received_at", "record_ref", "context", "value",
                   _has_repair_expr(SESSION_RELATIVE).alias("_relative"), _has_repair_expr(REGISTER_RESET).alias("_reset")))
    # Rule 3: session-relative registers (a decision of an earlier date is replayed).
    per_transaction = (new.group_by("transaction_id")
                       .agg((pl.col("context") != "Transaction.Begin").any().alias("_evidence"),
                            pl.col("value").max().alias("_max"))
                       .join(old.group_by("transaction_id").agg(pl.len().alias("_old"), pl.col("_relative").any()),
                             on="transaction_id", how="left")
                       .join(starts, on="transaction_id", how="left"))
    lifted = per_transaction.filter(
        pl.col("_ms").is_not_null() & (pl.col("_ms") > 0)
        & (pl.col("_relative").fill_null(False)
           | (pl.col("_old").is_null() & pl.col("_evidence") & (pl.col("_max") < pl.col("_ms") - REGISTER_TOLERANCE_WH))))
    if lifted.height:
        rows = new.join(lifted.select("transaction_id", "_ms"), on="transaction_id").select("_i", "value", "_ms")
        values = [round(value + start, 6) for value, start in zip(rows.get_column("value").to_list(),
                                                                 rows.get_column("_ms").to_list())]
        lift = rows.select("_i", pl.Series("_lifted", values, dtype=pl.Float64()))
        new = (new.join(lift, on="_i", how="left", maintain_order="left")
               .with_columns(pl.coalesce("_lifted", "value").alias("value"),
                             _with_repair(pl.col("_lifted").is_not_null(), SESSION_RELATIVE)).drop("_lifted"))
    # Rule 4: a Transaction.Begin register of 0 that no charger could have started from.
    zeros = new.filter((pl.col("context") == "Transaction.Begin") & (pl.col("value") == 0))
    zero_refs = pl.Series("_i", [], dtype=pl.UInt32())
    if zeros.height:
        points = pl.concat([old.select("transaction_id", "timestamp", "value"),
                            new.select("transaction_id", "timestamp", "value"),
                            starts.select("transaction_id", pl.col("_ms_at").alias("timestamp"), pl.col("_ms").alias("value"))])
        hours = ((pl.col("timestamp") - pl.col("_at")).dt.total_microseconds().cast(pl.Float64()) / 1e6).clip(0.0) / 3600
        zero_refs = (zeros.select("_i", "transaction_id", pl.col("timestamp").alias("_at"))
                     .join(points, on="transaction_id")
                     .filter(pl.col("value") > MAX_PLAUSIBLE_POWER_W * hours + BEGIN_ZERO_SLACK_WH)
                     .get_column("_i").unique())
    remaining = new.filter(~pl.col("_i").is_in(zero_refs.implode()))
    # Rule 5: rollbacks and resets, in register order with the earlier dates' readings.
    rank = pl.col("context").replace_strict(list(CONTEXT_RANK), list(CONTEXT_RANK.values()), default=1,
                                            return_dtype=pl.Int64()).alias("_rank")
    walk = (pl.concat([old.select("transaction_id", "timestamp", "received_at", "record_ref", "context", "value",
                                  pl.lit(False).alias("_new"), "_reset", pl.lit(None, pl.UInt32()).alias("_i")),
                       remaining.select("transaction_id", "timestamp", "received_at", "record_ref", "context", "value",
                                        pl.lit(True).alias("_new"), pl.lit(False).alias("_reset"), "_i")])
            .with_columns(rank))
    walk = sorted_rows(walk, ["transaction_id", "timestamp", "_rank", "received_at", "record_ref"], nulls_last=False)
    boundaries = walk.select(pl.arg_where(pl.col("transaction_id") != pl.col("transaction_id").shift(1).fill_null("\x00")))
    starts_at = np.append(boundaries.to_series().to_numpy().astype(np.int64), walk.height)
    outcome = register_walk(starts_at, walk.get_column("value").to_numpy().astype(np.float64),
                            walk.get_column("_new").to_numpy(), walk.get_column("_reset").to_numpy(),
                            REGISTER_TOLERANCE_WH)
    decided = walk.select("_i", pl.Series("_outcome", outcome)).filter(pl.col("_i").is_not_null())
    new = (new.join(decided, on="_i", how="left", maintain_order="left")
           .with_columns(pl.when(pl.col("_i").is_in(zero_refs.implode())).then(pl.lit("BEGIN_REGISTER_ZERO"))
                         .when(pl.col("_outcome") == ROLLED_BACK).then(pl.lit("REGISTER_ROLLBACK")).alias("_code"),
                         _with_repair(pl.col("_outcome") == RESET, REGISTER_RESET)).drop("_outcome"))
    rejected = new.filter(pl.col("_code").is_not_null())
    accepted_new = new.filter(pl.col("_code").is_null()).drop("_code")
    accepted = pl.concat([indexed.join(new.select("_i"), on="_i", how="anti"), accepted_new], how="vertical")
    return accepted.drop("_i"), rejected.drop("_i")
