"""Benchmark of the platform CDR page ingest; prints throughputs, peak memory and ratios measured in one run.

1. Fetch: the real `PlatformApiResource` walks `cdrs/v2.0` on the loopback stand-in (100 CDRs a page) and
   lands every page (fsync + rename): CDRs/s and pages/s, and the ratio to the same pages fetched with
   a bare httpx loop that only follows `links.next` (no landing): the cost of durability.
2. Parse: the `platform_cdrs` logic (ingest framework: read pages, parse, versions, polars frames,
   write the Parquet partition): CDRs/s, and the ratio to `json.loads` of the same pages alone (the
   floor any parser pays).
3. Peak memory (max RSS) of the parse, measured in a child process of its own (the stand-in's records
   would otherwise count against it).

    .venv/bin/python -m bench.bench_ingest_pages [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from assets.ingest.common import IngestRun, VersionRule, day_files
from assets.ingest.platform import parse
from assets.ingest.platform.fetch import PageCollector
from assets.ingest.platform.ingest import page_reader
from assets.ingest.platform.tables import PLATFORM_CDRS
from resources.landing import LandingZoneResource
from resources.platform_api import PlatformApiResource
from resources.warehouse import WarehouseResource
from tests.standins import platform_data
from tests.standins.platform import PlatformStandin

TOKEN = "bench-token"
DAY = "2026-11-21"


def bench_fetch(server: PlatformStandin, landing: LandingZoneResource, cdrs: int) -> tuple[float, float, int]:
    """(seconds with landing, seconds bare httpx, pages)."""
    api = PlatformApiResource(base_url=server.url, api_token=TOKEN)
    collector = PageCollector(landing, "platform/cdrs", DAY, "bench")
    started = time.perf_counter()
    api.fetch_listing("cdrs", collector)
    landed = time.perf_counter() - started
    assert len(collector.items) == cdrs

    started = time.perf_counter()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        url: str | None = "/public-api/resources/cdrs/v2.0?per_page=100&cursor="
        while url:
            url = client.get(url).json()["links"]["next"]
    bare = time.perf_counter() - started
    return landed, bare, collector.pages


def bench_parse(landing: LandingZoneResource, warehouse: WarehouseResource, cdrs: int) -> tuple[float, float]:
    """(seconds for the full parse + write, seconds for json.loads alone)."""
    files = day_files(landing, "platform/cdrs", DAY)
    started = time.perf_counter()
    run = IngestRun(source="bench", spec=PLATFORM_CDRS,
                    parse=lambda value, record: parse.parse_cdr(value, {}, {"1": "Europe/Berlin"}),
                    versions=VersionRule(key=lambda row: row["cdr_id"], version=lambda row: row["last_updated"]))
    result = run.add_all(page_reader("bench").batches(files)).finish()
    warehouse.write_partition(PLATFORM_CDRS, result.accepted, landing_date=dt.date.fromisoformat(DAY))
    full = time.perf_counter() - started
    assert result.accepted.height == cdrs and result.quarantine.height == 0

    started = time.perf_counter()
    for file in files:
        json.loads(file.path.read_bytes())
    floor = time.perf_counter() - started
    return full, floor


def parse_only(root: str, cdrs: int) -> None:
    """Child-process entry: parse the landed pages under `root` and print timings and peak RSS."""
    landing = LandingZoneResource(root=str(Path(root) / "landing"))
    warehouse = WarehouseResource(root=str(Path(root) / "warehouse"))
    full, floor = bench_parse(landing, warehouse, cdrs)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{full} {floor} {peak_mb}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 000 CDRs instead of 50 000")
    parser.add_argument("--parse-only", nargs=2, metavar=("ROOT", "CDRS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.parse_only:
        parse_only(args.parse_only[0], int(args.parse_only[1]))
        return 0
    cdrs = 2_000 if args.quick else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        landing = LandingZoneResource(root=str(Path(tmp) / "landing"))
        server = PlatformStandin(TOKEN).start()
        server.cdrs.extend(platform_data.make_cdr(i, is_local=False) for i in range(cdrs))
        try:
            landed, bare, pages = bench_fetch(server, landing, cdrs)
        finally:
            server.stop()
        del server
        child = subprocess.run([sys.executable, "-m", "bench.bench_ingest_pages", "--parse-only", tmp, str(cdrs)],
                               check=True, capture_output=True, text=True)
        full, floor, peak_mb = (float(v) for v in child.stdout.split()[-3:])
    print(f"CDRs: {cdrs}, pages: {pages}")
    print(f"fetch + land:   {cdrs / landed:10.0f} CDRs/s  {pages / landed:8.1f} pages/s")
    print(f"fetch bare:     {cdrs / bare:10.0f} CDRs/s  (landing overhead ratio {landed / bare:.2f}x)")
    print(f"parse + write:  {cdrs / full:10.0f} CDRs/s  (ratio to json.loads alone {full / floor:.1f}x)")
    print(f"parse peak RSS: {peak_mb:10.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
