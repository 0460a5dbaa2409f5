"""What splitting one landing date's OCPP chain into charge-point shards gains on this machine, measured in one run.

Issue 9 item 5 asks for a second split of a day (charge-point hash shards) so one day runs as several Dagster
steps. Readings and transactions only relate frames of the same charge point, so the OCPP chain
(``ocpp_messages`` -> ``meter_readings`` -> ``transactions``) of one date can run per shard. Before building the
shard dimension this benchmark measures what it can give here:

1. the date's OCPP landing files are split into ``--shards`` landing roots by a hash of each line's charge point
   (CRC-32 of ``charge_point_id`` modulo the shard count; a line without one goes to shard 0), same file names;
2. the chain runs on the whole date in one warehouse, one asset after the other, each in its own process
   (as ``check_ocpp_asset`` does);
3. the chain runs on every shard at the same time, each shard in its own warehouse.

It prints both wall times and their ratio (the speed-up a shard split would give the OCPP chain on this
machine's cores), the CPU of both (what the split costs: each shard reads its own files and starts its own
processes), and the rows of each table: the shards' rows must add up to the whole date's (a charge point's
frames never relate to another's), which the benchmark checks and exits 1 if not. Both runs start from an
empty warehouse, so they see the same (no) earlier landing dates: choose the first OCPP landing date, which
holds most of a generated day's frames.

    .venv/bin/python -m bench.bench_shard_split --sessions 100000 --landing-cache /var/tmp/days
    .venv/bin/python -m bench.bench_shard_split --landing /path/to/landing --shards 2
    .venv/bin/python -m bench.bench_shard_split --quick      # a 2,000-session day (smoke run)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from assets.ingest.common.files import landed_files, open_landed
from bench.bench_settlement import cached_landing
from bench.check_ocpp_asset import ASSETS, _outputs, _rows, materialize
from pipelines.warm_kernels import generate_day

OCPP_FOLDER = "ocpp"
CHARGE_POINT_FIELD = b'"charge_point_id":"'


def shard_of_line(line: bytes, shards: int) -> int:
    """The shard of one landing line: CRC-32 of its ``charge_point_id`` modulo ``shards``; 0 without one.

    The landing envelope is written by our gateway and exporters with the field as ``"charge_point_id":"…"``;
    the value is read up to the next quote (charge point ids are identifiers, never escaped strings).
    """
    start = line.find(CHARGE_POINT_FIELD)
    if start < 0:
        return 0
    start += len(CHARGE_POINT_FIELD)
    end = line.find(b'"', start)
    return zlib.crc32(line[start:end if end >= 0 else len(line)]) % shards


def split_landing(landing: Path, day: str, shards: int, target: Path) -> list[Path]:
    """The day's OCPP landing files split into ``shards`` landing roots under ``target`` (``shard-0`` …).

    Every line of every file goes to exactly one shard, in order; compressed files are written decompressed
    under their name without the compression suffix. Returns the shard roots.
    """
    roots = [target / f"shard-{index}" for index in range(shards)]
    for file in landed_files(landing, landing / OCPP_FOLDER / day):
        relative = Path(file.ref).with_name(file.name)
        outputs = []
        for root in roots:
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            outputs.append(open(root / relative, "wb"))
        try:
            with open_landed(file) as stream:
                for line in stream:  # a binary stream splits on b"\n" only
                    outputs[shard_of_line(line, shards)].write(line)
        finally:
            for output in outputs:
                output.close()
    return roots


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_chain(warehouse: Path, landing: Path, day: str, wall: dict[str, float]) -> None:
    """The OCPP chain for ``day`` on ``landing`` into a fresh ``warehouse``; each asset's wall s into ``wall``."""
    warehouse.mkdir(parents=True)
    for asset in ASSETS:
        wall[asset] = materialize(asset, day, warehouse, landing)["wall"]


def quarantined(warehouse: Path, asset: str, day: str) -> int:
    """Rows ``asset`` quarantined for ``day``."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(warehouse / path).metadata.num_rows for path in _outputs(warehouse, asset, day)
               if path.parts[0] == "quarantine")


def timed(action: Callable[[], None]) -> tuple[float, float]:
    """(wall s, CPU s of the child processes) of ``action``."""
    cpu, start = _children_cpu(), time.perf_counter()
    action()
    return time.perf_counter() - start, _children_cpu() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, help="a generated landing root (only read); default: generate a day")
    parser.add_argument("--sessions", type=int, default=25_000, help="sessions of the generated day (default 25,000)")
    parser.add_argument("--quick", action="store_true", help="a day of 2,000 sessions (smoke run)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--landing-cache", type=Path, help="as bench_settlement's: generate each day once, reuse it")
    parser.add_argument("--date", help="the OCPP landing date (default: the first)")
    parser.add_argument("--shards", type=int, default=2, help="number of charge-point shards (default 2)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args, _ = parser.parse_known_args(argv)  # `make bench` passes every benchmark the same arguments
    root = args.keep or Path(tempfile.mkdtemp(prefix="shard-split-", dir=os.environ.get("TMPDIR")))
    root.mkdir(parents=True, exist_ok=True)
    try:
        if args.landing:
            landing = args.landing.resolve()
        else:
            sessions = 2_000 if args.quick else args.sessions
            if args.landing_cache:
                landing = cached_landing(args.landing_cache, sessions, args.seed)
            else:
                landing = root / "generated"
                generate_day(landing, sessions, args.seed)
        day = args.date or min(p.name for p in (landing / OCPP_FOLDER).iterdir() if p.is_dir())
        split_s = time.perf_counter()
        shard_roots = split_landing(landing, day, args.shards, root / "landing")
        split_s = time.perf_counter() - split_s
        whole_wall: dict[str, float] = {}
        whole = timed(lambda: run_chain(root / "whole" / "warehouse", landing, day, whole_wall))
        shard_walls = [{} for _ in shard_roots]

        def all_shards() -> None:
            threads = [threading.Thread(target=run_chain, args=(root / f"shard-{i}" / "warehouse", shard_root, day,
                                                                 shard_walls[i]))
                       for i, shard_root in enumerate(shard_roots)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        sharded = timed(all_shards)
        if any(len(walls) != len(ASSETS) for walls in shard_walls):
            print("a shard's chain failed (see above)")
            return 1
        print(f"OCPP chain of landing date {day} ({', '.join(ASSETS)}), {args.shards} charge-point shards "
              f"on {os.cpu_count()} CPUs (split of the landing files: {split_s:.1f} s, not counted)")
        print("| run | wall s | CPU s | " + " | ".join(f"{a} wall s" for a in ASSETS) + " |")
        print("|---|---|---|" + "---|" * len(ASSETS))
        print(f"| whole date | {whole[0]:.1f} | {whole[1]:.1f} | "
              + " | ".join(f"{whole_wall[a]:.1f}" for a in ASSETS) + " |")
        print(f"| {args.shards} shards at once | {sharded[0]:.1f} | {sharded[1]:.1f} | "
              + " | ".join(" / ".join(f"{walls[a]:.1f}" for walls in shard_walls) for a in ASSETS) + " |")
        print(f"speed-up of the OCPP chain (whole wall / sharded wall): {whole[0] / sharded[0]:.2f}; "
              f"CPU of the shards: {sharded[1] / whole[1]:.2f} x the whole date's")
        failures = 0
        for asset in ASSETS:
            for label, count in (("rows", _rows), ("quarantined rows", quarantined)):
                expected = count(root / "whole" / "warehouse", asset, day)
                got = [count(root / f"shard-{i}" / "warehouse", asset, day) for i in range(args.shards)]
                same = sum(got) == expected
                failures += not same
                print(f"{label} of {asset}: whole {expected:,}, shards {' + '.join(f'{n:,}' for n in got)} "
                      f"{'=' if same else '!='} {sum(got):,}")
        return 1 if failures else 0
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
