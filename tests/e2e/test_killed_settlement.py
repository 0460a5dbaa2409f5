"""A settlement killed with SIGKILL mid-run: the next `make settle` marks the orphaned run failed and re-runs the
day to completion, and the warehouse Parquet is byte-identical to an uninterrupted run's."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.interrupted_runs import RUNNER_TAG, mark_interrupted_runs_failed

ROOT = Path(__file__).resolve().parents[2]
DAY = "2026-10-24"  # the first landing day of a one-day generation starting there


def _env(base: Path, landing: Path) -> dict[str, str]:
    home = base / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((ROOT / "pipelines" / "dagster.yaml").read_text())
    return dict(os.environ, CHARGELEDGER_LANDING=str(landing), CHARGELEDGER_WAREHOUSE=str(base / "warehouse"),
                DAGSTER_HOME=str(home))


def _settle(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "pipelines.demo", "--day", DAY], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _parquet_digests(warehouse: Path) -> dict[str, str]:
    return {str(p.relative_to(warehouse)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(warehouse.rglob("*.parquet"))}


def _materializations(instance: dg.DagsterInstance, run_id: str) -> int:
    return len(instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records)


# Three settlements of one small day (clean, killed, re-run): about 3.5 minutes on an idle 2-core machine,
# more than the suite's default 300 s when the machine is shared.
@pytest.mark.timeout(900)
def test_killed_settlement_is_marked_failed_and_rerun_is_byte_identical(tmp_path):
    landing = tmp_path / "landing"
    subprocess.run([sys.executable, "-m", "data.generate", "--out", str(landing), "--seed", "3", "--start", DAY,
                    "--days", "1", "--sessions-per-day", "30"], cwd=ROOT, check=True, capture_output=True, timeout=300)

    clean_env = _env(tmp_path / "clean", landing)
    _settle(clean_env)
    clean = _parquet_digests(tmp_path / "clean" / "warehouse")
    assert len(clean) > 10

    env = _env(tmp_path / "killed", landing)
    victim = subprocess.Popen([sys.executable, "-m", "pipelines.demo", "--day", DAY], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        deadline = time.monotonic() + 600
        run = None
        while time.monotonic() < deadline and victim.poll() is None:
            started = [r for r in instance.get_runs(filters=dg.RunsFilter(job_name="nightly_settlement"))
                       if r.status == dg.DagsterRunStatus.STARTED]
            if started and _materializations(instance, started[0].run_id) >= 3:
                run = started[0]
                break
            time.sleep(0.1)
        assert run is not None, "the settlement never got going (or ended before it could be killed)"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        written = _materializations(instance, run.run_id)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # left dangling
        assert run.tags[RUNNER_TAG].split(":")[1] == str(victim.pid)

        output = _settle(env)  # the demo runner's check on start, then the re-run of the day
        assert f"interrupted earlier: nightly_settlement[{DAY}] run {run.run_id}" in output
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        reruns = [r for r in instance.get_runs(filters=dg.RunsFilter(job_name="nightly_settlement"))
                  if r.run_id != run.run_id]
        assert [r.status for r in reruns] == [dg.DagsterRunStatus.SUCCESS]
    assert 3 <= written < len(clean)  # really killed mid-way
    assert _parquet_digests(tmp_path / "killed" / "warehouse") == clean


def test_only_runs_of_a_dead_runner_are_failed(tmp_path):
    """A tagged run whose process is alive (here: this test process) is left alone; an untagged one too."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    script = (
        "import os, signal, sys, dagster as dg\n"
        "from pipelines.interrupted_runs import RUNNER_TAG, runner_identity, runner_tags\n"
        "@dg.op\n"
        "def die():\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "@dg.job\n"
        "def doomed():\n"
        "    die()\n"
        "tags = {'dead': runner_tags(), 'alive': {RUNNER_TAG: runner_identity(os.getppid())}, 'untagged': {}}\n"
        "doomed.execute_in_process(instance=dg.DagsterInstance.get(), tags={**tags[sys.argv[1]], 'case': sys.argv[1]})\n"
    )
    for case in ("dead", "alive", "untagged"):
        done = subprocess.run([sys.executable, "-c", script, case], cwd=ROOT, env=dict(os.environ, DAGSTER_HOME=str(home)),
                              capture_output=True, timeout=300)
        assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        failed = mark_interrupted_runs_failed(instance)
        assert [r.tags["case"] for r in failed] == ["dead"]
        status = {r.tags["case"]: r.status for r in instance.get_runs()}
        assert status == {"dead": dg.DagsterRunStatus.FAILURE, "alive": dg.DagsterRunStatus.STARTED,
                          "untagged": dg.DagsterRunStatus.STARTED}
        assert mark_interrupted_runs_failed(instance) == []  # a second check finds nothing new
