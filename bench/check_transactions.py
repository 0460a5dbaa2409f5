"""Check and time ``transactions``: re-materialise it on a copy of a settled warehouse and compare bytes.

Copies the asset's inputs ``ocpp_messages`` and ``meter_readings`` of ``--warehouse`` (e.g. the settled
5,000-session day's) to a temporary folder, materialises ``transactions`` for each landing date found
there, oldest first, each in its own process (serial: ``CHARGELEDGER_OCPP_WORKERS=1`` unless ``--workers``,
so the CPU time is the whole work of the step), and prints per date the CPU seconds, the peak RSS and
whether the Parquet file of the partition and the quarantine slice of ``transactions`` are byte-identical to
the ones in ``--warehouse``. Exits 1 when any file differs.

    .venv/bin/python -m bench.check_transactions --warehouse /work/bench5k/warehouse

The source warehouse is only read.
"""

from __future__ import annotations

import argparse
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
from assets.ingest.ocpp import transactions
from resources.warehouse import WarehouseResource
start = time.process_time()
result = dg.materialize([transactions], partition_key=sys.argv[1],
                        resources={"warehouse": WarehouseResource(root=sys.argv[2])})
print(json.dumps({"ok": result.success, "cpu": time.process_time() - start,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

REPO = Path(__file__).resolve().parent.parent
INPUTS = ["ocpp_messages", "meter_readings"]


def _files(root: Path, day: str) -> dict[str, Path]:
    """The partition file of ``transactions`` and its quarantine slice for ``day`` (those that exist)."""
    candidates = {
        "transactions": root / "transactions" / f"landing_date={day}" / "part-0.parquet",
        "quarantine": root / "quarantine" / "source_asset=transactions" / f"partition_key={day}" / "part-0.parquet",
    }
    return {name: path for name, path in candidates.items() if path.exists()}


def _materialize(day: str, warehouse: Path, workers: int) -> dict:
    env = {**os.environ, "CHARGELEDGER_OCPP_WORKERS": str(workers),
           "DAGSTER_HOME": str(warehouse.parent / "dagster_home")}
    Path(env["DAGSTER_HOME"]).mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", _CHILD, day, str(warehouse)], env=env, capture_output=True,
                          text=True, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"transactions {day} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().split("\n")[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, required=True, help="settled warehouse (read only)")
    parser.add_argument("--days", nargs="*", help="landing dates (default: every partition of transactions)")
    parser.add_argument("--workers", type=int, default=1, help="CHARGELEDGER_OCPP_WORKERS of the step")
    args = parser.parse_args()
    days = args.days or sorted(p.name.split("=", 1)[1] for p in (args.warehouse / "transactions").iterdir()
                               if p.name.startswith("landing_date="))
    differing = 0
    total_cpu = 0.0
    with tempfile.TemporaryDirectory(prefix="check-transactions-", dir=os.environ.get("TMPDIR")) as tmp:
        copy = Path(tmp) / "warehouse"
        for table in INPUTS:  # the asset reads nothing else; its outputs are written fresh
            shutil.copytree(args.warehouse / table, copy / table)
        for day in days:
            step = _materialize(day, copy, args.workers)
            total_cpu += step["cpu"]
            expected, written = _files(args.warehouse, day), _files(copy, day)
            verdicts = []
            for name in sorted(set(expected) | set(written)):
                same = name in expected and name in written and \
                    expected[name].read_bytes() == written[name].read_bytes()
                differing += not same
                verdicts.append(f"{name} {'identical' if same else 'DIFFERS'}")
            print(f"{day}: {step['cpu']:7.2f} CPU-s  peak RSS {step['rss_mb']:6.0f} MB  " + ", ".join(verdicts),
                  flush=True)
    print(f"total {total_cpu:.2f} CPU-s over {len(days)} dates; {differing} file(s) differ")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
