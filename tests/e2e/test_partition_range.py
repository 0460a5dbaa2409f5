"""The partition range is configuration, and landing days outside it are reported, never fatal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assets.partitions import FALLBACK_START, first_landed_day, partitions_start

ROOT = Path(__file__).resolve().parents[2]


def _folder(root: Path, relative: str) -> None:
    (root / relative).mkdir(parents=True)


def test_start_comes_from_the_environment_then_the_landing_zone_then_the_fallback(tmp_path):
    landing = tmp_path / "landing"
    assert partitions_start({"CHARGELEDGER_LANDING": str(landing)}) == FALLBACK_START  # nothing landed
    _folder(landing, "ocpi_cdrs/2026-10-25")
    _folder(landing, "platform/cdrs/2026-10-23")  # two levels down
    _folder(landing, "ocpp/not-a-day")
    _folder(landing, ".staging/2020-01-01")  # hidden: a writer's scratch space
    (landing / "_manifest.json").write_text("{}")
    assert first_landed_day(landing) == "2026-10-23"
    assert partitions_start({"CHARGELEDGER_LANDING": str(landing)}) == "2026-10-23"
    env = {"CHARGELEDGER_LANDING": str(landing), "CHARGELEDGER_PARTITIONS_START": "2026-11-02"}
    assert partitions_start(env) == "2026-11-02"
    with pytest.raises(ValueError, match="CHARGELEDGER_PARTITIONS_START"):
        partitions_start({"CHARGELEDGER_PARTITIONS_START": "2026-13-01"})


def test_definitions_pick_up_the_first_landed_day(tmp_path):
    _folder(tmp_path / "landing", "eevion/webhooks/2026-09-14")
    env = {k: v for k, v in os.environ.items() if k != "CHARGELEDGER_PARTITIONS_START"}
    env["CHARGELEDGER_LANDING"] = str(tmp_path / "landing")
    shown = subprocess.run([sys.executable, "-c", "from assets.partitions import daily, monthly; "
                            "print(daily.get_first_partition_key(), monthly.get_first_partition_key())"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    assert shown.split() == ["2026-09-14", "2026-09-01"]


@pytest.mark.timeout(900)  # one real settlement of a small day; slow when the machine is shared
def test_days_outside_the_range_are_reported_and_the_others_settle(tmp_path):
    landing = tmp_path / "landing"
    subprocess.run([sys.executable, "-m", "data.generate", "--out", str(landing), "--seed", "5", "--start", "2026-10-24",
                    "--days", "1", "--sessions-per-day", "12"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    future = landing / "ocpi_cdrs" / "2099-01-01"
    future.mkdir()
    (future / "cdrs.jsonl").write_bytes(next((landing / "ocpi_cdrs" / "2026-10-24").glob("*.jsonl")).read_bytes())
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "pipelines" / "dagster.yaml").read_text())
    env = dict(os.environ, CHARGELEDGER_LANDING=str(landing), CHARGELEDGER_WAREHOUSE=str(tmp_path / "warehouse"),
               DAGSTER_HOME=str(home), CHARGELEDGER_PARTITIONS_START="2026-10-25")
    done = subprocess.run([sys.executable, "-m", "pipelines.demo", "--day", "2026-10-24", "--day", "2026-10-25",
                           "--day", "2099-01-01"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "DagsterUnknownPartitionError" not in done.stderr
    for day in ("2026-10-24", "2099-01-01"):
        assert f"WARNING: landing day {day} is outside the partition range (from 2026-10-25 to tomorrow)" in done.stderr
    assert "nightly_settlement[2026-10-25]: ok" in done.stdout
    assert "nightly_settlement[2026-10-24]" not in done.stdout and "[2099-01-01]" not in done.stdout
    listed = done.stdout.split("Not settled, outside the partition range", 1)[1].split("\n")[1:]
    assert listed[0].strip() == "2026-10-24" and listed[1].strip() == "2099-01-01"
    assert "resettlement[2026-10-24]" not in done.stdout


def test_late_records_settling_before_the_start_are_listed_not_resettled(monkeypatch, capsys):
    """The re-settlement branch of the demo runner, with the jobs themselves stubbed out."""
    import datetime as dt

    import dagster as dg

    from pipelines import demo

    ran = []
    monkeypatch.setattr(demo, "landing_days", lambda landing: ["2026-10-25"])
    monkeypatch.setattr(demo, "late_settlement_dates",
                        lambda warehouse, day: [dt.date(2025, 12, 31), dt.date(2026, 10, 24)])
    monkeypatch.setattr(demo, "_run", lambda job, instance, key=None, run_config=None, **_: ran.append((job, key)))
    monkeypatch.setattr(demo, "print_summary", lambda warehouse: None)
    monkeypatch.setattr(demo, "settled_months", lambda warehouse: [])  # month-end and export: not this test's
    monkeypatch.setattr(demo, "export_home_charges", lambda instance, warehouse: None)
    monkeypatch.setattr(dg.DagsterInstance, "get", staticmethod(dg.DagsterInstance.ephemeral))
    demo.main([])
    assert ran == [("refresh_reference", None), ("nightly_settlement", "2026-10-25"), ("resettlement", "2026-10-24")]
    out = capsys.readouterr().out
    assert out.split("Not settled, outside the partition range")[1].split("\n")[1].strip() == \
        "2025-12-31 (settlement day of late records landed 2026-10-25)"


def test_landing_sensor_skips_days_outside_the_range(tmp_landing):
    """The tests pin the start at 2026-01-01 (tests/conftest.py): a 2025 folder and a far-future one are no
    partitions, so the sensor asks only for the day in range (instead of failing the tick)."""
    import dagster as dg

    from sensors.landing_files import build_landing_sensor

    for day in ("2025-12-31", "2026-10-25", "2099-01-01"):
        (tmp_landing.root_path / "ocpi_cdrs" / day).mkdir(parents=True)
        (tmp_landing.root_path / "ocpi_cdrs" / day / "a.jsonl").write_text("{}\n")
    sensor = build_landing_sensor("ocpi_cdr_files", "ocpi_cdrs", ["ocpi_cdrs"])
    result = sensor(dg.build_sensor_context(resources={"landing": tmp_landing}))
    assert [r.partition_key for r in result.run_requests] == ["2026-10-25"]
