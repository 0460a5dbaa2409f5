"""The columnar fast path of the OCPP ingest agrees with the row parser, line for line.

``envelope.parse_lines`` takes the lines of the common shape; every other line goes to
``frames.parse_landing_line``. For each line below, the row that ``FrameParser.parse_batch`` produces (or
the reason it rejects the line) must be exactly what the row parser gives for that line alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from random import Random

import numpy as np
import polars as pl
import pyarrow as pa

from assets.ingest.common import RawRecord
from assets.ingest.common.keyset import KeySet
from assets.ingest.ocpp.envelope import _scanned, parse_lines
from assets.ingest.ocpp.frames import FrameParser, FrameRejection, parse_landing_line
from assets.ingest.ocpp.json_bytes import array_buffer
from assets.ingest.ocpp.line_scan import instants


def _line(raw: str, *, received_at: str = "2026-11-20T12:00:00.123456Z", cp: str = "CP-1",
          protocol: str = "ocpp1.6", direction: str = "in", compact: bool = True) -> str:
    record = {"received_at": received_at, "charge_point_id": cp, "protocol": protocol, "direction": direction,
              "message_id": "m", "raw": raw}
    return json.dumps(record, separators=(",", ":")) if compact else json.dumps(record, ensure_ascii=False)


METER = {"connectorId": 1, "transactionId": 17, "meterValue": [{"timestamp": "2026-11-20T11:59:00Z",
         "sampledValue": [{"value": "100", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}

LINES = [
    _line(json.dumps([2, "a1", "MeterValues", METER], separators=(",", ":"))),
    # the gateway's own format: spaces after separators, non-ASCII kept
    _line(json.dumps([2, "a2", "MeterValues", {**METER, "transactionId": "tx-é"}]), compact=False),
    _line(json.dumps([3, "a1", {}])),
    _line(json.dumps([2, "a3", "TransactionEvent", {"eventType": "Started", "transactionInfo": {"transactionId": "T9"},
                                                    "evse": {"id": 1}}]), protocol="ocpp2.0.1"),
    _line(json.dumps([2, "a4", "StopTransaction", {"transactionId": 1e20, "meterStop": 5}])),
    _line(json.dumps([2, "a5", "StopTransaction", {"transactionId": True, "meterStop": 5}])),
    _line(json.dumps([2, "a6", "StopTransaction", {"transactionId": "", "meterStop": 5}])),
    _line(json.dumps([2, "a7", "StopTransaction", {"transactionId": 2.5, "meterStop": 5}])),
    _line(json.dumps([2, "a8", "TransactionEvent", {"transactionInfo": [1]}]), protocol="ocpp2.0.1"),
    _line(json.dumps([2, "a9", "DataTransfer", {"data": "line\u2028sep\u0085"}], ensure_ascii=False)),
    _line(json.dumps([2, "b1", "DataTransfer", {"data": "\ud800"}])),            # lone surrogate: row parser
    _line('[2,"b2","Heartbeat",{"n":NaN}]'),                                       # NaN: row parser
    _line('[2,"b3","Heartbeat",{"n":123456789012345678901234567890}]'),           # big int: row parser
    _line('[2.0,"b4","Heartbeat",{}]'),
    _line(json.dumps([4, "b5", "NotImplemented", "no", {}])),                     # CALLERROR: row parser
    _line(json.dumps([2, "b6", "Heartbeat", {}, {}])),                            # 5 elements: rejected
    _line('[2,"b7","Heartbeat",{"a":1},{"b":2}]'),
    _line(json.dumps([2, "", "Heartbeat", {}])),                                  # empty message id
    _line(json.dumps([3, "b8", []])),
    _line("[2, \"b9\", \"Heartbeat\",\n {}]"),                                    # newline inside the frame
    _line(json.dumps([2, "c1", "Heartbeat", {"z": 1, "a": {"y": 2, "b": 3}}])),   # keys sorted in payload_json
    _line(json.dumps([2, "c2", "Heartbeat", {}]), received_at="2026-11-20T14:00:00+02:00"),
    _line(json.dumps([2, "c3", "Heartbeat", {}]), received_at="2026-11-20T12:00:00.5Z"),
    _line(json.dumps([2, "c4", "Heartbeat", {}]), received_at="2026-13-20T12:00:00Z"),
    # instants the scan reads itself (line_scan.instants), and those it leaves to the row parser, which rejects them
    *(_line(json.dumps([2, f"i{n}", "Heartbeat", {}]), received_at=instant) for n, instant in enumerate([
        "2024-02-29T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59.5Z",
        "2026-11-20T12:00:00.000001Z", "1600-02-29T00:00:00Z", "2026-11-20T12:00:60Z", "2026-11-20T23:59:60.5Z",
        "2026-02-29T12:00:00Z", "1900-02-29T12:00:00Z", "2026-04-31T00:00:00Z", "2026-11-20T24:00:00Z",
        "2026-11-20T12:60:00Z", "0000-01-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-11-00T00:00:00Z"])),
    _line(json.dumps([2, "c5", "Heartbeat", {}]), protocol="ocpp2.1"),
    _line(json.dumps([2, "c6", "Heartbeat", {}]), direction="sideways"),
    _line(json.dumps([2, "c7", "Heartbeat", {}]), cp=""),
    _line(json.dumps([2, "c8", "Heartbeat", {}]), cp='CP-"quoted"'),
    _line("[2,\"c9\",\"Heartbeat\",{\"a\":1}"),                                   # not JSON
    '{"received_at":"2026-11-20T12:00:00Z","charge_point_id":"CP-1","raw":"[2,\\"d1\\",\\"Heartbeat\\",{}]",'
    '"protocol":"ocpp1.6","direction":"in"}',                                     # other key order
    '{"received_at":"2026-11-20T12:00:00Z","charge_point_id":"CP-1","protocol":"ocpp1.6","direction":"in",'
    '"raw":"[2,\\"d2\\",\\"Heartbeat\\",{\\"k\\":\\"\\\\u00e9\\"}]"}',           # \u escape inside the frame
    "not json at all",
    "[1, 2, 3]",
    # what the byte scan (line_scan) must decline or read exactly as the row parser does
    " " + _line(json.dumps([2, "f1", "Heartbeat", {}])),                          # blank before the envelope
    _line(json.dumps([2, "f2", "Heartbeat", {}])) + "\r",                         # CRLF line
    _line(json.dumps([2, "f3", "DataTransfer", {"data": "a\nb", "q": "\"", "s": "/"}])),  # escapes in payload
    _line('[2,"f4","Heartbeat",{"a":1,"a":2}]'),                                   # repeated key: orjson's last
    _line('[2,"f5","Heartbeat",{"n":1.50,"m":1E2,"k":-0,"j":0.00001,"i":0.1}]'),    # numbers orjson rewrites
    _line('[2,"f6","Heartbeat",{"n":-7.25,"m":0.0,"k":-0.0,"j":123456789012345.5}]'),  # numbers it keeps
    _line(json.dumps([2, "f7", "Heartbeat", {"d": json.loads("[" * 70 + "]" * 70)}])),  # deep nesting
    _line('[2,"f8","Heartbeat",{"z":[{"b":1,"a":[true,false,null]},{}],"a":[]}]'),
    _line(' [ 3 , "f9" , { "b" : 1 , "a" : 2 } ] '.strip()),                    # blanks inside the frame
    _line('[3,"g1",{}] '),                                                          # blank after the frame
    _line(json.dumps([2, "g2", "MeterValues", {**METER, "transactionId": -17}])),
    _line(json.dumps([2, "g3", "MeterValues", {**METER, "transactionId": {"a": 1}}])),
    _line(json.dumps([2, "g4", "TransactionEvent", {"transactionInfo": {"transactionId": 4.5}}]),
          protocol="ocpp2.0.1"),
    _line(json.dumps([2, "g5", "TransactionEvent", {"transactionInfo": {"transactionId": 45}}]),
          protocol="ocpp2.0.1"),
    _line(json.dumps([2, "g6", "", {}])),                                          # empty action
    _line(json.dumps([2, "g7", "Heartbeat", {}]), received_at="2026-11-20T12:00:00.1234567Z"),
    _line(json.dumps([2, "g8", "Heartbeat", {}]), received_at="2026-11-20T12:00:00.Z"),
    '{"received_at":"2026-11-20T12:00:00Z","charge_point_id":"CP-1","protocol":"ocpp1.6","direction":"in",'
    '"message_id":"m\\u0041","raw":"[2,\\"g9\\",\\"Heartbeat\\",{}]"}',     # \u escape in message_id
    '{ "received_at" : "2026-11-20T12:00:00Z" , "charge_point_id" : "CP-1" , "protocol" : "ocpp1.6" ,'
    ' "direction" : "out" , "raw" : "[3,\\"h1\\",{}]" }',                         # blanks, no message_id
    '{"received_at":"2026-11-20T12:00:00Z","charge_point_id":"CP-1","protocol":"ocpp1.6","direction":"in",'
    '"message_id":"m","raw":"[2,\\"h2\\",\\"Heartbeat\\",{\\"p\\":\\"a\\/b\\"}]"}',  # \/ in the frame
]


def _expected(line: str, ref: str):
    parsed = parse_landing_line(line, ref)
    if isinstance(parsed, FrameRejection):
        return ("rejected", parsed.reason_code, parsed.raw_payload)
    return ("row", {k: v for k, v in parsed.items()})


def test_fast_path_rows_equal_row_parser_rows():
    records = [RawRecord(f"f.jsonl:{i}", line.encode("utf-8", "surrogatepass")) for i, line in enumerate(LINES, 1)]
    # bytes that are not UTF-8, in the frame text and in the envelope
    records.append(RawRecord("f.jsonl:98", _line(json.dumps([2, "e1", "DataTransfer", {"d": "x"}])).encode()
                             .replace(b'"x"', b'"\xff\xfe"')))
    records.append(RawRecord("f.jsonl:99", b"\xff\xfe{bad"))
    frame, rejections = FrameParser().parse_batch(records)
    rows = {row["record_ref"]: row for row in frame.drop("_k1", "_k2").to_dicts()}
    rejected = {r.record_ref: (r.reason_code, r.raw_payload) for r in rejections}
    assert len(rows) + len(rejected) == len(records)
    for record in records:
        expected = _expected(record.text, record.ref)
        if expected[0] == "rejected":
            assert rejected[record.ref] == expected[1:], record.text
        else:
            got = dict(rows[record.ref])
            assert got.pop("is_replay") is False
            assert got == expected[1], record.text


def test_the_scan_reads_exactly_the_instants_the_row_parser_reads():
    """``line_scan.instants`` against ``datetime.fromisoformat`` (what ``frames.parse_instant`` uses) on every
    kind of date, time and fraction: the same microseconds where the scan reads one, a rejection where it does not."""
    random = Random(7)
    texts = []
    for _ in range(20000):
        year = random.choice([random.randint(0, 9999), random.randint(1890, 2110)])
        fraction = random.choice(["", "." + "".join(random.choice("0123456789") for _ in range(random.randint(1, 6)))])
        texts.append(f"{year:04d}-{random.randint(0, 13):02d}-{random.randint(0, 32):02d}T{random.randint(0, 25):02d}:"
                     f"{random.randint(0, 61):02d}:{random.randint(0, 61):02d}{fraction}")
    data = np.frombuffer("".join(texts).encode(), np.uint8)
    ends = np.cumsum([len(text) for text in texts])
    spans = np.stack([ends - [len(text) for text in texts], ends], axis=1).astype(np.int64)
    micros, exact = np.zeros(len(texts), np.int64), np.zeros(len(texts), np.bool_)
    instants(data, spans, micros, exact)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for text, value, read in zip(texts, micros.tolist(), exact.tolist()):
        try:
            expected = (datetime.fromisoformat(text + "Z") - epoch) // timedelta(microseconds=1)
        except ValueError:
            expected = None
        assert (value if read else None) == expected, text
    assert 0.5 < exact.mean() < 0.9  # both kinds were drawn


def test_most_common_shapes_take_the_fast_path():
    lines = pl.Series("line", LINES[:4] + LINES[20:21])
    taken, rest = parse_lines(lines)
    assert taken.height == 5 and rest.len() == 0
    assert taken.get_column("transaction_id").to_list() == ["ocpp:CP-1:17", "ocpp:CP-1:tx-é", None, "ocpp:CP-1:T9",
                                                            None]
    assert taken.get_column("payload_json")[4] == '{"a":{"b":3,"y":2},"z":1}'


def test_duplicates_and_replays_across_batches():
    line = _line(json.dumps([2, "r1", "Heartbeat", {}]))
    later = _line(json.dumps([2, "r1", "Heartbeat", {}]), received_at="2026-11-20T12:05:00Z")
    parser = FrameParser()
    first, rejected_first = parser.parse_batch([RawRecord("a:1", line.encode()), RawRecord("a:2", line.encode())])
    second, rejected_second = parser.parse_batch([RawRecord("b:1", line.encode()), RawRecord("b:2", later.encode())])
    assert first.get_column("record_ref").to_list() == ["a:1"] and first.get_column("is_replay").to_list() == [False]
    assert [(r.record_ref, r.reason_code) for r in rejected_first] == [("a:2", "DUPLICATE_FRAME")]
    assert [(r.record_ref, r.reason_code) for r in rejected_second] == [("b:1", "DUPLICATE_FRAME")]
    # the same CALL re-sent later (another receive time) is a replay, not a duplicate record
    assert second.get_column("record_ref").to_list() == ["b:2"] and second.get_column("is_replay").to_list() == [True]
    assert parser.rows_in == 4


def test_keyset_membership_needs_both_halves():
    keys = KeySet()
    keys.add(np.array([5, 1, 5], dtype=np.uint64), np.array([50, 10, 51], dtype=np.uint64))
    keys.add(np.array([3], dtype=np.uint64), np.array([30], dtype=np.uint64))
    found = keys.contains(np.array([5, 5, 5, 1, 3, 4], dtype=np.uint64), np.array([50, 51, 52, 10, 31, 40], dtype=np.uint64))
    assert found.tolist() == [True, True, False, True, False, False]
    assert len(keys) == 4 and keys.k1.tolist() == sorted(keys.k1.tolist())



def test_byte_scan_takes_the_lines_it_can_read_and_leaves_the_rest():
    """Which of the lines added for the byte scan the fast path takes, whose payload the scan writes and
    whose orjson writes, and which lines go to the row parser (the first test checks all give the same rows)."""
    added = LINES[LINES.index(" " + _line(json.dumps([2, "f1", "Heartbeat", {}]))):]
    taken, rest = parse_lines(pl.Series(added))
    assert taken.get_column("message_id").to_list() == [
        "f3", "f4", "f5", "f6", "f7", "f8", "f9", "g2", "g3", "g4", "g5", "g6", "h1", "h2"]
    # left: blank before the envelope, CRLF, blank after the frame, 7-digit and empty fractions, \u escape
    assert rest.to_list() == [0, 1, 9, 15, 16, 17]
    scanned = _scanned(pl.Series(added))
    by_scan = scanned.filter(pl.col("payload_json").is_not_null()).get_column("message_id").to_list()
    assert by_scan == ["f8", "f9", "g2", "g3", "g5", "g6", "h1", "h2"]
    assert taken.filter(pl.col("message_id") == "g5").get_column("transaction_id").to_list() == ["ocpp:CP-1:45"]


def test_the_scan_reads_a_batch_text_in_place_as_it_reads_the_series():
    """``LineBatch.text`` (one Arrow array, here a slice of a larger one: its offsets do not start at 0) gives the
    scan the bytes in place: the same rows and the same lines left to the row parser as the String series."""
    padded = pl.Series(["{}", *LINES]).to_arrow(compat_level=pl.CompatLevel.oldest())
    lines = pl.Series(LINES)
    taken, rest = parse_lines(lines)
    taken_in_place, rest_in_place = parse_lines(lines, padded.slice(1))
    assert taken_in_place.equals(taken) and rest_in_place.equals(rest)
    assert taken.height > 10 and rest.len() > 3


def test_a_batch_text_is_read_without_a_copy():
    """``array_buffer`` hands the scan the array's own bytes (the copy ``column_buffer`` makes is what the reader's
    single copy replaced) and the offsets of its slice, which need not start at 0."""
    whole = pa.array(["{}", "ab", "cde"], type=pa.large_string())
    data, offsets = array_buffer(whole.slice(1))
    assert data.ctypes.data == whole.buffers()[2].address
    assert offsets.tolist() == [2, 4, 7]
    assert [data[a:b].tobytes() for a, b in zip(offsets[:-1], offsets[1:])] == [b"ab", b"cde"]
