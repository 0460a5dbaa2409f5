"""Settlement-side assets work batch by batch of consecutive session ids (`assets.session_batches`): the batches
cover every id exactly once, never split a session, and any batch size gives the whole-day result."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from assets.consumption import build
from assets.consumption.tables import METER_CURVES
from assets.session_batches import SessionBatch, batches_of, read_batch, session_batches

from .test_assets import DAY, _materialize, seeded  # noqa: F401  (the fixture)

IDS = ["s-3", "s-1", "s-5", "s-2", "s-4", "s-1"]  # unsorted, one id twice


def _members(batch: SessionBatch, ids: list[str | None]) -> list[str | None]:
    frame = pl.DataFrame({"session_id": ids}, schema={"session_id": pl.String})
    return frame.filter(batch.where())["session_id"].to_list()


def test_batches_cut_every_size_distinct_ids():
    assert batches_of(IDS, 2) == [SessionBatch(None, "s-3"), SessionBatch("s-3", "s-5"), SessionBatch("s-5", None)]
    assert batches_of(IDS, 5) == [SessionBatch(None, None)]
    assert batches_of(IDS, 6) == [SessionBatch(None, None)]
    assert batches_of([], 3) == [SessionBatch(None, None)]  # an empty day is still one (empty) batch
    with pytest.raises(ValueError, match="at least one session"):
        batches_of(IDS, 0)


def test_batches_cover_every_id_once_and_never_split_a_session():
    # Rows of another table: several rows per session, ids outside the day's range, a null id.
    rows = ["a-0", "s-1", "s-1", "s-2", "s-3", "s-3", "s-3", "s-4", "s-5", "s-5", "z-9", None]
    batches = batches_of(IDS, 2)
    parts = [_members(batch, rows) for batch in batches]
    assert parts == [["a-0", "s-1", "s-1", "s-2", None], ["s-3", "s-3", "s-3", "s-4"], ["s-5", "s-5", "z-9"]]
    assert sorted(r for part in parts for r in part if r) == sorted(r for r in rows if r)
    owners = {r: i for i, part in enumerate(parts) for r in part}
    assert all(sum(r in part for part in parts) == 1 for r in owners)  # a session lies in one batch only


def test_read_batch_reads_one_batch_of_one_partition(seeded):  # noqa: F811
    day_batches = session_batches(seeded, DAY, 2)
    assert len(day_batches) == 2  # four sessions
    whole = seeded.read("sessions", settlement_date=DAY)["session_id"].sort().to_list()
    read = [read_batch(seeded, "sessions", b, columns=["session_id"], settlement_date=DAY)["session_id"].sort().to_list()
            for b in day_batches]
    assert [len(part) for part in read] == [2, 2] and read[0] + read[1] == whole
    assert read_batch(seeded, "sessions", day_batches[0], settlement_date=dt.date(2026, 1, 1)).height == 0


@pytest.mark.parametrize("size", [1, 2, 3])
def test_any_batch_size_gives_the_whole_day_result(seeded, size):  # noqa: F811
    _materialize(seeded)  # every consumption partition of the day, so each step's input is there
    assert seeded.read(METER_CURVES.name, session_settlement_date=DAY).height > 0
    for compute in (lambda n: build.charging_periods(seeded, DAY, sessions_per_batch=n),
                    lambda n: build.clock_aligned(seeded, DAY, 30, sessions_per_batch=n),
                    lambda n: build.electricity_cost(seeded, DAY, sessions_per_batch=n)):
        whole, batched = compute(10_000), compute(size)
        assert batched.table.equals(whole.table)
        assert batched.metadata == whole.metadata
        assert batched.mismatches.equals(whole.mismatches) and batched.checked == whole.checked
    periods = build.charging_periods(seeded, DAY, sessions_per_batch=size)
    assert periods.metadata["sessions"] == 3 and periods.metadata["sessions_unusable"] == 1
    assert periods.table["session_id"].n_unique() == 3
    aligned = build.clock_aligned(seeded, DAY, 30, sessions_per_batch=size)
    # Energy is conserved per session: 3000 Wh metered, 2000 Wh from interval data, 5000 Wh from the CDR.
    per_session = dict(aligned.table.group_by("session_id").agg(pl.col("energy_wh").sum()).iter_rows())
    assert per_session == {"ocpp:CP-1:1": 3000, "interval:acme:c-1": 2000, "ocpi:NL-ABC:cdr-9": 5000}
    assert aligned.metadata["energy_kwh"] == 10.0 and aligned.metadata["sessions_unusable"] == 1
