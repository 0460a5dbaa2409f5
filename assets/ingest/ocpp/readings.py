"""Sampled values out of metering frames: one candidate reading per ``sampledValue``.

Metering frames are CALLs from the charge point: 1.6 ``MeterValues`` and ``StopTransaction``
(``transactionData``), 2.0.1 ``MeterValues`` and ``TransactionEvent``. Every sampled value becomes one
candidate with its own ``record_ref`` (``<file>:<line>#mv<i>.sv<j>``), so the conservation check counts
readings, not frames. Structural problems are quarantined at the smallest unit that can be identified:

| reason code            | unit counted          | when |
|------------------------|-----------------------|------|
| ``MALFORMED_METER_VALUE`` | the frame / meterValue / sampledValue | ``meterValue`` is not a list, an element has no ``sampledValue`` list, a sampled value is not an object, or one of its text fields (measurand, phase, location, context, unit) is not text |
| ``NON_NUMERIC_VALUE``, ``UNKNOWN_UNIT``, ``INVALID_MULTIPLIER`` | the sampled value | see ``units`` |
| ``INVALID_TIMESTAMP``, ``FUTURE_TIMESTAMP`` | the sampled value | see ``clock`` |

This is the row path: ``build_meter_readings`` reads the frames of the common payload shapes as columns
(``reading_columns``) and hands every other frame to ``extract_readings``, so these codes come from here only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from assets.ingest.ocpp.clock import TimeRejection, repair_timestamp
from assets.ingest.ocpp.fields import as_object
from assets.ingest.ocpp.frames import namespaced_transaction_id
from assets.ingest.ocpp.units import (
    DEFAULT_CONTEXT,
    DEFAULT_LOCATION,
    DEFAULT_MEASURAND,
    UnitProblem,
    normalise_value,
)

METERING_ACTIONS = ("MeterValues", "StopTransaction", "TransactionEvent")


@dataclass(frozen=True)
class ReadingRejection:
    """A sampled value (or a metering structure) that is quarantined."""

    record_ref: str
    reason_code: str
    reason: str
    raw_payload: str


def sampled_value_payload(timestamp_raw: object, sample: object) -> str:
    """The quarantine ``raw_payload`` of one sampled value: it and the timestamp of its meterValue."""
    return json.dumps({"timestamp": timestamp_raw, "sampledValue": sample}, sort_keys=True)


def reading_payload(reading: dict) -> str:
    """``raw_payload`` of a candidate reading."""
    return sampled_value_payload(reading["timestamp_raw"], reading["sample"])


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _frame_context(message: dict, payload: dict) -> tuple[str | None, int | None, int | None, list | object]:
    """(transaction id, connector id, evse id, meterValue list) of one metering frame."""
    cp = message["charge_point_id"]
    action = message["action"]
    if action == "MeterValues":
        if message["protocol"] == "ocpp1.6":
            return (namespaced_transaction_id(cp, payload.get("transactionId")), _as_int(payload.get("connectorId")),
                    None, payload.get("meterValue"))
        return None, None, _as_int(payload.get("evseId")), payload.get("meterValue")
    if action == "StopTransaction":
        # transactionData is optional: an absent list simply has no readings.
        return (namespaced_transaction_id(cp, payload.get("transactionId")), None, None,
                payload.get("transactionData", []))
    info = payload.get("transactionInfo") if isinstance(payload.get("transactionInfo"), dict) else {}
    evse = payload.get("evse") if isinstance(payload.get("evse"), dict) else {}
    return (namespaced_transaction_id(cp, info.get("transactionId")), _as_int(evse.get("connectorId")),
            _as_int(evse.get("id")), payload.get("meterValue", []))


def extract_readings(messages: list[dict]) -> tuple[list[dict], list[ReadingRejection], int]:
    """Candidate readings of the metering CALLs among ``messages``: (candidates, rejections, rows_in)."""
    candidates: list[dict] = []
    rejections: list[ReadingRejection] = []
    rows_in = 0
    for message in messages:
        if message["message_type"] != "CALL" or message["direction"] != "in":
            continue
        if message["action"] not in METERING_ACTIONS:
            continue
        payload = json.loads(message["payload_json"])
        transaction_id, connector_id, evse_id, meter_values = _frame_context(message, payload)
        if meter_values is None:
            meter_values = []
        if not isinstance(meter_values, list):
            rows_in += 1
            rejections.append(ReadingRejection(message["record_ref"], "MALFORMED_METER_VALUE",
                                               "meterValue is not a list", message["payload_json"]))
            continue
        received_at: datetime = message["received_at"]
        for mv_index, meter_value in enumerate(meter_values):
            sampled = meter_value.get("sampledValue") if isinstance(meter_value, dict) else None
            if not isinstance(sampled, list):
                rows_in += 1
                rejections.append(ReadingRejection(f"{message['record_ref']}#mv{mv_index}", "MALFORMED_METER_VALUE",
                                                   "meterValue element has no sampledValue list",
                                                   json.dumps(meter_value, sort_keys=True)))
                continue
            timestamp_raw = meter_value.get("timestamp")
            repaired_time = repair_timestamp(timestamp_raw, received_at)
            for sv_index, sample in enumerate(sampled):
                rows_in += 1
                record_ref = f"{message['record_ref']}#mv{mv_index}.sv{sv_index}"
                if not isinstance(sample, dict):
                    rejections.append(ReadingRejection(record_ref, "MALFORMED_METER_VALUE",
                                                       "sampled value is not an object",
                                                       sampled_value_payload(timestamp_raw, sample)))
                    continue
                if isinstance(repaired_time, TimeRejection):
                    rejections.append(ReadingRejection(record_ref, repaired_time.reason_code, repaired_time.reason,
                                                       sampled_value_payload(timestamp_raw, sample)))
                    continue
                unit_of_measure = as_object(sample.get("unitOfMeasure"))
                unit = sample.get("unit") if message["protocol"] == "ocpp1.6" else unit_of_measure.get("unit")
                hostile = [name for name, value in (("measurand", sample.get("measurand")), ("phase", sample.get("phase")),
                                                    ("location", sample.get("location")),
                                                    ("context", sample.get("context")), ("unit", unit))
                           if value is not None and not isinstance(value, str)]
                if hostile:
                    rejections.append(ReadingRejection(record_ref, "MALFORMED_METER_VALUE",
                                                       f"{', '.join(hostile)} of the sampled value is not text",
                                                       sampled_value_payload(timestamp_raw, sample)))
                    continue
                measurand = sample.get("measurand") or DEFAULT_MEASURAND
                multiplier = None if message["protocol"] == "ocpp1.6" else unit_of_measure.get("multiplier")
                try:
                    value, stored_unit = normalise_value(sample.get("value"), unit, multiplier, measurand,
                                                         message["protocol"])
                except UnitProblem as problem:
                    rejections.append(ReadingRejection(record_ref, problem.reason_code, problem.reason,
                                                       sampled_value_payload(timestamp_raw, sample)))
                    continue
                raw_value = sample.get("value")
                candidates.append({
                    "record_ref": record_ref,
                    "transaction_id": transaction_id,
                    "charge_point_id": message["charge_point_id"],
                    "connector_id": connector_id,
                    "evse_id": evse_id,
                    "timestamp": repaired_time.timestamp,
                    "timestamp_raw": timestamp_raw,
                    "received_at": received_at,
                    "measurand": measurand,
                    "phase": sample.get("phase"),
                    "location": sample.get("location") or DEFAULT_LOCATION,
                    "context": sample.get("context") or DEFAULT_CONTEXT,
                    "value": value,
                    "value_raw": raw_value if isinstance(raw_value, str) else json.dumps(raw_value),
                    "unit": stored_unit,
                    "protocol": message["protocol"],
                    "message_id": message["message_id"],
                    "repair": repaired_time.repair,
                    # Serialised only if the reading is rejected later (most are not).
                    "sample": sample,
                })
    return candidates, rejections, rows_in


def candidate_frame(candidates: list[dict]) -> pl.DataFrame:
    """Candidates of ``extract_readings`` as a frame of ``reading_columns.CANDIDATE_SCHEMA`` (without
    ``sample``: a rejected reading's payload is read back from its frame, ``rule_rejection_list``)."""
    from assets.ingest.ocpp.reading_columns import CANDIDATE_SCHEMA

    return pl.DataFrame({c: [r[c] for r in candidates] for c in CANDIDATE_SCHEMA}, schema=CANDIDATE_SCHEMA)


# Reasons of the reading rules' codes (``reading_rules``); CONFLICTING_READING names the value received first.
RULE_REASONS = {
    "DUPLICATE_READING": "the same reading was already received",
    "BEGIN_REGISTER_ZERO": "Transaction.Begin register of 0 while the transaction's register is far higher "
                           "(dummy 0 sent while offline)",
    "REGISTER_ROLLBACK": "register went below its running maximum and later returned to it (meter glitch)",
}


def rule_reason(code: str, first_value: float | None) -> str:
    """The reason sentence of a reading rule's code."""
    return RULE_REASONS.get(code) or f"a reading with the same key and value {first_value} was received first"


def rule_rejection_list(rejected: pl.DataFrame, metering: pl.DataFrame) -> list[ReadingRejection]:
    """Rejections of the reading rules (``_code``, and ``_first`` for conflicts) with the payload of the
    sampled value, read back from its frame among ``metering`` (few readings: Python per rejection)."""
    if rejected.is_empty():
        return []
    refs = rejected.select("record_ref", "timestamp_raw", "_code", "_first").to_dicts()
    frame_refs = {row["record_ref"].rsplit("#", 1)[0] for row in refs}
    frames = {m["record_ref"]: m for m in metering.filter(pl.col("record_ref").is_in(list(frame_refs))).to_dicts()}
    result = []
    for row in refs:
        frame_ref, position = row["record_ref"].rsplit("#", 1)
        mv_index, sv_index = (int(part[2:]) for part in position.split("."))
        message = frames[frame_ref]
        meter_values = _frame_context(message, json.loads(message["payload_json"]))[3]
        sample = meter_values[mv_index]["sampledValue"][sv_index]
        code = row["_code"]
        result.append(ReadingRejection(row["record_ref"], code, rule_reason(code, row["_first"]),
                                       sampled_value_payload(row["timestamp_raw"], sample)))
    return result
