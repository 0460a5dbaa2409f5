"""`meter_curves` rebuilds only the sessions whose meter data changed since the date's last run
(`assets.consumption.curve_cache`), and what it writes is byte for byte what a rebuild of every session writes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.consumption import curve_cache, saved_state
from assets.consumption.assets import meter_curves
from assets.ingest.ocpp.tables import METER_READINGS, TRANSACTIONS
from assets.sessions.tables import SESSIONS

from .test_assets import DAY, _full, _reading, seeded  # noqa: F401  (the fixture)

SECOND = "ocpp:CP-2:7"
LATER = dt.date(2026, 10, 26)


def _second_session(wh) -> None:
    """A second metered session beside the fixture's, with readings and a transaction of its own."""
    sessions = wh.read(SESSIONS, settlement_date=DAY)
    extra = sessions.filter(pl.col("session_id") == "ocpp:CP-1:1").with_columns(
        pl.lit(SECOND).alias("session_id"), pl.lit("7").alias("source_id"))
    wh.write_partition(SESSIONS, pl.concat([sessions, extra]).drop("settlement_date"), settlement_date=DAY)
    readings = wh.read(METER_READINGS, landing_date=DAY)
    second = [{**_reading(30 * i, 5000 + 400 * i), "transaction_id": SECOND, "charge_point_id": "CP-2",
               "record_ref": f"g.jsonl:{i}#mv0.sv0"} for i in range(5)]
    wh.write_partition(METER_READINGS, pl.concat([readings, _full(METER_READINGS, second)]).drop("landing_date"),
                       landing_date=DAY)


def _run(wh) -> tuple[dict, bytes, bytes]:
    """Materialize `meter_curves` for DAY: (its metadata, the partition's bytes, its quarantine slice's bytes)."""
    result = dg.materialize([meter_curves], partition_key=DAY.isoformat(), resources={"warehouse": wh})
    assert result.success
    (materialization,) = result.asset_materializations_for_node("meter_curves")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    root = Path(wh.root)
    curve = (root / "meter_curves" / f"session_settlement_date={DAY}" / "part-0.parquet").read_bytes()
    (quarantine,) = (root / "quarantine").glob(f"source_asset=meter_curves/partition_key={DAY}/part-0.parquet")
    return metadata, curve, quarantine.read_bytes()


def _figures(metadata: dict) -> dict:
    """The metadata a rebuild of every session must give too (without the reuse figures)."""
    return {k: v for k, v in metadata.items() if k not in ("sessions_reused", "sessions_built", "reuse")}


def _same_as_full_rebuild(wh, monkeypatch, cached: tuple[dict, bytes, bytes]) -> None:
    with monkeypatch.context() as patch:
        patch.setenv(saved_state.CACHE_ENV, "off")
        full = _run(wh)
    assert full[0]["sessions_reused"] == 0 and full[0]["reuse"] == f"{saved_state.CACHE_ENV}=off"
    assert _figures(cached[0]) == _figures(full[0])
    assert cached[1:] == full[1:]


def test_a_rerun_reuses_every_session_and_writes_the_same_bytes(seeded):  # noqa: F811
    _second_session(seeded)
    first = _run(seeded)
    assert (first[0]["sessions_reused"], first[0]["sessions_built"]) == (0, 4)
    assert first[0]["reuse"] == "no saved state for this date"
    assert first[0]["rows_quarantined"] == 2 and first[0]["sessions_with_curve"] == 2
    again = _run(seeded)
    assert (again[0]["sessions_reused"], again[0]["sessions_built"]) == (4, 0)
    assert again[0]["reuse"] == "reused the saved curves of unchanged sessions"
    assert _figures(again[0]) == _figures(first[0]) and again[1:] == first[1:]


def test_late_readings_rebuild_only_the_session_they_name(seeded, monkeypatch):  # noqa: F811
    _second_session(seeded)
    before = _run(seeded)
    # A later landing day brings one more reading of the second session (after its last one).
    late = [{**_reading(150, 7000), "landing_date": LATER, "transaction_id": SECOND, "charge_point_id": "CP-2",
             "record_ref": "late.jsonl:1#mv0.sv0"}]
    seeded.write_partition(METER_READINGS, _full(METER_READINGS, late).drop("landing_date"), landing_date=LATER)
    after = _run(seeded)
    assert (after[0]["sessions_reused"], after[0]["sessions_built"]) == (3, 1)
    assert after[0]["rows_accepted"] == before[0]["rows_accepted"] + 1 and after[1] != before[1]
    _same_as_full_rebuild(seeded, monkeypatch, after)


def test_a_session_added_to_the_date_is_built_and_one_removed_is_dropped(seeded, monkeypatch):  # noqa: F811
    first = _run(seeded)
    assert first[0]["sessions_built"] == 3
    _second_session(seeded)  # also rewrites the readings file: every session is rebuilt
    assert _run(seeded)[0]["reuse"].startswith("input file rewritten or removed: meter_readings/")
    sessions = seeded.read(SESSIONS, settlement_date=DAY)
    seeded.write_partition(SESSIONS, sessions.filter(pl.col("session_id") != SECOND).drop("settlement_date"),
                           settlement_date=DAY)
    dropped = _run(seeded)
    assert (dropped[0]["sessions_reused"], dropped[0]["sessions_built"]) == (3, 0)
    assert dropped[1:] == first[1:]
    seeded.write_partition(SESSIONS, sessions.drop("settlement_date"), settlement_date=DAY)
    added = _run(seeded)
    assert (added[0]["sessions_reused"], added[0]["sessions_built"]) == (3, 1)
    _same_as_full_rebuild(seeded, monkeypatch, added)


def test_a_changed_span_rebuilds_the_session(seeded):  # noqa: F811
    _run(seeded)
    sessions = seeded.read(SESSIONS, settlement_date=DAY)
    moved = sessions.with_columns(pl.when(pl.col("session_id") == "ocpp:CP-1:1")
                                  .then(pl.col("end_utc") + pl.duration(minutes=5)).otherwise(pl.col("end_utc")))
    seeded.write_partition(SESSIONS, moved.drop("settlement_date"), settlement_date=DAY)
    assert _run(seeded)[0]["sessions_built"] == 1


@pytest.mark.parametrize("change, why", [
    ("rewrite_input", "input file rewritten or removed: transactions/"),
    ("rewrite_output", "the meter_curves partition is not the one the saved state describes"),
    ("corrupt_cache", "no saved state for this date"),
    ("new_code", "the code changed"),
])
def test_anything_the_saved_state_cannot_vouch_for_rebuilds_every_session(seeded, monkeypatch, change, why):  # noqa: F811
    first = _run(seeded)
    if change == "rewrite_input":  # a landing day ingested again: same rows, a new file
        seeded.write_partition(TRANSACTIONS, seeded.read(TRANSACTIONS, landing_date=DAY).drop("landing_date"),
                               landing_date=DAY)
    elif change == "rewrite_output":  # e.g. a run that wrote the partition and failed before saving its state
        curve = seeded.read("meter_curves", session_settlement_date=DAY)
        seeded.write_partition("meter_curves", curve.drop("session_settlement_date"), session_settlement_date=DAY)
    elif change == "corrupt_cache":
        saved_state.state_path(seeded, "meter_curves", DAY).write_bytes(b"not parquet")
    else:
        monkeypatch.setattr(saved_state, "CODE_VERSION", "another")
    rebuilt = _run(seeded)
    assert rebuilt[0]["reuse"].startswith(why)
    assert (rebuilt[0]["sessions_reused"], rebuilt[0]["sessions_built"]) == (0, 3)
    assert rebuilt[1:] == first[1:] and _figures(rebuilt[0]) == _figures(first[0])
