"""The nightly settlement on Dagster's multiprocess executor (a process per step, independent steps at once)
writes exactly the warehouse the in-process run writes: the split of one day into parallel steps changes
where the work runs, not what it produces."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.test_killed_settlement import DAY, ROOT, _env, _parquet_digests


def _settle(env: dict[str, str], executor: str) -> str:
    done = subprocess.run([sys.executable, "-m", "pipelines.demo", "--day", DAY, "--executor", executor], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.timeout(900)
def test_multiprocess_settlement_is_byte_identical_to_in_process(tmp_path):
    landing = tmp_path / "landing"
    subprocess.run([sys.executable, "-m", "data.generate", "--out", str(landing), "--seed", "5", "--start", DAY,
                    "--days", "1", "--sessions-per-day", "40"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    in_process = _settle(_env(tmp_path / "in_process", landing), "in_process")
    multiprocess = _settle(_env(tmp_path / "multiprocess", landing), "multiprocess")

    serial = _parquet_digests(tmp_path / "in_process" / "warehouse")
    parallel = _parquet_digests(tmp_path / "multiprocess" / "warehouse")
    assert len(serial) > 10
    assert parallel == serial
    # what finance reads is the same, line for line (the summary is read back from the catalog)
    assert multiprocess.replace(str(tmp_path / "multiprocess"), "WORK").splitlines()[1:] == \
        in_process.replace(str(tmp_path / "in_process"), "WORK").splitlines()[1:]
