"""Check and time the OCPP assets per landing date: byte-identical output, tree CPU-s and peak RSS.

Materialises each ``--asset`` (``ocpp_messages``, ``meter_readings``, ``transactions``; several run in
that order) for each landing date, oldest first (the assets read earlier dates as context), each in its
own process, against a copy of ``--warehouse`` (a settled warehouse written by the code to compare with,
e.g. one kept by ``bench.bench_settlement --sizes 5000 --keep DIR`` on the base commit, or a baseline built
with ``--keep``), and compares every Parquet file of the asset's partition and of its
quarantine slice with the original, byte for byte. Prints one line per date and asset: the CPU seconds of
the whole process tree (the step and its pool workers), the peak RSS of the step's process, the rows
written, and IDENTICAL or DIFFERENT (with the first differing file). For
``ocpp_messages`` it also prints the CPU of bare ``polars.read_ndjson`` on the date's OCPP landing files
and the share (issue 9's goal: the OCPP ingest at >= 25 % of that speed). Exits 1 when a file differs.

    .venv/bin/python -m bench.check_ocpp_asset --asset meter_readings --warehouse SETTLED/warehouse
    .venv/bin/python -m bench.check_ocpp_asset --asset ocpp_messages --warehouse SETTLED/warehouse \\
        --landing SETTLED/landing

Without ``--warehouse`` it starts from an empty warehouse and only times (with ``--keep DIR`` that builds
a baseline to compare a later run with). ``--workers`` sets ``CHARGELEDGER_OCPP_WORKERS`` of the step
(default 1: serial). The source warehouse and landing zone are only read.
"""

from __future__ import annotations

import argparse
import filecmp
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ASSETS = ["ocpp_messages", "meter_readings", "transactions"]
REPO = Path(__file__).resolve().parent.parent

# The peak RSS of the step's own process (``bench.peak_memory``). (That of its pool workers cannot be read from
# rusage: a spawned worker is forked before it execs, so RUSAGE_CHILDREN reports the parent's size at that moment.)
_CHILD = """
import atexit, json, sys
import dagster as dg
from bench.peak_memory import peak_rss_mb
from assets.ingest.ocpp import meter_readings, ocpp_messages, transactions
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource
outcome = {}
atexit.register(lambda: print(json.dumps({**outcome,
    "rss_mb": peak_rss_mb()}), flush=True))
asset = {"ocpp_messages": ocpp_messages, "meter_readings": meter_readings, "transactions": transactions}[sys.argv[1]]
result = dg.materialize([asset], partition_key=sys.argv[2], resources={
    "warehouse": WarehouseResource(root=sys.argv[3]), "landing": LandingZoneResource(root=sys.argv[4])})
outcome["ok"] = result.success
"""


def _dates(warehouse: Path | None, landing: Path | None) -> list[str]:
    """Landing dates of ``ocpp_messages`` in the reference warehouse (or of the OCPP landing folders), oldest first."""
    if warehouse is not None:
        return sorted(p.name.split("=", 1)[1] for p in (warehouse / "ocpp_messages").glob("landing_date=*"))
    return sorted(p.name for p in (landing / "ocpp").iterdir() if p.is_dir())


def _outputs(warehouse: Path, asset: str, day: str) -> list[Path]:
    """The files ``asset`` writes for ``day``: its partition and its quarantine slice."""
    folders = [warehouse / asset / f"landing_date={day}",
               warehouse / "quarantine" / f"source_asset={asset}" / f"partition_key={day}"]
    return sorted(path.relative_to(warehouse) for folder in folders if folder.exists() for path in folder.iterdir())


def _tree_cpu() -> float:
    """User + system CPU seconds of the finished children of this process (and of their waited-for children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def materialize(asset: str, day: str, warehouse: Path, landing: Path, workers: int = 1) -> dict:
    """Materialise ``asset`` for ``day`` in a child process: {ok, cpu (tree), wall, rss_mb}."""
    env = {**os.environ, "DAGSTER_HOME": str(warehouse.parent / "dagster_home")}
    env.pop("CHARGELEDGER_OCPP_WORKERS", None)
    if workers:
        env["CHARGELEDGER_OCPP_WORKERS"] = str(workers)
    Path(env["DAGSTER_HOME"]).mkdir(exist_ok=True)
    cpu, wall = _tree_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, asset, day, str(warehouse), str(landing)], env=env,
                          capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"{asset} {day} failed:\n{done.stderr[-3000:]}")
    run = json.loads(done.stdout.strip().split("\n")[-1])
    return {**run, "cpu": _tree_cpu() - cpu, "wall": time.perf_counter() - wall}


def _compare(original: Path, copy: Path, asset: str, day: str, rows_only: bool = False) -> str:
    """IDENTICAL, or DIFFERENT and the first file that differs; with ``rows_only`` a file whose bytes differ
    but whose rows are the same, in the same order (e.g. another row-group layout), counts as the same."""
    expected, got = _outputs(original, asset, day), _outputs(copy, asset, day)
    if expected != got:
        return f"DIFFERENT files: {[str(p) for p in expected]} vs {[str(p) for p in got]}"
    relaid = []
    for relative in expected:
        if not filecmp.cmp(original / relative, copy / relative, shallow=False):
            if not rows_only or not _same_rows(original / relative, copy / relative):
                return f"DIFFERENT {relative}"
            relaid.append(str(relative))
    return f"IDENTICAL ({len(expected)} files)" + (f", same rows in other bytes: {relaid}" if relaid else "")


def _same_rows(first: Path, second: Path, slice_rows: int = 1 << 20) -> bool:
    """Whether two Parquet files hold the same rows in the same order, read a slice at a time (this process
    starts the steps: its peak RSS would be theirs too, as a forked child's starts from its parent's)."""
    import polars as pl
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(first).metadata.num_rows
    if rows != pq.ParquetFile(second).metadata.num_rows:
        return False
    return all(pl.scan_parquet(first).slice(offset, slice_rows).collect()
               .equals(pl.scan_parquet(second).slice(offset, slice_rows).collect())
               for offset in range(0, rows, slice_rows))


def _rows(warehouse: Path, asset: str, day: str) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(warehouse / path).metadata.num_rows for path in _outputs(warehouse, asset, day)
               if path.parts[0] == asset)


def _json_lines(path: Path) -> bytes:
    """The file's lines that are JSON (a landing day has malformed lines on purpose; read_ndjson stops at them)."""
    import orjson

    kept = []
    for line in path.read_bytes().split(b"\n"):
        try:
            orjson.loads(line)
            kept.append(line)
        except orjson.JSONDecodeError:
            pass
    return b"\n".join(kept)


def read_ndjson_cpu(landing: Path, day: str) -> tuple[float, int]:
    """CPU seconds of bare ``polars.read_ndjson`` over the JSON lines of the day's OCPP landing files (read
    from memory), and the rows it read."""
    import polars as pl

    cpu, rows = 0.0, 0
    for path in sorted(p for p in (landing / "ocpp" / day).rglob("*.jsonl") if p.is_file()):
        data = io.BytesIO(_json_lines(path))
        start = time.process_time()
        rows += pl.read_ndjson(data).height
        cpu += time.process_time() - start
    return cpu, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asset", action="append", choices=ASSETS, required=True,
                        help="asset to run (repeat for several; they run in pipeline order per date)")
    parser.add_argument("--warehouse", type=Path, help="settled warehouse to copy and compare with (read only)")
    parser.add_argument("--landing", type=Path, help="landing root (default: the warehouse's sibling 'landing')")
    parser.add_argument("--days", nargs="*", help="only these landing dates (default: all, oldest first)")
    parser.add_argument("--workers", type=int, default=1, help="CHARGELEDGER_OCPP_WORKERS of the step (0: the pipeline's default, every CPU)")
    parser.add_argument("--no-compare", action="store_true", help="only time")
    parser.add_argument("--same-rows", action="store_true",
                        help="a file with other bytes but the same rows in the same order counts as identical "
                             "(a change of row-group layout); default: bytes must match")
    parser.add_argument("--keep", type=Path, help="copy into this folder and keep it")
    args = parser.parse_args(argv)
    original = args.warehouse.resolve() if args.warehouse else None
    landing = (args.landing or (original.parent / "landing" if original else None))
    if landing is None:
        parser.error("--landing is needed without --warehouse")
    assets = [a for a in ASSETS if a in args.asset]
    compare = original is not None and not args.no_compare
    root = args.keep or Path(tempfile.mkdtemp(prefix="check-ocpp-", dir=os.environ.get("TMPDIR")))
    copy = root / "warehouse"
    try:
        if not copy.exists():
            if original is not None:
                shutil.copytree(original, copy)
            else:
                copy.mkdir(parents=True)
        failures = 0
        totals = dict.fromkeys(assets, 0.0)
        for day in args.days or _dates(original, landing):
            for asset in assets:
                run = materialize(asset, day, copy, landing, args.workers)
                totals[asset] += run["cpu"]
                verdict = (_compare(original, copy, asset, day, rows_only=args.same_rows) if compare
                           else "not compared")
                failures += verdict.startswith("DIFFERENT") or not run["ok"]
                line = (f"{day}: {asset:14s} {run['cpu']:7.2f} CPU-s (tree), {run['wall']:6.1f} s wall, "
                        f"peak RSS {run['rss_mb']:6.0f} MB, "
                        f"{_rows(copy, asset, day):>9,} rows, {verdict}")
                if asset == "ocpp_messages" and (landing / "ocpp" / day).is_dir():
                    bare, _ = read_ndjson_cpu(landing, day)
                    line += f"; read_ndjson {bare:.2f} CPU-s = {bare / run['cpu']:.1%} of ingest"
                print(line, flush=True)
        verdict = ("all identical" if not failures else f"{failures} failure(s)") if compare else "not compared"
        print("total " + ", ".join(f"{asset} {cpu:.2f} CPU-s" for asset, cpu in totals.items()) + f"; {verdict}")
        return 1 if failures else 0
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
