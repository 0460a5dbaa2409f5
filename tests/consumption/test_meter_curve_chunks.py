"""`meter_curves` reads the meter data of its sessions chunk by chunk (memory follows a chunk, not the day): any
chunk size gives the same curve, the same quarantine rows and the same figures as one chunk of all sessions."""

from __future__ import annotations

import polars as pl
import pytest

from assets import parallel
from assets.consumption import build

from .test_assets import DAY, seeded  # noqa: F401  (the fixture)


def _curve(warehouse, sessions_per_chunk: int):
    parts: list[pl.DataFrame] = []
    result = build.meter_curves(warehouse, DAY, parts.append, sessions_per_chunk=sessions_per_chunk)
    return pl.concat(parts), result, len(parts)


@pytest.mark.parametrize("sessions_per_chunk", [1, 2])
def test_any_chunk_size_gives_the_same_curve(seeded, sessions_per_chunk):  # noqa: F811
    whole, whole_result, one = _curve(seeded, 10_000)
    chunked, result, chunks = _curve(seeded, sessions_per_chunk)
    # Chunks are cut from every session id of the day: four sessions, one of them unusable (no curve).
    assert one == 1 and chunks == -(-4 // sessions_per_chunk)
    assert chunked.equals(whole)
    assert whole.filter(pl.col("energy_wh").is_not_null()).height == 9
    assert result.metadata == whole_result.metadata
    assert result.metadata["rows_quarantined"] == 2 and result.metadata["sessions_with_curve"] == 1
    assert [(r.record_ref, r.reason_code) for r in result.rejections] == [
        (r.record_ref, r.reason_code) for r in whole_result.rejections]
    assert sorted((r.record_ref, r.reason_code) for r in result.rejections) == [
        ("f.jsonl:begin", "DUPLICATE_TIMESTAMP"), ("f.jsonl:glitch", "DROPOUT")]
    assert (result.rows_in, result.rows_accepted) == (whole_result.rows_in, whole_result.rows_accepted)


def test_chunks_built_by_pool_workers_give_the_same_curve(seeded, monkeypatch):  # noqa: F811
    whole, whole_result, _ = _curve(seeded, 10_000)
    # Four chunks of one session, built by two spawned workers (a real day pools from POOLED_CHUNKS chunks).
    monkeypatch.setattr(build, "POOLED_CHUNKS", 2)
    monkeypatch.setattr(build, "usable_cores", lambda: 2)
    monkeypatch.setattr(parallel, "MIN_POOLED_GROUPS", 2)
    pooled_workers = []
    real_map = build.map_groups
    monkeypatch.setattr(build, "map_groups", lambda *args: pooled_workers.append(args[3]) or real_map(*args))
    pooled, result, chunks = _curve(seeded, 1)
    assert pooled_workers == [2] and chunks == 4
    assert pooled.equals(whole)
    assert result.metadata == whole_result.metadata
    assert [(r.record_ref, r.reason_code) for r in result.rejections] == [
        (r.record_ref, r.reason_code) for r in whole_result.rejections]
    assert (result.rows_in, result.rows_accepted) == (whole_result.rows_in, whole_result.rows_accepted)
