"""How the OCPP ingest's cost for one day grows with the warehouse's history (issue 9: linear in the day's
frames, not in every day that came before).

A nightly run reads earlier landing dates for context (a transaction's start can land days before its stop).
This benchmark ingests a generated day (``ocpp_messages``, ``meter_readings``, ``transactions`` per landing
date, or takes a warehouse kept by ``bench_settlement --keep``), then adds ``--earlier-days`` earlier landing
dates: copies of the busiest date's partitions (frames, readings and the ``ocpp_transaction_days`` index) whose
transaction ids are changed so they name other transactions in the same id range, and whose instants are moved
back to their date, as older days are. It
re-runs the three steps for the last landing date with frames, with and without those days, each in its own
process, and prints CPU seconds (process tree), peak RSS, the ratio (goal: 1.0, history costs nothing), the
CPU per earlier day, and whether the re-run wrote the same bytes as the run without history.

    .venv/bin/python -m bench.bench_history                      # generates and ingests 25,000 sessions
    .venv/bin/python -m bench.bench_history --warehouse KEPT/warehouse --earlier-days 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_settlement import cached_landing
from pipelines.warm_kernels import generate_day
from bench.check_ocpp_asset import ASSETS, _compare, _dates, materialize

REPO = Path(__file__).resolve().parent.parent
# Copied tables: what the steps read of earlier dates.
HISTORY_TABLES = ["ocpp_messages", "meter_readings", "ocpp_transaction_days"]
# Earlier dates end this many days before the first real one: beyond the attribution look-back
# (``ATTRIBUTION_LOOKBACK_DAYS``), so they hold context the steps must look through, never one they use.
GAP_DAYS = 5


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def ingest(landing: Path, warehouse: Path) -> None:
    """The three OCPP steps for every landing date of ``landing``, oldest first (not timed)."""
    warehouse.mkdir(parents=True, exist_ok=True)
    for day in _dates(None, landing):
        for asset in ASSETS:
            materialize(asset, day, warehouse, landing)


# Run in a child process: polars' buffers would stay in this process, and every step's process started from
# it would report them in its peak RSS (a forked child's maximum starts at its parent's size).
_SHIFTED_COPY = """
import sys, datetime as dt, polars as pl
source, target, days = sys.argv[1], sys.argv[2], int(sys.argv[3])
frame = pl.scan_parquet(source)
shift = dt.timedelta(days=days)
times = [name for name, dtype in frame.collect_schema().items() if isinstance(dtype, pl.Datetime)]
(frame.with_columns(pl.col("transaction_id") + "~", *(pl.col(name) - shift for name in times))
 .sink_parquet(target, row_group_size=128 * 1024))
"""


def add_history(warehouse: Path, source_day: str, days: int) -> list[str]:
    """``days`` earlier landing dates, each a copy of ``source_day``'s partitions with other transaction ids
    and every instant moved back by the dates' distance (as frames received then); returns the dates."""
    first = min(dt.date.fromisoformat(d) for d in _dates(warehouse, None))
    source_date = dt.date.fromisoformat(source_day)
    dates = [first - dt.timedelta(days=GAP_DAYS + k) for k in range(days, 0, -1)]
    for table in HISTORY_TABLES:
        source = warehouse / table / f"landing_date={source_day}" / "part-0.parquet"
        if not source.exists():
            raise SystemExit(f"{source} is missing: ingest the day with this version first")
        for day in dates:
            folder = warehouse / table / f"landing_date={day.isoformat()}"
            folder.mkdir(parents=True)
            # "~" sorts after every id character, so the ids stay within the range of the real ones.
            subprocess.run([sys.executable, "-c", _SHIFTED_COPY, str(source), str(folder / "part-0.parquet"),
                            str((source_date - day).days)], check=True, cwd=REPO)
    return [day.isoformat() for day in dates]


def _copy(source: Path, target: Path) -> None:
    """A copy whose files are hard links (the steps replace files, never write into them)."""
    subprocess.run(["cp", "-al", str(source), str(target)], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, help="an ingested warehouse (read only; landing: its sibling)")
    parser.add_argument("--sessions", type=int, default=25_000, help="sessions of the generated day")
    parser.add_argument("--quick", action="store_true", help="2,000 sessions, 3 earlier days (smoke run)")
    parser.add_argument("--earlier-days", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--landing-cache", type=Path, help="as bench_settlement's")
    parser.add_argument("--keep", type=Path, help="keep the warehouses under this folder")
    args, _ = parser.parse_known_args(argv)
    sessions, earlier = (2_000, 3) if args.quick else (args.sessions, args.earlier_days)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bench-history-", dir=args.keep))
    try:
        if args.warehouse:
            source, landing = args.warehouse.resolve(), args.warehouse.resolve().parent / "landing"
        else:
            landing = root / "landing"
            if args.landing_cache:
                landing.symlink_to(cached_landing(args.landing_cache, sessions, args.seed), target_is_directory=True)
            else:
                generate_day(landing, sessions, args.seed)
            print(f"ingesting a generated day of {sessions:,} sessions ...", flush=True)
            source = root / "ingested"
            ingest(landing, source)
        dates = _dates(source, None)
        frames = {day: _rows(source / "ocpp_messages" / f"landing_date={day}" / "part-0.parquet") for day in dates}
        busiest = max(dates, key=frames.get)
        target = max(day for day in dates if frames[day])
        without, with_history = root / "without" / "warehouse", root / "with" / "warehouse"
        for folder in (without, with_history):
            folder.parent.mkdir(parents=True)
            _copy(source, folder)
        added = add_history(with_history, busiest, earlier)
        print(f"target landing date {target} ({frames[target]:,} frames); {earlier} earlier dates "
              f"{added[0]}..{added[-1]}, each a copy of {busiest} ({frames[busiest]:,} frames)\n")
        print("| step | CPU-s, no earlier days | CPU-s, with them | ratio | CPU-s per earlier day "
              "| peak RSS without / with | output |")
        print("|---|---|---|---|---|---|---|")
        failures = 0
        totals = [0.0, 0.0]
        for asset in ASSETS:
            base = materialize(asset, target, without, landing)
            grown = materialize(asset, target, with_history, landing)
            verdict = _compare(without, with_history, asset, target)
            failures += verdict.startswith("DIFFERENT") or not (base["ok"] and grown["ok"])
            totals[0] += base["cpu"]
            totals[1] += grown["cpu"]
            print(f"| {asset} | {base['cpu']:.1f} | {grown['cpu']:.1f} | {grown['cpu'] / base['cpu']:.2f} "
                  f"| {(grown['cpu'] - base['cpu']) / earlier:+.2f} | {base['rss_mb']:.0f} / {grown['rss_mb']:.0f} MB "
                  f"| {verdict} |", flush=True)
        print(f"\nThe three steps for {target}: {totals[0]:.1f} CPU-s without earlier days, {totals[1]:.1f} with "
              f"{earlier}: ratio {totals[1] / totals[0]:.2f} (goal: about 1.0; the history's cost per earlier day "
              f"{(totals[1] - totals[0]) / earlier:+.2f} CPU-s)")
        return 1 if failures else 0
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
