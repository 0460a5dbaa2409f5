"""Columnar parsing of landing lines: the common shape of a batch in a few vectorised passes.

Nearly every landing line is a gateway or CSMS-export record of one exact shape: the envelope keys in
the writer's order, plain text values, and a CALL or CALLRESULT frame. Such lines are recognised with
one anchored regular expression per level (envelope, frame), their fields taken as columns, and only the
payload object goes through orjson (its canonical, sorted-key text is a column of the table and a
columnar JSON reader cannot write it). Every other line (CALLERRORs, escapes, other key orders, hostile
input) is handed back to the row parser ``frames.parse_landing_line``, which applies every rule and gives
every reason code; the fast path only ever takes lines on which both would agree.
"""

from __future__ import annotations

import orjson
import polars as pl

# JSON whitespace (``\s`` would also match Unicode spaces, which JSON does not allow between tokens).
_W = r"[ \t\r\n]*"
# A JSON string without escapes or control characters: its text is its value.
_PLAIN = r'"([^"\\\x00-\x1f]+)"'
# The frame text as a JSON string: only the short escapes (no \u, so no lone surrogates).
_ESCAPED = r'"((?:[^"\\\x00-\x1f]|\\["\\/bfnrt])*)"'
_INSTANT = r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?)Z"'

ENVELOPE = (
    rf'^\{{{_W}"received_at"{_W}:{_W}{_INSTANT}{_W},'
    rf'{_W}"charge_point_id"{_W}:{_W}{_PLAIN}{_W},'
    rf'{_W}"protocol"{_W}:{_W}"(ocpp1\.6|ocpp2\.0\.1)"{_W},'
    rf'{_W}"direction"{_W}:{_W}"(in|out)"{_W},'
    rf'(?:{_W}"message_id"{_W}:{_W}"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt])*"{_W},)?'
    rf'{_W}"raw"{_W}:{_W}{_ESCAPED}{_W}\}}$'
)
ENVELOPE_FIELDS = ["received_text", "charge_point_id", "protocol", "direction", "raw_escaped"]

# [2, "id", "Action", {payload}] and [3, "id", {payload}]; (?s): the payload may span lines. Matched
# (fast, no captures) to classify; the id and action are taken from the start only (captures over a
# whole frame are slow), the payload by orjson.
CALL = rf'(?s)^\[{_W}2{_W},{_W}{_PLAIN}{_W},{_W}"[^"\\\x00-\x1f]*"{_W},{_W}\{{.*\}}{_W}\]$'
CALLRESULT = rf'(?s)^\[{_W}3{_W},{_W}{_PLAIN}{_W},{_W}\{{.*\}}{_W}\]$'
FRAME_HEAD = rf'^\[{_W}[23]{_W},{_W}"([^"]+)"{_W},{_W}(?:"([^"]*)")?'
ENVELOPE_TYPE = pl.Struct({"received_at": pl.String(), "charge_point_id": pl.String(), "protocol": pl.String(),
                           "direction": pl.String(), "raw": pl.String()})

# The head of a CALL or CALLRESULT the regexes above took (``[2, "id", "Action",`` / ``[3, "id",``): what
# is left of the frame is its payload text and the closing bracket.
PAYLOAD_HEAD = rf'^\[{_W}[23]{_W},{_W}"[^"\\\x00-\x1f]+"{_W},{_W}(?:"[^"\\\x00-\x1f]*"{_W},{_W})?'
_PAYLOAD_SCHEMA = {"_payload_text": pl.String(), "payload_json": pl.String(), "_tx_named": pl.String(),
                   "_tx_info": pl.String()}


def _transaction_text(named: object) -> str | None:
    """``frames.namespaced_transaction_id``'s rule for the id part: "", objects, lists, booleans name none."""
    return None if named is None or named == "" or isinstance(named, (dict, list, bool)) else str(named)


def _payloads(texts: list[str]) -> pl.DataFrame:
    """For each distinct payload text: its canonical JSON (sorted keys; null where orjson cannot read it as
    an object or write it back: that line goes to the row parser, which knows the standard parser's extra
    cases) and the transaction ids it names, by ``frames.frame_transaction_id``'s rules: ``transactionId``
    (1.6 MeterValues / StopTransaction) and ``transactionInfo.transactionId`` (2.0.1 TransactionEvent)."""
    loads, dumps, sort = orjson.loads, orjson.dumps, orjson.OPT_SORT_KEYS
    canonical: list[str | None] = []
    named: list[str | None] = []
    info_named: list[str | None] = []
    for text in texts:
        try:
            payload = loads(text)
            written = dumps(payload, option=sort).decode() if type(payload) is dict else None
        except (orjson.JSONDecodeError, TypeError):
            written = None
        canonical.append(written)
        if written is None:
            named.append(None)
            info_named.append(None)
            continue
        named.append(_transaction_text(payload.get("transactionId")))
        info = payload.get("transactionInfo")
        info_named.append(_transaction_text(info.get("transactionId")) if type(info) is dict else None)
    return pl.DataFrame([texts, canonical, named, info_named], schema=_PAYLOAD_SCHEMA)


def parse_lines(lines: pl.Series) -> tuple[pl.DataFrame, pl.Series]:
    """(message columns of the lines the fast path takes, with their position ``_pos``; positions of the
    lines it leaves to the row parser).

    ``lines``: the batch's landing lines (String; null for a line that is not UTF-8).
    """
    frame = pl.DataFrame({"line": lines}).with_row_index("_pos")
    # Only lines that match the envelope exactly are decoded here, so the columnar decoder cannot fail.
    parts = (frame.filter(pl.col("line").str.contains(ENVELOPE).fill_null(False))
             .select("_pos", pl.col("line").str.json_decode(ENVELOPE_TYPE).alias("_env")).unnest("_env"))
    parts = parts.with_columns(
        pl.col("received_at").str.strip_suffix("Z")
        .str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False).dt.replace_time_zone("UTC"),
        pl.when(pl.col("raw").str.contains(CALL)).then(pl.lit("CALL"))
        .when(pl.col("raw").str.contains(CALLRESULT)).then(pl.lit("CALLRESULT")).alias("message_type"),
    )
    taken = parts.filter(pl.col("received_at").is_not_null() & pl.col("message_type").is_not_null())
    head = pl.col("raw").str.extract_groups(FRAME_HEAD)
    taken = taken.with_columns(head.struct.field("1").alias("message_id"),
                               pl.when(pl.col("message_type") == "CALL").then(head.struct.field("2")).alias("action"))
    # Payloads repeat (every MeterValues answer is {}): each distinct text is parsed and written once.
    taken = taken.with_columns(pl.col("raw").str.replace(PAYLOAD_HEAD, "").str.strip_suffix("]")
                               .alias("_payload_text"))
    distinct = taken.get_column("_payload_text").unique(maintain_order=True).to_list()
    taken = (taken.join(_payloads(distinct), on="_payload_text", how="left", maintain_order="left")
             .filter(pl.col("payload_json").is_not_null()))
    action = pl.col("action")
    taken = taken.with_columns(
        pl.when((pl.col("message_type") == "CALL") & action.is_in(["MeterValues", "StopTransaction"]))
        .then(pl.col("_tx_named"))
        .when((pl.col("message_type") == "CALL") & (action == "TransactionEvent")).then(pl.col("_tx_info"))
        .alias("_tx"))
    taken = taken.with_columns(
        pl.when(pl.col("_tx").is_not_null())
        .then(pl.concat_str([pl.lit("ocpp:"), pl.col("charge_point_id"), pl.lit(":"), pl.col("_tx")]))
        .alias("transaction_id"),
        pl.lit(None, pl.String()).alias("error_code"),
        pl.lit(None, pl.String()).alias("error_description"),
    )
    rest = frame.join(taken.select("_pos"), on="_pos", how="anti").get_column("_pos")
    columns = ["_pos", "received_at", "charge_point_id", "protocol", "direction", "message_type", "message_id",
               "action", "transaction_id", "payload_json", "error_code", "error_description", "raw"]
    return taken.select(columns), rest
