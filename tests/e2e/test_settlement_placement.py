"""Where the work runs and where the tables live change nothing in the results: the nightly settlement,
monthly invoicing and export of one small day, run in-process on a local warehouse, then

- on Dagster's multiprocess executor (a process per step, independent steps at once), and
- with the warehouse on an object store (a loopback S3 server),

write exactly the same Parquet bytes, and finance reads the same summary line for line."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from tests.e2e.test_killed_settlement import DAY, ROOT, _env, _parquet_digests
from tests.standins.object_store import S3Standin


def _settle(env: dict[str, str], executor: str = "in_process") -> str:
    done = subprocess.run([sys.executable, "-m", "pipelines.demo", "--day", DAY, "--executor", executor], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _finance_lines(summary: str, local_folder) -> list[str]:
    """The summary without its first line and with the run's local folder as WORK."""
    return summary.replace(str(local_folder), "WORK").splitlines()[1:]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """(landing zone, Parquet digests, finance lines) of the in-process run on a local warehouse."""
    base = tmp_path_factory.mktemp("placement")
    landing = base / "landing"
    subprocess.run([sys.executable, "-m", "data.generate", "--out", str(landing), "--seed", "5", "--start", DAY,
                    "--days", "1", "--sessions-per-day", "40"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    summary = _settle(_env(base / "in_process", landing))
    digests = _parquet_digests(base / "in_process" / "warehouse")
    assert len(digests) > 10
    return landing, digests, _finance_lines(summary, base / "in_process" / "warehouse")


@pytest.mark.timeout(900)
def test_multiprocess_settlement_is_byte_identical_to_in_process(baseline, tmp_path):
    landing, digests, lines = baseline
    summary = _settle(_env(tmp_path, landing), "multiprocess")
    assert _parquet_digests(tmp_path / "warehouse") == digests
    assert _finance_lines(summary, tmp_path / "warehouse") == lines


@pytest.mark.timeout(900)
def test_settlement_on_an_object_store_writes_the_local_bytes(baseline, tmp_path):
    landing, digests, lines = baseline
    with S3Standin() as s3:
        url = s3.bucket("chargeledger")
        env = dict(_env(tmp_path, landing), **s3.env, CHARGELEDGER_WAREHOUSE=f"{url}/warehouse",
                   CHARGELEDGER_WAREHOUSE_LOCAL=str(tmp_path / "state"))
        summary = _settle(env)
        tables = {key.removeprefix("warehouse/"): hashlib.sha256(s3.read("chargeledger", key)).hexdigest()
                  for key in s3.keys("chargeledger") if key.endswith(".parquet")}
    assert tables == digests
    assert not list((tmp_path / "state").rglob("*.parquet"))  # no table went to local disk
    # the catalog, registers and documents are local (under WORK), the tables in the bucket
    finance = _finance_lines(summary, tmp_path / "state")
    assert [line for line in finance if "Parquet tables under" not in line] == \
        [line for line in lines if "Parquet tables under" not in line]
    assert any(f"Parquet tables under {url}/warehouse/<table>/" in line for line in finance)
