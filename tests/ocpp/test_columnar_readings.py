"""The columnar extraction of sampled values agrees with the row path, sample by sample.

``reading_columns.extract_columns`` takes the metering frames of the common shapes; every other frame goes to
``readings.extract_readings``. For the tricky frames below, the candidates of columnar + row path on the rest
must be exactly those of ``extract_readings`` on all frames (every column, the sign of zero included), the
rejections the same, and the common shapes must take the columnar path.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from assets.ingest.ocpp.pipeline import build_ocpp_messages, text_batches
from assets.ingest.ocpp.reading_columns import CANDIDATE_SCHEMA, extract_columns
from assets.ingest.ocpp.readings import METERING_ACTIONS, candidate_frame, extract_readings
from tests.ocpp.factory import landing_record

DAY = dt.date(2026, 11, 20)
RECEIVED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
TS = "2026-11-20T11:59:00Z"


def _sv16(value="1234", **fields):
    return {"value": value, "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic",
            **fields}


def _mv16(*samples, timestamp=TS, transaction=17, connector=1):
    payload = {"connectorId": connector, "meterValue": [{"timestamp": timestamp, "sampledValue": list(samples)}]}
    if transaction is not None:
        payload["transactionId"] = transaction
    return payload


def _sv201(value=57383023, unit="Wh", multiplier=0, **fields):
    return {"value": value, "measurand": "Energy.Active.Import.Register", "context": "Sample.Periodic",
            "location": "Outlet", "unitOfMeasure": {"unit": unit, "multiplier": multiplier}, **fields}


def _mv201(*samples, timestamp=TS):
    return {"evseId": 1, "meterValue": [{"timestamp": timestamp, "sampledValue": list(samples)}]}


def _event(*samples, **extra):
    payload = {"eventType": "Updated", "seqNo": 3, "timestamp": TS, "triggerReason": "MeterValuePeriodic",
               "transactionInfo": {"transactionId": "T-9", "chargingState": "Charging"}, **extra}
    if samples:
        payload["meterValue"] = [{"timestamp": TS, "sampledValue": list(samples)}]
    return payload


# (protocol, action, payload, takes the columnar path)
FRAMES = [
    # the common shapes
    ("ocpp1.6", "MeterValues", _mv16(_sv16(format="Raw", location="Outlet"), _sv16("7162.1", measurand="Power.Active.Import", unit="W"),
                                     _sv16("31.1", measurand="Current.Import", phase="L1", unit="A")), True),
    ("ocpp1.6", "StopTransaction", {"idTag": "T", "meterStop": 5, "reason": "Local", "timestamp": TS, "transactionId": 17,
                                    "transactionData": [{"timestamp": "2026-11-20T08:00:00Z", "sampledValue": [_sv16("1", context="Transaction.Begin")]},
                                                        {"timestamp": TS, "sampledValue": [_sv16("5", context="Transaction.End")]}]}, True),
    ("ocpp2.0.1", "MeterValues", _mv201(_sv201(), _sv201(33048.1, "W", measurand="Power.Active.Import"),
                                        _sv201(82.6, "A", measurand="Current.Import"), _sv201(65.2, "Percent", measurand="SoC")), True),
    ("ocpp2.0.1", "TransactionEvent", _event(_sv201(8905719, context="Transaction.Begin"),
                                             evse={"connectorId": 1, "id": 2}, idToken={"idToken": "AB", "type": "ISO14443"},
                                             eventType="Started"), True),
    ("ocpp2.0.1", "TransactionEvent", _event(), True),                      # no meterValue: no readings
    ("ocpp2.0.1", "TransactionEvent", _event(_sv201(), evse={"id": 3}), True),
    # values: units, defaults, exactness of kWh and multipliers, signs and zeros
    ("ocpp1.6", "MeterValues", _mv16(_sv16("12.3456", unit="kWh"), _sv16("0.0000001", unit="kWh"), _sv16("007"),
                                     _sv16("-0"), _sv16("0.1", unit="kW", measurand="Power.Active.Import")), True),
    ("ocpp1.6", "MeterValues", _mv16(_sv16("5", unit=""), _sv16("5", measurand="", context="", location="", phase=""),
                                     _sv16("5", unit=None), _sv16("2.5", measurand="Power.Reactive.Import", unit=None),
                                     _sv16("9", measurand="Temperature", unit=None)), True),
    ("ocpp2.0.1", "MeterValues", _mv201(_sv201(1234, multiplier=-1), _sv201(22, "kW", 3, measurand="Power.Active.Import"),
                                        _sv201(1.0), _sv201(-0.0), _sv201(12.5, "kWh"), _sv201(0.0001)), True),
    ("ocpp1.6", "MeterValues", _mv16(_sv16("123456789.5")), False),         # too large to reproduce the rounding
    ("ocpp1.6", "MeterValues", _mv16(_sv16("99999999999999999")), False),
    ("ocpp1.6", "MeterValues", _mv16(_sv16("0.00000001")), False),          # more than 6 decimals
    ("ocpp1.6", "MeterValues", _mv16(_sv16("1e3")), False),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(" 12")), False),
    ("ocpp1.6", "MeterValues", _mv16(_sv16("12,5")), False),                # NON_NUMERIC_VALUE
    ("ocpp1.6", "MeterValues", _mv16(_sv16("nan")), False),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(5)), False),                     # a bare number in 1.6
    ("ocpp1.6", "MeterValues", _mv16(_sv16("5", unit="MWh")), False),       # UNKNOWN_UNIT
    ("ocpp2.0.1", "MeterValues", _mv201(_sv201(1e-05)), False),             # repr 1e-05, canonical 0.00001
    ("ocpp2.0.1", "MeterValues", _mv201(_sv201(2.5e-07, "kWh")), False),
    ("ocpp2.0.1", "MeterValues", _mv201(_sv201(1e16)), False),
    ("ocpp2.0.1", "MeterValues", _mv201(_sv201("5")), False),               # NON_NUMERIC_VALUE
    ("ocpp2.0.1", "MeterValues", _mv201(_sv201(5, multiplier=1.5)), False),  # INVALID_MULTIPLIER
    ("ocpp2.0.1", "MeterValues", _mv201(_sv201(5, multiplier=10)), False),
    ("ocpp2.0.1", "MeterValues", _mv201(_sv201(5, multiplier=-9)), False),  # 5e-9 Wh: more than 6 decimals
    ("ocpp2.0.1", "MeterValues", _mv201({"value": 5}), True),               # no unitOfMeasure: defaults
    ("ocpp2.0.1", "MeterValues", _mv201({"measurand": "SoC"}), False),      # no value
    # timestamps: forms and clock rules
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-20T21:50:00+10:00"), True),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-20T06:50:00-05:00"), True),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-20T11:00:00"), True),            # naive
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-20T11:00:00.5Z"), True),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-20T11:00:00.123456Z"), True),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="1970-01-01T00:00:10Z"), True),           # clock_not_set
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-20T21:59:30Z"), True),           # local time as Z
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-20T12:37:00Z"), True),           # clock ahead
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-20T12:07:30Z"), True),           # half-step skew
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-20T12:04:59Z"), True),           # within tolerance
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-22T12:00:00Z"), False),          # FUTURE_TIMESTAMP
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-02-30T10:00:00Z"), False),          # INVALID_TIMESTAMP
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-20 11:00:00Z"), False),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-20T11:00:00+0100"), False),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="2026-11-20T11:00:00.1234567Z"), False),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), timestamp="yesterday"), False),
    ("ocpp1.6", "MeterValues", {"connectorId": 1, "meterValue": [{"sampledValue": [_sv16()]}]}, False),  # no timestamp
    # frame context: connector, transaction, EVSE
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), transaction=None, connector=0), True),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), transaction="tx-é"), True),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(), connector="1"), False),
    ("ocpp1.6", "MeterValues", {"meterValue": [{"timestamp": TS, "sampledValue": [_sv16()]}]}, True),
    ("ocpp2.0.1", "TransactionEvent", _event(_sv201(), evse={"connectorId": "x", "id": 1}), False),
    # objects the rules do not read are skipped whatever they hold (a numeric "value", a nested list)
    ("ocpp2.0.1", "TransactionEvent", _event(_sv201(), idToken={"idToken": "AB", "value": 5}), True),
    ("ocpp2.0.1", "TransactionEvent", _event(_sv201(), idToken={"idToken": "}]\"value\":1", "type": "x"}), False),
    ("ocpp2.0.1", "TransactionEvent", _event(_sv201(), idToken={"idToken": "},{", "type": "x"}), True),
    ("ocpp2.0.1", "TransactionEvent", _event(_sv201(), idToken={"idToken": "AB", "additionalInfo": [{"a": 1}]}), True),
    ("ocpp1.6", "MeterValues", {**_mv16(_sv16()), "vendor": {"meterValue": [1], "x": [{"y": "]}"}]}}, True),
    ("ocpp2.0.1", "TransactionEvent", _event(_sv201(), evse=[1, 2]), False),
    ("ocpp1.6", "MeterValues", _mv16(_sv16({"amount": "5"})), False),        # a value that is an object
    ("ocpp2.0.1", "MeterValues", _mv201({**_sv201(), "unitOfMeasure": None}), False),
    # structure: every MALFORMED_METER_VALUE case and other odd shapes
    ("ocpp1.6", "MeterValues", {"connectorId": 1, "meterValue": {"timestamp": TS}}, False),
    ("ocpp1.6", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": TS, "sampledValue": {"value": "1"}}]}, False),
    ("ocpp1.6", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": TS, "sampledValue": ["1", _sv16()]}]}, False),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(phase=5)), False),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(measurand=["x"])), False),
    ("ocpp1.6", "MeterValues", {"connectorId": 1, "meterValue": []}, False),
    ("ocpp1.6", "MeterValues", {"connectorId": 1, "meterValue": None}, False),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(measurand='Energy "quoted"')), False),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(measurand="Énergie")), True),
    ("ocpp1.6", "MeterValues", _mv16(_sv16(signedMeterValue="x")), False),
    ("ocpp1.6", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": TS, "sampledValue": [_sv16()]},
                                                                  {"timestamp": "2026-11-20T11:58:00Z",
                                                                   "sampledValue": [_sv16("1"), _sv16("2", phase="L2")]}]}, True),
    ("ocpp1.6", "StopTransaction", {"transactionId": 17, "meterStop": 5, "timestamp": TS}, False),
    ("ocpp1.6", "StopTransaction", {"transactionId": 17, "transactionData": "x"}, False),
    ("ocpp2.0.1", "StopTransaction", {"transactionId": 17, "transactionData": [{"timestamp": TS, "sampledValue": [_sv16()]}]}, False),
]


def _metering() -> pl.DataFrame:
    lines = []
    for index, (protocol, action, payload, _fast) in enumerate(FRAMES):
        moment = RECEIVED + dt.timedelta(milliseconds=index)
        lines.append(landing_record("CP-1", protocol, "in", [2, f"m{index}", action, payload], moment))
    messages = build_ocpp_messages(text_batches([("ocpp/2026-11-20/12/x.jsonl", "\n".join(lines))]), DAY)
    assert messages.accepted.height == len(FRAMES)
    return messages.accepted.filter(pl.col("action").is_in(list(METERING_ACTIONS))).sort("message_id")


def _exact(frame: pl.DataFrame) -> list[tuple]:
    """Rows with each float as its repr, so -0.0 and 0.0 differ."""
    return [tuple(repr(v) if isinstance(v, float) else v for v in row)
            for row in frame.sort("record_ref").select(list(CANDIDATE_SCHEMA)).iter_rows()]


def test_columnar_and_row_paths_agree_sample_by_sample():
    metering = _metering()
    expected, expected_rejections, expected_rows_in = extract_readings(metering.to_dicts())
    columnar, rest = extract_columns(metering)
    row_candidates, rejections, rows_in = extract_readings(rest.to_dicts())
    got = pl.concat([columnar, candidate_frame(row_candidates)])
    assert _exact(got) == _exact(candidate_frame(expected))
    assert sorted(rejections, key=lambda r: r.record_ref) == sorted(expected_rejections, key=lambda r: r.record_ref)
    assert columnar.height + rows_in == expected_rows_in
    # the reason codes the row path gave (so the list above really covers them)
    assert {r.reason_code for r in expected_rejections} == {"MALFORMED_METER_VALUE", "NON_NUMERIC_VALUE", "UNKNOWN_UNIT",
                                                             "INVALID_MULTIPLIER", "INVALID_TIMESTAMP", "FUTURE_TIMESTAMP"}


def test_common_shapes_take_the_columnar_path():
    metering = _metering()
    _columnar, rest = extract_columns(metering)
    left = set(rest.get_column("message_id").to_list())
    for index, (protocol, action, payload, fast) in enumerate(FRAMES):
        assert (f"m{index}" not in left) == fast, (index, protocol, action, payload)


def test_columnar_values_to_the_digit():
    columnar, _rest = extract_columns(_metering())
    by_ref = {row["record_ref"]: row for row in columnar.to_dicts()}

    def reading(frame: int, mv: int = 0, sv: int = 0) -> dict:
        return next(row for ref, row in by_ref.items() if ref.endswith(f":{frame + 1}#mv{mv}.sv{sv}"))

    assert [(reading(6, sv=i)["value"], reading(6, sv=i)["unit"]) for i in range(5)] == [
        (12345.6, "Wh"), (0.0001, "Wh"), (7.0, "Wh"), (-0.0, "Wh"), (100.0, "W")]
    assert [reading(8, sv=i)["value_raw"] for i in range(6)] == ["1234", "22", "1.0", "-0.0", "12.5", "0.0001"]
    assert [reading(8, sv=i)["value"] for i in range(6)] == [123.4, 22_000_000.0, 1.0, -0.0, 12500.0, 0.0001]
    assert reading(3)["connector_id"] == 1 and reading(3)["evse_id"] == 2 and reading(3)["transaction_id"] == "ocpp:CP-1:T-9"
    assert (reading(33)["timestamp"], reading(33)["repair"]) == (
        dt.datetime(2026, 11, 20, 11, 59, 30, tzinfo=dt.UTC), "local_time_marked_utc")
    assert (reading(34)["timestamp"], reading(34)["repair"]) == (reading(34)["received_at"], "clock_ahead")
