"""The reading rules over frames give exactly what the scalar rules gave, on generated candidates and history.

The oracle is ``reading_rules_reference`` (the scalar rules before the columnar version). Candidates and
history are drawn from small sets of transactions, instants, contexts and values, so duplicates, conflicts,
session-relative registers, Begin zeros, rollbacks and resets (also replayed from history) all occur.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.ingest.ocpp import reading_rules
from tests.ocpp import reading_rules_reference as reference

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TRANSACTIONS = ["ocpp:CP-1:1", "ocpp:CP-1:2", "ocpp:CP-2:7", None]
VALUES = [0.0, 40.0, 90.0, 2_000.0, 1_000_000.0, 1_000_100.0, 1_000_100.3, 1_000_300.0, 5_000_000.0, 5_001_000.0]

reading_fields = st.fixed_dictionaries({
    "transaction_id": st.sampled_from(TRANSACTIONS),
    "minute": st.integers(0, 6),
    "received_minute": st.integers(0, 3),
    "measurand": st.sampled_from(["Energy.Active.Import.Register", "Energy.Active.Import.Register", "Power.Active.Import"]),
    "phase": st.sampled_from([None, None, "L1"]),
    "context": st.sampled_from(["Sample.Periodic", "Transaction.Begin", "Transaction.End", "Sample.Clock"]),
    "value": st.sampled_from(VALUES),
    "connector_id": st.sampled_from([None, 0, 1, 2]),
    "evse_id": st.sampled_from([None, 1]),
    "protocol": st.sampled_from(["ocpp1.6", "ocpp2.0.1"]),
    "repair": st.sampled_from([None, None, "clock_ahead", "session_relative_register", "register_reset",
                               "clock_ahead;register_reset"]),
})


def _reading(prefix: str, index: int, fields: dict, history: bool) -> dict:
    moment = START + timedelta(minutes=fields["minute"])
    charge_point = (fields["transaction_id"] or "ocpp:CP-1:x").split(":")[1]
    return {"record_ref": f"{prefix}:{index}#mv0.sv0", "transaction_id": fields["transaction_id"],
            "charge_point_id": charge_point, "connector_id": fields["connector_id"], "evse_id": fields["evse_id"],
            "timestamp": moment, "timestamp_raw": moment.isoformat(),
            "received_at": moment + timedelta(hours=1, minutes=fields["received_minute"]),
            "measurand": fields["measurand"], "phase": fields["phase"], "location": "Outlet",
            "context": fields["context"], "value": fields["value"], "value_raw": str(fields["value"]), "unit": "Wh",
            "protocol": fields["protocol"], "message_id": f"m{index}",
            "repair": fields["repair"] if history else None, "sample": {"value": str(fields["value"])}}


meter_starts = st.dictionaries(st.sampled_from(TRANSACTIONS[:3]),
                               st.tuples(st.sampled_from([0.0, 1_000_000.0, 5_000_000.0]), st.integers(-30, 30)),
                               max_size=3)
intervals = st.lists(st.tuples(st.sampled_from(["CP-1", "CP-2"]), st.sampled_from([1, 2]), st.integers(0, 4),
                               st.one_of(st.none(), st.integers(2, 8)), st.sampled_from(TRANSACTIONS[:3])),
                     max_size=4)


def _rejections(items) -> list[tuple]:
    return sorted((r.record_ref, r.reason_code, r.reason, r.raw_payload) for r in items)


def _accepted(items: list[dict]) -> list[tuple]:
    return sorted((r["record_ref"], r["transaction_id"], repr(r["value"]), r["repair"]) for r in items)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(reading_fields, max_size=14), st.lists(reading_fields, max_size=8), meter_starts, intervals)
def test_frame_rules_equal_the_scalar_rules(new_fields, old_fields, starts, spans):
    candidates = [_reading("d2", i, f, history=False) for i, f in enumerate(new_fields)]
    history = [_reading("d1", i, f, history=True) for i, f in enumerate(old_fields)]
    starts = {tx: (value, START + timedelta(minutes=offset)) for tx, (value, offset) in starts.items()}
    by_place: dict = {}
    for cp, connector, start, stop, tx in spans:
        by_place.setdefault((cp, connector), []).append(
            (START + timedelta(minutes=start), None if stop is None else START + timedelta(minutes=stop), tx))

    expected_candidates = copy.deepcopy(candidates)
    reference.attribute_to_transactions(expected_candidates, by_place)
    expected_attribution = [(r["transaction_id"], r["repair"]) for r in expected_candidates]
    expected_kept, expected_duplicates = reference.drop_duplicates(expected_candidates, history)
    expected, expected_rules = reference.apply_register_rules(expected_kept, history, starts)

    reading_rules.attribute_to_transactions(candidates, by_place)
    assert [(r["transaction_id"], r["repair"]) for r in candidates] == expected_attribution
    kept, duplicates = reading_rules.drop_duplicates(candidates, history)
    assert [r["record_ref"] for r in kept] == [r["record_ref"] for r in expected_kept]
    assert _rejections(duplicates) == _rejections(expected_duplicates)
    accepted, rules = reading_rules.apply_register_rules(kept, history, starts)
    assert _accepted(accepted) == _accepted(expected)
    assert _rejections(rules) == _rejections(expected_rules)
