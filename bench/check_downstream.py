"""Check and time the downstream assets: re-settle a settled warehouse's days asset by asset and compare bytes.

Copies ``--source`` (a settled warehouse, e.g. one kept by ``bench.bench_settlement --sizes 5000 --keep DIR``; only read)
to ``--out``/warehouse, then, oldest settlement date first, materialises every settlement-side asset of the
``resettlement`` job (sessions through the statements and the catalog) for that date, then the
``monthly_invoicing`` assets for each settled month (issued on the 1st of the next month, as the demo does).
Each (asset, partition) runs in its own process so that its CPU seconds (process CPU, all threads) and peak RSS
are its own; the Dagster import is outside the timed part. ``--warm`` first runs the first date once untimed,
so numba kernels are compiled into the cache before anything is timed.

Prints per asset the CPU seconds summed over partitions and the largest peak RSS, and with ``--baseline`` (an
earlier ``--out`` of this script) compares every file of the two warehouses byte for byte (Parquet tables,
invoice PDFs, registers, the catalog) and exits 1 when any differs. ``--json`` writes the figures.

    .venv/bin/python -m bench.check_downstream --source SETTLED/warehouse --landing SETTLED/landing \\
        --out OUT/base --warm
    .venv/bin/python -m bench.check_downstream ... --out OUT/new --warm --baseline OUT/base
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_CHILD = """
import json, sys, time
import dagster as dg
from bench.peak_memory import peak_rss_mb
from pipelines.definitions import defs
job_name, key, partition, config = sys.argv[1:5]
job = defs.resolve_job_def(job_name)
instance = dg.DagsterInstance.get()
base = peak_rss_mb()
start = time.process_time()
result = job.execute_in_process(instance=instance, partition_key=partition, asset_selection=[dg.AssetKey(key)],
                                run_config=json.loads(config), raise_on_error=False)
print(json.dumps({"ok": result.success, "cpu": time.process_time() - start, "base_mb": base,
                  "rss_mb": peak_rss_mb()}))
"""

_PLAN = """
import json
from pipelines.definitions import defs
plan = {}
for name in ("resettlement", "monthly_invoicing"):
    job = defs.resolve_job_def(name)
    plan[name] = [node.name for node in job.graph.nodes_in_topological_order]
print(json.dumps(plan))
"""


def _env(out: Path, landing: Path) -> dict[str, str]:
    return {**os.environ, "CHARGELEDGER_WAREHOUSE": str(out / "warehouse"), "CHARGELEDGER_LANDING": str(landing),
            "DAGSTER_HOME": str(out / "dagster_home"), "PYTHONPATH": str(REPO)}


def _plan(env: dict[str, str]) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", _PLAN], env=env, capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"could not list the jobs' assets:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().split("\n")[-1])


def _materialize(env: dict[str, str], job: str, asset: str, partition: str, config: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD, job, asset, partition, json.dumps(config)], env=env,
                          capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"{asset}[{partition}] crashed:\n{done.stderr[-3000:]}")
    step = json.loads(done.stdout.strip().split("\n")[-1])
    if not step["ok"]:
        raise SystemExit(f"{asset}[{partition}] failed:\n{done.stderr[-3000:]}")
    return step


def _next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + 1}-01-01" if mon == 12 else f"{year}-{mon + 1:02d}-01"


CATALOG = "chargeledger.duckdb"
# The catalog's rebuild stamp names the catalog file's identity (inode, size, mtime): another copy, another stamp.
STAMP = ".chargeledger.duckdb.definition"


def _catalog_views(root: Path) -> list[tuple]:
    """The catalog's views (name, SQL with the warehouse folder left out, comment, row count)."""
    import duckdb

    with duckdb.connect(str(root / CATALOG), read_only=True) as con:
        views = con.execute("select view_name, sql, comment from duckdb_views() where not internal "
                            "order by view_name").fetchall()
        return [(name, sql.replace(str(root), "<warehouse>"), comment,
                 con.execute(f'select count(*) from "{name}"').fetchone()[0]) for name, sql, comment in views]


def _compare(ours: Path, theirs: Path) -> list[str]:
    """Relative paths of the files that differ or exist on one side only. The catalog file embeds the absolute
    paths of its warehouse, so it is compared by its views (definition, comment, rows) instead of its bytes."""
    def files(root: Path) -> dict[str, Path]:
        return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file() and p.name != STAMP}
    a, b = files(ours), files(theirs)
    differing = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            differing.append(name)
        elif name == CATALOG:
            if _catalog_views(ours) != _catalog_views(theirs):
                differing.append(name)
        elif a[name].read_bytes() != b[name].read_bytes():
            differing.append(name)
    return differing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="settled warehouse (read only)")
    parser.add_argument("--landing", type=Path, required=True, help="its landing zone (read only)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the copy (replaced)")
    parser.add_argument("--baseline", type=Path, help="an earlier --out to compare with, file by file")
    parser.add_argument("--warm", action="store_true", help="run the first date once untimed first (numba cache)")
    parser.add_argument("--only", nargs="*", help="time only these assets (the others still run, untimed)")
    parser.add_argument("--json", type=Path, help="write the per-asset figures here")
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    shutil.copytree(args.source, args.out / "warehouse")
    (args.out / "dagster_home").mkdir()
    env = _env(args.out, args.landing)
    plan = _plan(env)
    dates = sorted(p.name.split("=", 1)[1] for p in (args.source / "sessions").iterdir()
                   if p.name.startswith("settlement_date="))
    months = sorted({d[:8] + "01" for d in dates})
    runs = [("resettlement", asset, day, {}) for day in dates for asset in plan["resettlement"]]
    runs += [("monthly_invoicing", asset, month,
              {"ops": {"invoices": {"config": {"issued_on": _next_month(month)}}}} if asset == "invoices" else {})
             for month in months for asset in plan["monthly_invoicing"]]
    if args.warm:
        for job, asset, partition, config in runs:
            if partition == dates[0]:
                _materialize(env, job, asset, partition, config)
    figures: dict[str, dict] = {}
    for job, asset, partition, config in runs:
        step = _materialize(env, job, asset, partition, config)
        entry = figures.setdefault(asset, {"cpu_s": 0.0, "peak_rss_mb": 0.0, "above_base_mb": 0.0, "runs": 0})
        entry["cpu_s"] += step["cpu"]
        entry["peak_rss_mb"] = max(entry["peak_rss_mb"], step["rss_mb"])
        entry["above_base_mb"] = max(entry["above_base_mb"], step["rss_mb"] - step["base_mb"])
        entry["runs"] += 1
        print(f"  {asset}[{partition}]: {step['cpu']:7.2f} CPU-s  peak RSS {step['rss_mb']:6.0f} MB "
              f"(+{step['rss_mb'] - step['base_mb']:.0f} over the import)", flush=True)
    print("\nper asset (CPU-s summed over partitions, largest peak RSS):")
    for asset, entry in sorted(figures.items(), key=lambda item: -item[1]["cpu_s"]):
        print(f"  {asset:32s} {entry['cpu_s']:8.2f} CPU-s  {entry['peak_rss_mb']:6.0f} MB "
              f"(+{entry['above_base_mb']:.0f})  {entry['runs']} run(s)")
    print(f"  {'total':32s} {sum(e['cpu_s'] for e in figures.values()):8.2f} CPU-s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, sort_keys=True))
    if args.baseline:
        differing = _compare(args.out / "warehouse", args.baseline / "warehouse")
        for name in differing:
            print(f"DIFFERS: {name}")
        print(f"{len(differing)} file(s) differ from {args.baseline}")
        sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
