"""Memory of ``ocpp_messages`` on a landing date whose frames all arrive within two minutes, measured in one run.

``ocpp_messages`` resolves and writes its frames one spill bucket (a span of minutes received) at a time, sized for
a day whose frames arrive spread over it (``pipeline.received_span``). A backlog a CSMS uploads at once, or a
replayed archive, lands hours of frames within minutes: one bucket would hold them all. The partition writer
splits a spill bucket of more than ``SPILL_SPLIT_ROWS`` frames by the minute, second and millisecond received
before reading it (``PartitionWriter``, ``FINER_SPANS``).

This benchmark takes a generated day's first OCPP landing date, writes a copy whose every ``received_at`` is
squeezed into 09:00-09:02 of that date (order kept: second s of the day becomes 09:00 + s/720), and runs one shard
of ``ocpp_messages`` (shard 1 of the date's automatic shard count) in a fresh process each:

- on the date as generated, with the split (the ordinary case: no bucket reaches the threshold);
- on the bunched date, with the split;
- on the bunched date without it (``SPILL_SPLIT_ROWS = None``: the code before the split).

It prints CPU seconds, peak RSS and the spill buckets split of each, the ratio of the bunched date's peak RSS
without and with the split, and whether the three part files have the bytes they should (the bunched date's
two runs the same file). Exit 1 when the bunched bytes differ.

    .venv/bin/python -m bench.bench_bunched_ocpp --landing-cache /var/tmp/days      # a 25,000-session day
    .venv/bin/python -m bench.bench_bunched_ocpp --quick                              # a 2,000-session day
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from assets.ingest.common.files import landed_files, open_landed
from bench.bench_settlement import ROOT, cached_landing
from pipelines.warm_kernels import generate_day

PREFIX = b'{"received_at":"'
STAMP_LENGTH = len("2026-10-24T03:00:00.392762Z")
SQUEEZE = 86_400 / 120  # a day into two minutes


def squeeze(stamp: str) -> str:
    """``received_at`` moved to 09:00 of its date plus its second of the day / 720 (order kept)."""
    moment = dt.datetime.fromisoformat(stamp)
    second_of_day = moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6
    nine = moment.replace(hour=9, minute=0, second=0, microsecond=0)
    return (nine + dt.timedelta(seconds=second_of_day / SQUEEZE)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def bunched_copy(landing: Path, day: str, target: Path) -> int:
    """The date's OCPP landing files under ``target`` with every ``received_at`` squeezed (lines in another
    envelope shape are copied as they are); returns the lines squeezed."""
    squeezed = 0
    for file in landed_files(landing, landing / "ocpp" / day):
        relative = Path(file.ref).with_name(file.name)
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        with open_landed(file) as stream, open(target / relative, "wb") as output:
            for line in stream:  # a binary stream splits on b"\n" only
                if line.startswith(PREFIX) and line[len(PREFIX) + STAMP_LENGTH:].startswith(b'"'):
                    stamp = line[len(PREFIX):len(PREFIX) + STAMP_LENGTH].decode()
                    line = PREFIX + squeeze(stamp).encode() + line[len(PREFIX) + STAMP_LENGTH:]
                    squeezed += 1
                output.write(line)
    return squeezed


def child(warehouse: str, landing: str, day: str, split: bool) -> None:
    """One shard of ``ocpp_messages`` (this process's whole work), printed as JSON."""
    import time

    import assets.ingest.ocpp.assets as ocpp_assets
    import assets.tables  # noqa: F401  (registers every table)
    from assets.ingest.ocpp.shards import WHOLE, shard_count, split as split_shards
    from resources.landing import LandingZoneResource
    from resources.warehouse import WarehouseResource
    from bench.peak_memory import status_bytes

    if not split:
        ocpp_assets.SPILL_SPLIT_ROWS = None
    landing_zone = LandingZoneResource(root=landing)
    date = dt.date.fromisoformat(day)
    count = shard_count(ocpp_assets.day_files(landing_zone, ocpp_assets.LANDING_SOURCE, date))
    shard = split_shards(count)[0] if count > 1 else WHOLE
    started = time.process_time()
    part = ocpp_assets._messages_shard(WarehouseResource(root=warehouse), landing_zone, date, shard)
    files = sorted(Path(warehouse, "ocpp_messages").rglob("*.staged"))
    print(json.dumps({"cpu_s": time.process_time() - started, "shards": count,
                      "peak_rss": status_bytes("VmHWM"),
                      "split": part.counts.get("spill_buckets_split", 0),
                      "rows": part.rows, "rows_in": part.rows_in, "quarantined": len(part.rejections),
                      "sha256": hashlib.sha256(files[0].read_bytes()).hexdigest() if files else None}))


def run(work: Path, name: str, landing: Path, day: str, split: bool) -> dict:
    warehouse = work / f"warehouse-{name}"
    warehouse.mkdir()
    done = subprocess.run([sys.executable, "-m", "bench.bench_bunched_ocpp", "--child", str(warehouse), str(landing),
                           day, "split" if split else "unsplit"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{name}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=4, metavar=("WAREHOUSE", "LANDING", "DATE", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help="a generated landing root (only read); default: generate a day")
    parser.add_argument("--sessions", type=int, default=25_000, help="sessions of the generated day (default 25,000)")
    parser.add_argument("--quick", action="store_true", help="a day of 2,000 sessions (smoke run)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--landing-cache", type=Path, help="as bench_settlement's: generate each day once, reuse it")
    arguments = parser.parse_args(argv)
    if arguments.child:
        warehouse, landing, day, mode = arguments.child
        child(warehouse, landing, day, mode == "split")
        return 0
    sessions = 2_000 if arguments.quick else arguments.sessions
    with tempfile.TemporaryDirectory(prefix="bench-bunched-") as folder:
        work = Path(folder)
        landing = arguments.landing
        if landing is None and arguments.landing_cache is not None:
            landing = cached_landing(arguments.landing_cache, sessions, arguments.seed)
        elif landing is None:
            landing = work / "landing"
            generate_day(landing, sessions, arguments.seed)
        day = sorted(p.name for p in (landing / "ocpp").iterdir() if p.is_dir())[0]
        bunched = work / "bunched"
        squeezed = bunched_copy(landing, day, bunched)
        print(f"{day}: {squeezed:,} frames squeezed into 09:00-09:02", flush=True)
        runs = {}
        for name, root, split in (("as generated, split", landing, True), ("bunched, split", bunched, True),
                                  ("bunched, not split", bunched, False)):
            runs[name] = run(work, name.replace(", ", "-").replace(" ", "_"), root, day, split)
            result = runs[name]
            print(f"  {name}: shard 1 of {result['shards']}, {result['rows_in']:,} lines in, {result['rows']:,} rows, "
                  f"{result['quarantined']:,} quarantined, {result['cpu_s']:.1f} CPU-s, "
                  f"peak RSS {result['peak_rss'] / 2**30:.2f} GB, spill buckets split {result['split']}", flush=True)
    split_file, unsplit_file = runs["bunched, split"]["sha256"], runs["bunched, not split"]["sha256"]
    same = split_file is not None and split_file == unsplit_file
    print(f"bunched date, peak RSS not split / split: "
          f"{runs['bunched, not split']['peak_rss'] / runs['bunched, split']['peak_rss']:.2f}; "
          f"CPU split / not split: {runs['bunched, split']['cpu_s'] / runs['bunched, not split']['cpu_s']:.2f}; "
          f"peak RSS bunched split / as generated: "
          f"{runs['bunched, split']['peak_rss'] / runs['as generated, split']['peak_rss']:.2f}")
    print(f"bunched part file split and not split: {'the same bytes' if same else 'DIFFERENT BYTES'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
