"""Hostile payloads inside well-formed frames never crash the ingest: every step still conserves rows."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.ingest.ocpp.pipeline import build_meter_readings, build_ocpp_messages, build_transactions, text_batches
from assets.ingest.ocpp.tables import METER_READINGS
from tests.ocpp.factory import landing_record

DAY = dt.date(2026, 11, 20)
RECEIVED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**7), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["2026-11-20T08:00:00Z", "1970-01-01T00:00:00Z", "kWh"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)
KEYS = ["connectorId", "transactionId", "meterStart", "meterStop", "timestamp", "idTag", "meterValue",
        "transactionData", "sampledValue", "value", "unit", "unitOfMeasure", "multiplier", "measurand", "context",
        "eventType", "seqNo", "transactionInfo", "evse", "idToken", "chargingState", "status", "reason"]
payloads = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), values, max_size=6),
    # Near-valid payloads with one hostile field.
    st.builds(lambda key, value: {**{"connectorId": 1, "transactionId": 1, "meterStart": 0, "meterStop": 10,
                                     "timestamp": "2026-11-20T08:00:00Z", "idTag": "T", "eventType": "Started",
                                     "seqNo": 0, "transactionInfo": {"transactionId": "A"},
                                     "meterValue": [{"timestamp": "2026-11-20T08:00:00Z",
                                                     "sampledValue": [{"value": "5"}]}]}, key: value},
              st.sampled_from(KEYS), values),
)
frames = st.tuples(
    st.sampled_from(["ocpp1.6", "ocpp2.0.1"]),
    st.sampled_from(["StartTransaction", "StopTransaction", "MeterValues", "TransactionEvent", "StatusNotification"]),
    payloads,
    # Answers that issue a transaction id, so hostile starts and stops reach the transaction assembly.
    st.one_of(st.none(), payloads, st.fixed_dictionaries({"transactionId": st.sampled_from([1, "1", 2])})),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames, min_size=1, max_size=6))
def test_every_step_conserves_rows_whatever_the_payload(generated):
    lines = []
    for index, (protocol, action, payload, answer) in enumerate(generated):
        moment = RECEIVED + dt.timedelta(seconds=index)
        lines.append(landing_record("CP-X", protocol, "in", [2, f"m{index}", action, payload], moment))
        if answer is not None:
            lines.append(landing_record("CP-X", protocol, "out", [3, f"m{index}", answer], moment))
    messages = build_ocpp_messages(text_batches([("ocpp/2026-11-20/12/x.jsonl", "\n".join(lines))]), DAY)
    assert messages.conserved and messages.rows_in == len(lines)
    starts = messages.accepted.filter(pl.col("action").is_in(["StartTransaction", "TransactionEvent"]))
    readings = build_meter_readings(messages.accepted, DAY, METER_READINGS.empty_frame(), starts)
    assert readings.conserved
    transactions = build_transactions(messages.accepted, DAY, messages.accepted,
                                      readings.accepted.filter(pl.col("transaction_id").is_not_null()))
    assert transactions.conserved
    json.dumps([r.raw_payload for r in readings.rejections + transactions.rejections])
