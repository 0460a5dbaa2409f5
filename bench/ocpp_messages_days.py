"""``ocpp_messages`` date by date: CPU seconds and peak RSS per landing date, and a byte-for-byte check.

Materialises ``ocpp_messages`` for every OCPP landing date of ``--landing`` in date order into a fresh
warehouse of its own (the asset reads only its own earlier partitions), each date in its own process, and
prints per date the CPU seconds and the peak RSS of that process. With ``--reference`` (a warehouse whose
``ocpp_messages`` were written by the code to compare with, e.g. /work/bench5k/warehouse) it then compares
every Parquet file of ``ocpp_messages`` and of its quarantine rows with the reference byte for byte, and
exits non-zero on any difference.

    .venv/bin/python -m bench.ocpp_messages_days --landing /work/bench5k/landing \\
        --reference /work/bench5k/warehouse
    .venv/bin/python -m bench.ocpp_messages_days --landing /work/days/landing-25000-seed7-ec15eadbe35b
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import json, sys, time
import dagster as dg
from assets.ingest.ocpp import ocpp_messages
from bench.peak_memory import peak_rss_mb
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource
start = time.process_time()
result = dg.materialize([ocpp_messages], partition_key=sys.argv[1], resources={
    "warehouse": WarehouseResource(root=sys.argv[2]), "landing": LandingZoneResource(root=sys.argv[3])})
print(json.dumps({"ok": result.success, "cpu": time.process_time() - start,
                  "rss_mb": peak_rss_mb()}))
"""


def landing_dates(landing: Path, reference: Path | None) -> list[str]:
    """The OCPP landing dates, plus the dates the reference holds (empty days are partitions too)."""
    dates = {p.name for p in (landing / "ocpp").iterdir() if p.is_dir()}
    if reference is not None:
        dates |= {p.name.split("=", 1)[1] for p in (reference / "ocpp_messages").glob("landing_date=*")}
    return sorted(dates)


def materialize(day: str, warehouse: Path, landing: Path) -> dict:
    """One date's ``ocpp_messages`` in a child process: its CPU seconds and peak RSS."""
    env = {**os.environ, "DAGSTER_HOME": str(warehouse.parent / "dagster_home")}
    Path(env["DAGSTER_HOME"]).mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", _CHILD, day, str(warehouse), str(landing)], env=env,
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"ocpp_messages {day} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def outputs(warehouse: Path, day: str) -> dict[str, Path]:
    """The files of one date: the partition and its quarantine slice."""
    return {"ocpp_messages": warehouse / "ocpp_messages" / f"landing_date={day}" / "part-0.parquet",
            "quarantine": warehouse / "quarantine" / "source_asset=ocpp_messages" / f"partition_key={day}"
                          / "part-0.parquet"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--reference", type=Path, help="warehouse to compare ocpp_messages with, byte for byte")
    parser.add_argument("--keep", type=Path, help="write the warehouse here (kept) instead of a temp folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ocpp-days-") as tmp:
        warehouse = args.keep or Path(tmp) / "warehouse"
        warehouse.mkdir(parents=True, exist_ok=True)
        total_cpu, peak = 0.0, 0.0
        differences = []
        for day in landing_dates(args.landing, args.reference):
            step = materialize(day, warehouse, args.landing)
            total_cpu, peak = total_cpu + step["cpu"], max(peak, step["rss_mb"])
            line = f"{day}: {step['cpu']:7.2f} CPU-s  peak RSS {step['rss_mb']:6.0f} MB"
            if args.reference is not None:
                for name, path in outputs(warehouse, day).items():
                    expected = outputs(args.reference, day)[name]
                    if not expected.exists() or not path.exists() or path.read_bytes() != expected.read_bytes():
                        differences.append(f"{day} {name}")
                line += "  identical" if not any(d.startswith(day) for d in differences) else "  DIFFERENT"
            print(line, flush=True)
        print(f"all dates: {total_cpu:.2f} CPU-s, peak RSS {peak:.0f} MB")
        if differences:
            raise SystemExit("not byte-identical: " + ", ".join(differences))


if __name__ == "__main__":
    main()
