"""Transactions assembled column-wise: ``transactions.assemble_transactions`` without a Python object per frame
or per reading.

The rules are those of ``transactions`` (its module docstring); this module only computes the same facts with
polars expressions and hands one small set of facts per transaction to the shared ``finish_transaction``:

- **Frames** are decoded only where the assembly reads them, and only the fields it reads, as columns: one
  anchored regular expression per (protocol, direction, message type, action) recognises the common shape of
  the canonical (sorted-key, compact) payload, with every field the rules read of the JSON type they expect
  (integers, plain strings without escapes, booleans) and no unknown key; the bulky lists the rules never read
  (2.0.1 ``meterValue``, 1.6 ``transactionData``) are cut out first. ``str.json_decode`` with a fixed struct
  then reads exactly what the row parser would read. A charge point with any frame not of the common shape is
  assembled by the row path (``assemble_transactions``) instead: transactions only relate frames of their own
  charge point, so the split is exact and every reason code of odd input still comes from one place.
- **Timestamps** of the common form (``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``, after 2010, not ahead of the receive
  time) are taken as sent, as ``clock.repair_timestamp`` would; any other goes through ``repair_timestamp``.
- **Readings** are summarised per transaction (``register_summaries``) with sorted group aggregations.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from assets.columns import UTC
from assets.ingest.ocpp.clock import CLOCK_NOT_SET_BEFORE, FUTURE_TOLERANCE, TimeRejection, repair_timestamp
from assets.ingest.ocpp.meter_scan import without_member
from assets.ingest.ocpp.reading_rules import ENERGY_REGISTER
from assets.ingest.ocpp.transactions import (
    CHARGING_STATES_16,
    DEFAULT_STOP_REASON,
    RegisterSummary,
    TransactionRejection,
    _Draft,
    alias_map,
    assemble_transactions,
    finish_transaction,
    missing_start,
    start_without_id,
    starts_16,
)
from resources.row_order import sorted_rows

# JSON values whose text is their value: an integer that a float holds exactly, a string without escapes.
_INT = r"(?:0|-?[1-9][0-9]{0,14})"
_STR = r'"[^"\\\x00-\x1f]*"'
_BOOL = r"(?:true|false)"

START_REQUEST, START_ANSWER, STOP, STATUS, EVENT = "start_request", "start_answer", "stop", "status", "event"
# (protocol, direction, message type, action) of the frames whose payload the assembly reads.
KINDS = {
    ("ocpp1.6", "in", "CALL", "StartTransaction"): START_REQUEST,
    ("ocpp1.6", "out", "CALLRESULT", "StartTransaction"): START_ANSWER,
    ("ocpp1.6", "in", "CALL", "StopTransaction"): STOP,
    ("ocpp1.6", "in", "CALL", "StatusNotification"): STATUS,
    ("ocpp2.0.1", "in", "CALL", "TransactionEvent"): EVENT,
}
# Incoming CALLs the assembly reads whatever their protocol: in another protocol than above, the row path.
_ANY_PROTOCOL = ["StopTransaction", "TransactionEvent"]
# Lists the rules never read, cut out before the shape is checked (``meter_scan.without_member``).
_CUT = {EVENT: "meterValue", STOP: "transactionData"}
SHAPES = {
    START_REQUEST: rf'^\{{"connectorId":{_INT},"idTag":{_STR},"meterStart":{_INT}(?:,"reservationId":{_INT})?'
                   rf',"timestamp":{_STR}\}}$',
    START_ANSWER: rf'^\{{(?:"idTagInfo":\{{[^{{}}\[\]]*\}},)?"transactionId":(?:{_INT}|{_STR})\}}$',
    STOP: rf'^\{{(?:"idTag":{_STR},)?"meterStop":{_INT},(?:"reason":{_STR},)?"timestamp":{_STR}'
          rf',"transactionId":{_INT}\}}$',
    STATUS: rf'^\{{"connectorId":{_INT},"errorCode":{_STR}(?:,"info":{_STR})?,"status":{_STR}'
            rf'(?:,"timestamp":{_STR})?(?:,"vendorErrorCode":{_STR})?(?:,"vendorId":{_STR})?\}}$',
    EVENT: rf'^\{{(?:"cableMaxCurrent":{_INT},)?"eventType":{_STR}'
           rf'(?:,"evse":\{{"connectorId":{_INT},"id":{_INT}\}}|,"evse":\{{"id":{_INT}\}})?'
           rf'(?:,"idToken":\{{"idToken":{_STR},"type":{_STR}\}})?(?:,"numberOfPhasesUsed":{_INT})?'
           rf'(?:,"offline":{_BOOL})?(?:,"reservationId":{_INT})?,"seqNo":{_INT},"timestamp":{_STR}'
           rf',"transactionInfo":\{{(?:"chargingState":{_STR},)?(?:"remoteStartId":{_INT},)?'
           rf'(?:"stoppedReason":{_STR},)?(?:"timeSpentCharging":{_INT},)?"transactionId":{_STR}\}}'
           rf'(?:,"triggerReason":{_STR})?\}}$',
}
_FIELDS = {
    START_REQUEST: pl.Struct({"connectorId": pl.Int64(), "idTag": pl.String(), "meterStart": pl.Int64(),
                              "timestamp": pl.String()}),
    STOP: pl.Struct({"meterStop": pl.Int64(), "reason": pl.String(), "timestamp": pl.String(),
                     "transactionId": pl.Int64()}),
    STATUS: pl.Struct({"connectorId": pl.Int64(), "status": pl.String(), "timestamp": pl.String()}),
    EVENT: pl.Struct({
        "eventType": pl.String(), "evse": pl.Struct({"connectorId": pl.Int64(), "id": pl.Int64()}),
        "idToken": pl.Struct({"idToken": pl.String()}), "offline": pl.Boolean(), "seqNo": pl.Int64(),
        "timestamp": pl.String(),
        "transactionInfo": pl.Struct({"chargingState": pl.String(), "stoppedReason": pl.String(),
                                      "timeSpentCharging": pl.Int64(), "transactionId": pl.String()}),
    }),
}
# The answer's transactionId as text: a string's characters or an integer's digits (f"{value}" of either).
_ANSWER_ID = r'"transactionId":(?:"([^"]*)"|(-?[0-9]+))\}$'
_INSTANT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z$"
_TX = "transaction_id"
_CP = "charge_point_id"


def _kind() -> pl.Expr:
    expr = pl.lit(None, pl.String())
    for (protocol, direction, message_type, action), kind in KINDS.items():
        expr = pl.when((pl.col("protocol") == protocol) & (pl.col("direction") == direction)
                       & (pl.col("message_type") == message_type) & (pl.col("action") == action)
                       ).then(pl.lit(kind)).otherwise(expr)
    return expr


def _classified(frames: pl.DataFrame) -> pl.DataFrame:
    """``frames`` with ``_kind`` (null for frames the assembly does not read), ``_text`` (the payload with the
    unread lists cut out) and ``_odd`` (read by the assembly but not of the common shape). Each kind's pattern
    runs on that kind's frames only."""
    frames = frames.with_columns(_kind().alias("_kind"))
    other_protocol = ((pl.col("message_type") == "CALL") & (pl.col("direction") == "in")
                      & pl.col("action").is_in(_ANY_PROTOCOL))
    parts = [frames.filter(pl.col("_kind").is_null()).with_columns(
        pl.lit(None, pl.String()).alias("_text"), other_protocol.fill_null(False).alias("_odd"))]
    for kind, pattern in SHAPES.items():
        part = frames.filter(pl.col("_kind") == kind)
        text = part.get_column("payload_json")
        if kind in _CUT:
            text = without_member(text, _CUT[kind])
        parts.append(part.with_columns(text.alias("_text"))
                     .with_columns((~pl.col("_text").str.contains(pattern)).fill_null(True).alias("_odd")))
    return pl.concat(parts)


def _arrived(frames: pl.DataFrame) -> pl.DataFrame:
    """Frames classified (``_classified``), in arrival order (receive time, record_ref, then their order in
    ``frames``) with their position ``_arrival``."""
    frames = _classified(frames.with_row_index("_given"))
    return (sorted_rows(frames, ["received_at", "record_ref", "_given"], nulls_last=False).drop("_given")
            .with_row_index("_arrival").with_columns(pl.col("_arrival").cast(pl.Int64())))


def _odd_of(frames: pl.DataFrame) -> list[str]:
    return sorted(frames.filter(pl.col("_odd")).get_column(_CP).unique().to_list())


def odd_charge_points(frames: pl.DataFrame) -> list[str]:
    """Charge points with a frame the assembly reads that is not of the common shape (for the row path)."""
    return _odd_of(_classified(frames))


def _decode(frames: pl.DataFrame, kind: str) -> pl.DataFrame:
    """The frames of ``kind`` with the fields the rules read as columns (``_f``, a struct)."""
    subset = frames.filter(pl.col("_kind") == kind)
    return subset.with_columns(pl.col("_text").str.json_decode(_FIELDS[kind]).alias("_f"))


def repaired_times(frame: pl.DataFrame, raw: str, received: str = "received_at") -> pl.DataFrame:
    """``frame`` with ``_moment`` (the instant to use), ``_rules`` (the clock rules applied, ';'-joined, or
    ``timestamp_from_received_at`` when the stamp was unusable) and ``_rejected``, for timestamp column ``raw``
    against ``received``, by the rules of ``clock`` (the common form columnar, the rest by
    ``repair_timestamp``)."""
    parsed = (pl.col(raw).str.strip_suffix("Z").str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False)
              .dt.replace_time_zone("UTC"))
    frame = frame.with_row_index("_row").with_columns(parsed.alias("_parsed"))
    clean = (pl.col(raw).str.contains(_INSTANT).fill_null(False) & pl.col("_parsed").is_not_null()
             & (pl.col("_parsed") >= CLOCK_NOT_SET_BEFORE)
             & (pl.col("_parsed") - pl.col(received) <= FUTURE_TOLERANCE)).fill_null(False)
    frame = frame.with_columns(clean.alias("_clean"))
    rest = frame.filter(~pl.col("_clean")).select("_row", raw, received)
    moments, rules, rejected = [], [], []
    for text, received_at in rest.select(raw, received).iter_rows():
        result = repair_timestamp(text, received_at)
        if isinstance(result, TimeRejection):
            moments.append(received_at), rules.append("timestamp_from_received_at"), rejected.append(True)
        else:
            moments.append(result.timestamp), rules.append(result.repair), rejected.append(False)
    repaired = pl.DataFrame({"_row": rest.get_column("_row"), "_r_moment": pl.Series(moments, dtype=UTC),
                             "_r_rules": pl.Series(rules, dtype=pl.String()),
                             "_r_rejected": pl.Series(rejected, dtype=pl.Boolean())})
    frame = frame.join(repaired, on="_row", how="left", maintain_order="left")
    return frame.with_columns(
        pl.when(pl.col("_clean")).then(pl.col("_parsed")).otherwise(pl.col("_r_moment")).alias("_moment"),
        pl.when(pl.col("_clean")).then(None).otherwise(pl.col("_r_rules")).alias("_rules"),
        pl.when(pl.col("_clean")).then(False).otherwise(pl.col("_r_rejected")).alias("_rejected"),
    ).drop("_row", "_parsed", "_clean", "_r_moment", "_r_rules", "_r_rejected")


def _namespaced(id_text: pl.Expr) -> pl.Expr:
    """``frames.namespaced_transaction_id`` of an id given as its text (an empty id names none)."""
    return pl.when(id_text.is_not_null() & (id_text != "")).then(
        pl.concat_str([pl.lit("ocpp:"), pl.col(_CP), pl.lit(":"), id_text]))


def _starts(frames: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``transactions.starts_16`` as frames: (one row per issued transaction id: its request's fields and
    ``_answer`` position; the requests no answer issued an id for, in order of their first arrival)."""
    requests = _decode(frames, START_REQUEST).with_columns(
        pl.col("_f").struct.field("connectorId").alias("_connector"),
        pl.col("_f").struct.field("idTag").alias("_id_tag"),
        pl.col("_f").struct.field("meterStart").alias("_meter_start"),
        pl.col("_f").struct.field("timestamp").alias("_timestamp"))
    pair = [_CP, "message_id"]
    # One request per (charge point, message id): the last to arrive, in the order of the first.
    requests = requests.group_by(pair, maintain_order=True).agg(pl.all().last())
    answer_id = pl.col("_text").str.extract_groups(_ANSWER_ID)
    answers = (frames.filter(pl.col("_kind") == START_ANSWER).select(*pair, "_arrival", "_text")
               .with_columns(_namespaced(pl.coalesce(answer_id.struct.field("1"), answer_id.struct.field("2")))
                             .alias(_TX))
               .filter(pl.col(_TX).is_not_null())
               .join(requests.select(pair), on=pair, how="semi", maintain_order="left"))
    starts = (answers.select(_TX, *pair, pl.col("_arrival").alias("_answer"))
              .unique(subset=[_TX], keep="first", maintain_order=True)
              .join(requests.drop(_TX), on=pair, how="left", maintain_order="left"))
    unanswered = requests.join(answers.select(pair).unique(), on=pair, how="anti", maintain_order="left")
    return starts, unanswered


def _aliases(starts: pl.DataFrame) -> dict[str, str]:
    """``transactions.alias_map``: replayed starts (same charge point, connector, timestamp, meterStart) -> the
    id of the first request."""
    key = [_CP, "_connector", "_timestamp", "_meter_start"]
    ordered = starts.sort("received_at", "record_ref", maintain_order=True)
    merged = (ordered.with_columns(pl.col(_TX).first().over(key).alias("_canonical"))
              .filter(pl.col(_TX) != pl.col("_canonical")))
    return dict(zip(merged.get_column(_TX).to_list(), merged.get_column("_canonical").to_list()))


def transaction_aliases(frames: pl.DataFrame) -> dict[str, str]:
    """Alias id -> first id of replayed 1.6 starts among ``frames`` (``transactions.alias_map``), column-wise
    for charge points whose start frames are of the common shape, by the row path for the others.

    Only the 1.6 StartTransaction frames are read: the aliases come from them alone, and classifying the other
    frames (cutting the meter values out of every 2.0.1 event) was a seventh of a ``transactions`` shard."""
    starts = frames.filter((pl.col("protocol") == "ocpp1.6") & (pl.col("action") == "StartTransaction"))
    arrived = _arrived(starts)
    odd = _odd_of(arrived)
    aliases = _aliases(_starts(arrived.filter(~pl.col(_CP).is_in(odd)))[0])
    if odd:
        aliases.update(alias_map(starts_16(starts.filter(pl.col(_CP).is_in(odd)).to_dicts())[0]))
    return aliases


def _with_aliases(column: pl.Expr, aliases: dict[str, str]) -> pl.Expr:
    if not aliases:
        return column
    return column.replace(list(aliases), list(aliases.values()))


# The readings the assembly reads one by one (``transactions._register_series``); of the others it only counts
# them, so a caller may pass these and ``reading_counts``.
REGISTER_SERIES = (pl.col("measurand") == ENERGY_REGISTER) & pl.col("phase").is_null()


def reading_counts(readings: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """Accepted readings per (charge point, transaction id): ``charge_point_id``, ``transaction_id``,
    ``reading_count``."""
    return readings.group_by(_CP, _TX).agg(pl.len().cast(pl.Int64()).alias("reading_count"))


def register_summaries(readings: pl.DataFrame, aliases: dict[str, str],
                       counts: pl.DataFrame | None = None) -> dict[str, RegisterSummary]:
    """``transactions.summarize_readings`` of every transaction's readings (alias ids merged), column-wise.
    ``counts``: ``reading_counts`` of all the readings when ``readings`` holds only the ``REGISTER_SERIES``
    ones; None when it holds all of them."""
    counts = reading_counts(readings) if counts is None else counts
    readings = readings.with_columns(_with_aliases(pl.col(_TX), aliases).alias(_TX))
    counts = dict(counts.group_by(_with_aliases(pl.col(_TX), aliases).alias(_TX))
                  .agg(pl.col("reading_count").sum()).iter_rows())
    rank = (pl.when(pl.col("context") == "Transaction.Begin").then(0)
            .when(pl.col("context") == "Transaction.End").then(2).otherwise(1))
    rules = pl.col("repair").str.split(";")
    series = (readings.filter(REGISTER_SERIES)
              .with_columns(rank.alias("_rank"))
              .sort(_TX, "timestamp", "_rank", "received_at", "record_ref", maintain_order=True)
              .with_columns(rules.list.contains("register_reset").fill_null(False).alias("_reset"),
                            rules.list.contains("session_relative_register").fill_null(False).alias("_relative"),
                            pl.col("value").shift(1).over(_TX).alias("_previous")))
    later = pl.col("timestamp") > pl.col("timestamp").first()
    facts = series.group_by(_TX).agg(
        pl.col("timestamp").first().alias("first_timestamp"), pl.col("value").first().alias("first_value"),
        pl.col("timestamp").filter(later).first().alias("second_timestamp"),
        pl.col("value").filter(later).first().alias("second_value"),
        pl.col("value").last().alias("last_value"),
        pl.col("value").filter(pl.col("context") == "Transaction.Begin").first().alias("begin_value"),
        pl.col("value").filter(pl.col("context") == "Transaction.End").last().alias("end_value"),
        pl.col("_previous").filter(pl.col("_reset")).alias("reset_previous"),
        pl.col("_relative").any().alias("session_relative"),
    )
    summaries = {tx: RegisterSummary(reading_count=count) for tx, count in counts.items()}
    for row in facts.iter_rows(named=True):
        transaction_id = row.pop(_TX)
        row["reset_previous"] = tuple(row["reset_previous"])
        summaries[transaction_id] = RegisterSummary(reading_count=counts[transaction_id], has_series=True, **row)
    return summaries


def _consecutive_states(states: pl.DataFrame, order: list[str]) -> dict[str, list[tuple]]:
    """Transaction id -> [(moment, state)] of ``states`` (``_TX``, ``_moment``, ``_state``) in ``order``, a
    state repeated right after itself dropped."""
    states = states.sort(_TX, *order, maintain_order=True)
    kept = states.filter(pl.col("_state").ne_missing(pl.col("_state").shift(1).over(_TX)))
    lists = kept.group_by(_TX, maintain_order=True).agg(pl.col("_moment"), pl.col("_state"))
    return {tx: list(zip(moments, names)) for tx, moments, names in lists.iter_rows()}


def _event_drafts(events: pl.DataFrame, targets: list[str]) -> dict[str, _Draft]:
    """2.0.1 drafts (``transactions._assemble_201``) of the ``targets`` ids from their TransactionEvent frames."""
    events = events.filter(pl.col(_TX).is_in(targets))
    firsts = events.unique(subset=[_TX, "_seq"], keep="first", maintain_order=True)
    replayed = set(events.group_by(_TX).len().join(firsts.group_by(_TX).len(), on=_TX, suffix="_first")
                   .filter(pl.col("len") > pl.col("len_first")).get_column(_TX).to_list())
    ordered = repaired_times(firsts.sort(_TX, "_seq", maintain_order=True), "_timestamp")
    started, ended = pl.col("_event_type") == "Started", pl.col("_event_type") == "Ended"
    facts = ordered.group_by(_TX, maintain_order=True).agg(
        pl.col(_CP).sort_by("_arrival").first().alias("charge_point_id"),
        (pl.col("_seq").max() - pl.col("_seq").min() + 1 - pl.len()).alias("seq_no_gaps"),
        (pl.col("_offline") == True).sum().alias("offline_events"),  # noqa: E712 (null is not true)
        pl.col("_evse_id").drop_nulls().first().alias("evse_id"),
        pl.col("_evse_connector").drop_nulls().first().alias("connector_id"),
        pl.col("_id_token").filter(pl.col("_id_token") != "").first().alias("id_tag"),
        pl.col("_id_token").last().alias("last_id_tag"),
        started.any().alias("has_start"),
        pl.col("_moment").filter(started).first().alias("start"),
        pl.col("_timestamp").filter(started).first().alias("start_raw"),
        pl.col("record_ref").filter(started).first().alias("start_ref"),
        ended.any().alias("has_stop"),
        pl.col("_moment").filter(ended).first().alias("stop"),
        pl.col("_timestamp").filter(ended).first().alias("stop_raw"),
        pl.col("_stopped_reason").filter(ended).first().alias("stop_reason"),
        pl.col("_spent").max().alias("spent"),
        pl.col("record_ref").first().alias("first_ref"),
        pl.col("_rules").drop_nulls().alias("rules"),
    )
    states = _consecutive_states(
        ordered.filter(pl.col("_charging_state").is_not_null() & (pl.col("_charging_state") != ""))
        .select(_TX, "_seq", "_moment", pl.col("_charging_state").alias("_state")), ["_seq"])
    drafts = {}
    for fact in facts.iter_rows(named=True):
        transaction_id = fact[_TX]
        draft = _Draft(transaction_id, fact["charge_point_id"], "ocpp2.0.1")
        if transaction_id in replayed:
            draft.repair("first_frame_wins")
        for rules in fact["rules"]:
            for rule in rules.split(";"):
                draft.repair(rule)
        draft.seq_no_gaps, draft.offline_events = fact["seq_no_gaps"], fact["offline_events"]
        draft.evse_id, draft.connector_id = fact["evse_id"], fact["connector_id"]
        # ``id_tag or token`` over the events: the first non-empty token, else the last event's.
        draft.id_tag = fact["id_tag"] if fact["id_tag"] is not None else fact["last_id_tag"]
        if fact["has_start"]:
            draft.start, draft.start_raw, draft.record_ref = fact["start"], fact["start_raw"], fact["start_ref"]
        if fact["has_stop"]:
            draft.stop, draft.stop_raw = fact["stop"], fact["stop_raw"]
            draft.stop_reason = fact["stop_reason"] or DEFAULT_STOP_REASON
            draft.status = "complete"
        if fact["spent"] is not None:
            draft.time_spent_charging = max(fact["spent"], 0)
        draft.states = states.get(transaction_id, [])
        if not draft.record_ref:
            draft.record_ref = fact["first_ref"]
        drafts[transaction_id] = draft
    return drafts


def _start_drafts(starts: pl.DataFrame, stops: pl.DataFrame, statuses: pl.DataFrame,
                  targets: list[str]) -> dict[str, _Draft]:
    """1.6 drafts (``transactions._assemble_16``) of the ``targets`` ids: start request, first stop, statuses."""
    starts = repaired_times(starts.filter(pl.col(_TX).is_in(targets)), "_timestamp")
    stops = repaired_times(stops.filter(pl.col(_TX).is_in(targets)), "_timestamp")
    stop_by_tx = {row[_TX]: row for row in stops.select(
        _TX, "_moment", "_rules", "_timestamp", "_meter_stop", "_reason").iter_rows(named=True)}
    # Charging states: the statuses of the transaction's connector, the last at or before the start (as the
    # state it starts in) and those up to the stop, in time order (arrival order at the same instant).
    spans = starts.select(_TX, _CP, "_connector", pl.col("_moment").alias("_start"))
    spans = spans.join(stops.select(_TX, pl.col("_moment").alias("_stop")), on=_TX, how="left")
    timeline = (spans.join(statuses, on=[_CP, "_connector"], how="inner")
                .sort(_TX, "_moment", "_arrival", maintain_order=True))
    before = (timeline.filter(pl.col("_moment") <= pl.col("_start")).group_by(_TX, maintain_order=True)
              .agg(pl.col("_state").last(), pl.col("_start").first())
              .filter(pl.col("_state").is_in(list(CHARGING_STATES_16)))
              .select(_TX, pl.col("_start").alias("_moment"), "_state", pl.lit(-1, pl.Int64()).alias("_position")))
    during = (timeline.filter((pl.col("_moment") > pl.col("_start"))
                              & (pl.col("_stop").is_null() | (pl.col("_moment") <= pl.col("_stop")))
                              & pl.col("_state").is_in(list(CHARGING_STATES_16)))
              .with_columns(pl.int_range(pl.len(), dtype=pl.Int64()).alias("_position"))
              .select(_TX, "_moment", "_state", "_position"))
    states = _consecutive_states(pl.concat([before, during]), ["_position"])
    drafts = {}
    for start in starts.iter_rows(named=True):
        transaction_id = start[_TX]
        draft = _Draft(transaction_id, start[_CP], "ocpp1.6")
        draft.connector_id, draft.id_tag = start["_connector"], start["_id_tag"]
        draft.start_raw, draft.start = start["_timestamp"], start["_moment"]
        for rule in (start["_rules"] or "").split(";"):
            if rule:
                draft.repair(rule)
        draft.meter_start = float(start["_meter_start"])
        draft.record_ref = start["record_ref"]
        stop = stop_by_tx.get(transaction_id)
        if stop is not None:
            draft.stop_raw, draft.stop = stop["_timestamp"], stop["_moment"]
            for rule in (stop["_rules"] or "").split(";"):
                if rule:
                    draft.repair(rule)
            draft.meter_stop = float(stop["_meter_stop"])
            draft.stop_reason = stop["_reason"] or DEFAULT_STOP_REASON
            draft.status = "complete"
        draft.states = states.get(transaction_id, [])
        drafts[transaction_id] = draft
    return drafts


def assemble_columnar(messages: pl.DataFrame, readings: pl.DataFrame, touched: Iterable[str],
                      unanswered_refs: set[str] | None = None) -> tuple[list[dict], list[TransactionRejection]]:
    """``transactions.assemble_transactions`` for frames of the common shape (see ``odd_charge_points``):
    the same rows and rejections, with one Python object per transaction, none per frame or reading."""
    return _assemble_arrived(_arrived(messages), readings, touched, unanswered_refs)


def _assemble_arrived(frames: pl.DataFrame, readings: pl.DataFrame, touched: Iterable[str],
                      unanswered_refs: set[str] | None,
                      counts: pl.DataFrame | None = None) -> tuple[list[dict], list[TransactionRejection]]:
    """``assemble_columnar`` of frames already classified and in arrival order (``_arrived``)."""
    starts, unanswered = _starts(frames)
    aliases = _aliases(starts)
    stops = _decode(frames, STOP).with_columns(
        _with_aliases(_namespaced(pl.col("_f").struct.field("transactionId").cast(pl.String())), aliases).alias(_TX),
        pl.col("_f").struct.field("timestamp").alias("_timestamp"),
        pl.col("_f").struct.field("meterStop").alias("_meter_stop"),
        pl.col("_f").struct.field("reason").alias("_reason"))
    first_stops = stops.unique(subset=[_TX], keep="first", maintain_order=True)
    replayed_stops = set(stops.filter(pl.col(_TX).is_duplicated()).get_column(_TX).to_list())
    events = _decode(frames, EVENT).with_columns(
        _namespaced(pl.col("_f").struct.field("transactionInfo").struct.field("transactionId")).alias(_TX),
        pl.col("_f").struct.field("seqNo").alias("_seq"),
        pl.col("_f").struct.field("timestamp").alias("_timestamp"),
        pl.col("_f").struct.field("eventType").alias("_event_type"),
        pl.col("_f").struct.field("offline").alias("_offline"),
        pl.col("_f").struct.field("evse").struct.field("id").alias("_evse_id"),
        pl.col("_f").struct.field("evse").struct.field("connectorId").alias("_evse_connector"),
        pl.col("_f").struct.field("idToken").struct.field("idToken").alias("_id_token"),
        pl.col("_f").struct.field("transactionInfo").struct.field("stoppedReason").alias("_stopped_reason"),
        pl.col("_f").struct.field("transactionInfo").struct.field("timeSpentCharging").alias("_spent"),
        pl.col("_f").struct.field("transactionInfo").struct.field("chargingState").alias("_charging_state"))
    statuses = _decode(frames, STATUS).with_columns(
        pl.col("_f").struct.field("connectorId").alias("_connector"),
        pl.col("_f").struct.field("status").alias("_state"),
        pl.col("_f").struct.field("timestamp").alias("_status_time"))
    # A status without a timestamp (or an empty one) happened when it was received.
    statuses = repaired_times(statuses, "_status_time").with_columns(
        pl.when(pl.col("_status_time").is_null() | (pl.col("_status_time") == "") | pl.col("_rejected"))
        .then(pl.col("received_at")).otherwise(pl.col("_moment")).alias("_moment")
    ).select(_CP, "_connector", "_moment", "_state", "_arrival")

    rejections = [start_without_id(ref, payload) for ref, payload in unanswered.select("record_ref", "payload_json")
                  .iter_rows() if unanswered_refs and ref in unanswered_refs]
    canonical = sorted({aliases.get(tx, tx) for tx in touched})
    event_ids = set(events.get_column(_TX).drop_nulls().unique().to_list())
    start_ids = set(starts.get_column(_TX).to_list())
    drafts = _event_drafts(events, [tx for tx in canonical if tx in event_ids])
    drafts.update(_start_drafts(starts, first_stops, statuses,
                                [tx for tx in canonical if tx not in event_ids and tx in start_ids]))
    summaries = register_summaries(readings, aliases, counts)
    missing_stops = {row[_TX]: row for row in first_stops.filter(pl.col(_TX).is_in(
        [tx for tx in canonical if tx not in drafts])).select(_TX, "record_ref", "payload_json").iter_rows(named=True)}
    merged: dict[str, list[str]] = {}
    for alias, target in sorted(aliases.items()):
        merged.setdefault(target, []).append(alias)
    rows: list[dict] = []
    for transaction_id in canonical:
        draft = drafts.get(transaction_id)
        if draft is None:
            stop = missing_stops.get(transaction_id)
            rejections.append(missing_start(transaction_id, stop["record_ref"] if stop else None,
                                            stop["payload_json"] if stop else None))
            continue
        outcome = finish_transaction(draft, summaries.get(transaction_id, RegisterSummary()),
                                     merged.get(transaction_id, []), transaction_id in replayed_stops)
        (rejections if isinstance(outcome, TransactionRejection) else rows).append(outcome)
    return rows, rejections



def assemble(messages: pl.DataFrame, readings: pl.DataFrame, touched: set[str],
             unanswered_refs: set[str] | None = None,
             counts: pl.DataFrame | None = None) -> tuple[list[dict], list[TransactionRejection]]:
    """Rows and rejections of ``transactions.assemble_transactions`` for the ``touched`` ids: column-wise for
    the charge points whose frames are all of the common shape, by the row path for the others.

    Transactions only relate frames of their own charge point, so the split is exact; a touched id goes to the
    path of the charge point that a frame or reading names it with. ``counts``: ``reading_counts`` of all the
    readings when ``readings`` holds only the ``REGISTER_SERIES`` ones; None when it holds all of them.
    """
    frames = _arrived(messages)
    odd = _odd_of(frames)
    if not odd:
        return _assemble_arrived(frames, readings, touched, unanswered_refs, counts)
    in_odd = pl.col(_CP).is_in(odd)
    named = [messages.select(_CP, _TX), readings.select(_CP, _TX)]
    named += [] if counts is None else [counts.select(_CP, _TX)]
    odd_touched = set(pl.concat(named).filter(in_odd).get_column(_TX).drop_nulls().unique().to_list()) & touched
    rows, rejections = _assemble_arrived(frames.filter(~in_odd), readings.filter(~in_odd), touched - odd_touched,
                                         unanswered_refs, None if counts is None else counts.filter(~in_odd))
    odd_counts = None if counts is None else dict(
        counts.filter(in_odd).group_by(_TX).agg(pl.col("reading_count").sum()).iter_rows())
    odd_rows, odd_rejections = assemble_transactions(messages.filter(in_odd).to_dicts(),
                                                     readings.filter(in_odd).to_dicts(), odd_touched,
                                                     unanswered_refs, odd_counts)
    return rows + odd_rows, rejections + odd_rejections
