"""The byte scan of metering payloads reads exactly what a JSON decoder reads, or declines the frame.

``meter_scan.scan_samples`` is only given payloads that match their shape's pattern, but JSON a pattern lets
through can still be read two ways (a repeated key: ``json.loads`` keeps the last). Such frames must be
declined, so the row path gives them their meaning and reason codes.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from assets.ingest.ocpp.meter_scan import scan_samples, without_member

MV16 = ("ocpp1.6", "MeterValues")
EVENT = ("ocpp2.0.1", "TransactionEvent")
TS = "2026-11-20T11:59:00Z"


def _payload(obj: dict) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _expected_16(payload: str) -> list[dict]:
    """The rows a JSON decoder gives a 1.6 MeterValues payload."""
    obj = json.loads(payload)
    rows = []
    for mv_index, meter_value in enumerate(obj["meterValue"]):
        for sv_index, sample in enumerate(meter_value["sampledValue"]):
            rows.append({"connector_id": obj.get("connectorId"), "evse_id": None, "_mv": mv_index, "_sv": sv_index,
                         **{f"_{name}": sample.get(name) for name in ("context", "location", "measurand", "phase",
                                                                      "unit")},
                         "_multiplier": None, "value_raw": sample.get("value")})
    return rows


def test_two_frames_with_several_meter_values_give_one_row_per_sampled_value_in_order():
    first = _payload({"connectorId": 2, "transactionId": 7, "meterValue": [
        {"timestamp": TS, "sampledValue": [{"value": "10.5", "unit": "kWh", "phase": "L1"},
                                           {"value": "7", "measurand": "Power.Active.Import", "format": "Raw"}]},
        {"timestamp": "2026-11-20T12:00:00Z", "sampledValue": [{"value": None, "context": "Sample.Clock"}]}]})
    second = _payload({"meterValue": [{"timestamp": TS, "sampledValue": [{"value": "é}{,x", "location": "Inlet"}]}]})
    read, rows, meter_values = scan_samples(pl.Series([first, second]), MV16)
    assert read.tolist() == [True, True]
    assert rows.get_column("_frame").to_list() == [0, 0, 0, 1]
    assert rows.get_column("_meter_value").to_list() == [0, 0, 1, 2]
    assert rows.drop("_frame", "_meter_value").to_dicts() == _expected_16(first) + _expected_16(second)
    assert meter_values.rows() == [(0, TS), (0, "2026-11-20T12:00:00Z"), (1, TS)]


@pytest.mark.parametrize("payload", [
    '{"connectorId":1,"meterValue":[{"sampledValue":[{"value":"1","value":"2"}],"timestamp":"T"}]}',  # repeated key
    '{"connectorId":1,"connectorId":2,"meterValue":[{"sampledValue":[{"value":"1"}],"timestamp":"T"}]}',
    '{"meterValue":[{"sampledValue":[{"value":"1"}],"timestamp":"T"}],"meterValue":[]}',
    '{"meterValue":[{"sampledValue":[{"value":"1"}],"timestamp":"T","timestamp":"U"}]}',
    '{"meterValue":[{"sampledValue":[{"value":"1\\u0031"}],"timestamp":"T"}]}',  # an escape
    '{"meterValue":[{"sampledValue":[{"value":"1"}]}]}',  # no timestamp
    '{"meterValue":[{"sampledValue":[{"value":"1"}],"timestamp":null}]}',
    '{"meterValue":[{"sampledValue":[{"value":1}],"timestamp":"T"}]}',  # a 1.6 number
    '{"meterValue":[{"sampledValue":[{"value":"1","colour":"red"}],"timestamp":"T"}]}',  # unknown key
    '{"connectorId":01,"meterValue":[{"sampledValue":[{"value":"1"}],"timestamp":"T"}]}',
    '{"meterValue":[{"sampledValue":[{"value":"1"}],"timestamp":"T"}]}x',  # trailing bytes
    '{"meterValue":[{"sampledValue":[{"value":"1"}],"timestamp":"T"}]',  # cut short
])
def test_a_frame_the_scan_cannot_read_exactly_is_declined_and_gives_no_rows(payload):
    good = '{"meterValue":[{"sampledValue":[{"value":"3"}],"timestamp":"T"}]}'
    read, rows, meter_values = scan_samples(pl.Series([good, payload, good]), MV16)
    assert read.tolist() == [True, False, True]
    assert rows.select("_frame", "_meter_value", "value_raw").rows() == [(0, 0, "3"), (2, 1, "3")]
    assert meter_values.rows() == [(0, "T"), (2, "T")]


def test_a_2_0_1_event_reads_its_evse_and_numbers_and_skips_other_objects():
    payload = _payload({"eventType": "Updated", "evse": {"connectorId": 3, "id": 2},
                        "idToken": {"idToken": "}]", "type": "ISO14443", "value": 9},
                        "meterValue": [{"timestamp": TS, "sampledValue": [
                            {"value": -0.25, "unitOfMeasure": {"unit": "kWh", "multiplier": -3}},
                            {"value": 40683972, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {}}]}],
                        "seqNo": 4, "transactionInfo": {"transactionId": "tx-1"}})
    no_samples = _payload({"eventType": "Started", "evse": {"id": 1}, "seqNo": 0})
    no_value = _payload({"meterValue": [{"timestamp": TS, "sampledValue": [{"measurand": "SoC"}]}]})
    read, rows, _meter_values = scan_samples(pl.Series([payload, no_samples, no_value]), EVENT)
    assert read.tolist() == [True, True, False]
    assert rows.select("connector_id", "evse_id", "_sv", "_unit", "_multiplier", "value_raw", "_measurand").rows() == [
        (3, 2, 0, "kWh", -3, "-0.25", None), (3, 2, 1, None, None, "40683972", "Energy.Active.Import.Register")]


def test_without_member_cuts_the_member_and_one_comma_and_leaves_what_it_cannot_read():
    payloads = pl.Series("payload_json", [
        '{"a":1,"meterValue":[{"b":[1,{"c":"}],"}]}],"z":null}',  # in the middle; brackets inside a string
        '{"meterValue":[1],"b":2}',  # first
        '{"meterValue":[1]}',  # alone
        '{"a":1}',  # absent
        None,
        '{"a":"\\"","meterValue":[1]}',  # an escape: left as it is
        '{"a":"é","meterValue":[1]}',
    ])
    assert without_member(payloads, "meterValue").to_list() == [
        '{"a":1,"z":null}', '{"b":2}', '{}', '{"a":1}', None, '{"a":"\\"","meterValue":[1]}', '{"a":"é"}']
