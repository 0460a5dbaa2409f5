"""Where the work runs and where the tables live change nothing in the results: the nightly settlement,
monthly invoicing and export of one small day, run in-process on a local warehouse, then

- on Dagster's multiprocess executor (a process per step, independent steps at once), and
- with the warehouse on an object store (a loopback S3 server),

write exactly the same Parquet bytes, and finance reads the same summary line for line. Split into charge-point
shards (``CHARGELEDGER_OCPP_SHARDS``), the OCPP tables hold the same rows in one file per shard and every other
table is the same bytes; on the multiprocess executor each shard is a step of its own and the bytes are the same;
settled again unsplit, the warehouse is the unsplit one, byte for byte. Generated with its JSON-lines files
compressed (``--compress zstd|gzip``), the same day settles to the same rows in every table and the same summary."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import dagster as dg
import polars as pl
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
    """(landing zone, Parquet digests, finance lines, warehouse) of the in-process run on a local warehouse."""
    base = tmp_path_factory.mktemp("placement")
    landing = base / "landing"
    subprocess.run([sys.executable, "-m", "data.generate", "--out", str(landing), "--seed", "5", "--start", DAY,
                    "--days", "1", "--sessions-per-day", "40"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    summary = _settle(_env(base / "in_process", landing))
    warehouse = base / "in_process" / "warehouse"
    digests = _parquet_digests(warehouse)
    assert len(digests) > 10
    return landing, digests, _finance_lines(summary, warehouse), warehouse


@pytest.mark.timeout(900)
def test_multiprocess_settlement_is_byte_identical_to_in_process(baseline, tmp_path):
    landing, digests, lines, _ = baseline
    summary = _settle(_env(tmp_path, landing), "multiprocess")
    assert _parquet_digests(tmp_path / "warehouse") == digests
    assert _finance_lines(summary, tmp_path / "warehouse") == lines


@pytest.mark.timeout(900)
def test_settlement_on_an_object_store_writes_the_local_bytes(baseline, tmp_path):
    landing, digests, lines, _ = baseline
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


def _rows_without_file_suffix(warehouse, table: str) -> pl.DataFrame:
    """A table's rows, with a compressed landing file's suffix taken out of every text (record references name
    the file they came from: ``ocpp/.../csms-vlt.jsonl.zst:12``)."""
    rows = pl.read_parquet(warehouse / table / "**" / "*.parquet", hive_partitioning=True)
    return rows.with_columns(pl.col(pl.String).str.replace_all(r"\.jsonl\.(zst|gz)", ".jsonl"))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("codec", ["zstd", "gzip"])
def test_compressed_landing_files_settle_to_the_same_results(baseline, tmp_path, codec):
    _, digests, lines, whole = baseline
    landing = tmp_path / "landing"
    subprocess.run([sys.executable, "-m", "data.generate", "--out", str(landing), "--seed", "5", "--start", DAY,
                    "--days", "1", "--sessions-per-day", "40", "--compress", codec], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    suffix = {"zstd": ".zst", "gzip": ".gz"}[codec]
    packed = {path.relative_to(landing).parts[0] for path in landing.rglob(f"*.jsonl{suffix}")}
    plain = [path for path in landing.rglob("*.jsonl") if not path.name.startswith("_")]  # _: the generator's own
    assert {"ocpp", "ocpi_cdrs"} <= packed and not plain
    summary = _settle(_env(tmp_path, landing))
    tables = {path.split("/")[0] for path in digests}
    assert {path.split("/")[0] for path in _parquet_digests(tmp_path / "warehouse")} == tables
    for table in sorted(tables):
        compressed = _rows_without_file_suffix(tmp_path / "warehouse", table)
        assert compressed.equals(_rows_without_file_suffix(whole, table)), table
    assert _rows_without_file_suffix(whole, "ocpp_messages").height > 1000
    assert _finance_lines(summary, tmp_path / "warehouse") == lines


OCPP_TABLES = ("ocpp_messages", "meter_readings", "transactions")


def _step_keys(env: dict[str, str]) -> set[str]:
    """The keys of the steps that ran in the nightly settlement runs of ``env``'s Dagster instance."""
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        return {event.step_key for run in instance.get_runs(dg.RunsFilter(job_name="nightly_settlement"))
                for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)}


def _ocpp_rows(warehouse, table: str) -> pl.DataFrame:
    return pl.read_parquet(warehouse / table / "**" / "*.parquet", hive_partitioning=True).sort(
        pl.all().exclude(pl.List, pl.Struct), nulls_last=True, maintain_order=True)


@pytest.mark.timeout(1200)
def test_charge_point_shards_change_the_files_not_the_results(baseline, tmp_path):
    landing, digests, lines, whole = baseline
    env = dict(_env(tmp_path, landing), CHARGELEDGER_OCPP_SHARDS="2")
    summary = _settle(env)
    split = _parquet_digests(tmp_path / "warehouse")
    outside = {path: digest for path, digest in split.items() if path.split("/")[0] not in OCPP_TABLES}
    assert outside == {path: digest for path, digest in digests.items() if path.split("/")[0] not in OCPP_TABLES}
    for table in OCPP_TABLES:
        assert any(path.startswith(f"{table}/") and path.endswith("part-1.parquet") for path in split)
        assert _ocpp_rows(tmp_path / "warehouse", table).equals(_ocpp_rows(whole, table))
    assert _finance_lines(summary, tmp_path / "warehouse") == lines
    # On the multiprocess executor every shard is a step of its own, and the bytes are the same.
    steps_env = dict(_env(tmp_path / "steps", landing), CHARGELEDGER_OCPP_SHARDS="2")
    _settle(steps_env, "multiprocess")
    assert _parquet_digests(tmp_path / "steps" / "warehouse") == split
    for table in OCPP_TABLES:
        assert {f"{table}.{table}_shards[shard_0]", f"{table}.{table}_shards[shard_1]"} <= _step_keys(steps_env)
    # The same split again writes the same bytes; settled unsplit, the shard files go and the bytes are one run's.
    _settle(env)
    assert _parquet_digests(tmp_path / "warehouse") == split
    _settle(dict(env, CHARGELEDGER_OCPP_SHARDS="1"))
    assert _parquet_digests(tmp_path / "warehouse") == digests
