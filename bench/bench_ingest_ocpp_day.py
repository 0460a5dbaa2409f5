"""Benchmark: the three OCPP assets on one landed day, against bare ``polars.read_ndjson`` of the same files.

Copies a warehouse (e.g. the settled 5,000-session day's) to a temporary folder, then materialises
``ocpp_messages``, ``meter_readings`` and ``transactions`` for one partition against the copy, each in its
own process (serial: ``CHARGELEDGER_OCPP_WORKERS=1``, so the CPU time is the whole work of the step), and
prints per asset the CPU seconds and the peak RSS, then the parse ratio: CPU of ``read_ndjson`` on the
day's OCPP landing files divided by the CPU of the three assets (issue 9's goal: >= 25 %).

    .venv/bin/python -m bench.bench_ingest_ocpp_day --landing /work/bench5k/landing \\
        --warehouse /work/bench5k/warehouse --day 2026-10-24

Without ``--landing`` (as under ``make bench``) it first generates one day of ``--sessions`` sessions
(OCPP only, seed 7, 60-s meter values) into a temporary folder; ``--quick`` makes that day small.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl

from bench.check_ocpp_asset import ASSETS, materialize, read_ndjson_cpu

GENERATED_DAY = "2026-10-24"  # the generator's first day


def _run_asset(name: str, day: str, warehouse: Path, landing: Path) -> dict:
    return materialize(name, day, warehouse, landing, workers=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, help="landing root; a day is generated when omitted")
    parser.add_argument("--warehouse", type=Path, help="warehouse to copy (earlier days); empty when omitted")
    parser.add_argument("--day", default=GENERATED_DAY)
    parser.add_argument("--sessions", type=int, default=2000, help="sessions of the generated day")
    parser.add_argument("--quick", action="store_true", help="a small generated day")
    args, _ = parser.parse_known_args()
    if args.landing is None:
        with tempfile.TemporaryDirectory(prefix="bench-ocpp-landing-") as landing:
            sessions = 300 if args.quick else args.sessions
            subprocess.run([sys.executable, "-m", "data.generate", "--out", landing, "--seed", "7", "--days", "1",
                            "--sessions-per-day", str(sessions), "--sources", "reference,ocpp",
                            "--meter-interval", "60"], check=True, stdout=subprocess.DEVNULL,
                           cwd=Path(__file__).resolve().parent.parent)
            args.landing, args.day = Path(landing), GENERATED_DAY
            _measure(args)
        return
    _measure(args)


def _measure(args: argparse.Namespace) -> None:
    """Run the three assets on ``args.day`` and print the numbers."""
    files = sorted(p for p in (args.landing / "ocpp" / args.day).rglob("*") if p.is_file() and p.suffix == ".jsonl")
    bare_cpu, bare_rows = read_ndjson_cpu(args.landing, args.day)
    with tempfile.TemporaryDirectory(prefix="bench-ocpp-") as tmp:
        warehouse = Path(tmp) / "warehouse"
        if args.warehouse:
            shutil.copytree(args.warehouse, warehouse)
        else:
            warehouse.mkdir()
        steps = {name: _run_asset(name, args.day, warehouse, args.landing) for name in ASSETS}
        frames = pl.scan_parquet(warehouse / "ocpp_messages" / f"landing_date={args.day}" / "*.parquet").select(
            pl.len()).collect().item()
    total = sum(step["cpu"] for step in steps.values())
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"day {args.day}: {len(files)} files, {size_mb:.0f} MB, {bare_rows:,} lines, {frames:,} frames accepted")
    for name, step in steps.items():
        print(f"  {name:15s} {step['cpu']:7.2f} CPU-s  peak RSS {step['rss_mb']:7.0f} MB")
    print(f"  three assets    {total:7.2f} CPU-s")
    print(f"bare read_ndjson  {bare_cpu:7.2f} CPU-s")
    print(f"parse ratio (read_ndjson / OCPP ingest): {bare_cpu / total:.1%}  (goal >= 25%)")
    print(f"ocpp_messages alone: {bare_cpu / steps['ocpp_messages']['cpu']:.1%} of read_ndjson speed")


if __name__ == "__main__":
    main()
