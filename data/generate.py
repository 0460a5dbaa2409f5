"""CLI and driver: `python -m data.generate [--out DIR] [--seed N] [--start YYYY-MM-DD] [--days N]
[--sessions-per-day N] [--fault-rate F] [--meter-interval S] [--sources a,b,...] [--ocpp-share F]
[--compress gzip|zstd]`.

Sessions are generated day by day in chunks (numpy, vectorised), each chunk written out and dropped before the
next, so memory does not grow with the day's size. Every random stream is derived from (seed, day, chunk), so
the same flags give byte-identical files.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from data.config import ALL_SOURCES, COMPRESSIONS, DEFAULT_SESSIONS_PER_DAY, DEFAULT_START, GeneratorConfig
from data.context import RunContext
from data.faults import plan
from data.fleet import OPERATORS, Fleet
from data.landing import MANIFEST, Landing
from data.manifest import Tally
from data.sessions import SessionChunk, generate_chunk
from data.sources import ocpp
from data.sources.eevion import EevionWriter
from data.sources.electricity_rates import write_electricity_rates
from data.sources.intervals import IntervalWriter
from data.sources.ocpi import OcpiCdrWriter
from data.sources.platform import PlatformWriter
from data.sources.contracts import write_contracts
from data.sources.static import write_partners, write_reference, write_tariffs
from data.timeutil import dst_transitions, iso_s, local_date

GENERATOR_VERSION = "1.0"
DST_REFS_KEPT = 1_000


def _release_memory() -> None:
    """Hand freed chunk memory back to the OS between chunks.

    Each chunk allocates and frees millions of short JSON strings; glibc keeps the freed arenas, so without a
    trim the resident size creeps up with the day's size although nothing is retained. No-op off glibc.
    """
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - probe: only glibc has it
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()


def _boot_stations(ctx: RunContext) -> None:
    """Every station talking to our central system boots once at the start of the first day."""
    fleet = ctx.fleet
    at = ocpp.first_boot_time(ctx.cfg.start)
    seen: set[int] = set()
    for evse in range(fleet.evse_count):
        station = int(fleet.evse_station[evse])
        if station in seen or fleet.ocpp_protocol(evse) is None:
            continue
        seen.add(station)
        ocpp.boot_station(ctx, evse, at + station % 600)


def _record_session(ctx: RunContext, chunk: SessionChunk, i: int, day: str,
                    transitions: dict[str, list[int]]) -> None:
    """Session-level truths: counts per generated day, settlement date, energy per currency, DST spans."""
    tally = ctx.tally
    op = OPERATORS[int(chunk.op[i])]
    start = int(chunk.start[i])
    end = start + int(chunk.plug_s[i])
    tally.sessions_by_day[day]["sessions"] += 1
    if chunk.cancelled[i]:
        tally.sessions_by_day[day]["cancelled"] += 1
        return
    energy = int(chunk.energy_wh[i])
    tally.sessions_by_currency[op.currency] += 1
    tally.energy_wh_by_currency[op.currency] += energy
    settle = tally.by_settlement[local_date(end, op.time_zone).isoformat()][op.currency]
    settle["sessions"] += 1
    settle["energy_wh"] += energy
    for t in transitions[op.time_zone]:
        if start < t <= end:
            tally.dst_session_count += 1
            if len(tally.dst_sessions) >= DST_REFS_KEPT:
                continue  # the count stays exact; refs are a sample so a 1M-session day stays small
            tally.dst_sessions.append({"session": f"S{int(chunk.sid[i]):09d}", "operator_id": op.id,
                                       "time_zone": op.time_zone, "start": iso_s(start), "end": iso_s(end),
                                       "transition": iso_s(t)})


def run(cfg: GeneratorConfig) -> dict[str, Any]:
    """Generate the landing zone for `cfg`; returns the manifest (also written to `<out>/_manifest.json`)."""
    landing = Landing(cfg.out, compress=cfg.compress)
    landing.reset(cfg.sources)
    fleet = Fleet(cfg.seed, cfg.sessions_per_day, cfg.ocpp_share)
    tally = Tally()
    ctx = RunContext(cfg, fleet, landing, tally, np.random.default_rng(np.random.SeedSequence([cfg.seed, 7])))
    days = cfg.day_list
    zones = sorted({op.time_zone for op in OPERATORS})
    transitions = {z: dst_transitions(z, days[0], days[-1] + dt.timedelta(days=1)) for z in zones}

    if cfg.wants("reference"):
        write_reference(ctx)
    if cfg.wants("tariffs"):
        write_tariffs(ctx)
    if cfg.wants("partners"):
        write_partners(ctx)
        write_contracts(ctx)  # partner contracts travel with the company documents (docs/contracts.md)
    if cfg.wants("ocpp"):
        _boot_stations(ctx)
    cdrs = OcpiCdrWriter(ctx) if cfg.wants("ocpi_cdrs") else None
    platform = PlatformWriter(ctx, landing) if cfg.wants("platform") else None
    if platform is not None:
        # Rates live in the platform's folder (its reset clears them), so they come with that source.
        write_electricity_rates(ctx)
    eevion = EevionWriter(ctx, landing) if cfg.wants("eevion") else None
    intervals = IntervalWriter(ctx, landing) if cfg.wants("interval_charges") else None
    writers = [w for w in (cdrs, platform, eevion, intervals) if w is not None]

    sid = 0
    for d_index, day in enumerate(days):
        day_key = day.isoformat()
        remaining = cfg.sessions_per_day
        chunk_no = 0
        while remaining > 0:
            n = min(cfg.chunk_size, remaining)
            rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, d_index, chunk_no]))
            chunk = generate_chunk(fleet, day, sid, n, rng)
            faults = plan(cfg, fleet, chunk, rng)
            ctx.rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, d_index, chunk_no, 1]))
            for i in range(n):
                _record_session(ctx, chunk, i, day_key, transitions)
                if cfg.wants("ocpp"):
                    ocpp.emit_session(ctx, chunk, i, faults[i])
                for writer in writers:
                    writer.emit_session(chunk, i, faults[i])
            landing.flush()
            _release_memory()
            sid += n
            remaining -= n
            chunk_no += 1
    for writer in (platform, eevion, intervals):
        if writer is not None:
            writer.close()
    landing.finalize()

    header = {
        "generator_version": GENERATOR_VERSION, "seed": cfg.seed, "start": cfg.start.isoformat(), "days": cfg.days,
        "day_list": [d.isoformat() for d in days], "sessions_per_day": cfg.sessions_per_day,
        "fault_rate": cfg.fault_rate, "meter_interval": cfg.meter_interval, "sources": sorted(cfg.sources),
        "dst_changes": {z: [iso_s(t) for t in ts] for z, ts in transitions.items()},
        "operators": [{"id": op.id, "time_zone": op.time_zone, "currency": op.currency, "backend": op.backend}
                      for op in OPERATORS],
        "fleet": {"sites": fleet.site_count, "stations": fleet.station_count, "evses": fleet.evse_count},
    }
    # Only when used, so the default manifest stays byte-identical to earlier versions'.
    if cfg.ocpp_share is not None:
        header["ocpp_share"] = cfg.ocpp_share
    if cfg.compress is not None:
        header["compress"] = cfg.compress
    manifest = tally.to_json(header)
    landing.write_json(MANIFEST, manifest, pretty=True)
    return manifest


def _parse_sources(text: str) -> frozenset[str]:
    chosen = frozenset(s.strip() for s in text.split(",") if s.strip())
    unknown = chosen - set(ALL_SOURCES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown sources {sorted(unknown)}; choose from {','.join(ALL_SOURCES)}")
    return chosen


def parse_args(argv: list[str] | None = None) -> GeneratorConfig:
    """CLI flags → GeneratorConfig."""
    parser = argparse.ArgumentParser(prog="python -m data.generate", description=__doc__.split("\n\n")[1])
    parser.add_argument("--out", default=os.environ.get("CHARGELEDGER_LANDING", "data/landing"),
                        help="landing zone root (default $CHARGELEDGER_LANDING or data/landing)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=DEFAULT_START,
                        help="first day (local session start), default 2026-10-24 (EU/UK DST change on the 25th)")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--sessions-per-day", type=int, default=DEFAULT_SESSIONS_PER_DAY)
    parser.add_argument("--fault-rate", type=float, default=0.02, help="share of sessions with one injected fault")
    parser.add_argument("--meter-interval", type=int, default=60, help="OCPP MeterValues interval in seconds")
    parser.add_argument("--sources", type=_parse_sources, default=frozenset(ALL_SOURCES),
                        help=f"comma-separated subset of {','.join(ALL_SOURCES)}")
    parser.add_argument("--chunk-size", type=int, default=20_000, help="sessions generated per vectorised chunk")
    parser.add_argument("--ocpp-share", type=float, default=None,
                        help="share of sessions at stations that talk OCPP to us (Voltline + home chargers; default "
                             "their natural 0.5); small values make a 1,000,000-session day cheap")
    parser.add_argument("--compress", choices=sorted(COMPRESSIONS), default=None,
                        help="compress .jsonl landing files (OCPP logs, OCPI CDRs) as .jsonl.gz / .jsonl.zst; off by default")
    args = parser.parse_args(argv)
    return GeneratorConfig(out=Path(args.out), seed=args.seed, start=args.start, days=args.days,
                           sessions_per_day=args.sessions_per_day, fault_rate=args.fault_rate,
                           meter_interval=args.meter_interval, sources=args.sources, chunk_size=args.chunk_size,
                           ocpp_share=args.ocpp_share, compress=args.compress)


def main(argv: list[str] | None = None) -> int:
    """Entry point: generate, then print a one-screen summary."""
    cfg = parse_args(argv)
    began = time.perf_counter()
    manifest = run(cfg)
    elapsed = time.perf_counter() - began
    totals = manifest["totals"]
    faults = sum(f["count"] for f in manifest["faults"].values())
    print(f"generated {cfg.days} day(s) x {cfg.sessions_per_day} sessions into {cfg.out} in {elapsed:.1f} s")
    print(f"  delivered sessions by currency: {totals['sessions_by_currency']}")
    print(f"  kWh by currency: {totals['kwh_by_currency']}")
    print(f"  injected faults: {faults}; sessions spanning a DST change: {manifest['dst_sessions']['count']}")
    print(f"  manifest: {cfg.out / MANIFEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
