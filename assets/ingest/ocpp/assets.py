"""Dagster assets of the OCPP ingest: ``ocpp_messages`` -> ``meter_readings`` -> ``transactions``.

All three are partitioned by landing date; a large date's partition is split into charge-point shards, one file
and one worker process each (``shards``; ``CHARGELEDGER_OCPP_SHARDS``). ``meter_readings`` and ``transactions``
read earlier landing dates from the warehouse for context (see ``reading_rules`` and ``transactions``), so
partitions are materialised in date order; the landing sensor requests them that way and a backfill runs oldest
first. They read only the earlier dates that hold frames of the transactions at hand, as the index
``ocpp_messages`` writes beside its partition says (``transaction_days``).
"""


import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import polars as pl

from assets.checks import BucketSchemaCheck, ingest_check_specs, schema_result
from assets.ingest.common import LINES, RecordReader, day_files
from assets.ingest.common.run import IngestResult, StreamedRows, write_ingest
from assets.ingest.common.files import landed_bytes
from assets.ingest.ocpp.pipeline import (
    FINER_SPANS,
    SPILL_SPLIT_ROWS,
    LOCATING_FRAME,
    StepResult,
    RECEIVED_HOUR,
    StreamedMessages,
    build_meter_readings,
    build_transactions,
    chunks_of_counts,
    combine,
    landed_keys,
    received_span,
    stream_ocpp_messages,
)
from assets.ingest.ocpp.frames import ANSWER_KEY
from assets.ingest.ocpp.groups import GroupSpill
from assets.ingest.ocpp.reading_rules import history_columns, may_be_attributed
from assets.parallel import map_groups
from assets.ingest.ocpp.shard_steps import ShardedSteps
from assets.ingest.ocpp.shards import Shard, shard_count, split, stored_shards
from assets.ingest.ocpp.tables import METER_READINGS, OCPP_MESSAGES, OCPP_TRANSACTION_DAYS, TRANSACTIONS
from assets.ingest.ocpp.transaction_days import (ATTRIBUTION_LOOKBACK_DAYS, on_dates, on_reading_dates,
                                                  transaction_days, write_index)
from assets.ingest.ocpp.transaction_columns import REGISTER_SERIES, reading_counts, transaction_aliases
from assets.partitions import daily
from assets.quarantine import Rejection, quarantine_frame
from resources.landing import LandingZoneResource
from resources.warehouse import SPILL_DIR, SortedPartsWriter, WarehouseResource

LANDING_SOURCE = "ocpp"
TRANSACTION_ACTIONS = ["StartTransaction", "StopTransaction", "TransactionEvent", "StatusNotification"]
# Frames the readings rules look at: the metering frames and those that start or stop a transaction.
READING_ACTIONS = ["MeterValues", "StartTransaction", "StopTransaction", "TransactionEvent"]
# Frames of a charge point that matter to a transaction without naming it.
CHARGE_POINT_ACTIONS = ["StartTransaction", "StatusNotification"]
# Frames per charge-point group: sets the memory of one group's rules (and of each pool worker). Earlier rows
# the rules read with the day's frames count too, a stored reading as a quarter of a frame (it has no payload):
# a day after a busy one brings far more context than frames.
GROUP_FRAMES = 50_000
READING_WEIGHT = 0.25
# ``transactions`` sizes its groups the same way but holds only the context, the day's (charge point,
# transaction) pairs and start requests, not the day's frames: twice as many fit.
TRANSACTION_GROUP_FRAMES = 2 * GROUP_FRAMES
# Rows of the previous date's partition read at once for its CALL keys.
PREVIOUS_CALLS_SLICE = 64 * 1024
# Landing lines parsed at once by ``ocpp_messages``. A batch costs some forty polars and numpy calls whatever its
# size: a shard of the 100,000-session day's busiest date (7.3 M lines) took 16-22 % less CPU and wall in batches
# of 50,000 than of 10,000 (the other sources' default), for 107-154 MB more memory, with the same bytes written
# (where batches end changes no byte: tests/ocpp/test_shards.py).
OCPP_BATCH_LINES = 50_000


@dataclass
class _ShardPart:
    """What one shard of an OCPP step wrote to its part of the partition, and what the step reports of it
    (sent back from a worker process: the schema check as its name, outcome and metadata, because an
    ``AssetCheckResult`` does not survive pickling)."""

    rows_in: int
    rows: int
    rejections: list[Rejection]
    schema_check: tuple[str, bool, dict]
    counts: Counter = field(default_factory=Counter)

    @classmethod
    def of(cls, rows_in: int, rows: int, rejections: list[Rejection], schema: dg.AssetCheckResult,
           counts: Counter) -> "_ShardPart":
        return cls(rows_in, rows, rejections, (schema.check_name, schema.passed, dict(schema.metadata)), counts)

    @property
    def schema(self) -> dg.AssetCheckResult:
        name, passed, metadata = self.schema_check
        return dg.AssetCheckResult(check_name=name, passed=passed, metadata=metadata)


def _report(context: dg.OpExecutionContext, warehouse: WarehouseResource, spec, parts: list[_ShardPart],
            shards: list[Shard], files: int = 0, extra_metadata: dict | None = None) -> dg.MaterializeResult:
    """The framework's write sequence over the shards' parts (each already in its file): one quarantine slice,
    metadata, conservation and schema checks."""
    rows = sum(part.rows for part in parts)
    checks = [part.schema for part in parts]
    failed = [check for check in checks if not check.passed]
    schema = checks[0] if len(parts) == 1 else (failed[0] if failed else dg.AssetCheckResult(
        check_name=checks[0].check_name, passed=True, metadata={"rows": rows}))
    outcome = IngestResult(spec=spec, accepted=StreamedRows(rows, schema), children={},
                           quarantine=quarantine_frame([r for part in parts for r in part.rejections]),
                           rows_in=sum(part.rows_in for part in parts), accepted_records=rows)
    metadata = ({"shards": len(shards)} if len(shards) > 1 else {}) | (extra_metadata or {})
    return write_ingest(context, warehouse, outcome, files=files, extra_metadata=metadata)


def _counts(parts: list[_ShardPart]) -> Counter:
    return sum((part.counts for part in parts), Counter())


def _counted(spec, metadata_of: Callable[[Counter], dict]) -> Callable[..., dg.MaterializeResult]:
    """The report of an OCPP asset whose metadata is ``metadata_of`` its shards' summed counts (``_report``)."""
    def report(context: dg.OpExecutionContext, warehouse: WarehouseResource, _landing: None, _landing_date: dt.date,
               shards: list[Shard], parts: list[_ShardPart]) -> dg.MaterializeResult:
        return _report(context, warehouse, spec, parts, shards, extra_metadata=metadata_of(_counts(parts)))
    return report


def _spill_dir(warehouse: WarehouseResource) -> Path:
    """Where group spills go: the warehouse's spill folder (outside every table, same disk)."""
    path = warehouse.root_path / SPILL_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def _transaction_ids(messages: pl.DataFrame) -> list[str]:
    return sorted(messages.get_column("transaction_id").drop_nulls().unique().to_list())


# Columns of ``ocpp_messages`` that the readings and transaction rules look at (not ``raw``: half the bytes).
RULE_COLUMNS = ["landing_date", "record_ref", "received_at", "charge_point_id", "protocol", "direction",
                "message_type", "message_id", "action", "transaction_id", "payload_json", "is_replay"]
# Columns of ``meter_readings`` that the transaction rules look at.
READING_COLUMNS = ["landing_date", "record_ref", "transaction_id", "charge_point_id", "timestamp", "received_at",
                   "measurand", "phase", "context", "value", "repair"]


def _messages(warehouse: WarehouseResource, partitions: pl.Expr | None = None, part: int | None = None,
              **filters) -> pl.LazyFrame:
    """The rule columns of ``ocpp_messages`` rows (``partitions``: a condition on ``landing_date``; ``part``:
    one shard's files)."""
    frame = warehouse.scan("ocpp_messages", part=part, **filters).select(RULE_COLUMNS)
    return frame if partitions is None else frame.filter(partitions)


def _message_slices(warehouse: WarehouseResource, partitions: pl.Expr | None = None, part: int | None = None,
                    shard: tuple[int, int] | None = None, **filters) -> list[pl.LazyFrame]:
    """``_messages`` as slices to collect one at a time (``scan_slices``: what a ``GroupSpill`` takes)."""
    return [frame.select(RULE_COLUMNS)
            for frame in warehouse.scan_slices("ocpp_messages", partitions=partitions, part=part, shard=shard,
                                               **filters)]


def _collect_sliced(slices: list[pl.LazyFrame]) -> pl.DataFrame:
    """A small result of a query over large inputs, slice by slice (``scan_slices``): a whole-table collect
    decodes whole columns first (e.g. every 2.0.1 event's payload to keep a few of them)."""
    return pl.concat([frames.collect() for frames in slices], how="vertical")


def _touched(day_pairs: pl.DataFrame, attributed: pl.DataFrame) -> list[str]:
    """The transactions a day touches: named by its frames, or given readings by ``attributed_to_transaction``."""
    return sorted(set(_transaction_ids(day_pairs)) | set(attributed.get_column("transaction_id").to_list()))


def _group_sizes(day: pl.LazyFrame, *context: tuple[pl.LazyFrame, float]) -> pl.DataFrame:
    """Size per charge point (``charge_point_id``, ``len``) for ``chunks_of_counts``: the day's frames
    (``day``) plus what the rules read with them (``context``: (rows, weight of a row against a frame), e.g.
    earlier readings of the same transactions), so a group's size is what its rules hold. Only the day's
    charge points have a group."""
    counts = day.group_by("charge_point_id").agg(pl.len().cast(pl.Float64()).alias("len"))
    charge_points = counts.select("charge_point_id")
    counts = pl.concat([counts, *(rows.join(charge_points, on="charge_point_id", how="semi").group_by("charge_point_id")
                                  .agg((pl.len() * weight).alias("len")) for rows, weight in context)])
    return (counts.group_by("charge_point_id").agg(pl.col("len").sum().ceil().cast(pl.Int64())).collect())


def _split_by_chunk(frame: pl.DataFrame, chunks: list[list[str]]) -> list[pl.DataFrame]:
    """``frame`` cut into one frame per charge-point group of ``chunks``, in one pass (rows of other charge
    points are left out)."""
    owners = pl.DataFrame({"charge_point_id": [cp for chunk in chunks for cp in chunk],
                           "_chunk": [i for i, chunk in enumerate(chunks) for _ in chunk]},
                          schema={"charge_point_id": pl.String(), "_chunk": pl.Int64()})
    parts = (frame.join(owners, on="charge_point_id", how="inner", maintain_order="left")
             .partition_by("_chunk", as_dict=True, include_key=False, maintain_order=True))
    return [parts.get((i,), frame.clear()) for i in range(len(chunks))]


def _day_rows(pairs: pl.DataFrame, start_requests: pl.DataFrame) -> pl.DataFrame:
    """What ``build_transactions`` reads of a group's frames of the day: its start requests whole, and a row
    per (charge point, transaction) pair named that day (the other columns null)."""
    return pl.concat([start_requests, pairs], how="diagonal_relaxed")


START_ANSWER = (pl.col("action") == "StartTransaction") & (pl.col("message_type") == "CALLRESULT")
ANSWER_PAIR = ["action", "message_type", "charge_point_id", "message_id", "landing_date"]


def _first_of_each_record(frames: pl.DataFrame) -> pl.DataFrame:
    """``frames`` without a record met again (the same landing date and record ref), the first kept: the
    start/stop frames are read by transaction and by charge point, so a frame can come twice."""
    return frames.unique(subset=["landing_date", "record_ref"], keep="first", maintain_order=True)


def _start_requests(warehouse: WarehouseResource, frames: pl.DataFrame, landing_date: dt.date) -> pl.DataFrame:
    """The 1.6 StartTransaction requests (up to ``landing_date``) answered by the StartTransaction answers in
    ``frames`` (any frame with action, message_type, charge_point_id, message_id and landing_date): the
    transaction id is in the answer, and a request landed the day before its answer (just
    before midnight) carries no transaction id, so a scan on transaction ids misses it."""
    pair = ["charge_point_id", "message_id"]
    answers = frames.filter(START_ANSWER).select(*pair, "landing_date").unique()
    if answers.is_empty():
        return pl.DataFrame(schema=_messages(warehouse).collect_schema())
    # An answer has the action StartTransaction only if ``ocpp_messages`` found its request on the answer's
    # landing date or the day before, so only those dates are read (not every earlier day's frames).
    answered_on = answers.get_column("landing_date")
    dates = pl.concat([answered_on, answered_on.dt.offset_by("-1d")]).unique().sort()
    return (_messages(warehouse, partitions=pl.col("landing_date").is_in(dates.implode())
                      & (pl.col("landing_date") <= landing_date),
                      action="StartTransaction", message_type="CALL",
                      message_id=answers.get_column("message_id").unique().to_list()).collect()
            .join(answers.select(pair).unique(), on=pair, how="semi", maintain_order="left"))


def _with_start_requests(frames: pl.DataFrame, requests: pl.DataFrame) -> pl.DataFrame:
    """``frames`` plus those of ``requests`` that one of their StartTransaction answers answers."""
    pair = ["charge_point_id", "message_id"]
    answers = (frames.filter((pl.col("action") == "StartTransaction") & (pl.col("message_type") == "CALLRESULT"))
               .select(pair))
    if answers.is_empty():
        return frames
    answered = requests.join(answers.unique(), on=pair, how="semi", maintain_order="left")
    return _first_of_each_record(pl.concat([frames, answered]))


def _transaction_context(warehouse: WarehouseResource, day_pairs: pl.DataFrame, attributed: pl.DataFrame,
                         touched_days: pl.DataFrame, landing_date: dt.date, chunks: list[list[str]],
                         spill_dir: Path, shard: Shard) -> Iterator[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]]:
    """Per charge-point group: (frames, readings, reading counts) needed to assemble the transactions touched on
    ``landing_date``.

    Touched: named by a frame of the day (``day_pairs``: the day's distinct charge_point_id, transaction_id),
    or given a reading of the day by ``attributed_to_transaction`` (``attributed``: charge_point_id,
    transaction_id); ``touched_days``: their ``transaction_days``, which say what landing dates to read. Frames:
    every transaction frame naming a touched transaction (any earlier landing date),
    the StartTransaction and StatusNotification frames of their charge points from the first landing date of
    those frames on (charging states, replayed starts under another id), the frames of such alias ids, and the
    start requests answered among them. Readings: the accepted meter readings of those transactions up to this
    date, as the assembly reads them: their register series whole and the others counted (``reading_counts``;
    two thirds of the readings of a generated day are power and current). Each input is read once for the whole
    day and spilled per group (``GroupSpill``), so memory follows a group; only alias ids (replayed starts,
    rare) cost a second, narrow read for their group.
    """
    up_to_day = pl.col("landing_date") <= landing_date
    touched = _touched(day_pairs, attributed)
    first_days = touched_days.group_by("charge_point_id").agg(pl.col("landing_date").min())
    named = {"partitions": on_dates(touched_days), "transaction_id": touched, "action": TRANSACTION_ACTIONS}
    earliest = first_days.get_column("landing_date").min() or landing_date
    around = {"partitions": up_to_day & (pl.col("landing_date") >= earliest),
              "charge_point_id": first_days.get_column("charge_point_id").to_list(), "action": CHARGE_POINT_ACTIONS}
    # The StartTransaction answers among those frames (narrow: the requests are looked up by their key).
    answer = (pl.col("action") == "StartTransaction") & (pl.col("message_type") == "CALLRESULT")
    answers = pl.concat([_messages(warehouse, **filters).filter(answer)
                         .select("action", "message_type", "charge_point_id", "message_id", "landing_date")
                         for filters in (named, around)]).collect()
    requests = _start_requests(warehouse, answers, landing_date)
    reading_dates = up_to_day & on_reading_dates(touched_days)
    # The slices keep only this shard's charge points (by id), so only the files that can hold them are read.
    readings = [frame.filter(REGISTER_SERIES).select(READING_COLUMNS) for frame in warehouse.scan_slices(
        "meter_readings", partitions=reading_dates, transaction_id=touched, shard=shard.split)]
    # The counts take a second, two-column scan of the same partitions: the slices drop the other rows unread.
    counts = reading_counts(warehouse.scan("meter_readings", transaction_id=touched).filter(reading_dates)).collect()
    with (GroupSpill(_message_slices(warehouse, shard=shard.split, **named), chunks, spill_dir) as named_groups,
          GroupSpill(_message_slices(warehouse, shard=shard.split, **around), chunks, spill_dir) as around_groups,
          GroupSpill(readings, chunks, spill_dir) as reading_groups):
        for index, (chunk_pairs, chunk_attributed, chunk_first_days, chunk_requests, chunk_counts) in enumerate(zip(
                *(_split_by_chunk(frame, chunks) for frame in (day_pairs, attributed, first_days, requests, counts)))):
            chunk_named, chunk_around = named_groups.group(index), around_groups.group(index)
            chunk_readings = reading_groups.group(index)
            chunk_ids = set(_transaction_ids(chunk_pairs)) | set(chunk_attributed.get_column("transaction_id").to_list())
            if chunk_first_days.is_empty():
                yield chunk_named.clear(), chunk_readings, chunk_counts
                continue
            first_day = chunk_first_days.get_column("landing_date").min()
            frames = pl.concat([chunk_named, chunk_around.filter(pl.col("landing_date") >= first_day)]).unique(
                subset=["landing_date", "record_ref"], keep="first")
            aliases = transaction_aliases(frames)
            related = {alias for alias, target in aliases.items() if target in chunk_ids or alias in chunk_ids}
            related |= {aliases[alias] for alias in related}
            missing = sorted(related - chunk_ids)
            if missing:
                missing_days = transaction_days(warehouse, missing, landing_date)
                extra = _messages(warehouse, partitions=on_dates(missing_days), transaction_id=missing).collect()
                frames = pl.concat([frames, extra]).unique(subset=["landing_date", "record_ref"], keep="first")
                chunk_requests = pl.concat([chunk_requests, _start_requests(warehouse, extra, landing_date)])
                missing_readings = (warehouse.scan("meter_readings", transaction_id=missing)
                                    .filter(up_to_day & on_reading_dates(missing_days)))
                chunk_readings = pl.concat([chunk_readings, missing_readings.filter(REGISTER_SERIES)
                                            .select(READING_COLUMNS).collect()])
                chunk_counts = pl.concat([chunk_counts, reading_counts(missing_readings).collect()])
            frames = _with_start_requests(frames, chunk_requests)
            frames = frames.filter(pl.col("action").is_in(TRANSACTION_ACTIONS)).sort("received_at", "record_ref")
            yield frames, chunk_readings, chunk_counts


def _earlier_records(warehouse: WarehouseResource, landing_date: dt.date):
    """Lookup of records accepted on earlier landing dates within a receive-time span (re-deliveries)."""
    # The earlier partition files, listed once: a scan of the whole table per batch would list the table's
    # history (and open every partition) for every batch of the day.
    earlier_files = sorted(
        (day, warehouse.tables.location(f"ocpp_messages/{relative}"))
        for relative in warehouse.tables.part_files("ocpp_messages")
        if (day := _landing_date_of(relative)) is not None and day < landing_date)
    columns = ["received_at", "charge_point_id", "direction", "raw"]

    def lookup(low, high, charge_points):
        """landed_record_key -> landing date of those charge points' records received in [low, high]."""
        # A record cannot land before it was received, so only dates from ``low`` on can hold it.
        files = [(day, location) for day, location in earlier_files if day >= low.date()]
        if not files:
            return landed_keys(OCPP_MESSAGES.empty_frame().select(*columns, "landing_date"))
        earlier = (pl.concat([pl.scan_parquet(location).select(columns)
                              .with_columns(pl.lit(day, dtype=pl.Date()).alias("landing_date"))
                              for day, location in files])
                   .filter(pl.col("charge_point_id").is_in(charge_points) & pl.col("received_at").is_between(low, high))
                   .collect())
        return landed_keys(earlier)

    return lookup


def _landing_date_of(relative: str) -> dt.date | None:
    """The landing date of a partition file path relative to its table (``landing_date=…/part-0.parquet``)."""
    folder = relative.split("/")[0]
    return dt.date.fromisoformat(folder.split("=", 1)[1]) if folder.startswith("landing_date=") else None


def _previous_calls(warehouse: WarehouseResource, day: dt.date, shard: Shard) -> Iterator[pl.DataFrame]:
    """The CALLs (charge_point_id, direction, message_id, action) of ``day``'s partition that ``shard``'s charge
    points sent or received, in stored order, slice by slice: the answer index keeps compact keys of them, never a
    day of text. An answer only ever answers a CALL of its own charge point, so a shard indexes its own CALLs of
    the day before (half of them on two shards), and reads only its part when that day was split the same way."""
    for frames in warehouse.scan_slices(OCPP_MESSAGES, rows=PREVIOUS_CALLS_SLICE, shard=shard.split, landing_date=day):
        calls = frames.filter(pl.col("message_type") == "CALL").select(*ANSWER_KEY, "action").collect()
        yield calls.filter(shard.owns(calls.get_column("charge_point_id")))


class _ChunkedSchemaCheck:
    """``BucketSchemaCheck`` over the columns the table's model checks, fed in chunks of ``rows`` rows
    (the writer's five-minute buckets would cost one validation each)."""

    def __init__(self, spec, rows: int = 128 * 1024):
        self.checks, self.rows = BucketSchemaCheck(spec), rows
        self.columns = list(spec.model.to_schema().columns)
        self.pending: list[pl.DataFrame] = []
        self.pending_rows = 0

    def add(self, bucket: pl.DataFrame) -> None:
        """Keep a written bucket's checked columns; validate once enough rows are kept."""
        self.pending.append(bucket.select(self.columns))
        self.pending_rows += bucket.height
        if self.pending_rows >= self.rows:
            self.flush()

    def flush(self) -> None:
        """Validate what is kept."""
        if self.pending:
            self.checks.add(pl.concat(self.pending))
        self.pending, self.pending_rows = [], 0


def _messages_shard(warehouse: WarehouseResource, landing: LandingZoneResource, landing_date: dt.date,
                    shard: Shard) -> _ShardPart:
    """``ocpp_messages`` of one shard of a landing date (every line when not split), written to its part."""
    files = day_files(landing, LANDING_SOURCE, landing_date)
    # Bounded batches of landing lines as columns (any suffix, .gz/.zst included), never the whole day's text.
    batches = shard.read(RecordReader(source="ocpp_frame", layouts=(LINES,), batch_size=OCPP_BATCH_LINES), files)
    schema_check = _ChunkedSchemaCheck(OCPP_MESSAGES)
    # Rows go to disk batch by batch and are sorted a span of minutes at a time: memory does not follow the day.
    # The shard's share of the date's bytes sets how many minutes received are resolved at once.
    span = received_span(landed_bytes(files) // shard.count)
    with warehouse.partition_writer(OCPP_MESSAGES, RECEIVED_HOUR, spill_bucket=span, part=shard.index, staged=True,
                                    finer=FINER_SPANS, split_rows=SPILL_SPLIT_ROWS,
                                    landing_date=landing_date) as writer:
        streamed = stream_ocpp_messages(batches, landing_date, writer,
                                        _previous_calls(warehouse, landing_date - dt.timedelta(days=1), shard),
                                        _earlier_records(warehouse, landing_date), on_bucket=schema_check.add,
                                        check_charge_points=shard.check_charge_points)
    schema_check.flush()
    return _ShardPart.of(streamed.rows_in, streamed.accepted, streamed.rejections, schema_check.checks.result(),
                         Counter({"frames_ocpp16": streamed.by_protocol.get("ocpp1.6", 0),
                                  "frames_ocpp201": streamed.by_protocol.get("ocpp2.0.1", 0),
                                  "replayed_calls": streamed.replayed,
                                  "spill_buckets_split": writer.splits}))


def _plan_messages(context: dg.OpExecutionContext, warehouse: WarehouseResource, landing: LandingZoneResource,
                   landing_date: dt.date) -> list[Shard]:
    """The shards of a landing date (``shards.shard_count``); its transaction-days index goes first and comes back
    after the partition (see ``transaction_days``)."""
    warehouse.remove_partition(OCPP_TRANSACTION_DAYS, landing_date=landing_date)
    return split(shard_count(day_files(landing, LANDING_SOURCE, landing_date)))


def _report_messages(context: dg.OpExecutionContext, warehouse: WarehouseResource, landing: LandingZoneResource,
                     landing_date: dt.date, shards: list[Shard], parts: list[_ShardPart]) -> dg.MaterializeResult:
    # The report step has removed stale shard files: the index is written from the date's shards alone.
    transactions_named = write_index(warehouse, landing_date)
    counts = _counts(parts)
    return _report(context, warehouse, OCPP_MESSAGES, parts, shards,
                   files=len(day_files(landing, LANDING_SOURCE, landing_date)), extra_metadata={
                       "frames_ocpp16": counts["frames_ocpp16"],
                       "frames_ocpp201": counts["frames_ocpp201"],
                       "replayed_calls": counts["replayed_calls"],
                       # Spill buckets over SPILL_SPLIT_ROWS frames (frames bunched in time), split finer.
                       "spill_buckets_split": counts["spill_buckets_split"],
                       "transactions_named": transactions_named,
                   })


_MESSAGE_STEPS = ShardedSteps(OCPP_MESSAGES, _plan_messages, _messages_shard, _report_messages,
                              ingest_check_specs("ocpp_messages"), frozenset({"warehouse", "landing"}))


@dg.graph_asset(partitions_def=daily, group_name="ingest", check_specs=_MESSAGE_STEPS.check_specs,
                kinds={"polars", "parquet"})
def ocpp_messages():
    """Every OCPP-J frame that landed on this day (gateway or exported CSMS logs), parsed.

    One row per landed frame with protocol, direction, message type, message id, action (answers get the
    action of the CALL they answer, looked up on this and the previous landing day), transaction id and
    the payload as canonical JSON. Malformed lines and frames, and records that already landed (on this
    or an earlier date), are quarantined with a reason code (see ``frames``). A large date (or any date, by
    ``CHARGELEDGER_OCPP_SHARDS``) is split into charge-point shards, one file each, run as a step each or on a
    pool by one step (``shard_steps``).
    """
    return _MESSAGE_STEPS.compose()


def _stored_shards(context: dg.OpExecutionContext, warehouse: WarehouseResource, _landing: None,
                   landing_date: dt.date) -> list[Shard]:
    """A step after ``ocpp_messages`` runs on the shards its partition of the date has, not on the setting."""
    return stored_shards(warehouse.partition_parts(OCPP_MESSAGES, landing_date=landing_date))


def _readings_metadata(counts: Counter) -> dict:
    return {
        "transactions": counts["transactions"],
        "repaired_readings": counts["repaired_readings"],
        "repairs_by_rule": dg.MetadataValue.md(
            "\n".join(f"- {rule.removeprefix('rule:')}: {count}" for rule, count in sorted(counts.items())
                      if rule.startswith("rule:")) or "none"),
    }


def _readings_shard(warehouse: WarehouseResource, _landing: None, landing_date: dt.date,
                    shard: Shard) -> _ShardPart:
    """``meter_readings`` of one shard of a landing date (the whole date when not split), written to its part."""
    # Each input is read once and spilled per charge-point group (readings only relate frames of the same
    # charge point); a group's rules get their slice and its rows go to the partition as the group completes,
    # so the cost is linear in the day's frames and memory follows a group, not the day.
    # Only frames that carry readings, a transaction id or a start/stop (not heartbeats, statuses, answers
    # other than the StartTransaction ones, which issue the transaction id): about half of the day's frames.
    reading_frame = (pl.col("message_type") == "CALL") | (pl.col("action") == "StartTransaction")
    day_frames = _messages(warehouse, landing_date=landing_date, part=shard.part,
                           action=READING_ACTIONS).filter(reading_frame)
    touched = sorted(day_frames.select(pl.col("transaction_id").drop_nulls().unique()).collect()
                     .get_column("transaction_id").to_list())
    # Recent 1.6 sessions of the charge points that sent readings without a transaction id today: such a reading
    # may belong to one of its own charge point's (rule 0). The other charge points' recent sessions, and their
    # earlier readings, cannot change a reading of this date: a steady-state 100,000-session date read the whole
    # previous day's readings for them.
    orphan_points = sorted(day_frames.filter(may_be_attributed()).select(pl.col("charge_point_id").unique())
                           .collect().get_column("charge_point_id").to_list())
    recent = _message_slices(
        warehouse, partitions=pl.col("landing_date").is_between(
            landing_date - dt.timedelta(days=ATTRIBUTION_LOOKBACK_DAYS), landing_date),
        charge_point_id=orphan_points, action=["StartTransaction", "StopTransaction"],
        shard=shard.split) if orphan_points else []
    recent_ids = (_transaction_ids(_collect_sliced([frames.select("transaction_id") for frames in recent]))
                  if recent else [])
    needed = sorted(set(touched) | set(recent_ids))
    # Only the landing dates that can hold these transactions' frames and readings are read, not the history.
    needed_days = transaction_days(warehouse, needed, landing_date)
    earlier = (pl.col("landing_date") < landing_date) & on_reading_dates(needed_days)
    chunks = chunks_of_counts(_group_sizes(
        day_frames, (warehouse.scan("meter_readings", transaction_id=needed).filter(earlier), READING_WEIGHT)),
        GROUP_FRAMES)
    # Every slice read here keeps only this shard's charge points (by id), so only the files that can hold them are
    # read (``files_of_shard``): the other shards' parts of each date were most of the bytes decoded.
    history = [frame.select(history_columns())
               for frame in warehouse.scan_slices("meter_readings", partitions=earlier, transaction_id=needed,
                                                  shard=shard.split)]
    # Only the frames the rules read of them (not the 2.0.1 events without an EVSE: most of their bytes).
    named = [frames.filter(LOCATING_FRAME) for frames in _message_slices(
        warehouse, partitions=on_dates(needed_days.filter(pl.col("transaction_id").is_in(touched))),
        transaction_id=touched, action=["StartTransaction", "StopTransaction", "TransactionEvent"], shard=shard.split)]
    # The start/stop frames grow with the day: they are spilled per group like the frames, and only the start
    # answers (which name the requests to read) are collected here.
    requests = _start_requests(warehouse, _collect_sliced([frames.filter(START_ANSWER).select(ANSWER_PAIR)
                                                           for frames in named + recent]), landing_date)
    schema_check = BucketSchemaCheck(METER_READINGS)
    rows_in, rejections, repaired, repairs = 0, [], 0, Counter()
    spill_dir = _spill_dir(warehouse)
    day_slices = [frame.filter(reading_frame) for frame in
                  _message_slices(warehouse, landing_date=landing_date, part=shard.part, action=READING_ACTIONS)]
    with (GroupSpill(day_slices, chunks, spill_dir) as frame_groups,
          GroupSpill(history, chunks, spill_dir) as history_groups,
          GroupSpill(named + recent, chunks, spill_dir) as start_groups,
          SortedPartsWriter(warehouse, METER_READINGS, {"landing_date": landing_date}, shard.index,
                            staged=True) as writer):
        arguments = ((frame_groups.group(index), landing_date, history_groups.group(index),
                      _with_start_requests(_first_of_each_record(start_groups.group(index)), chunk_requests))
                     for index, chunk_requests in enumerate(_split_by_chunk(requests, chunks)))
        for part in map_groups(build_meter_readings, arguments, len(chunks)):
            rows_in += part.rows_in
            rejections += part.rejections
            writer.append(part.accepted)
            schema_check.add(part.accepted)
            rules = part.accepted.get_column("repair").drop_nulls()
            repaired += rules.len()
            repairs.update(rule for text in rules.to_list() for rule in text.split(";"))
        writer.commit()
    return _ShardPart.of(rows_in, writer.rows, rejections, schema_check.result(),
                         Counter({"transactions": len(touched), "repaired_readings": repaired})
                         + Counter({f"rule:{rule}": count for rule, count in repairs.items()}))


def _transactions_metadata(counts: Counter) -> dict:
    return {
        "transactions_complete": counts["complete"],
        "transactions_open": counts["open"],
        "energy_kwh_complete": round(float(counts["energy_wh"]) / 1000, 3),
    }


def _transactions_shard(warehouse: WarehouseResource, _landing: None, landing_date: dt.date,
                        shard: Shard) -> _ShardPart:
    """``transactions`` of one shard of a landing date (the whole date when not split), written to its part."""
    attributed = (warehouse.scan("meter_readings", landing_date=landing_date, part=shard.part)
                  .filter(pl.col("repair").str.contains("attributed_to_transaction", literal=True))
                  .select("charge_point_id", "transaction_id").unique().collect())
    # The day's frames as far as the assembly needs them: which transactions they name (the distinct pairs, no
    # frame), the StartTransaction requests whole (an unanswered one is quarantined), and a pair for every charge
    # point with attributed readings, so its group exists. Spilling every frame of the day per group instead cost
    # a fifth of this step for the same two facts.
    start_request = ((pl.col("action") == "StartTransaction") & (pl.col("message_type") == "CALL")
                     & (pl.col("direction") == "in"))
    attributed_charge_points = attributed.get_column("charge_point_id").unique().implode()
    day_frames = (_messages(warehouse, landing_date=landing_date, part=shard.part)
                  .filter(pl.col("transaction_id").is_not_null() | start_request
                          | pl.col("charge_point_id").is_in(attributed_charge_points)))
    day_pairs = day_frames.select("charge_point_id", "transaction_id").unique().collect()
    up_to_day = pl.col("landing_date") <= landing_date
    touched = _touched(day_pairs, attributed)
    touched_days = transaction_days(warehouse, touched, landing_date)
    chunks = chunks_of_counts(_group_sizes(
        day_frames, (warehouse.scan("meter_readings", transaction_id=touched)
                     .filter(up_to_day & on_reading_dates(touched_days)), READING_WEIGHT),
        (_messages(warehouse, partitions=on_dates(touched_days), transaction_id=touched,
                   action=TRANSACTION_ACTIONS), 1.0)),
        TRANSACTION_GROUP_FRAMES)
    spill_dir = _spill_dir(warehouse)
    # The start requests (one per 1.6 session, with payload) are spilled per group, so memory follows a group at
    # any size of day. The assembled rows are one per transaction (small): kept, and written at once in
    # transaction id order.
    start_slices = [frames.filter(start_request)
                    for frames in _message_slices(warehouse, landing_date=landing_date, part=shard.part)]
    with GroupSpill(start_slices, chunks, spill_dir) as start_groups:
        arguments = ((_day_rows(chunk_pairs, start_groups.group(index)), landing_date, context_messages, readings,
                      chunk_attributed.get_column("transaction_id").to_list(), counts)
                     for index, ((context_messages, readings, counts), chunk_pairs, chunk_attributed) in enumerate(zip(
                         _transaction_context(warehouse, day_pairs, attributed, touched_days, landing_date, chunks,
                                              spill_dir, shard),
                         *(_split_by_chunk(frame, chunks) for frame in (day_pairs, attributed)))))
        parts = list(map_groups(build_transactions, arguments, len(chunks)))
    result = combine(parts, TRANSACTIONS, landing_date)
    warehouse.write_partition(TRANSACTIONS, result.accepted, part=shard.index, staged=True,
                              landing_date=landing_date)
    complete = result.accepted.filter(pl.col("status") == "complete")
    return _ShardPart.of(result.rows_in, result.accepted.height, result.rejections,
                         schema_result(TRANSACTIONS, result.accepted),
                         Counter({"complete": complete.height, "open": result.accepted.height - complete.height,
                                  "energy_wh": complete.get_column("energy_wh").sum() or 0.0}))


_READING_STEPS = ShardedSteps(METER_READINGS, _stored_shards, _readings_shard,
                              _counted(METER_READINGS, _readings_metadata),
                              ingest_check_specs("meter_readings"))


@dg.graph_asset(partitions_def=daily, group_name="ingest", check_specs=_READING_STEPS.check_specs,
                kinds={"polars", "parquet"}, ins={"ocpp_messages": dg.AssetIn(dagster_type=dg.Nothing)})
def meter_readings(ocpp_messages):
    """Sampled values of the metering frames that landed on this day, normalised and repaired.

    Values in Wh / W / A / % (1.6 strings, 2.0.1 multipliers, kWh -> Wh), keyed by (timestamp, measurand,
    phase, location, context); clock repair against the receive time; duplicates, dummy Transaction.Begin
    registers of 0, session-relative registers, rollbacks and resets by the rules of ``reading_rules``.
    A date that ``ocpp_messages`` split into shards is read and written shard by shard.
    """
    return _READING_STEPS.compose(ocpp_messages)


_TRANSACTION_STEPS = ShardedSteps(TRANSACTIONS, _stored_shards, _transactions_shard,
                                  _counted(TRANSACTIONS, _transactions_metadata),
                                  ingest_check_specs("transactions"))


@dg.graph_asset(partitions_def=daily, group_name="ingest", check_specs=_TRANSACTION_STEPS.check_specs,
                kinds={"polars", "parquet"}, ins={"ocpp_messages": dg.AssetIn(dagster_type=dg.Nothing),
                                                  "meter_readings": dg.AssetIn(dagster_type=dg.Nothing)})
def transactions(ocpp_messages, meter_readings):
    """OCPP transactions touched by this day's frames, assembled from all landing days up to this one.

    Start/stop, meter start/stop, energy, id tag, stop reason, charging states and status (open or
    complete); the current state of a transaction is its row with the greatest landing date. Rules in
    ``transactions`` (module of the same name). A date that ``ocpp_messages`` split into shards is assembled
    shard by shard.
    """
    return _TRANSACTION_STEPS.compose(ocpp_messages, meter_readings)


OCPP_ASSETS = [ocpp_messages, meter_readings, transactions]
