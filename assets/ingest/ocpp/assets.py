"""Dagster assets of the OCPP ingest: ``ocpp_messages`` -> ``meter_readings`` -> ``transactions``.

All three are partitioned by landing date. ``meter_readings`` and ``transactions`` read earlier landing
dates from the warehouse for context (see ``reading_rules`` and ``transactions``), so partitions are
materialised in date order; the landing sensor requests them that way and a backfill runs oldest first.
"""


import datetime as dt

import dagster as dg
import polars as pl

from assets.checks import QUARANTINE_SCHEMA_CHECK, conservation_result, ingest_check_specs, schema_result
from assets.ingest.ocpp.pipeline import (
    StepResult,
    build_meter_readings,
    build_ocpp_messages,
    build_transactions,
    charge_point_chunks,
    combine,
    landed_keys,
)
from assets.ingest.ocpp.tables import METER_READINGS, OCPP_MESSAGES, TRANSACTIONS
from assets.ingest.ocpp.transactions import alias_map, starts_16
from assets.partitions import daily
from assets.quarantine import QUARANTINE, quarantine_frame
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

LANDING_SOURCE = "ocpp"
TRANSACTION_ACTIONS = ["StartTransaction", "StopTransaction", "TransactionEvent", "StatusNotification"]
# Frames of a charge point that matter to a transaction without naming it.
CHARGE_POINT_ACTIONS = ["StartTransaction", "StatusNotification"]
# How far back a reading without transaction id looks for the transaction running on its connector.
ATTRIBUTION_LOOKBACK_DAYS = 2


def _store(context: dg.AssetExecutionContext, warehouse: WarehouseResource, spec, result: StepResult,
           landing_date: dt.date, extra_metadata: dict) -> dg.MaterializeResult:
    """Write the partition and its quarantine slice; return metadata and the three ingest checks."""
    warehouse.write_partition(spec, result.accepted, landing_date=landing_date)
    quarantine = quarantine_frame(result.rejections)
    warehouse.write_partition(QUARANTINE, quarantine, source_asset=spec.name, partition_key=context.partition_key)
    reasons = quarantine.group_by("reason_code").len().sort("reason_code")
    metadata = {
        "rows_in": result.rows_in,
        "rows_accepted": result.accepted.height,
        "rows_quarantined": quarantine.height,
        "dagster/row_count": result.accepted.height,
        "quarantine_reasons": dg.MetadataValue.md(
            "\n".join(f"- {code}: {count}" for code, count in reasons.iter_rows()) or "none"),
        **extra_metadata,
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            conservation_result(result.rows_in, result.accepted.height, quarantine.height),
            schema_result(spec, result.accepted),
            schema_result(QUARANTINE, quarantine, check_name=QUARANTINE_SCHEMA_CHECK),
        ],
    )


def _day(context: dg.AssetExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


def _transaction_ids(messages: pl.DataFrame) -> list[str]:
    return sorted(messages.get_column("transaction_id").drop_nulls().unique().to_list())


def _with_start_requests(warehouse: WarehouseResource, frames: pl.DataFrame, landing_date: dt.date) -> pl.DataFrame:
    """Add the 1.6 StartTransaction requests answered by the StartTransaction answers among ``frames``.

    The transaction id is in the answer; a request landed the day before its answer (just before
    midnight) carries no transaction id and would otherwise be missed by a scan on transaction ids.
    """
    answers = frames.filter((pl.col("action") == "StartTransaction") & (pl.col("message_type") == "CALLRESULT"))
    if answers.is_empty():
        return frames
    requests = (warehouse.scan("ocpp_messages", action="StartTransaction", message_type="CALL",
                               message_id=answers.get_column("message_id").unique().to_list(),
                               charge_point_id=answers.get_column("charge_point_id").unique().to_list())
                .filter(pl.col("landing_date") <= landing_date).collect())
    return pl.concat([frames, requests]).unique(subset=["landing_date", "record_ref"], keep="first",
                                                 maintain_order=True)


def _transaction_context(warehouse: WarehouseResource, day_messages: pl.DataFrame, landing_date: dt.date,
                         also_touched: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """Frames needed to assemble the transactions touched on ``landing_date``, and their ids incl. aliases.

    Touched: named by a frame of the day, or given a reading of the day by ``attributed_to_transaction``
    (``also_touched``). Every frame naming a touched transaction (any earlier landing date), plus the StartTransaction and
    StatusNotification frames of their charge points from the first landing date of those frames on
    (charging states, replayed starts under another id), plus the frames of such alias ids.
    """
    touched = sorted(set(_transaction_ids(day_messages)) | set(also_touched))
    up_to_day = pl.col("landing_date") <= landing_date
    named = warehouse.scan("ocpp_messages", transaction_id=touched).filter(up_to_day).collect()
    if named.is_empty():
        return named, touched
    first_day = named.get_column("landing_date").min()
    charge_points = named.get_column("charge_point_id").unique().to_list()
    around = (warehouse.scan("ocpp_messages", charge_point_id=charge_points, action=CHARGE_POINT_ACTIONS)
              .filter(up_to_day & (pl.col("landing_date") >= first_day)).collect())
    frames = pl.concat([named, around]).unique(subset=["landing_date", "record_ref"], keep="first")
    aliases = alias_map(starts_16(frames.filter(pl.col("protocol") == "ocpp1.6").to_dicts())[0])
    related = {alias for alias, target in aliases.items() if target in touched or alias in touched}
    related |= {aliases[alias] for alias in related}
    missing = sorted(related - set(touched))
    if missing:
        extra = warehouse.scan("ocpp_messages", transaction_id=missing).filter(up_to_day).collect()
        frames = pl.concat([frames, extra]).unique(subset=["landing_date", "record_ref"], keep="first")
    frames = _with_start_requests(warehouse, frames, landing_date)
    frames = frames.filter(pl.col("action").is_in(TRANSACTION_ACTIONS)).sort("received_at", "record_ref")
    return frames, sorted(set(touched) | related)


def _earlier_records(warehouse: WarehouseResource, landing_date: dt.date):
    """Lookup of records accepted on earlier landing dates within a receive-time span (re-deliveries)."""

    def lookup(low, high, charge_points):
        """landed_record_key -> landing date of those charge points' records received in [low, high]."""
        # A record cannot land before it was received, so only dates from ``low`` on can hold it.
        earlier = (warehouse.scan("ocpp_messages", charge_point_id=charge_points)
                   .filter(pl.col("landing_date").is_between(low.date(), landing_date, closed="left")
                           & pl.col("received_at").is_between(low, high))
                   .collect())
        return landed_keys(earlier)

    return lookup


@dg.asset(partitions_def=daily, group_name="ingest", check_specs=ingest_check_specs("ocpp_messages"),
          kinds={"polars", "parquet"})
def ocpp_messages(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                  landing: LandingZoneResource) -> dg.MaterializeResult:
    """Every OCPP-J frame that landed on this day (gateway or exported CSMS logs), parsed.

    One row per landed frame with protocol, direction, message type, message id, action (answers get the
    action of the CALL they answer, looked up on this and the previous landing day), transaction id and
    the payload as canonical JSON. Malformed lines and frames, and records that already landed (on this
    or an earlier date), are quarantined with a reason code (see ``frames``).
    """
    landing_date = _day(context)
    paths = landing.files(LANDING_SOURCE, landing_date, suffixes=(".jsonl",))
    # Read lazily: one file's text in memory at a time.
    files = ((str(p.relative_to(landing.root_path)), p.read_text(encoding="utf-8", errors="replace")) for p in paths)
    previous_calls = (
        warehouse.scan("ocpp_messages", landing_date=landing_date - dt.timedelta(days=1))
        .filter(pl.col("message_type") == "CALL")
        .select("charge_point_id", "direction", "message_id", "action")
        .collect()
    )
    result = build_ocpp_messages(files, landing_date, previous_calls, _earlier_records(warehouse, landing_date))
    by_protocol = result.accepted.group_by("protocol").len()
    counts = dict(by_protocol.iter_rows())
    return _store(context, warehouse, OCPP_MESSAGES, result, landing_date, {
        "files": len(paths),
        "frames_ocpp16": counts.get("ocpp1.6", 0),
        "frames_ocpp201": counts.get("ocpp2.0.1", 0),
        "replayed_calls": int(result.accepted.get_column("is_replay").sum() or 0),
    })


@dg.asset(partitions_def=daily, group_name="ingest", deps=[ocpp_messages],
          check_specs=ingest_check_specs("meter_readings"), kinds={"polars", "parquet"})
def meter_readings(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Sampled values of the metering frames that landed on this day, normalised and repaired.

    Values in Wh / W / A / % (1.6 strings, 2.0.1 multipliers, kWh -> Wh), keyed by (timestamp, measurand,
    phase, location, context); clock repair against the receive time; duplicates, dummy Transaction.Begin
    registers of 0, session-relative registers, rollbacks and resets by the rules of ``reading_rules``.
    """
    landing_date = _day(context)
    messages = warehouse.read("ocpp_messages", landing_date=landing_date)
    parts, touched_count = [], 0
    for charge_points in charge_point_chunks(messages):
        chunk = messages.filter(pl.col("charge_point_id").is_in(charge_points))
        touched = _transaction_ids(chunk)
        touched_count += len(touched)
        # Recent 1.6 sessions of these charge points: a reading without transaction id may belong to one.
        recent = (warehouse.scan("ocpp_messages", charge_point_id=charge_points,
                                 action=["StartTransaction", "StopTransaction"])
                  .filter(pl.col("landing_date").is_between(
                      landing_date - dt.timedelta(days=ATTRIBUTION_LOOKBACK_DAYS), landing_date)).collect())
        needed = sorted(set(touched) | set(_transaction_ids(recent)))
        history = (warehouse.scan("meter_readings", transaction_id=needed)
                   .filter(pl.col("landing_date") < landing_date).collect())
        named = (warehouse.scan("ocpp_messages", transaction_id=touched,
                                action=["StartTransaction", "StopTransaction", "TransactionEvent"])
                 .filter(pl.col("landing_date") <= landing_date).collect())
        start_messages = _with_start_requests(warehouse, pl.concat([named, recent]), landing_date)
        parts.append(build_meter_readings(chunk, landing_date, history, start_messages))
    result = combine(parts, METER_READINGS, landing_date)
    repairs = (result.accepted.filter(pl.col("repair").is_not_null())
               .select(pl.col("repair").str.split(";").alias("rule")).explode("rule")
               .group_by("rule").len().sort("rule"))
    return _store(context, warehouse, METER_READINGS, result, landing_date, {
        "transactions": touched_count,
        "repaired_readings": result.accepted.filter(pl.col("repair").is_not_null()).height,
        "repairs_by_rule": dg.MetadataValue.md(
            "\n".join(f"- {rule}: {count}" for rule, count in repairs.iter_rows()) or "none"),
    })


@dg.asset(partitions_def=daily, group_name="ingest", deps=[ocpp_messages, meter_readings],
          check_specs=ingest_check_specs("transactions"), kinds={"polars", "parquet"})
def transactions(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """OCPP transactions touched by this day's frames, assembled from all landing days up to this one.

    Start/stop, meter start/stop, energy, id tag, stop reason, charging states and status (open or
    complete); the current state of a transaction is its row with the greatest landing date. Rules in
    ``transactions`` (module of the same name).
    """
    landing_date = _day(context)
    day_messages = warehouse.read("ocpp_messages", landing_date=landing_date)
    parts = []
    for charge_points in charge_point_chunks(day_messages):
        chunk = day_messages.filter(pl.col("charge_point_id").is_in(charge_points))
        attributed = (warehouse.scan("meter_readings", landing_date=landing_date, charge_point_id=charge_points)
                      .filter(pl.col("repair").str.contains("attributed_to_transaction", literal=True))
                      .select("transaction_id").unique().collect().get_column("transaction_id").to_list())
        context_messages, needed = _transaction_context(warehouse, chunk, landing_date, attributed)
        readings = (warehouse.scan("meter_readings", transaction_id=needed)
                    .filter(pl.col("landing_date") <= landing_date).collect())
        parts.append(build_transactions(chunk, landing_date, context_messages, readings, attributed))
    result = combine(parts, TRANSACTIONS, landing_date)
    complete = result.accepted.filter(pl.col("status") == "complete")
    energy_wh = complete.get_column("energy_wh").sum() or 0.0
    return _store(context, warehouse, TRANSACTIONS, result, landing_date, {
        "transactions_complete": complete.height,
        "transactions_open": result.accepted.height - complete.height,
        "energy_kwh_complete": round(float(energy_wh) / 1000, 3),
    })


OCPP_ASSETS = [ocpp_messages, meter_readings, transactions]
