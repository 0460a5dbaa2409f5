"""The instance storage of pipelines/dagster.yaml (resources/dagster_storage.py): Dagster's SQLite files, written
through kept engines, readable by Dagster's own storage, committed per event, and fork-safe."""

import multiprocessing
import os
import sqlite3
from pathlib import Path

import dagster as dg
import pytest

from resources.dagster_storage import (
    EngineCache,
    EventLogStorageWithEngineCache,
    RunStorageWithEngineCache,
    SqliteStorageWithEngineCache,
)

ROOT = Path(__file__).resolve().parents[2]
DAY = dg.DailyPartitionsDefinition(start_date="2026-10-01")


@dg.asset(partitions_def=DAY, check_specs=[dg.AssetCheckSpec("rows_positive", asset="counted")])
def counted(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Reports three rows for its partition and passes its check."""
    return dg.MaterializeResult(metadata={"rows": 3},
                                check_results=[dg.AssetCheckResult(check_name="rows_positive", passed=True)])


@dg.asset(partitions_def=DAY, deps=[counted])
def downstream() -> None:
    """Depends on `counted`."""


JOB = dg.Definitions(assets=[counted, downstream],
                     jobs=[dg.define_asset_job("both", selection=[counted, downstream])]).resolve_job_def("both")


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "pipelines" / "dagster.yaml").read_text())
    return home


def _event_types(home: Path, run_id: str) -> list[str]:
    with sqlite3.connect(home / "history" / "runs" / f"{run_id}.db") as con:
        return [row[0] for row in con.execute("select dagster_event_type from event_logs order by id")]


def test_the_project_instance_uses_it_and_dagster_reads_what_it_wrote(tmp_path, monkeypatch):
    home = _home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, EventLogStorageWithEngineCache)
        assert isinstance(instance.run_storage, RunStorageWithEngineCache)
        results = [JOB.execute_in_process(instance=instance, partition_key=day)
                   for day in ("2026-10-01", "2026-10-02", "2026-10-01")]
        assert all(r.success for r in results)
    # Dagster's own SQLite storage on the same folder sees every run, event, materialization and check
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {home}\n")
    with dg.DagsterInstance.from_config(str(plain)) as instance:
        runs = instance.get_runs()
        assert sorted(r.run_id for r in runs) == sorted(r.run_id for r in results)
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        materialized = instance.fetch_materializations(dg.AssetKey("counted"), limit=10).records
        assert sorted(m.partition_key for m in materialized) == ["2026-10-01", "2026-10-01", "2026-10-02"]
        assert materialized[0].asset_materialization.metadata["rows"].value == 3
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("counted"), "rows_positive")])
        assert list(check.values())[0].status.value == "SUCCEEDED"
    # each run's log holds the whole run, in order
    types = _event_types(home, results[0].run_id)
    assert types[:2] == ["ASSET_MATERIALIZATION_PLANNED"] * 2 and types[-1] == "PIPELINE_SUCCESS"
    assert types.count("STEP_SUCCESS") == 2 and types.count("ASSET_CHECK_EVALUATION") == 1


def test_each_event_is_committed_before_the_call_returns(tmp_path):
    """Another connection (the UI, or whatever reads after a crash) sees an event as soon as it is stored."""
    home = _home(tmp_path)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.create_run_for_job(JOB, tags={"dagster/partition": "2026-10-05"})
        instance.report_engine_event("marker", run)
        # read while the storage still holds its connections open
        with sqlite3.connect(home / "history" / "runs" / f"{run.run_id}.db") as con:
            stored = [row[0] for row in con.execute("select dagster_event_type from event_logs")]
        with sqlite3.connect(home / "history" / "runs.db") as con:
            assert con.execute("select count(*) from runs").fetchone()[0] == 1
    assert "ENGINE_EVENT" in stored and stored.count("ASSET_MATERIALIZATION_PLANNED") == 2


def test_engines_are_bounded_and_a_forked_child_opens_its_own(tmp_path):
    cache = EngineCache(size=2)
    strings = [f"sqlite:///{tmp_path / f'db{i}.sqlite'}" for i in range(4)]
    engines = [cache.get(s) for s in strings]
    assert cache.get(strings[3]) is engines[3]  # kept
    assert len(cache._engines) == 2 and cache.get(strings[0]) is not engines[0]  # noqa: SLF001 (evicted, made anew)
    with cache.get(strings[0]).connect() as conn:
        conn.exec_driver_sql("create table t (x)")
        conn.commit()
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    parent_engine = cache.get(strings[0])
    queue = multiprocessing.get_context("fork").Queue()

    def child():
        engine = cache.get(strings[0])
        with engine.connect() as conn:
            conn.exec_driver_sql("insert into t values (1)")
            conn.commit()
        queue.put(engine is not parent_engine)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(60)
    assert process.exitcode == 0 and queue.get(timeout=5) is True
    with cache.get(strings[0]).connect() as conn:
        assert conn.exec_driver_sql("select count(*) from t").scalar() == 1
    assert os.getpid() == cache._pid  # noqa: SLF001 (the parent kept its cache)
    cache.dispose()


def test_a_wiped_instance_records_new_runs_in_new_files(tmp_path, monkeypatch):
    home = _home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert JOB.execute_in_process(instance=instance, partition_key="2026-10-01").success
        instance.wipe()
        assert instance.get_runs() == []
        after = JOB.execute_in_process(instance=instance, partition_key="2026-10-02")
        assert after.success
    assert _event_types(home, after.run_id)[-1] == "PIPELINE_SUCCESS"
    assert len(list((home / "history" / "runs").glob("*-*-*-*-*.db"))) == 1
