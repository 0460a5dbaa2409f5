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
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import numpy as np
import polars as pl

from assets.ingest.ocpp.readings import ReadingRejection, reading_payload
from assets.ingest.ocpp.register_walk import RESET, ROLLED_BACK, register_walk

ENERGY_REGISTER = "Energy.Active.Import.Register"
MAX_PLAUSIBLE_POWER_W = 400_000
# Registers are compared with a small tolerance so float noise from kWh -> Wh conversion is no "drop".
REGISTER_TOLERANCE_WH = 0.5
BEGIN_ZERO_SLACK_WH = 1_000.0


def reading_key(reading: dict) -> tuple:
    """The identity of a reading (rule 1)."""
    owner = reading["transaction_id"] or f"connector:{reading['connector_id']}/evse:{reading['evse_id']}"
    return (reading["charge_point_id"], owner, reading["timestamp"], reading["measurand"], reading["phase"],
            reading["location"], reading["context"])


def _add_repair(reading: dict, rule: str) -> None:
    reading["repair"] = rule if not reading["repair"] else f"{reading['repair']};{rule}"


def _has_repair(reading: dict, rule: str) -> bool:
    return bool(reading.get("repair")) and rule in reading["repair"].split(";")


CONTEXT_RANK = {"Transaction.Begin": 0, "Transaction.End": 2}


def register_order(reading: dict) -> tuple:
    """Time order of register readings; at the same instant a Transaction.Begin comes first, End last."""
    return (reading["timestamp"], CONTEXT_RANK.get(reading["context"], 1), reading["received_at"],
            reading["record_ref"])


def attribute_to_transactions(candidates: list[dict],
                              intervals: dict[tuple[str, int], list[tuple[datetime, datetime | None, str]]]) -> None:
    """Rule 0, in place: a 1.6 reading without transaction id joins the one transaction running on its connector.

    ``intervals`` comes from ``transactions.transaction_intervals_16`` (start, stop or None, id).
    """
    for reading in candidates:
        if reading["transaction_id"] is not None or reading["protocol"] != "ocpp1.6" or not reading["connector_id"]:
            continue
        moment = reading["timestamp"]
        running = [transaction_id for start, stop, transaction_id
                   in intervals.get((reading["charge_point_id"], reading["connector_id"]), [])
                   if start <= moment and (stop is None or moment <= stop)]
        if len(running) == 1:
            reading["transaction_id"] = running[0]
            _add_repair(reading, "attributed_to_transaction")


def drop_duplicates(candidates: list[dict], history: list[dict]) -> tuple[list[dict], list[ReadingRejection]]:
    """Rules 1 and 2: first received wins; earlier landing dates always count as received first."""
    seen: dict[tuple, float] = {reading_key(r): r["value"] for r in history}
    kept: list[dict] = []
    rejections: list[ReadingRejection] = []
    for reading in sorted(candidates, key=lambda r: (r["received_at"], r["record_ref"])):
        key = reading_key(reading)
        if key in seen:
            same = abs(seen[key] - reading["value"]) <= 1e-9
            code = "DUPLICATE_READING" if same else "CONFLICTING_READING"
            reason = ("the same reading was already received" if same else
                      f"a reading with the same key and value {seen[key]} was received first")
            rejections.append(ReadingRejection(reading["record_ref"], code, reason, reading_payload(reading)))
            continue
        seen[key] = reading["value"]
        kept.append(reading)
    return kept, rejections


def _is_overall_register(reading: dict) -> bool:
    return reading["measurand"] == ENERGY_REGISTER and reading["phase"] is None and reading["transaction_id"]


def _apply_session_relative(new: list[dict], old: list[dict], meter_start: float | None) -> None:
    """Rule 3 for one transaction's overall register readings."""
    if not meter_start or meter_start <= 0 or not new:
        return
    decided_relative = any(_has_repair(r, "session_relative_register") for r in old)
    # A lone Transaction.Begin (possibly the offline dummy 0) says nothing about the register's kind.
    evidence = any(r["context"] != "Transaction.Begin" for r in new)
    newly_relative = not old and evidence and all(r["value"] < meter_start - REGISTER_TOLERANCE_WH for r in new)
    if decided_relative or newly_relative:
        for reading in new:
            reading["value"] = round(reading["value"] + meter_start, 6)
            _add_repair(reading, "session_relative_register")


def _begin_register_zeros(new: list[dict], old: list[dict], meter_start: tuple[float, datetime] | None) -> set[str]:
    """Rule 4: record_refs of Transaction.Begin zeros that no charger could have started from."""
    points = [(r["timestamp"], r["value"]) for r in old + new]
    if meter_start is not None:
        points.append((meter_start[1], meter_start[0]))
    zero_begins = set()
    for reading in new:
        if reading["context"] != "Transaction.Begin" or reading["value"] != 0:
            continue
        for moment, value in points:
            hours = max((moment - reading["timestamp"]).total_seconds(), 0.0) / 3600
            if value > MAX_PLAUSIBLE_POWER_W * hours + BEGIN_ZERO_SLACK_WH:
                zero_begins.add(reading["record_ref"])
                break
    return zero_begins


def _monotonic(new: list[dict], old: list[dict]) -> tuple[set[str], set[str]]:
    """Rule 5: (record_refs rolled back, record_refs that start a new segment) among ``new``."""
    new_refs = {r["record_ref"] for r in new}
    ordered = sorted(old + new, key=register_order)
    rolled_back: set[str] = set()
    resets: set[str] = set()
    segment_max: float | None = None
    for index, reading in enumerate(ordered):
        value = reading["value"]
        if reading["record_ref"] not in new_refs:
            segment_max = value if _has_repair(reading, "register_reset") or segment_max is None \
                else max(segment_max, value)
            continue
        if segment_max is None or value >= segment_max - REGISTER_TOLERANCE_WH:
            segment_max = value if segment_max is None else max(segment_max, value)
            continue
        later = (r for r in ordered[index + 1 :] if r["record_ref"] not in rolled_back)
        if any(r["value"] >= segment_max - REGISTER_TOLERANCE_WH for r in later):
            rolled_back.add(reading["record_ref"])
        else:
            resets.add(reading["record_ref"])
            segment_max = value
    return rolled_back, resets


def apply_register_rules(
    candidates: list[dict],
    history: list[dict],
    meter_starts: dict[str, tuple[float, datetime]],
) -> tuple[list[dict], list[ReadingRejection]]:
    """Rules 3-5 on deduplicated candidates; ``meter_starts`` maps transaction id -> (meterStart Wh, start)."""
    new_by_transaction: dict[str, list[dict]] = defaultdict(list)
    old_by_transaction: dict[str, list[dict]] = defaultdict(list)
    for reading in candidates:
        if _is_overall_register(reading):
            new_by_transaction[reading["transaction_id"]].append(reading)
    for reading in history:
        if _is_overall_register(reading):
            old_by_transaction[reading["transaction_id"]].append(reading)
    rejected: dict[str, ReadingRejection] = {}
    for transaction_id, new in new_by_transaction.items():
        old = old_by_transaction.get(transaction_id, [])
        start = meter_starts.get(transaction_id)
        _apply_session_relative(new, old, start[0] if start else None)
        for ref in _begin_register_zeros(new, old, start):
            reading = next(r for r in new if r["record_ref"] == ref)
            rejected[ref] = ReadingRejection(
                ref, "BEGIN_REGISTER_ZERO",
                "Transaction.Begin register of 0 while the transaction's register is far higher (dummy 0 sent while offline)",
                reading_payload(reading))
        remaining = [r for r in new if r["record_ref"] not in rejected]
        rolled_back, resets = _monotonic(remaining, old)
        for reading in remaining:
            if reading["record_ref"] in rolled_back:
                rejected[reading["record_ref"]] = ReadingRejection(
                    reading["record_ref"], "REGISTER_ROLLBACK",
                    "register went below its running maximum and later returned to it (meter glitch)",
                    reading_payload(reading))
            elif reading["record_ref"] in resets:
                _add_repair(reading, "register_reset")
    accepted = [r for r in candidates if r["record_ref"] not in rejected]
    return accepted, list(rejected.values())


# -- the same rules over frames (``build_meter_readings``): columns, joins and the rule 5 kernel ----------

SESSION_RELATIVE = "session_relative_register"
REGISTER_RESET = "register_reset"
ATTRIBUTED = "attributed_to_transaction"
KEY_COLUMNS = ["charge_point_id", "_owner", "timestamp", "measurand", "phase", "location", "context"]


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
    """Rules 1 and 2 (``drop_duplicates``) over frames: (kept candidates, rejected candidates with
    ``_code`` and ``_first``, the value received first)."""
    seen = (history.with_columns(_owner_expr()).select(*KEY_COLUMNS, pl.col("value").alias("_seen"))
            .unique(subset=KEY_COLUMNS, keep="last", maintain_order=True))
    ordered = (candidates.sort("received_at", "record_ref").with_columns(_owner_expr())
               .join(seen, on=KEY_COLUMNS, how="left", nulls_equal=True, maintain_order="left")
               .with_columns(pl.int_range(pl.len()).over(KEY_COLUMNS).alias("_rank"),
                             pl.col("value").first().over(KEY_COLUMNS).alias("_leader")))
    first = pl.when(pl.col("_seen").is_not_null()).then(pl.col("_seen")).when(pl.col("_rank") > 0).then(pl.col("_leader"))
    ordered = ordered.with_columns(first.alias("_first")).drop("_owner", "_seen", "_rank", "_leader")
    rejected = ordered.filter(pl.col("_first").is_not_null()).with_columns(
        pl.when((pl.col("_first") - pl.col("value")).abs() <= 1e-9).then(pl.lit("DUPLICATE_READING"))
        .otherwise(pl.lit("CONFLICTING_READING")).alias("_code"))
    return ordered.filter(pl.col("_first").is_null()).drop("_first"), rejected


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
            .with_columns(rank).sort("transaction_id", "timestamp", "_rank", "received_at", "record_ref"))
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
