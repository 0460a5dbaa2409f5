"""One fault test per field pitfall (reference §4.3): the repair applied or the quarantine reason."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from tests.ocpp.conftest import materialize_partition
from tests.ocpp.factory import FrameScript, landing_record, meter_values_16, register

DAY1, DAY2 = "2026-11-20", "2026-11-21"
# Frames are received from 10:00 on; the charger timestamps (08:00-09:00) are therefore never in the future.
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ACCEPTED = {"idTagInfo": {"status": "Accepted"}}


def _ingest(warehouse, landing, scripts, days=(DAY1,)):
    for script in scripts:
        script.write(landing.root_path)
    results = [materialize_partition(warehouse, landing, day) for day in days]
    for result in results:
        assert result.success
        assert all(check.passed for check in result.get_asset_check_evaluations())  # incl. in = accepted + quarantined
    return results


def _quarantine(warehouse, asset):
    return sorted(warehouse.read("quarantine", source_asset=asset).get_column("reason_code").to_list())


def _transaction(warehouse, transaction_id, day=DAY1):
    frame = warehouse.read("transactions", landing_date=datetime.fromisoformat(day).date())
    return frame.filter(pl.col("transaction_id") == transaction_id).row(0, named=True)


def _start16(script, tx, meter_start, at="2026-11-20T08:00:00Z", connector=1):
    return script.call("StartTransaction", {"connectorId": connector, "idTag": "TAG", "meterStart": meter_start,
                                            "timestamp": at}, {"transactionId": tx, **ACCEPTED})


def _stop16(script, tx, meter_stop, at="2026-11-20T09:00:00Z", **extra):
    return script.call("StopTransaction", {"transactionId": tx, "meterStop": meter_stop, "timestamp": at,
                                           "reason": "Local", **extra}, ACCEPTED)


def test_malformed_frames_are_quarantined_with_codes(tmp_warehouse, tmp_landing):
    script = FrameScript("CP-1", "ocpp1.6", T0)
    good = landing_record("CP-1", "ocpp1.6", "in", [2, "hb1", "Heartbeat", {}], T0)
    script.raw_line(good)
    script.raw_line(good)  # the same landed record twice (export delivered twice)
    script.raw_line("{not json")
    script.raw_line("[1, 2]")
    script.raw_line('{"received_at": "2026-11-20T08:00:00Z", "charge_point_id": "CP-1", "protocol": "ocpp1.6"}')
    script.raw_line(landing_record("CP-1", "ocpp1.6", "in", [2, "x", "Heartbeat", {}], T0).replace(
        "2026-11-20T10:00:00.000000Z", "20/11/2026"))
    script.raw_line(landing_record("CP-1", "ocpp1.5", "in", [2, "x", "Heartbeat", {}], T0))
    script.raw_line(landing_record("CP-1", "ocpp1.6", "sideways", [2, "x", "Heartbeat", {}], T0))
    script.raw_line(landing_record("CP-1", "ocpp1.6", "in", "[2, \"x\", \"Heart", T0))
    script.raw_line(landing_record("CP-1", "ocpp1.6", "in", [5, "x", "Heartbeat", {}], T0))
    script.raw_line(landing_record("CP-1", "ocpp1.6", "in", [2, "x", "Heartbeat"], T0))
    script.raw_line("")  # blank lines are not records
    # A charger re-sending the same CALL later is a real frame, kept and marked.
    script.raw_line(landing_record("CP-1", "ocpp1.6", "in", [2, "hb1", "Heartbeat", {}], T0.replace(second=30)))
    [result] = _ingest(tmp_warehouse, tmp_landing, [script])
    messages = tmp_warehouse.read("ocpp_messages")
    assert messages.height == 2
    assert messages.sort("received_at").get_column("is_replay").to_list() == [False, True]
    assert _quarantine(tmp_warehouse, "ocpp_messages") == [
        "DUPLICATE_FRAME", "INVALID_DIRECTION", "INVALID_OCPP_FRAME", "INVALID_OCPP_FRAME", "INVALID_RECEIVED_AT",
        "MALFORMED_FRAME", "MALFORMED_LANDING_LINE", "MALFORMED_LANDING_LINE", "MISSING_FIELD", "UNKNOWN_PROTOCOL"]
    metadata = result.asset_materializations_for_node("ocpp_messages")[0].metadata
    assert (metadata["rows_in"].value, metadata["rows_accepted"].value, metadata["rows_quarantined"].value) == (12, 2, 10)


def test_same_instant_different_context_keeps_both_readings(tmp_warehouse, tmp_landing):
    """Growatt: Periodic 163630 and Transaction.Begin 157440 in one MeterValues: two readings, no overwrite."""
    script = FrameScript("CP-G", "ocpp1.6", T0)
    _start16(script, 5, 157_440)
    script.call("MeterValues", meter_values_16(1, 5, "2026-11-20T08:00:00Z", register(163_630),
                                               register(157_440, "Transaction.Begin")), {})
    _stop16(script, 5, 170_000)
    _ingest(tmp_warehouse, tmp_landing, [script])
    readings = tmp_warehouse.read("meter_readings").sort("context")
    assert readings.select("context", "value").rows() == [("Sample.Periodic", 163_630.0),
                                                          ("Transaction.Begin", 157_440.0)]
    tx = _transaction(tmp_warehouse, "ocpp:CP-G:5")
    assert (tx["meter_start_wh"], tx["meter_stop_wh"], tx["energy_wh"]) == (157_440.0, 170_000.0, 12_560.0)


def test_begin_register_zero_reading_is_quarantined_and_meter_start_repaired(tmp_warehouse, tmp_landing):
    """citrineos #1060: offline Begin = 0 would bill the lifetime register (910 kWh for 0.083 kWh)."""
    script = FrameScript("CP-Z", "ocpp1.6", T0)
    _start16(script, 9, 0)
    script.call("MeterValues", meter_values_16(1, 9, "2026-11-20T08:00:00Z", register(0, "Transaction.Begin")), {})
    script.call("MeterValues", meter_values_16(1, 9, "2026-11-20T08:05:00Z", register(910_000)), {})
    _stop16(script, 9, 910_083, at="2026-11-20T08:10:00Z")
    _ingest(tmp_warehouse, tmp_landing, [script])
    assert _quarantine(tmp_warehouse, "meter_readings") == ["BEGIN_REGISTER_ZERO"]
    tx = _transaction(tmp_warehouse, "ocpp:CP-Z:9")
    assert (tx["meter_start_wh"], tx["energy_wh"], tx["repairs"]) == (910_000.0, 83.0, "begin_register_zero")


def test_begin_register_zero_in_201_is_replaced_from_the_readings(tmp_warehouse, tmp_landing):
    script = FrameScript("CS-Z", "ocpp2.0.1", T0)

    def event(kind, seq, at, samples, **info):
        return {"eventType": kind, "timestamp": at, "triggerReason": "MeterValuePeriodic", "seqNo": seq,
                "transactionInfo": {"transactionId": "Z1", **info}, "evse": {"id": 2, "connectorId": 1},
                "meterValue": [{"timestamp": at, "sampledValue": samples}]}

    def kwh(value, context):
        return {"value": value, "context": context, "unitOfMeasure": {"unit": "kWh"}}

    script.call("TransactionEvent", event("Started", 0, "2026-11-20T08:00:00Z", [kwh(0, "Transaction.Begin")]), {})
    script.call("TransactionEvent", event("Updated", 1, "2026-11-20T08:05:00Z", [kwh(910.0, "Sample.Periodic")]), {})
    script.call("TransactionEvent", event("Ended", 2, "2026-11-20T08:10:00Z", [kwh(910.083, "Transaction.End")],
                                          stoppedReason="EVDisconnected", timeSpentCharging=540), {})
    _ingest(tmp_warehouse, tmp_landing, [script])
    assert _quarantine(tmp_warehouse, "meter_readings") == ["BEGIN_REGISTER_ZERO"]
    tx = _transaction(tmp_warehouse, "ocpp:CS-Z:Z1")
    # Readings 910,000 (08:05) and 910,083 (08:10) give 16.6 Wh/min; extrapolated back to 08:00: 909,917.
    assert (tx["meter_start_wh"], tx["meter_stop_wh"], tx["evse_id"]) == (909_917.0, 910_083.0, 2)
    assert abs(tx["energy_wh"] - 166.0) < 1e-6 and tx["repairs"] == "meter_start_extrapolated"
    assert (tx["charging_duration_s"], tx["duration_s"], tx["stop_reason"]) == (540, 600, "EVDisconnected")


def test_session_relative_registers_are_lifted_to_the_lifetime_register(tmp_warehouse, tmp_landing):
    """Grizzl-E: lifetime meterStart/meterStop, session-relative MeterValues."""
    script = FrameScript("CP-R", "ocpp1.6", T0)
    _start16(script, 3, 5_000_000)
    script.call("MeterValues", meter_values_16(1, 3, "2026-11-20T08:10:00Z", register(1_000)), {})
    script.call("MeterValues", meter_values_16(1, 3, "2026-11-20T08:20:00Z", register(2_000)), {})
    _stop16(script, 3, 5_003_000)
    _ingest(tmp_warehouse, tmp_landing, [script])
    readings = tmp_warehouse.read("meter_readings").sort("timestamp")
    assert readings.select("value", "value_raw", "repair").rows() == [
        (5_001_000.0, "1000", "session_relative_register"), (5_002_000.0, "2000", "session_relative_register")]
    tx = _transaction(tmp_warehouse, "ocpp:CP-R:3")
    assert tx["energy_wh"] == 3_000.0 and tx["repairs"] == "session_relative_register"


def test_rollback_glitch_is_quarantined_and_reset_starts_a_segment(tmp_warehouse, tmp_landing):
    glitch = FrameScript("CP-A", "ocpp1.6", T0)
    _start16(glitch, 1, 1_000_000)
    for minute, value in [(10, 1_000_100), (20, 1_000_200), (30, 100), (40, 1_000_300)]:
        glitch.call("MeterValues", meter_values_16(1, 1, f"2026-11-20T08:{minute}:00Z", register(value)), {})
    _stop16(glitch, 1, 1_000_400)
    reset = FrameScript("CP-B", "ocpp1.6", T0.replace(hour=11))
    _start16(reset, 1, 1_000_000)
    for minute, value in [(10, 1_000_100), (20, 1_000_200), (30, 50), (40, 150)]:
        reset.call("MeterValues", meter_values_16(1, 1, f"2026-11-20T08:{minute}:00Z", register(value)), {})
    _stop16(reset, 1, 150)
    _ingest(tmp_warehouse, tmp_landing, [glitch, reset])
    quarantine = tmp_warehouse.read("quarantine", source_asset="meter_readings")
    assert quarantine.select("reason_code", "raw_payload").rows() == [
        ("REGISTER_ROLLBACK", '{"sampledValue": {"context": "Sample.Periodic", "measurand": '
                              '"Energy.Active.Import.Register", "unit": "Wh", "value": "100"}, '
                              '"timestamp": "2026-11-20T08:30:00Z"}')]
    assert _transaction(tmp_warehouse, "ocpp:CP-A:1")["energy_wh"] == 400.0
    reset_readings = tmp_warehouse.read("meter_readings").filter(pl.col("charge_point_id") == "CP-B").sort("timestamp")
    assert reset_readings.get_column("repair").to_list() == [None, None, "register_reset", None]
    tx = _transaction(tmp_warehouse, "ocpp:CP-B:1")
    # 200 Wh before the reset + 150 Wh after it.
    assert (tx["energy_wh"], tx["repairs"]) == (350.0, "register_reset")


def test_duplicates_conflicts_and_replayed_starts(tmp_warehouse, tmp_landing):
    script = FrameScript("CP-D", "ocpp1.6", T0)
    _start16(script, 41, 2_000)
    # The ABB Terra re-sends StartTransaction after a reconnect; another CSMS issued a second id.
    _start16(script, 42, 2_000)
    payload = meter_values_16(1, 41, "2026-11-20T08:10:00Z", register(2_500))
    script.call("MeterValues", payload, {}, message_id="mv-1")
    script.call("MeterValues", payload, {}, message_id="mv-1")  # replay: same frame, later
    script.call("MeterValues", meter_values_16(1, 41, "2026-11-20T08:10:00Z", register(2_501)), {})  # conflict
    script.call("MeterValues", meter_values_16(1, 42, "2026-11-20T08:20:00Z", register(3_000)), {})  # alias id
    _stop16(script, 42, 3_500)
    _stop16(script, 42, 3_500)  # re-sent stop
    _ingest(tmp_warehouse, tmp_landing, [script])
    assert _quarantine(tmp_warehouse, "meter_readings") == ["CONFLICTING_READING", "DUPLICATE_READING"]
    transactions = tmp_warehouse.read("transactions")
    assert transactions.height == 1
    tx = transactions.row(0, named=True)
    assert (tx["transaction_id"], tx["alias_transaction_ids"], tx["repairs"]) == (
        "ocpp:CP-D:41", "ocpp:CP-D:42", "replayed_start_merged;first_frame_wins")
    assert (tx["energy_wh"], tx["reading_count"], tx["status"]) == (1_500.0, 2, "complete")


def test_unassemblable_transactions_are_quarantined(tmp_warehouse, tmp_landing):
    script = FrameScript("CP-Q", "ocpp1.6", T0)
    script.call("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 5, "timestamp":
                                     "2026-11-20T08:00:00Z"}, None)  # the answer was never recorded
    _stop16(script, 77, 100)  # an id no start issued
    _start16(script, 78, 9_000)
    _stop16(script, 78, 8_000)  # stop below start
    _start16(script, 79, "lots")  # a meterStart that is no number
    script.call("MeterValues", meter_values_16(1, 79, "2026-11-20T08:10:00Z", register(5, measurand=["x"])), {})
    _ingest(tmp_warehouse, tmp_landing, [script])
    assert _quarantine(tmp_warehouse, "transactions") == [
        "INVALID_METER_START", "MISSING_START_TRANSACTION", "NEGATIVE_ENERGY", "START_WITHOUT_TRANSACTION_ID"]
    assert _quarantine(tmp_warehouse, "meter_readings") == ["MALFORMED_METER_VALUE"]
    assert tmp_warehouse.read("transactions").height == 0


def test_late_out_of_order_frames_across_landing_days(tmp_warehouse, tmp_landing):
    day1 = FrameScript("CP-L", "ocpp1.6", T0)
    _start16(day1, 7, 10_000)
    # Offline queue delivered out of order; one reading stamped 1970 before the clock was set.
    day1.call("MeterValues", meter_values_16(1, 7, "2026-11-20T08:20:00Z", register(10_200)), {})
    day1.call("MeterValues", meter_values_16(1, 7, "2026-11-20T08:10:00Z", register(10_100)), {}, message_id="mv-a")
    day1.call("MeterValues", meter_values_16(1, 7, "1970-01-01T00:00:05Z", register(10_350)), {},
              at=datetime(2026, 11, 20, 10, 30, tzinfo=UTC))
    day2 = FrameScript("CP-L", "ocpp1.6", datetime(2026, 11, 21, 0, 30, tzinfo=UTC))
    day2.call("MeterValues", meter_values_16(1, 7, "2026-11-20T08:10:00Z", register(10_100)), {}, message_id="mv-a")
    day2.call("MeterValues", meter_values_16(1, 7, "2026-11-20T08:30:00Z", register(10_300)), {})
    _stop16(day2, 7, 10_400, at="2026-11-20T08:40:00Z")
    first, _second = _ingest(tmp_warehouse, tmp_landing, [day1, day2], days=(DAY1, DAY2))
    metadata = first.asset_materializations_for_node("meter_readings")[0].metadata
    assert metadata["repairs_by_rule"].value == "- clock_not_set: 1"

    open_state = _transaction(tmp_warehouse, "ocpp:CP-L:7", DAY1)
    assert (open_state["status"], open_state["energy_wh"], open_state["stop_timestamp"]) == ("open", 350.0, None)
    final = _transaction(tmp_warehouse, "ocpp:CP-L:7", DAY2)
    assert (final["status"], final["energy_wh"], final["reading_count"]) == ("complete", 400.0, 4)
    assert final["stop_timestamp"] == datetime(2026, 11, 20, 8, 40, tzinfo=UTC)
    readings = tmp_warehouse.read("meter_readings").sort("timestamp")
    assert readings.select("value", "repair").rows() == [
        (10_100.0, None), (10_200.0, None), (10_300.0, None), (10_350.0, "clock_not_set")]
    assert readings.row(3, named=True)["timestamp"] == datetime(2026, 11, 20, 10, 30, 1, tzinfo=UTC)
    # The day-2 replay of a day-1 reading is recognised against the earlier landing date.
    assert _quarantine(tmp_warehouse, "meter_readings") == ["DUPLICATE_READING"]

    files = sorted(tmp_warehouse.root_path.rglob("*.parquet"))
    before = {p: p.read_bytes() for p in files}
    materialize_partition(tmp_warehouse, tmp_landing, DAY2)
    assert all(p.read_bytes() == before[p] for p in files)


def test_an_export_delivered_again_a_day_later_changes_nothing(tmp_warehouse, tmp_landing):
    script = FrameScript("CP-E", "ocpp1.6", T0)
    _start16(script, 11, 1_000)
    script.call("MeterValues", meter_values_16(1, 11, "2026-11-20T08:10:00Z", register(1_500)), {})
    _stop16(script, 11, 2_000)
    script.write(tmp_landing.root_path, writer="csms-export")
    materialize_partition(tmp_warehouse, tmp_landing, DAY1)
    # The other CSMS sends the same log again; it lands in the next day's folder.
    day1_file = next(tmp_landing.root_path.joinpath("ocpp", DAY1).rglob("*.jsonl"))
    again = tmp_landing.root_path / "ocpp" / DAY2 / "09" / "csms-export-resent.jsonl"
    again.parent.mkdir(parents=True)
    again.write_bytes(day1_file.read_bytes())
    result = materialize_partition(tmp_warehouse, tmp_landing, DAY2)
    assert all(check.passed for check in result.get_asset_check_evaluations())
    day2 = datetime(2026, 11, 21).date()
    assert tmp_warehouse.read("ocpp_messages", landing_date=day2).height == 0
    assert _quarantine(tmp_warehouse, "ocpp_messages") == ["DUPLICATE_FRAME"] * 6
    quarantined = tmp_warehouse.read("quarantine", source_asset="ocpp_messages")
    assert sorted(quarantined.get_column("raw_payload").to_list()) == sorted(day1_file.read_text().splitlines())
    assert tmp_warehouse.read("meter_readings", landing_date=day2).height == 0
    assert tmp_warehouse.read("transactions", landing_date=day2).height == 0
    assert _transaction(tmp_warehouse, "ocpp:CP-E:11")["energy_wh"] == 1_000.0


def test_a_day_without_files_materialises_empty_partitions(tmp_warehouse, tmp_landing):
    [result] = _ingest(tmp_warehouse, tmp_landing, [], days=(DAY2,))
    for asset in ("ocpp_messages", "meter_readings", "transactions"):
        metadata = result.asset_materializations_for_node(asset)[0].metadata
        assert (metadata["rows_in"].value, metadata["rows_accepted"].value) == (0, 0)
        assert tmp_warehouse.read(asset).height == 0
        assert tmp_warehouse.partitions(asset) == [{"landing_date": DAY2}]


def test_start_request_before_midnight_answer_after(tmp_warehouse, tmp_landing):
    script = FrameScript("CP-M", "ocpp1.6", datetime(2026, 11, 20, 23, 59, 58, tzinfo=UTC))
    # Request lands at 23:59:59 on day 1, its answer (with the id) at 00:00:00 on day 2.
    _start16(script, 5, 5_000_000, at="2026-11-20T23:59:58Z")
    script.call("MeterValues", meter_values_16(1, 5, "2026-11-21T00:10:00Z", register(1_000)), {},
                at=datetime(2026, 11, 21, 0, 10, 5, tzinfo=UTC))
    _stop16(script, 5, 5_002_000, at="2026-11-21T00:20:00Z")
    script.write(tmp_landing.root_path)
    for day in (DAY1, DAY2):
        materialize_partition(tmp_warehouse, tmp_landing, day)
    # Day 1 could not know the id yet; day 2 assembles the transaction from both days.
    assert _quarantine(tmp_warehouse, "transactions") == ["START_WITHOUT_TRANSACTION_ID"]
    tx = _transaction(tmp_warehouse, "ocpp:CP-M:5", DAY2)
    assert (tx["meter_start_wh"], tx["energy_wh"], tx["status"]) == (5_000_000.0, 2_000.0, "complete")
    # The session-relative reading of day 2 was lifted with the meterStart of day 1's request.
    [value] = tmp_warehouse.read("meter_readings").get_column("value").to_list()
    assert value == 5_001_000.0


def test_readings_without_transaction_id_join_the_transaction_running_on_their_connector(tmp_warehouse, tmp_landing):
    day1 = FrameScript("CP-N", "ocpp1.6", T0)
    _start16(day1, 21, 50_000)
    day1.call("MeterValues", meter_values_16(1, None, "2026-11-20T08:20:00Z", register(50_200)), {})
    day1.call("MeterValues", meter_values_16(2, None, "2026-11-20T08:20:00Z", register(7_000)), {})  # other connector
    _stop16(day1, 21, 50_500, at="2026-11-20T08:40:00Z")
    day1.call("MeterValues", meter_values_16(1, None, "2026-11-20T09:30:00Z", register(50_600)), {})  # after the stop
    # A queued reading of the same session, without transaction id, delivered the next day.
    day2 = FrameScript("CP-N", "ocpp1.6", datetime(2026, 11, 21, 7, 0, tzinfo=UTC))
    day2.call("MeterValues", meter_values_16(1, None, "2026-11-20T08:30:00Z", register(50_350)), {})
    _ingest(tmp_warehouse, tmp_landing, [day1, day2], days=(DAY1, DAY2))
    readings = tmp_warehouse.read("meter_readings").sort("landing_date", "connector_id", "timestamp")
    assert readings.select("connector_id", "value", "transaction_id", "repair").rows() == [
        (1, 50_200.0, "ocpp:CP-N:21", "attributed_to_transaction"),
        (1, 50_600.0, None, None),
        (2, 7_000.0, None, None),
        (1, 50_350.0, "ocpp:CP-N:21", "attributed_to_transaction"),
    ]
    assert _transaction(tmp_warehouse, "ocpp:CP-N:21", DAY1)["reading_count"] == 1
    later = _transaction(tmp_warehouse, "ocpp:CP-N:21", DAY2)
    assert (later["reading_count"], later["energy_wh"], later["status"]) == (2, 500.0, "complete")


def test_begin_register_zero_in_201_extrapolates_the_first_minute(tmp_warehouse, tmp_landing):
    """A DC charger's first minute is kWh: with two readings, the start register is extrapolated back."""
    script = FrameScript("CS-X", "ocpp2.0.1", T0)

    def event(kind, seq, at, samples, **info):
        return {"eventType": kind, "timestamp": at, "triggerReason": "MeterValuePeriodic", "seqNo": seq,
                "transactionInfo": {"transactionId": "X1", **info}, "evse": {"id": 1, "connectorId": 1},
                "meterValue": [{"timestamp": at, "sampledValue": samples}]}

    def wh(value, context):
        return {"value": value, "context": context, "unitOfMeasure": {"unit": "Wh"}}

    script.call("TransactionEvent", event("Started", 0, "2026-11-20T08:00:00Z", [wh(0, "Transaction.Begin")]), {})
    # 150 kW: 2,500 Wh a minute. Readings at 08:01 and 08:02; the true start register was 1,000,000.
    script.call("TransactionEvent", event("Updated", 1, "2026-11-20T08:01:00Z", [wh(1_002_500, "Sample.Periodic")]), {})
    script.call("TransactionEvent", event("Updated", 2, "2026-11-20T08:02:00Z", [wh(1_005_000, "Sample.Periodic")]), {})
    script.call("TransactionEvent", event("Ended", 3, "2026-11-20T08:03:00Z", [wh(1_007_500, "Transaction.End")],
                                          stoppedReason="EVDisconnected"), {})
    _ingest(tmp_warehouse, tmp_landing, [script])
    tx = _transaction(tmp_warehouse, "ocpp:CS-X:X1")
    # 1,002,500 - 2,500 Wh/min x 1 min = 1,000,000: the first minute's energy is not lost.
    assert (tx["meter_start_wh"], tx["energy_wh"], tx["repairs"]) == (1_000_000.0, 7_500.0, "meter_start_extrapolated")
