"""Benchmark of the file/page ingest assets on a generated demo landing zone: records per second per asset.

Generates the demo fleet's reference data, OCPI CDRs and platform pages (seed 7) into a temporary landing
zone, loads the reference tables, then materializes `ocpi_cdrs`, `platform_cdrs` and `platform_sessions`
for every landing day and prints records per CPU-second (rows in ÷ process CPU time of the materialization, Dagster overhead
included) and the ratio to bare `orjson.loads` of the same files (the parse floor), measured in one run.
It uses only the assets' public names, so the same script measures any version of the ingest code.

    .venv/bin/python -m bench.bench_ingest_sources [--quick] [--sessions-per-day N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ASSETS = ("ocpi_cdrs", "platform_cdrs", "platform_sessions")
FOLDERS = {"ocpi_cdrs": "ocpi_cdrs", "platform_cdrs": "platform/cdrs", "platform_sessions": "platform/sessions"}


def _loads(data: bytes) -> None:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:  # the demo injects malformed records
        pass


def _floor_seconds(root: Path, folder: str) -> float:
    """orjson.loads of every line / document of the folder: what any parser pays at least."""
    started = time.process_time()
    for path in sorted((root / folder).rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".jsonl":
            for line in data.split(b"\n"):
                if line.strip():
                    _loads(line)
        else:
            _loads(data)
    return time.process_time() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 sessions a day instead of 2,000")
    parser.add_argument("--sessions-per-day", type=int, default=None)
    parser.add_argument("--days", type=int, default=2)
    args = parser.parse_args(argv)
    per_day = args.sessions_per_day or (300 if args.quick else 2_000)
    with tempfile.TemporaryDirectory() as tmp:
        landing, warehouse = Path(tmp) / "landing", Path(tmp) / "warehouse"
        subprocess.run([sys.executable, "-m", "data.generate", "--out", str(landing), "--seed", "7",
                        "--days", str(args.days), "--sessions-per-day", str(per_day),
                        "--sources", "reference,tariffs,ocpi_cdrs,platform"], check=True, capture_output=True)
        os.environ.update(CHARGELEDGER_LANDING=str(landing), CHARGELEDGER_WAREHOUSE=str(warehouse),
                          DAGSTER_HOME=tmp)
        import dagster as dg  # after the environment: the definitions read it at import

        from pipelines.definitions import defs

        instance = dg.DagsterInstance.ephemeral()
        quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
        defs.resolve_job_def("refresh_reference").execute_in_process(instance=instance, run_config=quiet)
        jobs = dg.Definitions.merge(defs, dg.Definitions(
            jobs=[dg.define_asset_job(f"bench_{name}", selection=[name]) for name in ASSETS]))
        print(f"sessions/day: {per_day}, days: {args.days}")
        for name in ASSETS:
            job = jobs.resolve_job_def(f"bench_{name}")
            folder = FOLDERS[name]
            days = sorted(p.name for p in (landing / folder).iterdir() if p.is_dir())
            rows_in, seconds = 0, 0.0
            for day in days:
                started = time.process_time()
                result = job.execute_in_process(partition_key=day, instance=instance, run_config=quiet)
                seconds += time.process_time() - started
                events = result.asset_materializations_for_node(name)
                rows_in += int(events[0].metadata["rows_in"].value)
            floor = _floor_seconds(landing, folder)
            print(f"{name:18s} {rows_in:7d} records  {rows_in / seconds:9.0f} records per CPU-s  "
                  f"({seconds / floor:5.1f}x the orjson.loads floor of {rows_in / floor:9.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
