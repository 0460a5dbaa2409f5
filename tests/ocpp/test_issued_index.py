"""A 1.6 StartTransaction request gets the transaction id its answer issued (``apply_issued`` over an
``IssuedIndex``): the first answer to a request wins, an id the request already has is kept, only start
requests are touched, and a request with a null key part never matches (as in the join it replaced)."""

import polars as pl

from assets.ingest.ocpp.frames import apply_issued, issued_index

SCHEMA = {"charge_point_id": pl.String(), "direction": pl.String(), "message_id": pl.String(),
          "message_type": pl.String(), "action": pl.String(), "transaction_id": pl.String()}


def _frame(rows):
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


ANSWERS = _frame([
    # answers travel "out"; the request they answer came "in"
    ("CP-1", "out", "m1", "CALLRESULT", "StartTransaction", "ocpp:CP-1:101"),
    ("CP-1", "out", "m1", "CALLRESULT", "StartTransaction", "ocpp:CP-1:999"),  # a second answer: not used
    ("CP-2", "out", "m1", "CALLRESULT", "StartTransaction", "ocpp:CP-2:7"),
    ("CP-3", "out", None, "CALLRESULT", "StartTransaction", "ocpp:CP-3:5"),   # no message id: never matches
    ("CP-4", "out", "m9", "CALLRESULT", "Heartbeat", None),
])


def test_start_requests_get_the_first_answers_id_and_nothing_else_changes():
    bucket = _frame([
        ("CP-1", "in", "m1", "CALL", "StartTransaction", None),
        ("CP-2", "in", "m1", "CALL", "StartTransaction", "ocpp:CP-2:already"),
        ("CP-2", "in", "m2", "CALL", "StartTransaction", None),       # no answer
        ("CP-3", "in", None, "CALL", "StartTransaction", None),       # null key part
        ("CP-1", "in", "m1", "CALL", "MeterValues", None),            # not a start request
        ("CP-1", "out", "m1", "CALLRESULT", "StartTransaction", "ocpp:CP-1:101"),
    ])
    got = apply_issued(bucket, issued_index(ANSWERS))
    assert got.columns == bucket.columns
    assert got.get_column("transaction_id").to_list() == [
        "ocpp:CP-1:101", "ocpp:CP-2:already", None, None, None, "ocpp:CP-1:101"]
    assert got.drop("transaction_id").equals(bucket.drop("transaction_id"))


def test_an_empty_index_or_a_bucket_without_start_requests_is_returned_as_is():
    bucket = _frame([("CP-1", "in", "m1", "CALL", "StartTransaction", None)])
    assert apply_issued(bucket, issued_index(ANSWERS.head(0))).equals(bucket)
    no_starts = _frame([("CP-1", "in", "m1", "CALL", "Heartbeat", None)])
    assert apply_issued(no_starts, issued_index(ANSWERS)).equals(no_starts)
