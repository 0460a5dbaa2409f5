"""Delivery semantics against the loopback Charge API stand-in: batches, duplicates, bisection, retries, tokens."""

from __future__ import annotations

import dataclasses

import pytest

from assets.export.deliver import Exporter
from assets.export.log import ExportLog
from resources.platform_api import ApiError
from tests.export.conftest import make_charge, make_client, stored
from tests.standins.base import Fault

DAY = "2026-10-24"


@pytest.fixture
def log(tmp_path):
    with ExportLog(tmp_path) as export_log:
        yield export_log


def statuses(log: ExportLog) -> dict[str, tuple[str, str | None]]:
    return {row[0]: (row[4], row[5]) for row in log.charges_of(DAY)}


def test_happy_path_batches_and_exact_payloads(server, log):
    charges = [make_charge(n) for n in range(7)] + [make_charge(n, intervals=False) for n in range(7, 9)]
    outcome = Exporter(make_client(server), log, batch_size=3).export(DAY, charges)
    assert (outcome.sent, outcome.duplicate, outcome.rejected, outcome.pending) == (9, 0, 0, 0)
    # 7 interval charges in batches of 3 (3 requests), 2 totals-only charges (1 request)
    assert outcome.requests == 4
    assert len(server.requests_to("charges.addWithIntervals")) == 3 and len(server.requests_to("charges.add")) == 4
    assert stored(server) == {c.key: c.payload for c in charges}
    assert set(statuses(log).values()) == {("DELIVERED", "Success")}
    assert len(server.requests_to("/v1/token")) == 1  # one token for the whole run


def test_rerun_sends_nothing_and_duplicates_are_delivered(server, log, tmp_path):
    charges = [make_charge(n) for n in range(5)]
    Exporter(make_client(server), log, batch_size=2).export(DAY, charges)
    requests_before = len(server.requests)
    again = Exporter(make_client(server), log, batch_size=2).export(DAY, charges)
    assert (again.sent, again.duplicate, again.already_delivered, again.requests) == (0, 0, 5, 0)
    assert len(server.requests) == requests_before  # not even a token request

    # A fresh log (e.g. another installation) meets a receiver that has the charges: Duplicate = delivered.
    (tmp_path / "other").mkdir()
    with ExportLog(tmp_path / "other") as other_log:
        outcome = Exporter(make_client(server), other_log, batch_size=2).export(DAY, charges + [make_charge(9)])
        assert (outcome.sent, outcome.duplicate, outcome.pending) == (1, 5, 0)
        assert {row[4] for row in other_log.charges_of(DAY)} == {"DELIVERED"}
        assert sorted(row[5] for row in other_log.charges_of(DAY)) == ["Duplicate"] * 5 + ["Success"]
    assert len(server.received) == 6


def test_token_expiry_mid_run_refreshes_once_and_loses_nothing(server, log):
    server.expire_tokens_after(2)  # the token dies after the second batch
    charges = [make_charge(n) for n in range(8)]
    client = make_client(server)
    outcome = Exporter(client, log, batch_size=2).export(DAY, charges)
    assert (outcome.sent, outcome.pending) == (8, 0)
    assert len(server.requests_to("/v1/token")) == 2
    charge_requests = server.requests_to("charges.addWithIntervals")
    # 4 batches + the one refused with 401 and repeated with the new token
    assert len(charge_requests) == 5
    assert charge_requests[2].headers["authorization"] != charge_requests[3].headers["authorization"]
    assert len(server.received) == 8


def test_one_bad_charge_is_bisected_out_with_the_receivers_message(server, log):
    charges = [make_charge(n) for n in range(8)]
    server.reject("1005", "chargePointExternalId CP-HMC-000072 is not registered for charge 1005")
    outcome = Exporter(make_client(server), log, batch_size=8).export(DAY, charges)
    assert (outcome.sent, outcome.rejected, outcome.pending) == (7, 1, 0)
    # 8 -> [4 ok] + [4 bad] -> [2 ok] + [2 bad] -> [1 ok] + [1 bad]: 7 requests, 3 of them refused batches
    assert outcome.requests == 7 and outcome.batch_rejections == 3
    assert outcome.rejected_keys == [("1005", "CP-HMC-000072")]
    rows = {row[0]: row for row in log.charges_of(DAY)}
    assert rows["1005"][4] == "REJECTED" and "not registered for charge 1005" in rows["1005"][6]
    assert {k for k, row in rows.items() if row[4] == "DELIVERED"} == {str(1000 + n) for n in range(8)} - {"1005"}
    assert ("1005", "CP-HMC-000072") not in server.received and len(server.received) == 7
    # A re-run does not send the rejected charge again while its data is unchanged.
    again = Exporter(make_client(server), log, batch_size=8).export(DAY, charges)
    assert (again.requests, again.still_rejected, again.already_delivered) == (0, 1, 7)


def test_a_charge_breaking_the_receivers_validation_is_quarantined_alone(server, log):
    good = [make_charge(n) for n in range(3)]
    bad = make_charge(3, kwh_total="9.99")  # intervals sum to 5.25 kWh: the receiver refuses the request
    outcome = Exporter(make_client(server), log, batch_size=10).export(DAY, good + [bad])
    assert (outcome.sent, outcome.rejected) == (3, 1)
    message = {row[0]: row[6] for row in log.charges_of(DAY)}["1003"]
    assert "intervals sum to 5.25 kWh, not consumptionKwh 9.99" in message


def test_429_storm_honours_retry_after(server, log):
    server.inject(*[Fault(status=429, body={"message": "Too Many Attempts."}, headers={"Retry-After": "7"},
                          path_contains="charges") for _ in range(4)])
    slept: list[float] = []
    outcome = Exporter(make_client(server, slept), log, batch_size=10).export(DAY, [make_charge(n) for n in range(3)])
    assert (outcome.sent, outcome.pending) == (3, 0)
    assert slept == [7.0, 7.0, 7.0, 7.0]  # exactly what Retry-After asked, four times
    assert len(server.requests_to("charges")) == 5 and len(server.received) == 3


def test_5xx_without_retry_after_backs_off_exponentially(server, log):
    server.inject(*[Fault(status=503, body={"message": "down"}, path_contains="charges") for _ in range(3)])
    slept: list[float] = []
    outcome = Exporter(make_client(server, slept, backoff_seconds=1.0), log).export(DAY, [make_charge(1)])
    assert outcome.sent == 1 and len(slept) == 3
    # exponential with jitter: the third wait is at least 4 s (1, 2, 4 … plus up to 1 s of jitter)
    assert 1.0 <= slept[0] <= 2.0 and 4.0 <= slept[2] <= 5.0


def test_storm_longer_than_the_retries_leaves_pendings_that_a_later_run_delivers(server, log):
    server.inject(*[Fault(status=429, headers={"Retry-After": "1"}, path_contains="charges") for _ in range(3)])
    charges = [make_charge(n) for n in range(4)]
    first = Exporter(make_client(server, max_retries=2), log, batch_size=2).export(DAY, charges)
    assert first.sent == 0 and first.pending == 4 and "gave up after 3 attempts" in first.unavailable
    assert {row[4] for row in log.charges_of(DAY)} == {"PENDING"}
    attempts = log.attempts_of(DAY)
    assert [a[7] for a in attempts] == ["FAILED", "FAILED"]  # only the first batch was tried
    second = Exporter(make_client(server), log, batch_size=2).export(DAY, charges)
    assert (second.sent, second.resent_pending, second.pending) == (4, 4, 0)
    assert len(server.received) == 4


def test_receiver_dying_after_storing_is_resolved_as_duplicate(server, log):
    server.die_after_receiving(1)
    charges = [make_charge(n) for n in range(3)]
    outcome = Exporter(make_client(server), log, batch_size=10).export(DAY, charges)
    # stored, connection dropped, retried: the receiver says Duplicate, which is delivered too
    assert (outcome.sent, outcome.duplicate, outcome.pending) == (0, 3, 0)
    assert len(server.received) == 3 and [set(a.values()) for a in server.answers] == [{"Success"}, {"Duplicate"}]


def test_refused_credentials_stop_the_export_with_a_clear_error(server, log):
    client = make_client(server, client_secret="not-the-secret")
    with pytest.raises(ApiError) as failure:
        Exporter(client, log).export(DAY, [make_charge(1)])
    assert failure.value.status == 401 and "invalid_client" in str(failure.value)
    assert {row[4] for row in log.charges_of(DAY)} == {"PENDING"}  # logged, re-sent once the secret is fixed


def test_a_key_held_by_another_session_is_a_collision_not_a_send(server, log):
    server.inject(Fault(status=503, path_contains="charges"))
    first = make_charge(1)
    Exporter(make_client(server, max_retries=0), log).export(DAY, [first])  # logged, outcome unknown: PENDING
    other = dataclasses.replace(make_charge(1), session_id="ocpp:CP-HMC-000072:1001#reused")
    outcome = Exporter(make_client(server), log).export(DAY, [other])
    assert [(c.session_id, holder) for c, holder in outcome.collisions] == [(other.session_id, first.session_id)]
    assert outcome.sent == 1 and outcome.resent_pending == 1  # the pending one went out, the collision did not
    assert len(server.received) == 1
