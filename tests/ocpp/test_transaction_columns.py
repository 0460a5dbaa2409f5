"""The column-wise transaction assembly agrees with the row path (``assemble_transactions``) frame for frame.

Tricky frames of the common shape (replayed starts and stops, clock repairs, duplicate and missing seqNo,
resets, missing starts, unanswered requests) are assembled both ways and must give the same rows and the same
rejections; frames not of the common shape send their charge point to the row path.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.ingest.ocpp.clock import TimeRejection, repair_timestamp
from assets.ingest.ocpp.pipeline import build_meter_readings, build_ocpp_messages, build_transactions, text_batches
from assets.ingest.ocpp.tables import METER_READINGS
from assets.ingest.ocpp.transaction_columns import (
    REGISTER_SERIES,
    assemble_columnar,
    odd_charge_points,
    reading_counts,
    register_summaries,
    repaired_times,
    transaction_aliases,
)
from assets.ingest.ocpp.transactions import alias_map, assemble_transactions, starts_16, summarize_readings
from tests.ocpp.factory import landing_record, meter_values_16, register

DAY = dt.date(2026, 11, 20)
RECEIVED = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


class Lines:
    """Landing lines with increasing receive times (``at`` sets the clock: arrival out of order)."""

    def __init__(self):
        self.lines: list[str] = []
        self.clock = RECEIVED

    def call(self, cp: str, protocol: str, message_id: str, action: str, payload: dict,
             answer: dict | None = None, at: dt.datetime | None = None) -> None:
        self.clock = at or self.clock + dt.timedelta(seconds=30)
        self.lines.append(landing_record(cp, protocol, "in", [2, message_id, action, payload], self.clock))
        if answer is not None:
            self.lines.append(landing_record(cp, protocol, "out", [3, message_id, answer],
                                             self.clock + dt.timedelta(milliseconds=200)))


def _stamp(minutes: float) -> str:
    return (RECEIVED + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ingest(lines: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    messages = build_ocpp_messages(text_batches([("ocpp/2026-11-20/08/x.jsonl", "\n".join(lines))]), DAY)
    starts = messages.accepted.filter(pl.col("action").is_in(["StartTransaction", "StopTransaction",
                                                               "TransactionEvent"]))
    readings = build_meter_readings(messages.accepted, DAY, METER_READINGS.empty_frame(), starts)
    frames = messages.accepted.sort("received_at", "record_ref")
    return frames, readings.accepted.filter(pl.col("transaction_id").is_not_null())


def _both_ways(frames: pl.DataFrame, readings: pl.DataFrame):
    touched = set(frames.get_column("transaction_id").drop_nulls().to_list()) | \
        set(readings.get_column("transaction_id").to_list())
    refs = set(frames.filter((pl.col("action") == "StartTransaction") & (pl.col("message_type") == "CALL"))
               .get_column("record_ref").to_list())
    columnar = assemble_columnar(frames, readings, touched, refs)
    rows = assemble_transactions(frames.to_dicts(), readings.to_dicts(), touched, refs)
    return columnar, rows


def _tricky_16(lines: Lines) -> None:
    cp = "CP-16"
    status = lambda state, minutes: {"connectorId": 1, "errorCode": "NoError", "status": state,  # noqa: E731
                                     "timestamp": _stamp(minutes)}
    lines.call(cp, "ocpp1.6", "s0", "StatusNotification", status("Preparing", 0))
    # Charging reported a moment before the start: the transaction starts in that state.
    lines.call(cp, "ocpp1.6", "s1", "StatusNotification", status("Charging", 0.5))
    # meterStart 0 while the register is far higher: begin_register_zero.
    lines.call(cp, "ocpp1.6", "a1", "StartTransaction",
               {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": _stamp(1)},
               {"idTagInfo": {"status": "Accepted"}, "transactionId": 11})
    # The same start re-sent under another id after a reconnect: replayed_start_merged.
    lines.call(cp, "ocpp1.6", "a2", "StartTransaction",
               {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": _stamp(1)},
               {"idTagInfo": {"status": "Accepted"}, "transactionId": 12})
    for minute, value in [(2, 50_000_000), (3, 50_000_500), (4, 50_001_000)]:
        lines.call(cp, "ocpp1.6", f"mv{minute}", "MeterValues",
                   meter_values_16(1, 12 if minute == 3 else 11, _stamp(minute), register(value)))
    lines.call(cp, "ocpp1.6", "s2", "StatusNotification", status("SuspendedEV", 5))
    lines.call(cp, "ocpp1.6", "s3", "StatusNotification", status("SuspendedEV", 6))
    lines.call(cp, "ocpp1.6", "s4", "StatusNotification", status("Charging", 7))
    lines.call(cp, "ocpp1.6", "s5", "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                                             "status": "Charging"})  # no timestamp
    lines.call(cp, "ocpp1.6", "s6", "StatusNotification", status("Charging", 8) | {"connectorId": 2})
    # Stop stamped 1970 (clock not set), then re-sent: first_frame_wins.
    stop = {"meterStop": 50_002_000, "reason": "EVDisconnected", "timestamp": "1970-01-01T00:10:00Z",
            "transactionId": 11,
            "transactionData": [{"timestamp": _stamp(9), "sampledValue": [register(50_002_000, "Transaction.End")]}]}
    lines.call(cp, "ocpp1.6", "z1", "StopTransaction", stop, {})
    lines.call(cp, "ocpp1.6", "z2", "StopTransaction", stop | {"reason": "Other"}, {})
    lines.call(cp, "ocpp1.6", "s7", "StatusNotification", status("Finishing", 10))
    # A reset register (meter replaced): two segments.
    lines.call(cp, "ocpp1.6", "b1", "StartTransaction",
               {"connectorId": 2, "idTag": "TAG2", "meterStart": 1000, "timestamp": _stamp(20)},
               {"idTagInfo": {"status": "Accepted"}, "transactionId": "T-2"})
    for minute, value in [(21, 1500), (22, 2000), (23, 100), (24, 400)]:
        lines.call(cp, "ocpp1.6", f"r{minute}", "MeterValues",
                   meter_values_16(2, None, _stamp(minute), register(value)) | {"transactionId": "T-2"})
    # Local time written as UTC (two hours ahead of the receive time): local_time_marked_utc; left open.
    lines.call(cp, "ocpp1.6", "c1", "StartTransaction",
               {"connectorId": 3, "idTag": "", "meterStart": 7000,
                "timestamp": (lines.clock + dt.timedelta(hours=2, seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
               {"idTagInfo": {"status": "Accepted"}, "transactionId": 13})
    # Negative energy; a start never answered; a stop for an id no start issued.
    lines.call(cp, "ocpp1.6", "d1", "StartTransaction",
               {"connectorId": 4, "idTag": "TAG4", "meterStart": 9000, "timestamp": _stamp(40)},
               {"idTagInfo": {"status": "Accepted"}, "transactionId": 14})
    lines.call(cp, "ocpp1.6", "d2", "StopTransaction",
               {"meterStop": 8000, "timestamp": _stamp(41), "transactionId": 14}, {})
    lines.call(cp, "ocpp1.6", "e1", "StartTransaction",
               {"connectorId": 5, "idTag": "TAG5", "meterStart": 1, "timestamp": _stamp(42)})
    lines.call(cp, "ocpp1.6", "f1", "StopTransaction",
               {"meterStop": 10, "reason": "Local", "timestamp": _stamp(43), "transactionId": 99}, {})


def _event(seq: int, event_type: str, minutes: float, tx: str = "E-1", **extra) -> dict:
    info = {"transactionId": tx, **extra.pop("info", {})}
    return {"eventType": event_type, "seqNo": seq, "timestamp": _stamp(minutes), "transactionInfo": info,
            "triggerReason": "Updated", **extra}


def _sampled(minutes: float, value: float, context: str = "Sample.Periodic") -> list:
    return [{"timestamp": _stamp(minutes), "sampledValue": [
        {"value": value, "measurand": "Energy.Active.Import.Register", "context": context,
         "unitOfMeasure": {"unit": "kWh", "multiplier": 0}}]}]


def _tricky_201(lines: Lines) -> None:
    cp = "CP-201"
    call = lambda mid, payload, **kw: lines.call(cp, "ocpp2.0.1", mid, "TransactionEvent", payload, {}, **kw)  # noqa: E731
    call("g1", _event(0, "Started", 1, evse={"connectorId": 1, "id": 1},
                      idToken={"idToken": "", "type": "ISO14443"}, info={"chargingState": "EVConnected"},
                      meterValue=_sampled(1, 10.0, "Transaction.Begin")))
    call("g2", _event(1, "Updated", 2, info={"chargingState": "Charging"},
                      idToken={"idToken": "TOKEN", "type": "ISO14443"}, meterValue=_sampled(2, 10.5)))
    call("g3", _event(1, "Updated", 2, info={"chargingState": "SuspendedEV"}))  # same seqNo: first wins
    call("g5", _event(4, "Updated", 6, offline=True, info={"chargingState": "Charging", "timeSpentCharging": 200},
                      meterValue=_sampled(6, 11.5)))
    # seqNo 3 arrives after 4; its stamp is 1970 (clock_not_set); seqNo 2 never comes (a gap).
    call("g4", {**_event(3, "Updated", 5, info={"chargingState": "Charging"}), "timestamp": "1970-01-01T00:00:00Z"})
    call("g6", _event(5, "Ended", 8, info={"chargingState": "EVConnected", "stoppedReason": "",
                                           "timeSpentCharging": 150}))
    # Started lost, readings only: start_from_first_reading, meter_start_extrapolated, meter_stop_from_last_reading.
    call("h2", _event(2, "Updated", 12, tx="E-2", evse={"id": 2}, meterValue=_sampled(12, 20.0)))
    call("h3", _event(3, "Updated", 13, tx="E-2", meterValue=_sampled(13, 20.6)))
    call("h4", _event(4, "Ended", 14, tx="E-2", info={"stoppedReason": "EVDisconnected"}))
    # Neither Started nor readings: MISSING_STARTED_EVENT.
    call("k1", _event(7, "Updated", 20, tx="E-3"))
    # A stamp that cannot be read: timestamp_from_received_at; still open.
    call("m1", {**_event(0, "Started", 30, tx="E-4"), "timestamp": "yesterday"})


def test_tricky_frames_of_the_common_shape_give_the_same_rows_both_ways():
    lines = Lines()
    _tricky_16(lines)
    _tricky_201(lines)
    frames, readings = _ingest(lines.lines)
    assert odd_charge_points(frames) == []
    (rows, rejections), (expected_rows, expected_rejections) = _both_ways(frames, readings)
    assert rows == expected_rows
    assert rejections == expected_rejections
    # The scenario reaches the rules it is meant to: every one shows in the result.
    repairs = {rule for row in rows for rule in (row["repairs"] or "").split(";")}
    assert {"begin_register_zero", "replayed_start_merged", "first_frame_wins", "clock_not_set", "register_reset",
            "local_time_marked_utc", "clock_ahead", "start_from_first_reading", "meter_start_extrapolated",
            "meter_start_from_first_reading", "meter_stop_from_last_reading", "timestamp_from_received_at"} <= repairs
    assert sorted(r.reason_code for r in rejections) == [
        "MISSING_STARTED_EVENT", "MISSING_START_TRANSACTION", "NEGATIVE_ENERGY", "START_WITHOUT_TRANSACTION_ID"]
    by_id = {row["transaction_id"]: row for row in rows}
    merged = by_id["ocpp:CP-16:11"]
    assert merged["alias_transaction_ids"] == "ocpp:CP-16:12" and merged["reading_count"] == 4
    # Charging from before the start; the status without a timestamp counts at its receive time (08:05:30);
    # the Charging at 08:07 is after the stop (the 1970 stop stamp is replaced by its receive time, 08:06:30).
    assert [(s["timestamp"].strftime("%H:%M:%S"), s["state"]) for s in merged["charging_states"]] == [
        ("08:01:00", "Charging"), ("08:05:00", "SuspendedEV"), ("08:05:30", "Charging"), ("08:06:00", "SuspendedEV")]
    assert merged["charging_duration_s"] == 240 + 30
    # Stamps ahead of the receive time are repaired first, which puts the series in the order 2000, 100 (reset),
    # 1500, 400 (reset): three segments from meterStart 1000.
    assert by_id["ocpp:CP-16:T-2"]["energy_wh"] == (2000 - 1000) + (1500 - 0) + (400 - 0)
    event = by_id["ocpp:CP-201:E-1"]
    assert (event["seq_no_gaps"], event["offline_events"], event["id_tag"], event["charging_duration_s"]) == \
        (1, 1, "TOKEN", 200)
    assert event["energy_wh"] == 1500.0 and event["stop_reason"] == "Local"


def test_aliases_and_register_summaries_agree_with_the_row_rules():
    lines = Lines()
    _tricky_16(lines)
    _tricky_201(lines)
    frames, readings = _ingest(lines.lines)
    assert transaction_aliases(frames) == alias_map(starts_16(frames.filter(
        pl.col("protocol") == "ocpp1.6").to_dicts())[0]) == {"ocpp:CP-16:12": "ocpp:CP-16:11"}
    aliases = {"ocpp:CP-16:12": "ocpp:CP-16:11"}
    summaries = register_summaries(readings, aliases)
    by_tx: dict[str, list[dict]] = {}
    for reading in readings.to_dicts():
        by_tx.setdefault(aliases.get(reading["transaction_id"], reading["transaction_id"]), []).append(reading)
    assert summaries == {tx: summarize_readings(group) for tx, group in by_tx.items()}
    assert summaries["ocpp:CP-16:T-2"].reset_previous == (2000.0, 1500.0)


@pytest.mark.parametrize("text", [
    "2026-11-20T07:59:00Z", "2026-11-20T07:59:00.5Z", "2026-11-20T07:59:00.123456Z", "2026-11-20T08:04:00Z",
    "2026-11-20T08:10:00Z", "2026-11-20T10:00:30Z", "2026-11-20T09:59:00+02:00", "2026-11-20T07:59:00",
    "1970-01-01T00:00:00Z", "2026-11-21T08:00:00Z", "2026-02-30T08:00:00Z", "2026-11-20T23:59:60Z",
    "2026-11-20T07:59:00.1234567Z", "yesterday", "", None])
def test_timestamps_are_repaired_as_the_clock_rules_say(text):
    received = RECEIVED
    frame = repaired_times(pl.DataFrame({"raw": [text], "received_at": [received]},
                                        schema={"raw": pl.String(), "received_at": pl.Datetime("us", "UTC")}), "raw")
    moment, rules, rejected = frame.select("_moment", "_rules", "_rejected").row(0)
    expected = repair_timestamp(text, received)
    if isinstance(expected, TimeRejection):
        assert (moment, rules, rejected) == (received, "timestamp_from_received_at", True)
    else:
        assert (moment, rules, rejected) == (expected.timestamp, expected.repair, False)


def test_aliases_read_only_the_starts_whatever_the_other_frames():
    # An uncommon StopTransaction sends CP-16's frames to the assembly's row path; its aliases come from its
    # start frames, which are common, so the column-wise aliases still equal the row rule's.
    lines = Lines()
    _tricky_16(lines)
    lines.call("CP-16", "ocpp1.6", "odd", "StopTransaction",
               {"meterStop": "many", "timestamp": _stamp(30), "transactionId": "T-2"}, {})
    frames, _ = _ingest(lines.lines)
    assert odd_charge_points(frames) == ["CP-16"]
    assert transaction_aliases(frames) == alias_map(starts_16(frames.filter(
        pl.col("protocol") == "ocpp1.6").to_dicts())[0]) == {"ocpp:CP-16:12": "ocpp:CP-16:11"}


@pytest.mark.parametrize("payload", [
    {"connectorId": 1, "idTag": "T", "meterStart": "abc", "timestamp": "2026-11-20T08:00:00Z"},
    {"connectorId": 1.5, "idTag": "T", "meterStart": 0, "timestamp": "2026-11-20T08:00:00Z"},
    {"connectorId": 1, "idTag": "T", "meterStart": 12.5, "timestamp": "2026-11-20T08:00:00Z"},
    {"connectorId": 1, "idTag": "T\u00e9\"x", "meterStart": 0, "timestamp": "2026-11-20T08:00:00Z"},
    {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": 5, "vendor": {"x": 1}},
])
def test_uncommon_frames_go_to_the_row_path_and_keep_its_reason_codes(payload):
    lines = Lines()
    lines.call("CP-ODD", "ocpp1.6", "x1", "StartTransaction", payload,
               {"idTagInfo": {"status": "Accepted"}, "transactionId": 1})
    lines.call("CP-ODD", "ocpp1.6", "x2", "StopTransaction",
               {"meterStop": 100, "timestamp": _stamp(5), "transactionId": 1}, {})
    _tricky_201(lines)
    frames, readings = _ingest(lines.lines)
    assert odd_charge_points(frames) == ["CP-ODD"]
    touched = set(frames.get_column("transaction_id").drop_nulls().to_list())
    result = build_transactions(frames, DAY, frames, readings)
    rows, rejections = assemble_transactions(frames.to_dicts(), readings.to_dicts(), touched,
                                             set(frames.filter(pl.col("action") == "StartTransaction")
                                                 .get_column("record_ref").to_list()))
    assert result.conserved
    assert sorted(result.accepted.get_column("transaction_id").to_list()) == \
        sorted(row["transaction_id"] for row in rows)
    assert sorted((r.record_ref, r.reason_code) for r in result.rejections) == \
        sorted((r.record_ref, r.reason_code) for r in rejections)
    if payload["meterStart"] == "abc":
        assert "INVALID_METER_START" in {r.reason_code for r in result.rejections}


scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(allow_nan=False, width=32),
                    st.sampled_from(["", "Charging", "Started", "Ended", "2026-11-20T08:00:00Z",
                                     "1970-01-01T00:00:00Z", "2026-11-20T09:00:00Z", "A"]))
FIELDS = {
    "StartTransaction": {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-11-20T07:00:00Z"},
    "StopTransaction": {"meterStop": 10, "timestamp": "2026-11-20T07:30:00Z", "transactionId": 1},
    "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Charging",
                           "timestamp": "2026-11-20T07:10:00Z"},
    "TransactionEvent": {"eventType": "Updated", "seqNo": 1, "timestamp": "2026-11-20T07:20:00Z",
                         "transactionInfo": {"transactionId": "A", "chargingState": "Charging"}},
}
frame_strategy = st.tuples(
    st.sampled_from(["CP-1", "CP-2"]),
    st.sampled_from(sorted(FIELDS)),
    st.dictionaries(st.sampled_from(["connectorId", "meterStart", "meterStop", "timestamp", "seqNo", "eventType",
                                     "status", "transactionId", "offline", "idTag", "reason"]), scalars, max_size=2),
    st.one_of(st.none(), st.sampled_from([{"transactionId": 1}, {"transactionId": "A"}, {"transactionId": 2}])),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frame_strategy, min_size=1, max_size=8))
def test_both_paths_agree_on_any_charge_point_the_columnar_path_takes(generated):
    lines = Lines()
    for index, (cp, action, changes, answer) in enumerate(generated):
        protocol = "ocpp2.0.1" if action == "TransactionEvent" else "ocpp1.6"
        lines.call(cp, protocol, f"m{index}", action, {**FIELDS[action], **changes}, answer)
    frames, readings = _ingest(lines.lines)
    common = frames.filter(~pl.col("charge_point_id").is_in(odd_charge_points(frames)))
    (rows, rejections), (expected_rows, expected_rejections) = _both_ways(
        common, readings.filter(pl.col("charge_point_id").is_in(common.get_column("charge_point_id").unique().to_list())))
    assert rows == expected_rows
    assert rejections == expected_rejections


def test_transaction_rows_keep_their_charging_states_none_and_empty_apart():
    """The charging states are built field by field (``pipeline._frame``): the same column as polars' own row
    constructor, an empty list and a missing one kept apart, the states in order."""
    from assets.ingest.ocpp.pipeline import _frame
    from assets.ingest.ocpp.tables import TRANSACTIONS

    at = dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.UTC)
    states = [{"timestamp": at, "state": "Charging"}, {"timestamp": at + dt.timedelta(minutes=40), "state": "SuspendedEV"},
              {"timestamp": None, "state": "Idle"}]
    rows = [{"transaction_id": "ocpp:CP1:1", "charging_states": states},
            {"transaction_id": "ocpp:CP1:2", "charging_states": []},
            {"transaction_id": "ocpp:CP1:3", "charging_states": None},
            {"transaction_id": "ocpp:CP1:4", "charging_states": states[1:2]}]
    frame = _frame(rows, TRANSACTIONS, DAY)
    assert frame.schema == pl.Schema(TRANSACTIONS.schema)
    assert frame.get_column("charging_states").to_list() == [states, [], None, states[1:2]]
    columns = [c for c in TRANSACTIONS.schema if c != "landing_date"]
    by_rows = pl.DataFrame({c: [row.get(c) for row in rows] for c in columns},
                           schema={c: TRANSACTIONS.schema[c] for c in columns}, strict=False)
    assert frame.drop("landing_date").equals(by_rows)
    assert _frame([], TRANSACTIONS, DAY).schema == frame.schema


def test_the_register_series_and_counts_give_what_all_readings_give():
    """A shard passes only the register series and a count of all readings (``REGISTER_SERIES``,
    ``reading_counts``): the rows, counts included, are those of all the readings, on both paths."""
    lines = Lines()
    power = {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"}
    phase_register = register(400, phase="L1")
    for cp, extra in (("CP-COMMON", {}), ("CP-ODD", {"vendor": {"x": 1}})):  # an unknown key: the row path
        lines.call(cp, "ocpp1.6", f"{cp}-s", "StartTransaction",
                   {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": _stamp(0)} | extra,
                   {"idTagInfo": {"status": "Accepted"}, "transactionId": 1})
        for minute, value in ((1, 1000), (2, 2500), (3, 4000)):
            lines.call(cp, "ocpp1.6", f"{cp}-m{minute}", "MeterValues",
                       meter_values_16(1, 1, _stamp(minute), register(value), power, phase_register))
        lines.call(cp, "ocpp1.6", f"{cp}-e", "StopTransaction",
                   {"meterStop": 4100, "timestamp": _stamp(4), "transactionId": 1}, {})
    frames, readings = _ingest(lines.lines)
    assert odd_charge_points(frames) == ["CP-ODD"]
    series = readings.filter(REGISTER_SERIES)
    assert series.height == 6 and readings.height == 18
    whole = build_transactions(frames, DAY, frames, readings)
    narrowed = build_transactions(frames, DAY, frames, series, reading_counts=reading_counts(readings))
    assert narrowed.accepted.equals(whole.accepted)
    assert [(r.record_ref, r.reason_code) for r in narrowed.rejections] == \
        [(r.record_ref, r.reason_code) for r in whole.rejections]
    assert sorted(whole.accepted.select("transaction_id", "reading_count", "energy_wh").rows()) == [
        ("ocpp:CP-COMMON:1", 9, 4100.0), ("ocpp:CP-ODD:1", 9, 4100.0)]
