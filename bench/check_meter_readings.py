"""Check and time ``meter_readings`` against a settled warehouse: byte-identical output, CPU-s and peak RSS.

Copies ``--warehouse`` (e.g. the settled 5,000-session day's, whose OCPP tables equal what the current code
writes) to a temporary folder, then materialises ``meter_readings`` for each landing date of the copy in
date order (it reads earlier dates as context), each in its own process and serially
(``CHARGELEDGER_OCPP_WORKERS=1``, so the CPU time is the whole work of the step), and compares every
Parquet file of the partition and of its quarantine slice with the original, byte for byte. Prints one
line per date: CPU seconds, peak RSS, rows, and IDENTICAL or DIFFERENT (with the first differing file).

    .venv/bin/python -m bench.check_meter_readings --warehouse /work/bench5k/warehouse

``--no-compare`` only times (a warehouse whose ``meter_readings`` was not written by this code);
``--keep DIR`` copies into DIR and leaves it (to look at the output).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import json, resource, sys, time
import dagster as dg
from assets.ingest.ocpp import meter_readings
from resources.warehouse import WarehouseResource
start = time.process_time()
result = dg.materialize([meter_readings], partition_key=sys.argv[1],
                        resources={"warehouse": WarehouseResource(root=sys.argv[2])})
print(json.dumps({"ok": result.success, "cpu": time.process_time() - start,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

TABLE = "meter_readings"


def _dates(warehouse: Path) -> list[str]:
    """Landing dates of ``ocpp_messages`` in the warehouse, oldest first."""
    return sorted(p.name.split("=", 1)[1] for p in (warehouse / "ocpp_messages").glob("landing_date=*"))


def _outputs(warehouse: Path, day: str) -> list[Path]:
    """The files ``meter_readings`` writes for ``day``: its partition and its quarantine slice."""
    folders = [warehouse / TABLE / f"landing_date={day}",
               warehouse / "quarantine" / f"source_asset={TABLE}" / f"partition_key={day}"]
    return sorted(path.relative_to(warehouse) for folder in folders if folder.exists() for path in folder.iterdir())


def _materialize(day: str, warehouse: Path) -> dict:
    env = {**os.environ, "CHARGELEDGER_OCPP_WORKERS": "1", "DAGSTER_HOME": str(warehouse.parent / "dagster_home")}
    Path(env["DAGSTER_HOME"]).mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", _CHILD, day, str(warehouse)], env=env, capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode:
        raise SystemExit(f"meter_readings {day} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().split("\n")[-1])


def _compare(original: Path, copy: Path, day: str) -> str:
    expected, got = _outputs(original, day), _outputs(copy, day)
    if expected != got:
        return f"DIFFERENT files: {expected} vs {got}"
    for relative in expected:
        if not filecmp.cmp(original / relative, copy / relative, shallow=False):
            return f"DIFFERENT {relative}"
    return f"IDENTICAL ({len(expected)} files)"


def _rows(warehouse: Path, day: str) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(warehouse / path).metadata.num_rows for path in _outputs(warehouse, day)
               if path.parts[0] == TABLE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--days", nargs="*", help="only these landing dates (default: all, oldest first)")
    parser.add_argument("--no-compare", action="store_true")
    parser.add_argument("--keep", type=Path, help="copy into this folder and keep it")
    args = parser.parse_args(argv)
    original = args.warehouse.resolve()
    root = args.keep or Path(tempfile.mkdtemp(prefix="check-readings-"))
    copy = root / "warehouse"
    try:
        if not copy.exists():
            shutil.copytree(original, copy)
        failures = 0
        total_cpu = 0.0
        for day in args.days or _dates(original):
            run = _materialize(day, copy)
            total_cpu += run["cpu"]
            verdict = "not compared" if args.no_compare else _compare(original, copy, day)
            failures += verdict.startswith("DIFFERENT") or not run["ok"]
            print(f"{day}: meter_readings {run['cpu']:7.2f} CPU-s, peak RSS {run['rss_mb']:7.0f} MB, "
                  f"{_rows(copy, day):>9,} rows, {verdict}", flush=True)
        print(f"total {total_cpu:.2f} CPU-s; {'all identical' if not failures else f'{failures} date(s) differ'}")
        return 1 if failures else 0
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
