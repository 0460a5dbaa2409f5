"""Scale machinery of the OCPP ingest gives the same bytes as the plain run.

A generated fleet's OCPP landing days (with injected faults: replays, resets, clock errors, ...) are
ingested twice: once as one charge-point group in-process, once cut into many small groups run by a
two-process pool. Every partition of ``ocpp_messages``, ``meter_readings``, ``transactions`` and their
quarantine must be byte-identical, and the conservation checks must pass in both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import assets.ingest.ocpp.assets as ocpp_assets
from assets.ingest.ocpp.frames import split_lines
from assets import parallel
from assets.parallel import WORKERS_ENV, map_groups
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource
from tests.ocpp.conftest import materialize_partition

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("ocpp_messages", "meter_readings", "transactions", "quarantine")


@pytest.fixture(scope="module")
def fleet_landing(tmp_path_factory) -> Path:
    """Two generated days of OCPP landing files (seeded, so the same on every run)."""
    root = tmp_path_factory.mktemp("fleet") / "landing"
    subprocess.run([sys.executable, "-m", "data.generate", "--out", str(root), "--seed", "11", "--days", "1",
                    "--sessions-per-day", "20", "--sources", "ocpp"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return root


def _ingest(landing_root: Path, warehouse_root: Path) -> dict[str, bytes]:
    landing = LandingZoneResource(root=str(landing_root))
    warehouse = WarehouseResource(root=str(warehouse_root))
    days = sorted(landing.landing_dates("ocpp"))
    assert len(days) >= 2
    for day in days:
        result = materialize_partition(warehouse, landing, day)
        assert result.success
        assert all(check.passed for check in result.get_asset_check_evaluations())
    files = {}
    for table in TABLES:
        for path in sorted(warehouse.table_path(table).rglob("*.parquet")):
            files[str(path.relative_to(warehouse.root_path))] = path.read_bytes()
    return files


def test_many_groups_in_a_pool_give_the_same_bytes(fleet_landing, tmp_path, monkeypatch):
    monkeypatch.setenv(WORKERS_ENV, "1")
    plain = _ingest(fleet_landing, tmp_path / "plain")
    monkeypatch.setattr(ocpp_assets, "GROUP_FRAMES", 400)
    monkeypatch.setattr(parallel, "MIN_POOLED_GROUPS", 2)
    monkeypatch.setenv(WORKERS_ENV, "2")
    pooled = _ingest(fleet_landing, tmp_path / "pooled")
    assert sorted(pooled) == sorted(plain)
    assert len([name for name in plain if name.startswith("meter_readings/")]) >= 2
    different = [name for name in plain if plain[name] != pooled[name]]
    assert different == []
    readings = pl.read_parquet(tmp_path / "plain" / "meter_readings" / "**" / "*.parquet")
    assert readings.height > 1000
    assert readings.get_column("charge_point_id").n_unique() >= 4  # so GROUP_FRAMES=400 makes several groups


def _square_sum(values: list[int], offset: int) -> int:
    return sum(v * v for v in values) + offset


def test_map_groups_keeps_order_with_bounded_in_flight(monkeypatch):
    monkeypatch.setenv(WORKERS_ENV, "2")
    arguments = (([i, i + 1], i) for i in range(7))  # 7 groups >= MIN_POOLED_GROUPS: the pool runs them
    assert list(map_groups(_square_sum, arguments, 7)) == [i * i + (i + 1) ** 2 + i for i in range(7)]


def test_landing_lines_split_on_newline_only():
    text = '{"a": "x\u2028y"}\r\n{"b": 1}\n\n{"c": "\x1c"}\n'
    assert split_lines(text) == ['{"a": "x\u2028y"}', '{"b": 1}', "", '{"c": "\x1c"}']


def _polars_threads() -> tuple[int, str | None]:
    return pl.thread_pool_size(), os.environ.get("POLARS_MAX_THREADS")


@pytest.mark.parametrize(("user_setting", "expected"), [(None, 1), ("3", 3)])
def test_pool_workers_share_the_cores_among_their_polars_threads(user_setting, expected, monkeypatch, fresh_pool):
    # Two workers on two cores get one polars thread each (the parent keeps its own); a user's setting wins.
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    if user_setting is None:
        monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    else:
        monkeypatch.setenv("POLARS_MAX_THREADS", user_setting)
    pool = fresh_pool(2)
    answers = {future.result() for future in [pool.submit(_polars_threads) for _ in range(4)]}
    assert answers == {(expected, str(expected))}
    assert parallel.worker_polars_threads(2, cores=8) == 4
    assert parallel.worker_polars_threads(3, cores=2) == 1
    assert os.environ.get("POLARS_MAX_THREADS") == user_setting  # the parent's environment is as it was


def _shard_step(warehouse, landing, label, shard):
    """A step of one shard: its label and index, the process it ran in, and whether that process had a pool then."""
    return label, shard.index, os.getpid(), parallel._pool is not None


def test_a_date_run_whole_stops_the_idle_pool_first(tmp_path, monkeypatch):
    # A date split in shards runs them on the pool; the next date, run whole in this process, first stops the pool
    # so workers idle since the shards give their memory back; a later split date starts a new pool.
    from assets.ingest.ocpp.shards import WHOLE, run_shards, split

    monkeypatch.setattr(parallel, "_pool", None)
    warehouse = WarehouseResource(root=str(tmp_path / "warehouse"))
    try:
        split_run = run_shards(_shard_step, split(2), warehouse, None, "split")
        assert [index for _, index, _, _ in split_run] == [0, 1]
        assert all(pid != os.getpid() for _, _, pid, _ in split_run)
        workers = list(parallel._pool._processes.values())
        assert workers and all(worker.is_alive() for worker in workers)

        (whole,) = run_shards(_shard_step, [WHOLE], warehouse, None, "whole")
        assert whole == ("whole", 0, os.getpid(), False)
        assert parallel._pool is None and not any(worker.is_alive() for worker in workers)

        again = run_shards(_shard_step, split(2), warehouse, None, "again")
        assert [label for label, *_ in again] == ["again", "again"] and parallel._pool is not None
    finally:
        parallel.close_shared_pool()
