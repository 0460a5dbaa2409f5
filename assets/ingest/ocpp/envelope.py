"""Columnar parsing of landing lines: the common shape of a batch in one byte scan and a few vectorised passes.

Nearly every landing line is a gateway or CSMS-export record of one exact shape: the envelope keys in
the writer's order, plain text values, and a CALL or CALLRESULT frame. ``line_scan`` reads such lines from
the Arrow buffer of the batch (envelope, frame and the payload's canonical, sorted-key text, a column of the
table); orjson writes the payloads the scan declines. Every other line (CALLERRORs, escapes, other key
orders, hostile input) is handed back to the row parser ``frames.parse_landing_line``, which applies every
rule and gives every reason code; the fast path only ever takes lines on which both would agree.
"""

from __future__ import annotations

import numpy as np
import orjson
import polars as pl
import pyarrow as pa

from assets.ingest.ocpp import line_scan
from assets.ingest.ocpp.json_bytes import array_buffer, column_buffer, string_column, text_columns

_PAYLOAD_SCHEMA = {"_payload_text": pl.String(), "payload_json": pl.String(), "_tx_named": pl.String(),
                   "_tx_info": pl.String()}


def _transaction_text(named: object) -> str | None:
    """``frames.namespaced_transaction_id``'s rule for the id part: "", objects, lists, booleans name none."""
    return None if named is None or named == "" or isinstance(named, (dict, list, bool)) else str(named)


def _payloads(texts: list[str]) -> pl.DataFrame:
    """For each payload text: its canonical JSON (sorted keys; null where orjson cannot read it as
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


def _scanned(lines: pl.Series, text: pa.LargeStringArray | None = None) -> pl.DataFrame:
    """The lines ``line_scan`` reads, as columns, with their position ``_pos``; ``payload_json`` is null where
    the scan declined the payload, ``_payload_text`` is its text there; ``received_at`` is null where
    ``line_scan.instants`` does not read the instant (the row parser then decides the line)."""
    data, offsets = array_buffer(text) if text is not None else column_buffer(lines.fill_null(""))
    rows = len(lines)
    raw, canonical = np.empty(data.shape[0], np.uint8), np.empty(data.shape[0], np.uint8)  # each <= its line
    raw_offsets, canonical_offsets = np.zeros(rows + 1, np.int64), np.zeros(rows + 1, np.int64)
    payload_spans = np.full((rows, 1, 2), -1, np.int64)
    states = np.zeros(rows, np.uint8)
    spans = np.full((rows, line_scan.SPAN_COUNT, 2), -1, np.int64)
    codes = np.zeros((rows, 3), np.int64)
    line_scan.scan(data, offsets, raw, raw_offsets, canonical, canonical_offsets, payload_spans[:, 0], states,
                   spans, codes)
    read = states != line_scan.DECLINED
    raw = raw[:raw_offsets[rows]]
    payload_declined = states == line_scan.PAYLOAD_DECLINED
    payload_spans[~payload_declined] = -1

    def named(values: tuple[str, ...], column: int, name: str) -> pl.Series:
        # A declined line's code may be -1; its row is filtered out below.
        return pl.Series(name, values, dtype=pl.String()).gather(np.where(read, codes[:, column], 0))

    micros, exact = np.zeros(rows, np.int64), np.zeros(rows, np.bool_)
    line_scan.instants(data, spans[:, line_scan.RECEIVED], micros, exact)
    received_at = (pl.select(pl.when(pl.Series(exact)).then(pl.Series(micros))).to_series()
                   .cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("received_at"))
    charge_point_id, = text_columns(data, spans[:, line_scan.CHARGE_POINT:line_scan.MESSAGE_ID], ("charge_point_id",))
    message_id, action, tx_named, tx_info = text_columns(raw, spans[:, line_scan.MESSAGE_ID:],
                                                         ("message_id", "action", "_tx_named", "_tx_info"))
    frame = pl.DataFrame([
        received_at, charge_point_id, named(line_scan.PROTOCOLS, 0, "protocol"),
        named(line_scan.DIRECTIONS, 1, "direction"), named(line_scan.MESSAGE_TYPES, 2, "message_type"),
        message_id, action, string_column("raw", raw_offsets, raw, read),
        string_column("payload_json", canonical_offsets, canonical[:canonical_offsets[rows]],
                      states == line_scan.READ),
        *text_columns(raw, payload_spans, ("_payload_text",)), tx_named, tx_info,
    ]).with_row_index("_pos")
    return frame.filter(pl.Series(read))


def parse_lines(lines: pl.Series, text: pa.LargeStringArray | None = None) -> tuple[pl.DataFrame, pl.Series]:
    """(message columns of the lines the fast path takes, with their position ``_pos``; positions of the
    lines it leaves to the row parser).

    ``lines``: the batch's landing lines (String; null for a line that is not UTF-8); ``text``: the same lines as
    one Arrow array without nulls (``LineBatch.text``), whose bytes the scan then reads in place.
    """
    taken = _scanned(lines, text)
    declined = taken.filter(pl.col("payload_json").is_null())
    if declined.height:
        # The scan left these payloads and their ids null; orjson fills what it can (null: row parser).
        written = _payloads(declined.get_column("_payload_text").to_list()).with_columns(declined.get_column("_pos"))
        taken = taken.update(written.drop("_payload_text"), on="_pos").filter(pl.col("payload_json").is_not_null())
    taken = taken.filter(pl.col("received_at").is_not_null())
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
    left = np.ones(len(lines), dtype=np.bool_)
    left[taken.get_column("_pos").to_numpy()] = False
    rest = pl.Series("_pos", np.flatnonzero(left), dtype=pl.UInt32())
    columns = ["_pos", "received_at", "charge_point_id", "protocol", "direction", "message_type", "message_id",
               "action", "transaction_id", "payload_json", "error_code", "error_description", "raw"]
    return taken.select(columns), rest
