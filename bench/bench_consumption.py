"""Benchmarks of the consumption kernels; prints throughputs and ratios measured in one run.

1. Clock-aligned allocation kernel (numba, one core) on 10 million register readings (60 per session,
   Europe/London, 30-minute intervals): readings/s against the 50 M/s goal, and the ratio to an
   idiomatic polars implementation of the same allocation (datetime ranges + as-of joins + linear
   interpolation + cumulative rounding; polars uses its default thread pool) whose output is checked
   to be identical.
2. Charging-period splitting of 1 million sessions of 60 readings (tariff window edges, a kWh and a
   duration threshold, a power threshold; charging/parking derived from power), in chunks of 100 000
   sessions: sessions/s and the process's peak memory.

    NUMBA_CACHE_DIR=.numba_cache .venv/bin/python bench/bench_consumption.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".numba_cache"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from tariff_engine.consumption.allocation import allocate_intervals, count_intervals  # noqa: E402
from tariff_engine.consumption.periods_kernel import split_sessions  # noqa: E402
from tariff_engine.consumption.price_changes import PriceChangeRules, pack_rules  # noqa: E402
from tariff_engine.consumption.timezones import build_zone_timelines  # noqa: E402

READINGS_PER_SESSION = 60
STEP_US = 30 * 60_000_000
BASE_US = 1_790_000_000_000_000  # 2026-09-21, a week before nothing in particular
ZONE = "Europe/London"


def synthetic_sessions(n_sessions: int, seed: int) -> tuple[np.ndarray, ...]:
    """Sessions of 60 readings 30-120 s apart, random start over ten weeks (crossing the October clock change)."""
    rng = np.random.default_rng(seed)
    n = n_sessions * READINGS_PER_SESSION
    gaps = rng.integers(30_000_000, 120_000_000, size=n).astype(np.int64)
    gaps[::READINGS_PER_SESSION] = 0
    starts = BASE_US + rng.integers(0, 70 * 86_400_000_000, size=n_sessions).astype(np.int64)
    times = np.cumsum(gaps.reshape(n_sessions, READINGS_PER_SESSION), axis=1) + starts[:, None]
    # Each session charges at its own power (3.7-50 kW, 5 % noise), then parks for its last readings.
    power_w = rng.uniform(3_700, 50_000, size=(n_sessions, 1)) * rng.normal(1.0, 0.05, size=(n_sessions, READINGS_PER_SESSION))
    steps = np.clip(power_w, 0, None) * gaps.reshape(n_sessions, READINGS_PER_SESSION) / 3.6e9
    parked_from = rng.integers(40, READINGS_PER_SESSION + 1, size=(n_sessions, 1))
    steps[np.arange(READINGS_PER_SESSION)[None, :] >= parked_from] = 0.0
    steps[:, 0] = rng.integers(0, 10**7, size=n_sessions)
    registers = np.cumsum(steps, axis=1)
    ptr = np.arange(0, n + 1, READINGS_PER_SESSION, dtype=np.int64)
    return ptr, times.ravel(), registers.ravel(), times[:, 0].copy(), times[:, -1].copy()


def run_kernel(ptr, times, registers, start, end, timelines, zone_index):
    """Count then fill the clock intervals (the two kernel passes `align_sessions` makes)."""
    out_ptr = count_intervals(start, end, zone_index, timelines.zone_ptr, timelines.segment_start_us,
                              timelines.segment_offset_us, STEP_US)
    labels, energy = allocate_intervals(ptr, times, registers, start, end, zone_index, timelines.zone_ptr,
                                        timelines.segment_start_us, timelines.segment_offset_us, STEP_US, out_ptr)
    return out_ptr, labels, energy


def polars_allocation(ptr, times, registers, start, end) -> pl.DataFrame:
    """The same allocation, written the idiomatic polars way."""
    n_sessions = start.shape[0]
    session = np.repeat(np.arange(n_sessions), np.diff(ptr))
    to_dt = lambda a: pl.Series(a).cast(pl.Datetime("us", "UTC"))  # noqa: E731
    readings = pl.DataFrame({"s": session, "t": to_dt(times), "r": registers})
    spans = pl.DataFrame({"s": np.arange(n_sessions), "start": to_dt(start), "end": to_dt(end)})
    inner = spans.with_columns(
        pl.datetime_ranges(pl.col("start").dt.convert_time_zone(ZONE).dt.truncate("30m").dt.convert_time_zone("UTC")
                           + pl.duration(minutes=30), pl.col("end"), "30m", closed="left").alias("b")
    ).explode("b").drop_nulls("b").filter(pl.col("b") < pl.col("end")).select("s", "b")
    edges = pl.concat([spans.select("s", pl.col("start").alias("b")), inner, spans.select("s", pl.col("end").alias("b"))]) \
        .unique(maintain_order=False).sort(["s", "b"])
    before = edges.join_asof(readings.rename({"t": "t0", "r": "r0"}), left_on="b", right_on="t0", by="s",
                             strategy="backward", check_sortedness=False)
    both = before.join_asof(readings.rename({"t": "t1", "r": "r1"}), left_on="b", right_on="t1", by="s",
                            strategy="forward", check_sortedness=False)
    frac = ((pl.col("b") - pl.col("t0")).dt.total_microseconds()
            / (pl.col("t1") - pl.col("t0")).dt.total_microseconds())
    value = pl.when(pl.col("t0").is_null()).then(pl.col("r1")).when(pl.col("t1").is_null() | (pl.col("t1") == pl.col("t0"))) \
        .then(pl.col("r0")).otherwise(pl.col("r0") + (pl.col("r1") - pl.col("r0")) * frac)
    return both.with_columns(value.alias("R")).with_columns(
        (pl.col("R") - pl.col("R").first().over("s") + 0.5).floor().cast(pl.Int64).alias("cum")
    ).with_columns(pl.col("cum").diff().over("s").alias("wh")).drop_nulls("wh").select("s", "wh")


def bench_alignment(n_readings: int) -> None:
    """Time the kernel (best of 3, after JIT warm-up) and the polars version once; compare outputs."""
    n_sessions = n_readings // READINGS_PER_SESSION
    ptr, times, registers, start, end = synthetic_sessions(n_sessions, seed=1)
    timelines = build_zone_timelines([ZONE], int(start.min()), int(end.max()))
    zone_index = np.zeros(n_sessions, dtype=np.int64)
    run_kernel(ptr[:101], times[:ptr[100]], registers[:ptr[100]], start[:100], end[:100], timelines, zone_index[:100])
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        out_ptr, labels, energy = run_kernel(ptr, times, registers, start, end, timelines, zone_index)
        best = min(best, time.perf_counter() - t0)
    kernel_rate = times.shape[0] / best
    t0 = time.perf_counter()
    reference = polars_allocation(ptr, times, registers, start, end)
    polars_s = time.perf_counter() - t0
    same = reference.height == energy.shape[0] and np.array_equal(reference["wh"].to_numpy(), energy)
    print(f"alignment: {times.shape[0]:,} readings, {n_sessions:,} sessions, {energy.shape[0]:,} intervals")
    print(f"  numba kernel (1 core): {best:.3f} s  -> {kernel_rate / 1e6:.1f} M readings/s "
          f"(goal 50 M/s: ratio {kernel_rate / 50e6:.2f})")
    print(f"  idiomatic polars:      {polars_s:.3f} s  -> {times.shape[0] / polars_s / 1e6:.2f} M readings/s")
    print(f"  speed-up kernel / polars: {polars_s / best:.1f}x (goal >= 10x); identical output: {same}")
    print(f"  energy conserved: {int(energy.sum()) == int(np.floor(registers[ptr[1:] - 1] - registers[ptr[:-1]] + 0.5).sum())}")


def bench_periods(n_sessions: int, chunk: int) -> None:
    """Split sessions chunk by chunk, timing only the kernel; report sessions/s and peak RSS."""
    rules = PriceChangeRules(time_edges_s=(0, 7 * 3600, 16 * 3600, 19 * 3600), kwh_thresholds_wh=(10_000.0,),
                             duration_thresholds_s=(3600,), power_thresholds_w=(11_000.0,))
    packed = pack_rules([rules])
    total_periods = 0
    elapsed = 0.0
    empty_i = np.zeros(0, np.int64)
    empty_f = np.zeros(0, np.float64)
    for first in range(0, n_sessions, chunk):
        size = min(chunk, n_sessions - first)
        ptr, times, registers, start, end = synthetic_sessions(size, seed=first + 7)
        timelines = build_zone_timelines([ZONE], int(start.min()), int(end.max()))
        none = np.zeros(size + 1, np.int64)
        args = (start, end, np.zeros(size, np.int64), np.zeros(size, np.int64), ptr, times, registers,
                none, empty_i, empty_f, none, empty_i, empty_f, none, empty_i, np.zeros(0, np.int8),
                packed.edge_ptr, packed.edge_s, packed.kwh_ptr, packed.kwh_wh, packed.duration_ptr, packed.duration_s,
                packed.idle_ptr, packed.idle_s, packed.power_ptr, packed.power_w, packed.current_ptr, packed.current_a,
                timelines.zone_ptr, timelines.segment_start_us, timelines.segment_offset_us, 100.0)
        if first == 0:
            split_sessions(*[a[:2] if isinstance(a, np.ndarray) and a.shape[0] == size else a for a in args[:4]],
                           ptr[:3], times[:ptr[2]], registers[:ptr[2]], *args[7:])
        t0 = time.perf_counter()
        out = split_sessions(*args)
        elapsed += time.perf_counter() - t0
        total_periods += out[0][-1]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"period splitting: {n_sessions:,} sessions x {READINGS_PER_SESSION} readings -> {total_periods:,} periods")
    print(f"  {elapsed:.2f} s in the kernel -> {n_sessions / elapsed:,.0f} sessions/s "
          f"({n_sessions * READINGS_PER_SESSION / elapsed / 1e6:.1f} M readings/s); peak RSS {peak_mb:,.0f} MB "
          f"(chunks of {chunk:,} sessions)")


def main() -> None:
    """Run both benchmarks (full size unless --quick)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 M readings and 100 000 sessions")
    args = parser.parse_args()
    bench_alignment(1_000_000 if args.quick else 10_000_000)
    bench_periods(100_000 if args.quick else 1_000_000, 100_000)


if __name__ == "__main__":
    main()
