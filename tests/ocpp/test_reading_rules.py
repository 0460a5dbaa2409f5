"""Register rules as pure functions, including decisions carried over from earlier landing dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assets.ingest.ocpp.reading_rules import apply_register_rules, drop_duplicates

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TX = "ocpp:CP-1:1"


def reading(ref: str, minutes: int, value: float, context: str = "Sample.Periodic", repair: str | None = None) -> dict:
    moment = START + timedelta(minutes=minutes)
    return {"record_ref": ref, "transaction_id": TX, "charge_point_id": "CP-1", "connector_id": 1, "evse_id": None,
            "timestamp": moment, "timestamp_raw": moment.isoformat(), "received_at": moment + timedelta(hours=1),
            "measurand": "Energy.Active.Import.Register", "phase": None, "location": "Outlet", "context": context,
            "value": value, "unit": "Wh", "repair": repair, "sample": {"value": str(value)}}


def test_relative_decision_is_carried_to_later_landing_dates():
    # Day 1 already decided the register is session-relative; day 2's readings follow the decision,
    # even the one that is (relative) larger than nothing seen before.
    history = [reading("d1:1", 10, 5_001_000.0, repair="session_relative_register")]
    accepted, rejected = apply_register_rules([reading("d2:1", 20, 2_000.0)], history, {TX: (5_000_000.0, START)})
    assert rejected == [] and [(r["value"], r["repair"]) for r in accepted] == [(5_002_000.0, "session_relative_register")]


def test_a_lone_zero_begin_is_not_taken_as_evidence_of_a_relative_register():
    accepted, rejected = apply_register_rules([reading("d1:1", 0, 0.0, "Transaction.Begin")], [],
                                              {TX: (5_000_000.0, START)})
    assert accepted == [] and [r.reason_code for r in rejected] == ["BEGIN_REGISTER_ZERO"]
    # The next day brings lifetime readings: they are kept as sent.
    accepted, rejected = apply_register_rules([reading("d2:1", 10, 5_000_100.0)], [], {TX: (5_000_000.0, START)})
    assert rejected == [] and [(r["value"], r["repair"]) for r in accepted] == [(5_000_100.0, None)]


def test_reset_in_history_starts_the_segment_new_readings_continue():
    history = [reading("d1:1", 10, 1_000_100.0), reading("d1:2", 20, 40.0, repair="register_reset")]
    accepted, rejected = apply_register_rules([reading("d2:1", 30, 90.0)], history, {TX: (1_000_000.0, START)})
    assert rejected == [] and [(r["value"], r["repair"]) for r in accepted] == [(90.0, None)]


def test_a_late_reading_below_an_earlier_one_is_a_rollback_when_the_register_recovers():
    history = [reading("d1:1", 10, 1_000_100.0), reading("d1:2", 30, 1_000_300.0)]
    accepted, rejected = apply_register_rules([reading("d2:1", 20, 1_000_050.0)], history, {})
    assert accepted == [] and [r.reason_code for r in rejected] == ["REGISTER_ROLLBACK"]


def test_duplicates_against_history_and_within_the_batch():
    history = [reading("d1:1", 10, 100.0)]
    kept, rejected = drop_duplicates([reading("d2:1", 10, 100.0), reading("d2:2", 20, 200.0),
                                      reading("d2:3", 20, 201.0)], history)
    assert [r["record_ref"] for r in kept] == ["d2:2"]
    assert sorted((r.record_ref, r.reason_code) for r in rejected) == [("d2:1", "DUPLICATE_READING"),
                                                                      ("d2:3", "CONFLICTING_READING")]
