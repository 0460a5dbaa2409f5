"""The `align` command line: exact CSV output, clear errors, and the subcommand registration."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tariff_engine.consumption import cli_align

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(ROOT / ".numba_cache"))
    return subprocess.run([sys.executable, "-m", "tariff_engine.consumption.cli_align", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_cli_prints_aligned_csv(tmp_path: Path):
    readings = tmp_path / "readings.csv"
    readings.write_text(
        "session_id,timestamp,energy_wh\n"
        "s1,2026-10-25T00:40:00Z,1000\n"
        "s1,2026-10-25T01:40:00Z,1600\n"
        "s1,2026-10-25T01:20:00Z,50\n"
    )
    result = _run(["--readings", str(readings), "--interval", "30", "--timezone", "Europe/London"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "session_id,interval_start_utc,interval_start_local,settlement_date,settlement_period,energy_wh",
        "s1,2026-10-25T00:30:00Z,2026-10-25T01:30:00+01:00,2026-10-25,4,200",
        "s1,2026-10-25T01:00:00Z,2026-10-25T01:00:00+00:00,2026-10-25,5,300",
        "s1,2026-10-25T01:30:00Z,2026-10-25T01:30:00+00:00,2026-10-25,6,100",
    ]
    assert "repaired: DROPOUT x1" in result.stderr


def test_cli_rejects_bad_rows_and_zones(tmp_path: Path):
    readings = tmp_path / "bad.csv"
    readings.write_text("session_id,timestamp,energy_wh\ns1,not-a-time,10\n")
    result = _run(["--readings", str(readings), "--timezone", "Europe/London"])
    assert result.returncode == 2
    assert "line 2" in result.stderr and "not-a-time" in result.stderr
    good = tmp_path / "good.csv"
    good.write_text("session_id,timestamp,energy_wh\ns1,2026-01-01T00:00:00Z,10\n")
    result = _run(["--readings", str(good), "--timezone", "Nowhere/City"])
    assert result.returncode == 2 and "unknown IANA time zone" in result.stderr
    missing = tmp_path / "missing.csv"
    missing.write_text("session,timestamp\n")
    result = _run(["--readings", str(missing), "--timezone", "UTC"])
    assert result.returncode == 2 and "missing columns" in result.stderr


def test_register_adds_align_subcommand(tmp_path: Path, capsys):
    readings = tmp_path / "r.csv"
    readings.write_text("session_id,timestamp,energy_wh\nq,2026-06-01T10:00:00Z,0\nq,2026-06-01T11:00:00Z,60\n")
    parser = argparse.ArgumentParser(prog="tariff_engine")
    cli_align.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["align", "--readings", str(readings), "--interval", "60", "--timezone", "UTC"])
    assert args.func(args) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["q,2026-06-01T10:00:00Z,2026-06-01T10:00:00+00:00,2026-06-01,11,60"]


def test_tariff_engine_entry_point_runs_align(tmp_path: Path):
    pytest.importorskip("tariff_engine.cli")
    readings = tmp_path / "r.csv"
    readings.write_text("session_id,timestamp,energy_wh\nq,2026-03-08T06:30:00Z,0\nq,2026-03-08T07:30:00Z,600\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(ROOT / ".numba_cache"))
    result = subprocess.run([sys.executable, "-m", "tariff_engine", "align", "--readings", str(readings),
                             "--interval", "30", "--timezone", "America/Toronto"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # Toronto springs forward at 07:00 UTC: 01:30 EST is followed by 03:00 EDT.
    assert result.stdout.splitlines()[1:] == [
        "q,2026-03-08T06:30:00Z,2026-03-08T01:30:00-05:00,2026-03-08,4,300",
        "q,2026-03-08T07:00:00Z,2026-03-08T03:00:00-04:00,2026-03-08,5,300",
    ]
