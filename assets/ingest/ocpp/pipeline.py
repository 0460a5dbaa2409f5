"""The three ingest steps as functions on data (no Dagster, no I/O): landing files -> tables.

The assets in ``assets`` read the landing zone and the warehouse, call these, and write the results;
the benchmark and the unit tests call them directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl
import pyarrow as pa

from assets.ingest.common import Batch, LineBatch
from assets.ingest.ocpp.frames import (ANSWER_KEY, KEY, MAY_ISSUE, CallIndex, FrameParser, apply_issued,
                                       drop_already_landed, issued_index, record_keys, resolve_actions,
                                       resolve_answers, text_records)
from assets.ingest.ocpp.reading_columns import extract_columns
from assets.ingest.ocpp.reading_rules import apply_register_rules_frame, attribute_frame, drop_duplicates_frame
from assets.ingest.ocpp.readings import METERING_ACTIONS, candidate_frame, extract_readings, rule_rejection_list
from assets.ingest.ocpp.tables import METER_READINGS, OCPP_MESSAGES, TRANSACTIONS
from assets.ingest.ocpp.transaction_columns import assemble
from assets.ingest.ocpp.transactions import (
    meter_starts_16,
    transaction_intervals_16,
    transaction_places,
)
from assets.memory import TRIM_EVERY_BATCHES, release_memory
from assets.quarantine import Rejection
from resources.warehouse import PartitionWriter


# The frames ``build_meter_readings`` reads of ``start_messages``: those that can carry a start register, a
# stop time or a connector / EVSE (a 2.0.1 TransactionEvent names its EVSE only in some events).
LOCATING_FRAME = (pl.col("action").is_in(["StartTransaction", "StopTransaction"])
                  | ((pl.col("action") == "TransactionEvent")
                     & pl.col("payload_json").str.contains('"evse":', literal=True)))


@dataclass
class StepResult:
    """Accepted rows (a frame in the table's schema, partition column included) and rejections."""

    accepted: pl.DataFrame
    rejections: list[Rejection]
    rows_in: int

    @property
    def conserved(self) -> bool:
        """rows in = accepted + quarantined."""
        return self.rows_in == self.accepted.height + len(self.rejections)


def _frame(rows: list[dict], spec, landing_date: dt.date) -> pl.DataFrame:
    columns = [c for c in spec.schema if c != "landing_date"]
    data = {c: [row.get(c) for row in rows] for c in columns}
    nested = {c: _list_of_structs(c, data.pop(c), spec.schema[c])
              for c in columns if _is_list_of_structs(spec.schema[c])}
    frame = pl.DataFrame(data, schema={c: spec.schema[c] for c in columns if c not in nested}, strict=False)
    frame = frame.with_columns(nested.values())
    return frame.with_columns(pl.lit(landing_date, dtype=pl.Date()).alias("landing_date")).select(list(spec.schema))


def _is_list_of_structs(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)


def _list_of_structs(name: str, values: list[list[dict] | None], dtype: pl.List) -> pl.Series:
    """A List(Struct) column from Python lists of dicts, built field by field: polars' constructor takes
    ~60 µs a row for a transaction's charging states (most of building the ``transactions`` rows)."""
    fields = dtype.inner.fields
    items = [item for listed in values if listed for item in listed]
    inner = pl.DataFrame([pl.Series(f.name, [item.get(f.name) for item in items], dtype=f.dtype, strict=False)
                          for f in fields], schema={f.name: f.dtype for f in fields})
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum([len(listed) if listed else 0 for listed in values], out=offsets[1:])
    array = pa.LargeListArray.from_arrays(pa.array(offsets), inner.to_struct().to_arrow(),
                                          mask=pa.array([listed is None for listed in values], pa.bool_()))
    return pl.Series(name, array).cast(dtype)


def charge_point_chunks(messages: pl.DataFrame, max_frames: int = 50_000) -> list[list[str]]:
    """Charge points grouped so each group has about ``max_frames`` frames (one charge point never split).

    Readings and transactions only ever relate frames of the same charge point, so a landing date can be
    processed group by group with the same result and a bounded memory.
    """
    return chunks_of_counts(messages.group_by("charge_point_id").len(), max_frames)


def chunks_of_counts(counts: pl.DataFrame, max_frames: int = 50_000) -> list[list[str]]:
    """``charge_point_chunks`` from the frames per charge point (``charge_point_id``, ``len``), so a day
    can be grouped from a narrow count instead of its frames."""
    counts = counts.sort("charge_point_id")
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for charge_point_id, frames in counts.iter_rows():
        if current and size + frames > max_frames:
            chunks.append(current)
            current, size = [], 0
        current.append(charge_point_id)
        size += frames
    if current:
        chunks.append(current)
    return chunks


def combine(results: list[StepResult], spec, landing_date: dt.date) -> StepResult:
    """One result from the results of several charge-point groups."""
    if not results:
        return StepResult(_frame([], spec, landing_date), [], 0)
    return StepResult(pl.concat([r.accepted for r in results]), [x for r in results for x in r.rejections],
                      sum(r.rows_in for r in results))


def landed_keys(messages: pl.DataFrame) -> pl.DataFrame:
    """The record keys (``_k1``, ``_k2``) and landing dates of accepted ``ocpp_messages`` rows."""
    return record_keys(messages)


def _rejections(items, source: str) -> list[Rejection]:
    return [Rejection(source, i.record_ref, i.reason_code, i.reason, i.raw_payload) for i in items]


EarlierRecords = Callable[[datetime, datetime, list[str]], pl.DataFrame]


def build_ocpp_messages(batches: Iterable[Batch | LineBatch], landing_date: dt.date,
                        earlier_calls: pl.DataFrame | None = None,
                        earlier_records: EarlierRecords | None = None) -> StepResult:
    """Batches of landing records of one date -> ``ocpp_messages`` rows + ``ocpp_frame`` rejections.

    ``batches`` come from the ingest framework's reader (``RecordReader.batches``: every file suffix,
    compressed files, "\n"-only lines, file-level rejections) or ``text_batches``; each batch becomes a
    compact frame before the next is read, so memory follows the table, not Python objects per frame.
    ``earlier_calls``: CALLs of the previous landing date (answers just after midnight), see
    ``resolve_answers``. ``earlier_records(low, high, charge_points)``: ``landed_record_key`` -> landing
    date of records accepted on earlier dates with a receive time in [low, high] (re-delivered exports).
    """
    parser = FrameParser()
    chunks: list[pl.DataFrame] = []
    rejections: list[Rejection] = []
    for batch in batches:
        chunks.append(_parse_batch(parser, batch, landing_date, earlier_records, rejections))
    messages = pl.concat(chunks) if chunks else _frame([], OCPP_MESSAGES, landing_date)
    messages = resolve_answers(messages, earlier_calls)
    return StepResult(messages, rejections, parser.rows_in)


def _parse_batch(parser: "FrameParser", batch: Batch | LineBatch, landing_date: dt.date,
                 earlier_records: EarlierRecords | None, rejections: list[Rejection]) -> pl.DataFrame:
    """One landing batch parsed into ``ocpp_messages`` rows; its rejections (file-level, unparseable
    frames, frames already landed on an earlier date) are appended to ``rejections``."""
    parser.rows_in += len(batch.rejected)
    rejections += batch.rejected
    if isinstance(batch, LineBatch):
        refs, lines, text = batch.refs, batch.lines, batch.text
    else:
        refs = pl.Series("record_ref", [record.ref for record in batch.records], dtype=pl.String())
        lines = pl.Series("line", [record.text for record in batch.records], dtype=pl.String())
        text = None
    rows, rejected = parser.parse_lines(refs, lines, text)
    rejections += _rejections(rejected, "ocpp_frame")
    if rows.height and earlier_records is not None:
        already_landed = earlier_records(rows.get_column("received_at").min(), rows.get_column("received_at").max(),
                                         rows.get_column("charge_point_id").unique().sort().to_list())
        if already_landed.height:
            rows, repeated = drop_already_landed(rows, already_landed, pl.DataFrame([refs, lines]))
            rejections += _rejections(repeated, "ocpp_frame")
    return (rows.drop(KEY).with_columns(pl.lit(landing_date, dtype=pl.Date()).alias("landing_date"))
            .select(list(OCPP_MESSAGES.schema)))


@dataclass
class StreamedMessages:
    """What ``stream_ocpp_messages`` wrote: counts and the rejections (the rows are in the partition)."""

    rows_in: int
    rejections: list[Rejection]
    accepted: int = 0
    by_protocol: dict[str, int] = field(default_factory=dict)
    replayed: int = 0

    def count(self, bucket: pl.DataFrame) -> None:
        """Add one written bucket's rows to the counts."""
        self.accepted += bucket.height
        for protocol, frames in bucket.group_by("protocol").len().iter_rows():
            self.by_protocol[protocol] = self.by_protocol.get(protocol, 0) + frames
        self.replayed += int(bucket.get_column("is_replay").sum() or 0)


# Buckets of the streamed ``ocpp_messages`` partition: the hour received (its sort key's first column) sets
# the row groups; a span of minutes received (``received_span``) is what is spilled and resolved at once.
RECEIVED_HOUR = pl.col("received_at").dt.truncate("1h")
# What ``resolve_actions`` and ``issued_index`` read of a StartTransaction answer.
_ISSUE_COLUMNS = ["charge_point_id", "direction", "message_id", "message_type", "action", "payload_json",
                  "transaction_id"]
SPILL_BUCKET_BYTES = 10 * 2**20
"""Landing bytes a spill bucket of ``ocpp_messages`` holds on average (``received_span``)."""
# Spans that divide an hour, so that a spill bucket never crosses a row-group bucket (``RECEIVED_HOUR``).
SPAN_MINUTES = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)
SPILL_SPLIT_ROWS = 100_000
"""Frames above which a spill bucket is split by ``FINER_SPANS`` (about five times an evenly spread bucket's):
``received_span`` assumes a day spread evenly, and a backlog or a replayed archive can land hours of frames
within minutes."""
FINER_SPANS = tuple(pl.col("received_at").dt.truncate(every) for every in ("1m", "1s", "1ms"))


def received_span(landed_bytes: int) -> pl.Expr:
    """The spill bucket of ``ocpp_messages`` for a shard of ``landed_bytes`` of landing lines: the longest span of
    ``SPAN_MINUTES`` that holds ``SPILL_BUCKET_BYTES`` or less of a day spread evenly, at least a minute.

    Memory follows a spill bucket (its frames are copied about four times by the resolve, sort and write); the
    work per bucket has a fixed part (some 35 polars queries), which at one minute was a third of the step's
    CPU on a 25,000-session day. The bytes written do not depend on the span (the resolve uses day-wide
    indexes): a shard of a 25,000-session day's first date (0.9 GB) gets 15 minutes, of a 100,000-session
    day's (3.8 GB) 3, a small date an hour. Frames that arrive bunched in a few minutes instead are split finer
    before they are read (``SPILL_SPLIT_ROWS``, ``PartitionWriter``)."""
    per_minute = landed_bytes / (24 * 60)
    minutes = max((m for m in SPAN_MINUTES if m * per_minute <= SPILL_BUCKET_BYTES), default=1)
    return pl.col("received_at").dt.truncate(f"{minutes}m")


def stream_ocpp_messages(batches: Iterable[Batch | LineBatch], landing_date: dt.date, writer: PartitionWriter,
                         earlier_calls: pl.DataFrame | Iterable[pl.DataFrame] | None = None,
                         earlier_records: EarlierRecords | None = None,
                         on_bucket: Callable[[pl.DataFrame], None] | None = None,
                         check_charge_points: Callable[[pl.Series], None] | None = None) -> StreamedMessages:
    """``build_ocpp_messages`` in bounded memory: each batch's rows go to ``writer`` (spilled by the span of
    minutes received the writer was given, ``received_span``) as soon as they are parsed; answers are resolved
    spill bucket by spill bucket at commit with two day-wide compact indexes (a 128-bit key and an action code
    per CALL, ``CallIndex``; the transaction ids issued by StartTransaction answers, one row per 1.6 start,
    collected while parsing), so the rows are those of ``build_ocpp_messages``. ``earlier_calls``: the previous date's CALLs, as one frame or as
    slices. ``on_bucket`` sees each spill bucket as written (checks); ``check_charge_points`` the charge point of
    every frame parsed (a shard's check, ``shards``)."""
    parser = FrameParser(check_charge_points)
    rejections: list[Rejection] = []
    calls = CallIndex()
    may_issue: list[pl.DataFrame] = []
    for number, batch in enumerate(batches, start=1):
        if number % TRIM_EVERY_BATCHES == 0:  # the batches' freed buffers back to the system, not kept by malloc
            release_memory()
        frame = _parse_batch(parser, batch, landing_date, earlier_records, rejections)
        calls.add(frame.filter(pl.col("message_type") == "CALL").select(*ANSWER_KEY, "action"))
        # Copied row by row (a few per batch): a filtered frame would keep the whole batch's text buffers alive.
        answers = frame.filter(MAY_ISSUE).select(*_ISSUE_COLUMNS)
        may_issue.append(pl.DataFrame(answers.rows(), schema=answers.schema, orient="row"))
        writer.write(frame)
    result = StreamedMessages(parser.rows_in, rejections)
    # The parser's key sets (every record and CALL of the day) are not needed to resolve the answers: they go
    # before the previous date's CALLs are indexed, or both are held at once (a steady-state 100,000-session
    # date's shard peaked at 1.6 GB there, against 0.8 GB at the end of its parse).
    del parser
    release_memory()
    for earlier in [earlier_calls] if isinstance(earlier_calls, pl.DataFrame) else earlier_calls or []:
        calls.add(earlier.select(*ANSWER_KEY, "action"))
    start_answers = (pl.concat(may_issue) if may_issue
                     else _frame([], OCPP_MESSAGES, landing_date).select(*_ISSUE_COLUMNS))
    del may_issue
    issued_to = issued_index(resolve_actions(start_answers, calls))

    def resolve(bucket: pl.DataFrame) -> pl.DataFrame:
        bucket = apply_issued(resolve_actions(bucket, calls), issued_to)
        result.count(bucket)
        if on_bucket is not None:
            on_bucket(bucket)
        return bucket

    writer.commit(transform=resolve)
    return result


def text_batches(files: Iterable[tuple[str, str]]) -> Iterator[Batch]:
    """(path relative to the landing root, text) of landing files -> one record batch per file."""
    for relative_path, text in files:
        yield Batch(records=text_records(relative_path, text))


def build_meter_readings(messages: pl.DataFrame, landing_date: dt.date, history: pl.DataFrame,
                         start_messages: pl.DataFrame) -> StepResult:
    """``ocpp_messages`` of one date -> ``meter_readings``.

    ``history``: accepted readings of the same transactions from earlier landing dates (including the
    transactions that readings without a transaction id may be attributed to).
    ``start_messages``: 1.6 StartTransaction / StopTransaction and 2.0.1 TransactionEvent frames up to this
    date (only those of ``LOCATING_FRAME`` are read) of those transactions (meterStart, connector, EVSE) and, for a
    charge point that sent readings without a transaction id (``reading_rules.may_be_attributed``), of its recent
    transactions (the one running when such a reading was taken).

    Frames of the common payload shapes are read as columns (``reading_columns``), the others by
    ``readings.extract_readings``; the rules run over frames (``reading_rules``, ``*_frame``).
    """
    metering = messages.filter((pl.col("message_type") == "CALL") & (pl.col("direction") == "in")
                               & pl.col("action").is_in(list(METERING_ACTIONS)))
    columnar, rest = extract_columns(metering)
    row_candidates, rejections, row_rows_in = extract_readings(rest.to_dicts())
    candidates = pl.concat([columnar, candidate_frame(row_candidates)], how="vertical")
    rows_in = columnar.height + row_rows_in
    # Only frames that can carry a start register, a stop time or a location; parsed once for all lookups.
    located = (pl.concat([start_messages, messages.select(start_messages.columns)])
               .unique(subset=["landing_date", "record_ref"], keep="first", maintain_order=True)
               .filter(LOCATING_FRAME).to_dicts())
    candidates = attribute_frame(candidates, transaction_intervals_16(located))
    kept, duplicates = drop_duplicates_frame(candidates, history)
    accepted, rule_rejected = apply_register_rules_frame(kept, history, meter_starts_16(located))
    places = transaction_places(located)
    if places:
        # 1.6 StopTransaction data and 2.0.1 Updated events do not repeat the connector / EVSE.
        place_frame = pl.DataFrame([(tx, connector, evse) for tx, (connector, evse) in places.items()],
                                   schema={"transaction_id": pl.String(), "_connector": pl.Int64(), "_evse": pl.Int64()},
                                   orient="row")
        accepted = (accepted.join(place_frame, on="transaction_id", how="left", maintain_order="left")
                    .with_columns(pl.coalesce("connector_id", "_connector").alias("connector_id"),
                                  pl.coalesce("evse_id", "_evse").alias("evse_id")).drop("_connector", "_evse"))
    rule_rejections = rule_rejection_list(pl.concat([duplicates, rule_rejected], how="diagonal_relaxed"), metering)
    all_rejections = _rejections(rejections + rule_rejections, "ocpp_meter_value")
    frame = accepted.select([c for c in METER_READINGS.schema if c != "landing_date"]).cast(
        {c: t for c, t in METER_READINGS.schema.items() if c != "landing_date"})
    frame = frame.with_columns(pl.lit(landing_date, dtype=pl.Date()).alias("landing_date")).select(list(METER_READINGS.schema))
    return StepResult(frame, all_rejections, rows_in)


def build_transactions(day_messages: pl.DataFrame, landing_date: dt.date, context_messages: pl.DataFrame,
                       readings: pl.DataFrame, also_touched: Iterable[str] = (),
                       reading_counts: pl.DataFrame | None = None) -> StepResult:
    """Transactions touched by one date's frames, assembled from ``context_messages`` and ``readings``.

    ``context_messages``: transaction-related frames of the touched charge points up to this date;
    ``readings``: accepted meter readings of the touched transactions up to this date (or only their
    ``REGISTER_SERIES`` and, in ``reading_counts``, how many there are in all: ``transaction_columns``);
    ``also_touched``: transactions that got readings this date without being named by a frame
    (``attributed_to_transaction``).
    """
    touched = set(day_messages.get_column("transaction_id").drop_nulls().unique().to_list()) | set(also_touched)
    day_starts = day_messages.filter(
        (pl.col("message_type") == "CALL") & (pl.col("action") == "StartTransaction") & (pl.col("direction") == "in"))
    # The day's start requests always take part, answered or not: an unanswered one is quarantined.
    context = (pl.concat([context_messages, day_starts.select(context_messages.columns)])
               .unique(subset=["landing_date", "record_ref"], keep="first", maintain_order=True))
    unanswered_refs = set(day_starts.get_column("record_ref").to_list())
    rows, rejections = assemble(context, readings, touched, unanswered_refs, reading_counts)
    rows_in = len(rows) + len(rejections)
    return StepResult(_frame(rows, TRANSACTIONS, landing_date), _rejections(rejections, "ocpp_transaction"), rows_in)
