"""The byte scan of payloads (``payload_scan``) writes exactly what orjson writes, or declines.

``ocpp_messages.payload_json`` is orjson's sorted-key text of each payload; the scan must give the same bytes
for every payload it reads, and the transaction ids ``envelope._payloads`` takes, whatever the key order,
blanks, numbers and nesting. What it declines, the caller writes with orjson.
"""

from __future__ import annotations

import json
import random

import orjson
import polars as pl
import pytest

from assets.ingest.ocpp.envelope import _payloads
from assets.ingest.ocpp.payload_scan import MAX_DEPTH, canonical_payloads

KEYS = ["b", "a", "ab", "aa", "é", "Z", "a ", "transactionId", "transactionInfo", "meterValue", "_", "漢"]
STRINGS = ["", "a", "ü", "x y", "\u2028", "\x7f", 'A"b', "a\\b", "tab\t", "é漢", "0", "12", "/"]
NUMBERS = [0, 1, -1, 5, 12345678901234567, 123456789012345678901, 0.0, -0.0, 1.5, 0.1, 1e-5, 1e-4, 0.00012,
           1e15, 1e16, 123.456, 1 / 3, 2.5e-300, 10.0, -7.25, 123456789012345.5]


def _value(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth > 4 or roll < 0.3:
        return rng.choice(NUMBERS)
    if roll < 0.5:
        return rng.choice(STRINGS)
    if roll < 0.6:
        return rng.choice([True, False, None])
    if roll < 0.8:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(KEYS): _value(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def _text(rng: random.Random, value, blanks: bool) -> str:
    """``value`` as JSON text with random blanks, member order, escapes and number spellings."""
    def blank() -> str:
        return rng.choice(["", " ", "\n", "\t ", "\r\n"]) if blanks else ""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        text = json.dumps(value)
        if isinstance(value, float) and rng.random() < 0.3:
            text = rng.choice([text + "0" if "." in text and "e" not in text else text, repr(value).upper()])
        return text
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=rng.random() < 0.3)
    if isinstance(value, list):
        return "[" + blank() + ("," + blank()).join(_text(rng, item, blanks) for item in value) + blank() + "]"
    members = list(value.items())
    rng.shuffle(members)
    if members and rng.random() < 0.05:
        members.append(members[0])  # a repeated key
    return "{" + blank() + ("," + blank()).join(
        json.dumps(key) + blank() + ":" + blank() + _text(rng, item, blanks) for key, item in members) + blank() + "}"


def _payload_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        value = _value(rng)
        if rng.random() < 0.7:
            value = ({"transactionId": value, "transactionInfo": {"transactionId": _value(rng, 3), "x": 1},
                      "k": _value(rng)} if rng.random() < 0.5 else {"a": value})
        texts.append(_text(rng, value, rng.random() < 0.5) + rng.choice(["", " ", "\n"]))
    return texts


def _compare(texts: list[str]) -> tuple[int, int]:
    """(payloads the scan read, payloads it declined that orjson writes); asserts every read one is orjson's."""
    read, scanned = canonical_payloads(pl.Series(texts, dtype=pl.String()))
    expected = _payloads(texts).drop("_payload_text")
    for row, text in enumerate(texts):
        if read[row]:
            assert scanned.row(row) == expected.row(row), text
        else:
            assert scanned.row(row) == (None, None, None), text
    return int(read.sum()), int(sum(1 for row in range(len(texts)) if not read[row] and expected.row(row)[0]))


@pytest.mark.parametrize("seed", [1, 2])
def test_scan_writes_orjson_bytes_for_every_payload_it_reads(seed):
    read, declined_by_scan_only = _compare(_payload_texts(4000, seed))
    # both paths are exercised: the scan reads a good share and declines what only orjson can write
    assert read > 800 and declined_by_scan_only > 800


def test_generated_fleet_payloads_are_all_read():
    meter = {"connectorId": 1, "transactionId": 112284, "meterValue": [{"timestamp": "2026-10-25T03:00:00Z",
             "sampledValue": [{"value": "48244396", "context": "Sample.Periodic", "format": "Raw",
                               "measurand": "Energy.Active.Import.Register", "location": "Outlet", "unit": "Wh"},
                              {"value": "0.0", "context": "Sample.Periodic", "format": "Raw",
                               "measurand": "Current.Import", "phase": "L1", "location": "Outlet", "unit": "A"}]}]}
    event = {"eventType": "Updated", "timestamp": "2026-10-25T03:00:00Z", "triggerReason": "MeterValuePeriodic",
             "seqNo": 4, "transactionInfo": {"transactionId": "T-77", "chargingState": "Charging"},
             "evse": {"id": 1, "connectorId": 1},
             "meterValue": [{"timestamp": "2026-10-25T03:00:00Z",
                             "sampledValue": [{"value": 1234.5, "measurand": "Energy.Active.Import.Register",
                                               "unitOfMeasure": {"unit": "Wh", "multiplier": 0}}]}]}
    texts = [json.dumps(meter, separators=(",", ":")), json.dumps(event), "{}", '{"idTagInfo":{"status":"Accepted"}}']
    read, scanned = canonical_payloads(pl.Series(texts))
    assert read.tolist() == [True] * 4
    assert scanned.get_column("payload_json").to_list() == [orjson.dumps(json.loads(t), option=orjson.OPT_SORT_KEYS)
                                                            .decode() for t in texts]
    assert scanned.get_column("_tx_named").to_list() == ["112284", None, None, None]
    assert scanned.get_column("_tx_info").to_list() == [None, "T-77", None, None]


@pytest.mark.parametrize("text", [
    "", " ", "[]", "1", '"a"', "{", "{} x", '{"a":1,}', '{"a" 1}', '{"a":tru}', '{"a":nul}', '{"a":01}', '{"a":-}',
    '{"a":1.}', '{"a":.5}', '{"a":1e5}', '{"a":"\x01"}', '{"a":[1,]}', '{"a":[,1]}', '{"a":{"b":1}}}', '{"a":-0}',
    '{"a":1.50}', '{"a":"\\u0041"}', '{"a\\n":1}', '{"a":1,"a":1}', '{"b":{"a":1,"a":2}}', '{"a":0.00001}',
    '{"a":1234567890123456.5}', '{"a":123456789012345.5}', '{"a":0.1234567890123456}', '{"transactionId":5.0}',
    '{"transactionInfo":{"transactionId":1.5}}', '{"a":' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}",
])
def test_scan_declines_what_it_cannot_copy(text):
    read, scanned = canonical_payloads(pl.Series([text, '{"b":1,"a":2}']))
    assert read.tolist() == [False, True]
    assert scanned.row(0) == (None, None, None)
    assert scanned.get_column("payload_json")[1] == '{"a":2,"b":1}'


def test_scan_reads_what_it_can_copy():
    texts = ['{"a":-0.0,"b":0.0001,"c":12345678901234.5,"d":-9,"e":[true,false,null],"f":{}}',
             ' \n{ "z" : { "y" : [ 1 , { "b" : 2 , "a" : "é" } ] } , "a" : "" }\t',
             '{"transactionId":"","transactionInfo":{"transactionId":"x"}}',
             '{"transactionId":-12,"transactionInfo":[1]}',
             '{"a":' + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2) + "}"]
    read, scanned = canonical_payloads(pl.Series(texts))
    assert read.tolist() == [True] * len(texts)
    assert scanned.get_column("payload_json").to_list() == [orjson.dumps(orjson.loads(t), option=orjson.OPT_SORT_KEYS)
                                                            .decode() for t in texts]
    assert scanned.get_column("_tx_named").to_list() == [None, None, None, "-12", None]
    assert scanned.get_column("_tx_info").to_list() == [None, None, "x", None, None]
