"""Monthly invoicing in a warehouse: memory and CPU of the `invoices` asset as the month grows.

Writes a synthetic month (`bench_invoicing.synthetic_month`, 45 % of it roaming; direct customers with about
30 sessions each and eMSPs with about 5,000, so a larger month has more documents, not larger ones; every session
priced) as the `sessions` and `priced_sessions` partitions of a temporary warehouse, one size after another, and
materialises `invoices` for it in a fresh process: draft, issue through the register, export the tables and
every PDF, the asset's checks. Prints per size the documents (and the lines of the largest), CPU (the process and
its PDF workers), wall time and the memory the run added to the process (peak RSS less the RSS once imported),
then the ratios between the largest and the smallest size: memory that grows like the month is a monthly run a
large operator cannot finish.

Usage: python -m bench.bench_invoice_month [--sizes 100000,400000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl

from assets.invoicing.tables import INVOICES
from bench.bench_invoicing import synthetic_month
from resources.tables import get_spec
from resources.warehouse import WarehouseResource

REPO = Path(__file__).resolve().parent.parent
SESSIONS_PER_CUSTOMER = 30
SESSIONS_PER_PARTNER = 5_000

_CHILD = r"""
import json, resource, sys, time
import dagster as dg
import assets.invoicing.assets as invoicing
from bench.peak_memory import status_bytes
from resources.warehouse import WarehouseResource
invoicing.refresh_catalog_if_changed = lambda warehouse: None  # the analyst catalog is not what is measured
# VmHWM, not ru_maxrss, which would start at the peak of the bench process that built the month (bench.peak_memory).
base, cpu, wall = status_bytes("VmRSS") / 2**20, time.process_time(), time.perf_counter()
result = dg.materialize([invoicing.invoices], partition_key="2026-10-01",
                        resources={"warehouse": WarehouseResource(root=sys.argv[1])},
                        run_config={"ops": {"invoices": {"config": {"issued_on": "2026-11-01"}}}})
children = resource.getrusage(resource.RUSAGE_CHILDREN)
metadata = result.asset_materializations_for_node("invoices")[0].metadata
print(json.dumps({"ok": result.success and all(c.passed for c in result.get_asset_check_evaluations()),
                  "documents": metadata["documents"].value, "not_invoiced": metadata["sessions_not_invoiced"].value,
                  "cpu": time.process_time() - cpu + children.ru_utime + children.ru_stime,
                  "wall": time.perf_counter() - wall, "added_mb": status_bytes("VmHWM") / 2**20 - base}))
"""


def _table(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the table's other columns as nulls (the synthetic month has only what invoicing reads)."""
    spec = get_spec(name)
    return frame.with_columns(pl.lit(None, dtype=spec.schema[c]).alias(c)
                              for c in spec.data_columns if c not in frame.columns and c not in spec.partition_by)


def write_month(root: Path, sessions_count: int) -> None:
    """The synthetic month's sessions and priced sessions, one partition per settlement date."""
    _, sessions, priced, _, _ = synthetic_month(sessions_count)
    customers = max(1, sessions_count // SESSIONS_PER_CUSTOMER)
    partners = max(1, int(sessions_count * 0.45) // SESSIONS_PER_PARTNER)
    row = pl.int_range(pl.len())
    sessions = sessions.with_columns(pl.format("cust-{}", row % customers).alias("customer_id"),
                                     pl.when(pl.col("emsp_id").is_not_null())
                                     .then(pl.format("XX-E{}", row % partners)).alias("emsp_id"))
    warehouse = WarehouseResource(root=str(root))
    for (day,), rows in sessions.partition_by("settlement_date", as_dict=True).items():
        warehouse.write_partition("sessions", _table("sessions", rows), settlement_date=day)
    for (day,), rows in priced.partition_by("settlement_date", as_dict=True).items():
        warehouse.write_partition("priced_sessions", _table("priced_sessions", rows), settlement_date=day)


def measure(sessions_count: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-invoice-month-") as tmp:
        root = Path(tmp) / "warehouse"
        write_month(root, sessions_count)
        env = {**os.environ, "DAGSTER_HOME": str(Path(tmp) / "dagster_home")}
        Path(env["DAGSTER_HOME"]).mkdir()
        done = subprocess.run([sys.executable, "-c", _CHILD, str(root)], env=env, cwd=REPO, capture_output=True,
                              text=True)
        if done.returncode:
            raise SystemExit(f"invoices failed for {sessions_count:,} sessions:\n{done.stderr[-3000:]}")
        stored = pl.read_parquet(root / INVOICES.name, hive_partitioning=True)
    run = json.loads(done.stdout.strip().split("\n")[-1])
    return {**run, "sessions": sessions_count, "stored_documents": stored.height,
            "largest": int(stored.get_column("line_count").max() or 0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_invoice_month", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,400000", help="sessions in the month, comma-separated")
    parser.add_argument("--quick", action="store_true", help="months of 10,000 and 40,000 sessions")
    args = parser.parse_args(argv)
    sizes = [10_000, 40_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    runs = [measure(n) for n in sizes]
    print(f"{'sessions':>10}{'documents':>11}{'largest (lines)':>17}{'not invoiced':>14}{'CPU s':>9}{'wall s':>9}"
          f"{'memory added':>15}  checks")
    for r in runs:
        print(f"{r['sessions']:>10,}{r['documents']:>11,}{r['largest']:>17,}{r['not_invoiced']:>14,}{r['cpu']:>9.1f}"
              f"{r['wall']:>9.1f}"
              f"{r['added_mb']:>12.0f} MB  {'passed' if r['ok'] else 'FAILED'}")
    small, large = runs[0], runs[-1]
    print(f"largest / smallest month: sessions {large['sessions'] / small['sessions']:.1f}x, "
          f"CPU {large['cpu'] / small['cpu']:.2f}x, memory added {large['added_mb'] / small['added_mb']:.2f}x")
    return 0 if all(r["ok"] and r["stored_documents"] == r["documents"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
