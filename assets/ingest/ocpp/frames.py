"""Landing lines -> OCPP-J frames (the rows of ``ocpp_messages``), with stable rejection codes.

A landing line is the gateway's record (resources/README.md §2); logs exported by another CSMS in the
same format are read the same way. Blank lines are not records and are not counted.

| reason code              | when                                                                    |
|--------------------------|-------------------------------------------------------------------------|
| ``MALFORMED_LANDING_LINE`` | the line is not a JSON object                                           |
| ``MISSING_FIELD``        | ``received_at``, ``charge_point_id``, ``protocol``, ``direction`` or ``raw`` absent or not text |
| ``INVALID_RECEIVED_AT``  | ``received_at`` is not an ISO-8601 instant with an offset                |
| ``UNKNOWN_PROTOCOL``     | protocol other than ``ocpp1.6`` / ``ocpp2.0.1``                          |
| ``INVALID_DIRECTION``    | direction other than ``in`` / ``out``                                    |
| ``MALFORMED_FRAME``      | ``raw`` is not JSON                                                      |
| ``INVALID_OCPP_FRAME``   | ``raw`` is JSON but not a CALL ``[2,id,action,{}]``, CALLRESULT ``[3,id,{}]`` or CALLERROR ``[4,id,code,text,{}]`` |
| ``DUPLICATE_FRAME``      | the same landed record (same instant, charge point, direction, text) again, e.g. an export delivered twice, on the same or an earlier landing date |

A charger re-sending a frame (same message id, new receive time) is *not* a duplicate record: it is a
real frame, kept with ``is_replay = true``; the meter-reading and transaction rules deduplicate its content.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson
import polars as pl
import pyarrow as pa

from assets.ingest.common import RawRecord
from assets.ingest.common.keyset import KeySet, KeyTable, row_hash
from assets.ingest.ocpp.envelope import parse_lines

PROTOCOLS = ("ocpp1.6", "ocpp2.0.1")
DIRECTIONS = ("in", "out")
MESSAGE_TYPES = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR"}


@dataclass(frozen=True)
class FrameRejection:
    """A landing line that is not a usable frame."""

    record_ref: str
    reason_code: str
    reason: str
    raw_payload: str


def load_json(text: str) -> object:
    """JSON text -> value: orjson (fast) first; what it refuses but the standard parser accepts (NaN,
    integers beyond 64 bits, lone surrogates) goes through ``json`` so the rules see the same values.
    Raises ``ValueError`` for text that is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def canonical_json(value: object) -> str:
    """Canonical JSON text (sorted keys, no spaces) of a parsed payload, written once per frame."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        # NaN / infinities / integers beyond 64 bits: the standard writer handles them.
        return json.dumps(value, sort_keys=True, separators=(",", ":"))


def parse_instant(text: str) -> datetime | None:
    """An ISO-8601 instant with an explicit offset (``Z`` or ``±hh:mm``) as UTC, else None."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def namespaced_transaction_id(charge_point_id: str, transaction_id: object) -> str | None:
    """``ocpp:<cp>:<tx>`` (resources/README.md §5), or None when the frame names no transaction."""
    if transaction_id is None or transaction_id == "" or isinstance(transaction_id, (dict, list, bool)):
        return None
    return f"ocpp:{charge_point_id}:{transaction_id}"


def frame_transaction_id(charge_point_id: str, message_type: str, action: str | None, payload: dict) -> str | None:
    """The transaction a CALL refers to (1.6 Stop/MeterValues ``transactionId``, 2.0.1 ``transactionInfo``).

    1.6 StartTransaction frames get theirs from the answer, in ``resolve_answers``.
    """
    if message_type != "CALL":
        return None
    if action in ("StopTransaction", "MeterValues"):
        return namespaced_transaction_id(charge_point_id, payload.get("transactionId"))
    if action == "TransactionEvent":
        info = payload.get("transactionInfo")
        return namespaced_transaction_id(charge_point_id, info.get("transactionId")) if isinstance(info, dict) else None
    return None


def _frame_shape(frame) -> tuple[str, str, str | None, dict, str | None, str | None] | str:
    """(message_type, message_id, action, payload, error_code, error_description) or a problem sentence."""
    if not isinstance(frame, list) or len(frame) < 3:
        return "frame is not an array of at least 3 elements"
    type_id, message_id = frame[0], frame[1]
    if type_id not in MESSAGE_TYPES or isinstance(type_id, bool):
        return f"unknown message type id {type_id!r}"
    if not isinstance(message_id, str) or not message_id:
        return "message id is not a non-empty string"
    message_type = MESSAGE_TYPES[type_id]
    if message_type == "CALL":
        if len(frame) != 4 or not isinstance(frame[2], str) or not isinstance(frame[3], dict):
            return "CALL must be [2, id, action, {payload}]"
        return message_type, message_id, frame[2], frame[3], None, None
    if message_type == "CALLRESULT":
        if len(frame) != 3 or not isinstance(frame[2], dict):
            return "CALLRESULT must be [3, id, {payload}]"
        return message_type, message_id, None, frame[2], None, None
    if len(frame) != 5 or not isinstance(frame[2], str) or not isinstance(frame[4], dict):
        return "CALLERROR must be [4, id, code, description, {details}]"
    description = frame[3] if isinstance(frame[3], str) else json.dumps(frame[3])
    return message_type, message_id, None, frame[4], frame[2], description


def parse_landing_line(line: str, record_ref: str) -> dict | FrameRejection:
    """One landing line -> a message row (dict of ``ocpp_messages`` columns) or a rejection."""

    def reject(code: str, reason: str) -> FrameRejection:
        """A rejection of this line."""
        return FrameRejection(record_ref, code, reason, line)

    try:
        record = load_json(line)
    except ValueError:
        return reject("MALFORMED_LANDING_LINE", "landing line is not valid JSON")
    if not isinstance(record, dict):
        return reject("MALFORMED_LANDING_LINE", "landing line is not a JSON object")
    for name in ("received_at", "charge_point_id", "protocol", "direction", "raw"):
        if not isinstance(record.get(name), str) or (name != "raw" and not record[name]):
            return reject("MISSING_FIELD", f"landing record lacks a text field {name!r}")
    received_at = parse_instant(record["received_at"])
    if received_at is None:
        return reject("INVALID_RECEIVED_AT", f"received_at {record['received_at']!r} is not an instant with an offset")
    if record["protocol"] not in PROTOCOLS:
        return reject("UNKNOWN_PROTOCOL", f"protocol {record['protocol']!r} is neither ocpp1.6 nor ocpp2.0.1")
    if record["direction"] not in DIRECTIONS:
        return reject("INVALID_DIRECTION", f"direction {record['direction']!r} is neither 'in' nor 'out'")
    raw = record["raw"]
    try:
        frame = load_json(raw)
    except ValueError:
        return reject("MALFORMED_FRAME", "frame text is not valid JSON")
    shape = _frame_shape(frame)
    if isinstance(shape, str):
        return reject("INVALID_OCPP_FRAME", shape)
    message_type, message_id, action, payload, error_code, error_description = shape
    return {
        "record_ref": record_ref,
        "received_at": received_at,
        "charge_point_id": record["charge_point_id"],
        "protocol": record["protocol"],
        "direction": record["direction"],
        "message_type": message_type,
        "message_id": message_id,
        "action": action,
        "transaction_id": frame_transaction_id(record["charge_point_id"], message_type, action, payload),
        "payload_json": canonical_json(payload),
        "error_code": error_code,
        "error_description": error_description,
        "raw": raw,
    }


# Identity of a landed record: the same instant, charge point, direction and text is the same record.
RECORD_IDENTITY = ["received_at", "charge_point_id", "direction", "raw"]
# Identity of a CALL re-sent by its charge point: the same charge point, direction, message id and text.
CALL_IDENTITY = ["charge_point_id", "direction", "message_id", "raw"]
KEY = ["_k1", "_k2"]


def identity_key(columns: list[str]) -> list[pl.Expr]:
    """A compact 128-bit key (two 64-bit hashes under different seeds) of ``columns``, computed vectorised,
    for dedup state that must not hold a day of raw frames (a collision needs both hashes to agree)."""
    return [row_hash(columns, seed=0x5EED).alias("_k1"), row_hash(columns, seed=0xC0FFEE).alias("_k2")]


def record_keys(messages: pl.DataFrame) -> pl.DataFrame:
    """``_k1``, ``_k2`` (the landed-record key) and ``landing_date`` of accepted ``ocpp_messages`` rows."""
    return messages.select(*identity_key(RECORD_IDENTITY), pl.col("landing_date"))


def split_lines(text: str) -> list[str]:
    """Landing lines: split on "\n" only (U+2028 and friends are legal inside JSON strings), CRLF tolerated."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


MESSAGE_COLUMNS = {"record_ref": pl.String(), "received_at": pl.Datetime("us", "UTC"), "charge_point_id": pl.String(),
                   "protocol": pl.String(), "direction": pl.String(), "message_type": pl.String(),
                   "message_id": pl.String(), "action": pl.String(), "transaction_id": pl.String(),
                   "payload_json": pl.String(), "error_code": pl.String(), "error_description": pl.String(),
                   "raw": pl.String()}


def _in(keys: pl.DataFrame, seen: KeySet) -> pl.Series:
    """For each key row (``_k1``, ``_k2``): whether ``seen`` holds it."""
    return pl.Series(seen.contains(keys.get_column("_k1").to_numpy(), keys.get_column("_k2").to_numpy()))


def _remember(keys: pl.DataFrame, seen: KeySet) -> None:
    seen.add(keys.get_column("_k1").to_numpy(), keys.get_column("_k2").to_numpy())


class FrameParser:
    """Parses landing records batch by batch, remembering what it has seen across the files of a date.

    Lines of the common shape are parsed as columns (``envelope.parse_lines``), the others one by one by
    ``parse_landing_line``. A record already seen this landing date is a ``DUPLICATE_FRAME``; ``is_replay``
    marks a CALL whose (charge point, direction, message id, text) was already seen earlier this date. The
    state across batches is two tables of 128-bit keys, not the frames.
    """

    def __init__(self, check_charge_points: Callable[[pl.Series], None] | None = None) -> None:
        self.rows_in = 0
        self._seen_records = KeySet()
        self._seen_calls = KeySet()
        # Sees the charge point of every frame parsed, before duplicates are looked for (``shards``).
        self._check_charge_points = check_charge_points

    def parse_batch(self, records: list[RawRecord]) -> tuple[pl.DataFrame, list[FrameRejection]]:
        """``parse_lines`` of landing records (their refs and texts)."""
        return self.parse_lines(pl.Series("record_ref", [record.ref for record in records], dtype=pl.String()),
                                # Decoded as ``RawRecord.text`` is (undecodable bytes replaced).
                                pl.Series("line", [record.raw.decode("utf-8", "replace") for record in records],
                                          dtype=pl.String()))

    def parse_lines(self, refs: pl.Series, lines: pl.Series,
                    text: pa.LargeStringArray | None = None) -> tuple[pl.DataFrame, list[FrameRejection]]:
        """(message rows in delivery order, with the record key ``_k1``/``_k2``; rejections) of landing
        lines (``refs``: their ``file:line``; ``lines``: their text as ``RawRecord.text`` gives it; ``text``: the
        same as one Arrow array, ``LineBatch.text``, when there is one); counts them into ``rows_in``."""
        self.rows_in += len(lines)
        taken, rest = parse_lines(lines, text)
        rows, rejections = [], []
        for position, ref, line in zip(rest.to_list(), refs.gather(rest).to_list(), lines.gather(rest).to_list()):
            parsed = parse_landing_line(line, ref)
            if isinstance(parsed, FrameRejection):
                rejections.append(parsed)
            else:
                parsed["_pos"] = position
                rows.append(parsed)
        slow = pl.DataFrame(rows, schema={"_pos": pl.UInt32(), **MESSAGE_COLUMNS}).drop("record_ref")
        parsed = pl.concat([taken, slow.select(taken.columns)]).sort("_pos")
        parsed = parsed.with_columns(refs.gather(parsed.get_column("_pos")))
        if self._check_charge_points is not None:
            self._check_charge_points(parsed.get_column("charge_point_id"))
        keyed = parsed.with_columns(identity_key(RECORD_IDENTITY))
        keys = keyed.select(KEY)
        duplicate = ~keys.select(pl.struct(KEY).is_first_distinct()).to_series() | _in(keys, self._seen_records)
        repeated = keyed.filter(duplicate).get_column("_pos")
        for ref, line in zip(refs.gather(repeated).to_list(), lines.gather(repeated).to_list()):
            rejections.append(FrameRejection(ref, "DUPLICATE_FRAME",
                                             "the same landed record appears earlier in this landing date", line))
        kept = keyed.filter(~duplicate)
        _remember(kept.select(KEY), self._seen_records)
        is_call = kept.get_column("message_type") == "CALL"
        call_keys = kept.filter(is_call).select(identity_key(CALL_IDENTITY))
        replayed_calls = (~call_keys.select(pl.struct(KEY).is_first_distinct()).to_series()
                          | _in(call_keys, self._seen_calls))
        _remember(call_keys, self._seen_calls)
        replay = pl.Series("is_replay", np.zeros(kept.height, dtype=bool))
        if call_keys.height:
            replay = replay.scatter(is_call.arg_true(), replayed_calls)
        return kept.with_columns(replay).drop("_pos"), rejections


def text_records(relative_path: str, text: str) -> list[RawRecord]:
    """The landing records of one file given as text (tests, benchmarks): non-blank lines, split on "\n"."""
    return [RawRecord(f"{relative_path}:{number}", line.strip().encode("utf-8", "surrogatepass"))
            for number, line in enumerate(split_lines(text), start=1) if line.strip()]


def drop_already_landed(messages: pl.DataFrame, already_landed: pl.DataFrame,
                        lines: pl.DataFrame) -> tuple[pl.DataFrame, list[FrameRejection]]:
    """Split off rows whose record was accepted on an earlier landing date (``DUPLICATE_FRAME``).

    ``messages`` carry the record key (``_k1``, ``_k2``); ``already_landed`` is ``record_keys`` of the
    earlier rows. This catches an export that is delivered again on a later day. The quarantined payload is
    the landing line: ``lines`` holds each ``record_ref`` with its ``line``.
    """
    first_landed = already_landed.group_by(KEY).agg(pl.col("landing_date").min().alias("_landed_on"))
    marked = messages.join(first_landed, on=KEY, how="left", maintain_order="left")
    repeated = (marked.filter(pl.col("_landed_on").is_not_null()).select("record_ref", "_landed_on")
                .join(lines, on="record_ref", how="left", maintain_order="left"))
    rejections = [FrameRejection(ref, "DUPLICATE_FRAME", f"the same record already landed on {landed_on.isoformat()}",
                                 line)
                  for ref, landed_on, line in repeated.iter_rows()]
    return marked.filter(pl.col("_landed_on").is_null()).drop("_landed_on"), rejections


def _flipped(direction: pl.Expr) -> pl.Expr:
    return pl.when(direction == "in").then(pl.lit("out")).otherwise(pl.lit("in"))


ANSWER_KEY = ["charge_point_id", "direction", "message_id"]


class CallIndex:
    """Which CALL each answer answers, as compact keys: an answer travels the other way than its CALL, with
    the same message id and charge point; the first CALL with that key wins, today's before the previous
    landing date's.

    ``add`` CALLs (charge_point_id, direction, message_id, action) in delivery order, today's first and then
    the previous date's; ``actions`` then gives each row the action of the CALL it answers. Held as one
    128-bit key and a small action code per CALL (``KeyTable``), not as text, so a day of CALLs stays small.
    """

    def __init__(self) -> None:
        self._k1: list[np.ndarray] = []
        self._k2: list[np.ndarray] = []
        self._codes: list[np.ndarray] = []
        self._action_codes: dict[str, int] = {}
        self._table: KeyTable | None = None

    def add(self, calls: pl.DataFrame) -> None:
        """More CALLs, after those added so far (which win over them)."""
        if self._table is not None:
            raise RuntimeError("CallIndex: add after the first lookup")
        if not calls.height:
            return
        for action in calls.get_column("action").unique().drop_nulls().sort().to_list():
            self._action_codes.setdefault(action, len(self._action_codes))
        keys = calls.select(pl.col("charge_point_id"), _flipped(pl.col("direction")).alias("direction"),
                            pl.col("message_id")).select(identity_key(ANSWER_KEY))
        self._k1.append(keys.get_column("_k1").to_numpy())
        self._k2.append(keys.get_column("_k2").to_numpy())
        codes = calls.get_column("action").replace_strict(self._action_codes, default=-1, return_dtype=pl.Int32).fill_null(-1)
        self._codes.append(codes.to_numpy())

    def _frozen(self) -> KeyTable:
        if self._table is None:
            def joined(parts: list[np.ndarray], dtype) -> np.ndarray:
                return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
            self._table = KeyTable(joined(self._k1, np.uint64), joined(self._k2, np.uint64),
                                   joined(self._codes, np.int32))
            self._k1, self._k2, self._codes = [], [], []
        return self._table

    def actions(self, messages: pl.DataFrame) -> pl.Series:
        """For each row of ``messages``: the action of the CALL answered by a message with its
        (charge_point_id, direction, message_id), null when no such CALL is known."""
        table = self._frozen()
        keys = messages.select(identity_key(ANSWER_KEY))
        codes = table.lookup(keys.get_column("_k1").to_numpy(), keys.get_column("_k2").to_numpy())
        names = pl.Series([name for name, _ in sorted(self._action_codes.items(), key=lambda item: item[1])],
                          dtype=pl.String())
        index = pl.Series(codes, dtype=pl.Int64()).replace(-1, None)
        return names.gather(index).alias("_call_action") if len(names) else pl.repeat(
            None, messages.height, dtype=pl.String(), eager=True).alias("_call_action")


def answer_index(calls: pl.DataFrame, earlier_calls: pl.DataFrame | None = None) -> CallIndex:
    """The ``CallIndex`` of a landing date's CALLs (delivery order) and the previous date's."""
    index = CallIndex()
    index.add(calls)
    if earlier_calls is not None:
        index.add(earlier_calls)
    return index


def _start_answer(action: pl.Expr) -> pl.Expr:
    """An answer to a StartTransaction request (``action``: the row's action, or the one just resolved)."""
    return (action == "StartTransaction") & (pl.col("message_type") == "CALLRESULT")


_START_ANSWER = _start_answer(pl.col("action"))


def resolve_actions(messages: pl.DataFrame, calls: CallIndex) -> pl.DataFrame:
    """Answers get the action of their CALL; 1.6 StartTransaction answers get the transaction id they issue."""
    is_call = messages.get_column("message_type") == "CALL"
    call_action = pl.Series("_call_action", [None] * messages.height, dtype=pl.String())
    if not is_call.all():
        answers = is_call.not_().arg_true()
        call_action = call_action.scatter(answers, calls.actions(messages.select(ANSWER_KEY).filter(~is_call)))
    action = (pl.when(pl.col("message_type") == "CALL").then(pl.col("action"))
              .otherwise(pl.coalesce(pl.col("action"), call_action)))
    # On the resolved action, so the action and the issued id are set in one with_columns (each eager call
    # costs a query plan, and a day has up to 1,440 spill buckets).
    start_answer = _start_answer(action)
    # Only StartTransaction answers are parsed (a JSON path over every payload of a bucket costs seconds a day).
    issued_id = pl.when(start_answer).then(pl.col("payload_json")).str.json_path_match("$.transactionId")
    # Same rule as namespaced_transaction_id: objects, lists, booleans and "" name no transaction.
    usable = ~(issued_id.str.starts_with("{") | issued_id.str.starts_with("[")
               | issued_id.is_in(["true", "false", ""]))
    issued = pl.when(usable).then(pl.concat_str([pl.lit("ocpp:"), pl.col("charge_point_id"), pl.lit(":"), issued_id]))
    return messages.with_columns(
        action.alias("action"),
        pl.when(start_answer).then(issued).otherwise(pl.col("transaction_id")).alias("transaction_id"))


# A superset of the StartTransaction answers that issue a transaction id (their payload names one),
# told apart before the answers' actions are known.
MAY_ISSUE = (pl.col("message_type") == "CALLRESULT") & pl.col("payload_json").str.contains('"transactionId"',
                                                                                          literal=True)


class IssuedIndex:
    """The transaction id that each 1.6 StartTransaction request was issued by its answer, keyed by the
    request's (charge_point_id, direction, message_id) as a 128-bit key (``KeyTable``): each spill bucket
    looks up its few start requests instead of joining every row against the day's answers."""

    def __init__(self, issued_to: pl.DataFrame):
        """``issued_to``: (charge_point_id, direction of the request, message_id, _issued), first answer
        first; rows with a null key part never match (as in a join)."""
        issued_to = issued_to.drop_nulls(ANSWER_KEY)
        keys = issued_to.select(identity_key(ANSWER_KEY))
        self._ids = issued_to.get_column("_issued")
        self._table = KeyTable(keys.get_column("_k1").to_numpy(), keys.get_column("_k2").to_numpy(),
                               np.arange(issued_to.height, dtype=np.int64))

    def __len__(self) -> int:
        return len(self._table)

    def issued(self, requests: pl.DataFrame) -> pl.Series:
        """For each row of ``requests`` (the ``ANSWER_KEY`` columns), its issued transaction id or null."""
        keys = requests.select(identity_key(ANSWER_KEY))
        found = self._table.lookup(keys.get_column("_k1").to_numpy(), keys.get_column("_k2").to_numpy())
        return self._ids.gather(pl.Series(found, dtype=pl.Int64()).replace(-1, None))


def issued_index(resolved: pl.DataFrame) -> IssuedIndex:
    """The ``IssuedIndex`` of resolved StartTransaction answers in delivery order (the first answer to a
    request wins)."""
    return IssuedIndex(resolved.filter(_START_ANSWER & pl.col("transaction_id").is_not_null())
                       .select(pl.col("charge_point_id"), _flipped(pl.col("direction")).alias("direction"),
                               pl.col("message_id"), pl.col("transaction_id").alias("_issued"))
                       .unique(subset=ANSWER_KEY, keep="first", maintain_order=True))


def apply_issued(resolved: pl.DataFrame, issued: IssuedIndex) -> pl.DataFrame:
    """1.6 StartTransaction requests without a transaction id get the one their answer issued."""
    # A request with a null key part finds nothing: the index holds no such key.
    start_request = (pl.col("action") == "StartTransaction") & (pl.col("message_type") == "CALL")
    rows = resolved.select(start_request.fill_null(False)).to_series().arg_true()
    if not len(issued) or not rows.len():
        return resolved
    requests = resolved.select(*ANSWER_KEY, "transaction_id")[rows]
    filled = (requests.with_columns(issued.issued(requests).alias("_issued"))
              .select(pl.coalesce("transaction_id", "_issued")).to_series())
    return resolved.with_columns(resolved.get_column("transaction_id").scatter(rows, filled))


def resolve_answers(messages: pl.DataFrame, earlier_calls: pl.DataFrame | None = None) -> pl.DataFrame:
    """Give answers the ``action`` of the CALL they answer, and 1.6 starts their ``transaction_id``.

    ``earlier_calls`` (charge_point_id, direction, message_id, action) are CALLs of the previous landing
    date: a request just before midnight, its answer just after. The transaction id of a 1.6
    StartTransaction exists only in its answer; the answer and the request both get it. (The streamed
    ingest applies the same three steps bucket by bucket with day-wide indexes.)
    """
    calls = answer_index(messages.filter(pl.col("message_type") == "CALL"), earlier_calls)
    resolved = resolve_actions(messages, calls)
    return apply_issued(resolved, issued_index(resolved))
