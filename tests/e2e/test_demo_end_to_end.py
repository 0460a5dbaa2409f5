"""End to end: the demo generator's landing zone through the nightly settlement, checked against its manifest.

This is what `make demo` does, on a smaller fleet: generate, settle every landing day (with the late-data
re-settlements), then read the results back through the analyst catalog.
"""

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
DAYS, PER_DAY = 2, 150


def _run(args: list[str], env: dict) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _parquet_digests(warehouse: Path) -> dict[str, str]:
    return {str(p.relative_to(warehouse)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(warehouse.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def settled(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, CHARGELEDGER_LANDING=str(base / "landing"), CHARGELEDGER_WAREHOUSE=str(base / "warehouse"),
               DAGSTER_HOME=str(base / "dagster_home"))
    (base / "dagster_home").mkdir()
    (base / "dagster_home" / "dagster.yaml").write_text((ROOT / "pipelines" / "dagster.yaml").read_text())
    _run(["-m", "data.generate", "--out", str(base / "landing"), "--seed", "11", "--days", str(DAYS),
          "--sessions-per-day", str(PER_DAY)], env)
    first_output = _run(["-m", "pipelines.demo"], env)
    first = _parquet_digests(base / "warehouse")
    second_output = _run(["-m", "pipelines.demo"], env)
    manifest = json.loads((base / "landing" / "_manifest.json").read_text())
    con = duckdb.connect(str(base / "warehouse" / "chargeledger.duckdb"), read_only=True)
    yield {"con": con, "manifest": manifest, "output": first_output, "rerun_output": second_output,
           "first": first, "second": _parquet_digests(base / "warehouse")}
    con.close()


def test_every_delivered_session_is_settled_once(settled):
    con, manifest = settled["con"], settled["manifest"]
    expected = {(day, cur): v["sessions"] for day, by_cur in manifest["settlement"].items() for cur, v in by_cur.items()}
    rows = con.execute("select settlement_date::varchar, currency, count(*) from sessions where energy_wh > 0 "
                       "and not is_credit group by all").fetchall()
    assert {(d, c): n for d, c, n in rows} == expected
    # Every generated session, cancelled ones included, is in the catalog exactly once.
    generated = sum(day["sessions"] for day in manifest["sessions_by_day"].values())
    cancelled = sum(day.get("cancelled", 0) for day in manifest["sessions_by_day"].values())
    assert con.execute("select count(*) from sessions").fetchone()[0] == generated
    assert con.execute("select count(*) from sessions where energy_wh = 0").fetchone()[0] == cancelled
    assert con.execute("select count(*) - count(distinct session_id) from sessions").fetchone()[0] == 0


def test_energy_per_settlement_day_matches_the_meters(settled):
    con, manifest = settled["con"], settled["manifest"]
    expected = {(day, cur): v["energy_wh"] for day, by_cur in manifest["settlement"].items() for cur, v in by_cur.items()}
    rows = con.execute("select settlement_date::varchar, currency, sum(energy_wh) from sessions where not is_credit "
                       "group by all").fetchall()
    # Exact to the Wh, register faults (resets, rollbacks, zero placeholders, skewed clocks) included.
    assert {(d, c): wh for d, c, wh in rows} == {k: float(v) for k, v in expected.items()}


def test_cdr_ingest_accepts_what_the_generator_marks_valid(settled):
    con, manifest = settled["con"], settled["manifest"]
    rows = dict(con.execute("select landing_date::varchar, count(*) from ocpi_cdrs group by 1").fetchall())
    assert rows == {day: v["valid"] for day, v in manifest["counts"]["ocpi_cdrs"].items()}


def test_injected_faults_are_quarantined_with_their_reason(settled):
    con, manifest = settled["con"], settled["manifest"]
    reasons = Counter(dict(con.execute(
        "select reason_code, count(*) from quarantine where source_asset in ('ocpi_cdrs', 'partner_changes') "
        "group by 1").fetchall()))
    faults = manifest["faults"]
    assert reasons["UNKNOWN_TARIFF"] == faults["unknown_tariff"]["count"]
    assert reasons["CURRENCY_MISMATCH"] == faults["currency_mismatch"]["count"]
    assert reasons["MALFORMED_JSON"] == faults["malformed_json"]["by_source"].get("ocpi_cdrs", 0)
    assert reasons["VERSION_CONFLICT"] == faults["version_conflict"]["count"]


def test_rerun_is_byte_identical_and_summary_comes_from_the_warehouse(settled):
    assert settled["first"] == settled["second"]
    sessions = settled["con"].execute("select count(*) from sessions").fetchone()[0]
    assert f"sessions settled:   {sessions} (" in settled["output"]
    assert "chargeledger.duckdb" in settled["output"]
