"""Tariff-engine benchmark: kernel throughput, end-to-end from polars, and the ratio to the Decimal reference.

Run: `make bench` (all benchmarks) or `NUMBA_CACHE_DIR=.numba_cache .venv/bin/python -m bench.bench_engine
[--sessions 1000000] [--quick]`.
Prints, from one run: sessions/s of the kernel on generated sessions (~10 periods, mixed ToU / tiered /
parking / capped tariffs), the end-to-end rate from a polars frame, the kernel vs reference ratios (OCPI spec
examples repeated, and generated sessions; kernel alone, the object path `price_sessions`, and the JSON path
`price_cdrs` from parsed CDR dicts), and peak memory. numba is warmed up before any timing.

Two reference rates are used for `price_cdrs`: the Decimal reference from the same parsed CDR and tariff
dicts to the same JSON (`parse_tariff` once per tariff, then `parse_cdr` + `price_session` +
`result_to_json` per CDR: like for like), and the reference pricing alone on already-built `Session`
objects (`price_session` only: the stricter figure, as it charges the fast path for parsing and JSON but not
the reference). Every rate is the best CPU time of a few runs (the reference's best too).

The CDR-file part (`--cdr-file-only`) is like for like: `price-cdrs` and the Decimal reference price the same
CDRs of one generated file (the reference its first `--reference-cdrs` lines, totals compared one by one), both
in CPU seconds (the child's user + sys over all its threads; the bench process's CPU for the reference). It
favours the reference: only price-cdrs pays interpreter start-up, imports and the Parquet write.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time as clock
from datetime import datetime, time, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402
import polars as pl  # noqa: E402

from tariff_engine.compile import (  # noqa: E402
    NONE, SessionBatch, build_zone_table, compile_tariffs, encode_sessions, policy_codes,
)
from tariff_engine.kernels import price_batch  # noqa: E402
from tariff_engine.model import (  # noqa: E402
    PriceComponent, PriceLimit, Session, SessionPeriod, Tariff, TariffElement, TariffRestrictions,
)
from tariff_engine.policy import DEFAULT_POLICY  # noqa: E402
from tariff_engine.adapters.ocpi import parse_cdr, parse_tariff, tariff_to_json  # noqa: E402
from tariff_engine.batch import price_sessions  # noqa: E402
from tariff_engine.cdr_json import price_cdrs, result_to_json  # noqa: E402
from tariff_engine.frames import price_frame  # noqa: E402
from tariff_engine.reference import price_session  # noqa: E402

D = Decimal
ZONES = ["Europe/Berlin", "Europe/London", "America/New_York"]


def bench_tariffs() -> list[Tariff]:
    """Mixed tariffs: time-of-use, kWh tiers, parking with idle grace, caps."""
    pc = PriceComponent
    weekdays = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")
    return [
        Tariff("tou", "EUR", (
            TariffElement((pc("FLAT", D("0.50"), D("20")),)),
            TariffElement((pc("ENERGY", D("0.45"), D("20"), 1),), TariffRestrictions(start_time=time(17), end_time=time(21), day_of_week=weekdays)),
            TariffElement((pc("ENERGY", D("0.25"), D("20"), 1),), TariffRestrictions(start_time=time(22), end_time=time(6))),
            TariffElement((pc("ENERGY", D("0.35"), D("20"), 1), pc("PARKING_TIME", D("2.00"), D("20"), 300))),
        )),
        Tariff("tiered", "EUR", (
            TariffElement((pc("ENERGY", D("0.39"), D("19"), 100),), TariffRestrictions(max_kwh=D("20"))),
            TariffElement((pc("ENERGY", D("0.33"), D("19"), 100),), TariffRestrictions(min_kwh=D("20"), max_kwh=D("50"))),
            TariffElement((pc("ENERGY", D("0.29"), D("19"), 100), pc("TIME", D("0.60"), D("19"), 60))),
        ), min_price=PriceLimit(D("1.00"), D("1.19"))),
        Tariff("parking", "EUR", (
            TariffElement((pc("PARKING_TIME", D("6.00"), D("20"), 0, billing_increment=600, max_amount=D("15")),),
                          TariffRestrictions(min_idle_duration=1800)),
            TariffElement((pc("ENERGY", D("0.42"), D("20"), 1), pc("TIME", D("1.20"), D("20"), 60))),
        )),
        Tariff("capped", "GBP", (
            TariffElement((pc("ENERGY", D("0.79"), D("20"), 1),), TariffRestrictions(min_power=D("50"))),
            TariffElement((pc("ENERGY", D("0.55"), D("20"), 1), pc("FLAT", D("1.00"), D("20")))),
        ), max_price=PriceLimit(D("40.00"), D("48.00"))),
    ]


def generate_batch(n_sessions: int, seed: int = 7) -> tuple[SessionBatch, dict[str, np.ndarray]]:
    """`n_sessions` random sessions as CSR arrays (vectorised; ~10 periods each, charging then parking)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(6, 15, n_sessions)
    offsets = np.zeros(n_sessions + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    n_periods = int(offsets[-1])
    session_of = np.repeat(np.arange(n_sessions), counts)
    position = np.arange(n_periods) - offsets[session_of]
    year_start = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
    starts = year_start + rng.integers(0, 365 * 86_400, n_sessions) * 1000
    lengths = rng.integers(60, 1800, n_periods) * 1000
    cumulative = np.cumsum(lengths) - lengths
    period_start = starts[session_of] + cumulative - cumulative[offsets[session_of]]
    charging = position < (counts[session_of] * 0.7).astype(np.int64)
    power_w = rng.integers(3_000, 150_000, n_sessions)[session_of]
    period_int = np.full((n_periods, 10), NONE, dtype=np.int64)
    period_int[:, 0] = period_start
    period_int[:, 1] = np.where(charging, power_w * lengths // 3600, 0)  # mWh = W * ms / 3600
    period_int[:, 2] = np.where(charging, lengths, 0)
    period_int[:, 3] = np.where(charging, 0, lengths)
    period_int[:, 4] = 0
    period_int[:, 8] = np.where(charging, power_w * 1000, 0)  # micro-kW
    ends = period_start[offsets[1:] - 1] + lengths[offsets[1:] - 1]
    tariff_idx = rng.integers(0, 4, n_sessions)
    zone_idx = rng.integers(0, len(ZONES), n_sessions)
    zones, _ = build_zone_table(ZONES, int(starts.min()), int(ends.max()))
    session_int = np.zeros((n_sessions, 6), dtype=np.int64)
    session_int[:, 0] = tariff_idx
    session_int[:, 1] = zone_idx
    session_int[:, 2] = starts
    session_int[:, 3] = ends
    session_int[:, 4] = -1
    ids = [f"g{i}" for i in range(n_sessions)] if n_sessions <= 100_000 else []
    raw = {"lengths": lengths, "charging": charging, "power_w": power_w, "session_of": session_of}
    return SessionBatch(ids, session_int, offsets, period_int, zones), raw


def batch_to_sessions(batch: SessionBatch, count: int) -> tuple[list[Session], list[int]]:
    """The first `count` generated sessions as model objects (for the reference)."""
    sessions, indexes = [], []
    to_dt = lambda ms: datetime.fromtimestamp(ms / 1000, tz=timezone.utc)  # noqa: E731
    for s in range(count):
        row = batch.session_int[s]
        periods = []
        for p in range(batch.period_offsets[s], batch.period_offsets[s + 1]):
            pr = batch.period_int[p]
            periods.append(SessionPeriod(
                start=to_dt(int(pr[0])), energy_kwh=D(int(pr[1])).scaleb(-6), time_h=D(int(pr[2])) / 3_600_000,
                parking_h=D(int(pr[3])) / 3_600_000,
                max_power=None if pr[8] == NONE else D(int(pr[8])).scaleb(-6),
            ))
        sessions.append(Session(f"g{s}", to_dt(int(row[2])), to_dt(int(row[3])), ZONES[int(row[1])], tuple(periods)))
        indexes.append(int(row[0]))
    return sessions, indexes


def frames_from_batch(batch: SessionBatch, raw: dict[str, np.ndarray], names: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The generated sessions as the polars frames `price_frame` takes."""
    n = batch.session_int.shape[0]
    ids = pl.Series("session_id", np.arange(n)).cast(pl.String)
    sessions = pl.DataFrame({
        "session_id": ids,
        "tariff_id": pl.Series(np.array(names, dtype=object)[batch.session_int[:, 0]].tolist(), dtype=pl.String),
        "timezone": pl.Series(np.array(ZONES, dtype=object)[batch.session_int[:, 1]].tolist(), dtype=pl.String),
        "start": pl.Series(batch.session_int[:, 2]).cast(pl.Datetime("ms", "UTC")),
        "end": pl.Series(batch.session_int[:, 3]).cast(pl.Datetime("ms", "UTC")),
    })
    p = batch.period_int
    periods = pl.DataFrame({
        "session_id": pl.Series(raw["session_of"]).cast(pl.String),
        "start": pl.Series(p[:, 0]).cast(pl.Datetime("ms", "UTC")),
        "energy_wh": pl.Series(p[:, 1] / 1000.0),
        "time_s": pl.Series(p[:, 2] // 1000),
        "parking_s": pl.Series(p[:, 3] // 1000),
        "max_power_kw": pl.Series(np.where(p[:, 8] == NONE, np.nan, p[:, 8] / 1e6)).fill_nan(None),
    })
    return sessions, periods


def as_cdrs(tariffs: list[Tariff], sessions: list[Session], indexes: list[int]) -> tuple[list[dict], list[dict]]:
    """Sessions as parsed OCPI CDR dicts (volumes as JSON floats) naming tariff documents t<index>."""
    from tests.engine.test_fast_paths import session_to_cdr

    documents = []
    for number, tariff in enumerate(tariffs):
        document = tariff_to_json(tariff)
        document["id"] = f"t{number}"
        documents.append(document)
    return documents, [session_to_cdr(s, f"t{i}", n) for n, (s, i) in enumerate(zip(sessions, indexes))]


def reference_cdrs(documents: list[dict], cdrs: list[dict]) -> list[dict]:
    """The Decimal reference from the same parsed dicts to the same JSON (one tariff parse per document)."""
    by_id = {document["id"]: parse_tariff(document) for document in documents}
    return [result_to_json(price_session(by_id[cdr["charging_periods"][0]["tariff_id"]], parse_cdr(cdr)))
            for cdr in cdrs]


def print_cdr_ratios(label: str, documents: list[dict], cdrs: list[dict], pricing_only_s: float) -> None:
    """Time `price_cdrs` and the reference on the same CDR dicts; print both ratios."""
    reference_s, expected = timed(reference_cdrs, documents, cdrs, repeat=3)
    fast_s, results = timed(price_cdrs, cdrs, documents, repeat=3)
    same = sum(a == b for a, b in zip(results, expected))
    n = len(cdrs)
    print(f"{label} as CDR dicts ({n}): price_cdrs {n / fast_s:,.0f}/s; ratio {reference_s / fast_s:,.1f}x vs the "
          f"reference from the same dicts ({n / reference_s:,.0f}/s), {pricing_only_s / fast_s:,.1f}x vs the "
          f"reference pricing alone ({n / pricing_only_s:,.0f}/s); {same}/{n} results identical to the reference")


def spec_examples() -> list[tuple[Tariff, Session, object]]:
    """The OCPI conformance cases priced under the default policy (tariff, session, policy)."""
    sys.path.insert(0, str(ROOT))
    from tests.engine.cases import cases

    return [(c[1], c[2], c[3]) for c in cases() if c[3] == DEFAULT_POLICY]


@njit(cache=True)
def _calibration_loop(period_int, offsets):
    total = 0
    for s in range(offsets.shape[0] - 1):
        for p in range(offsets[s], offsets[s + 1]):
            row = period_int[p]
            total += row[1] + row[2] * 3 + (row[0] // 86_400_000) % 7
    return total


def calibration_ns_per_period(batch: SessionBatch) -> float:
    """CPU ns per period of a trivial loop over the same arrays: how fast (or loaded) this machine is."""
    _calibration_loop(batch.period_int[:10], batch.period_offsets[:2])
    started = clock.process_time()
    _calibration_loop(batch.period_int, batch.period_offsets)
    return (clock.process_time() - started) * 1e9 / batch.period_int.shape[0]


def timed(function, *args, repeat: int = 1, **kwargs):
    """Best CPU time of this process over `repeat` runs (the machine is shared: wall time would count other
    processes' load; everything timed here runs on one thread)."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        started = clock.process_time()
        result = function(*args, **kwargs)
        best = min(best, clock.process_time() - started)
    return best, result


def write_cdr_file(path: Path, n_cdrs: int, tariffs: list[Tariff], seed: int = 13) -> None:
    """`n_cdrs` generated sessions as an NDJSON file of OCPI 2.2.1 CDRs, written column-wise with polars:
    mixed tariffs (each CDR seals its tariff and names it in its periods), three zones, ~10 periods of
    charging then parking each with ENERGY / TIME / PARKING_TIME / MAX_POWER dimensions."""
    batch, raw = generate_batch(n_cdrs, seed=seed)
    p, s = batch.period_int, batch.session_int
    names = [t.id for t in tariffs]
    tariff_texts = [json.dumps({**tariff_to_json(t), "id": t.id}) for t in tariffs]

    def iso(ms: np.ndarray) -> pl.Series:
        return pl.Series(ms).cast(pl.Datetime("ms", "UTC")).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")

    def dimension(kind: str, values: pl.Expr) -> pl.Expr:
        return pl.when(values != 0).then(pl.struct(pl.lit(kind).alias("type"), values.alias("volume")))

    periods = pl.DataFrame({
        "cdr": raw["session_of"], "start_date_time": iso(p[:, 0]),
        "tariff_id": pl.Series(np.array(names, dtype=object)[s[raw["session_of"], 0]].tolist(), dtype=pl.String),
        # volumes with 6 decimals, as CPOs send them (kWh exact; hours rounded)
        "energy": p[:, 1] / 1e6, "time": np.round(p[:, 2] / 3.6e6, 6), "parking": np.round(p[:, 3] / 3.6e6, 6),
        "power": p[:, 8] / 1e6,
    }).select(
        "cdr", "start_date_time", "tariff_id",
        pl.concat_list(dimension("ENERGY", pl.col("energy")), dimension("TIME", pl.col("time")),
                       dimension("PARKING_TIME", pl.col("parking")), dimension("MAX_POWER", pl.col("power")))
        .list.drop_nulls().alias("dimensions"))
    nested = periods.group_by("cdr", maintain_order=True).agg(
        pl.struct("start_date_time", "dimensions", "tariff_id").alias("charging_periods"))
    cdrs = pl.DataFrame({
        "country_code": ["DE"] * n_cdrs, "party_id": ["ABC"] * n_cdrs,
        "id": pl.Series(np.arange(n_cdrs)).cast(pl.String),
        "start_date_time": iso(s[:, 2]), "end_date_time": iso(s[:, 3]),
        "cdr_location": pl.DataFrame({"time_zone": np.array(ZONES, dtype=object)[s[:, 1]].tolist(),
                                      "country": ["DEU"] * n_cdrs}).to_struct(),
        "currency": np.array([t.currency for t in tariffs], dtype=object)[s[:, 0]].tolist(),
        "tariff_index": s[:, 0],
    }).with_columns(pl.Series("charging_periods", nested["charging_periods"]))
    # the sealed tariff: written as text and spliced in, so its numbers stay exactly as tariff_to_json wrote them
    lines = cdrs.drop("tariff_index").write_ndjson().split("\n")
    with path.open("w") as out:
        for line, tariff_index in zip(lines, s[:, 0].tolist()):
            out.write(line[:-1] + ',"tariffs":[' + tariff_texts[tariff_index] + "]}\n")


def bench_cdr_file(n_cdrs: int, reference_cdrs: int) -> None:
    """`price-cdrs` on an NDJSON file (whole process) vs a bare `polars.read_ndjson` of the same file and vs
    the Decimal reference (json + parse_cdr + price_session per CDR), all on the same CDRs."""
    import subprocess
    import tempfile

    tariffs = bench_tariffs()
    with tempfile.TemporaryDirectory() as folder:
        cdr_path, out_path = Path(folder) / "cdrs.jsonl", Path(folder) / "priced.parquet"
        write_cdr_file(cdr_path, n_cdrs, tariffs)
        size_mb = cdr_path.stat().st_size / 2**20
        command = [sys.executable, "-m", "tariff_engine", "price-cdrs", "--cdrs", str(cdr_path), "--out", str(out_path)]
        subprocess.run(command, check=True, cwd=ROOT, capture_output=True)  # warm the numba cache
        process_wall, process_cpu = float("inf"), float("inf")
        for _ in range(2):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = clock.perf_counter()
            subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
            process_wall = min(process_wall, clock.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            process_cpu = min(process_cpu, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        bare_wall, bare_cpu = float("inf"), float("inf")
        for _ in range(1):  # one run: ~60 s CPU on 200k CDRs (schema inference over the nested tariffs)
            started, cpu = clock.perf_counter(), clock.process_time()
            bare = pl.read_ndjson(cdr_path)
            bare_wall, bare_cpu = min(bare_wall, clock.perf_counter() - started), min(bare_cpu, clock.process_time() - cpu)
        assert bare.height == n_cdrs
        priced = pl.read_parquet(out_path)
        # the Decimal reference on the first CDRs of the same file, compared total by total
        with cdr_path.open() as source:
            sample = [next(source) for _ in range(reference_cdrs)]
        started = clock.process_time()
        expected = []
        tariff_cache: dict[str, Tariff] = {}
        pricing_cpu = 0.0
        for line in sample:
            cdr = json.loads(line)
            own = cdr["tariffs"][0]
            tariff = tariff_cache.get(own["id"]) or tariff_cache.setdefault(own["id"], parse_tariff(own))
            session = parse_cdr(cdr)
            priced_at = clock.process_time()
            result = price_session(tariff, session)
            pricing_cpu += clock.process_time() - priced_at
            expected.append(result_to_json(result))
        reference_cpu = clock.process_time() - started
        # the floor of this design: pyarrow's JSON reader alone on the same file, same schema (in-process)
        from tariff_engine.cdr_files import _PARSE_OPTIONS, _READ_OPTIONS  # exactly price-cdrs' reader settings
        import pyarrow as pa
        import pyarrow.json as pa_json
        cpu = clock.process_time()
        pa_json.read_json(pa.memory_map(str(cdr_path)), read_options=_READ_OPTIONS, parse_options=_PARSE_OPTIONS)
        pyarrow_cpu = clock.process_time() - cpu
        # the fixed cost of any run: interpreter, imports and the numba cache loads (price-cdrs on one CDR)
        one_path = Path(folder) / "one.jsonl"
        one_path.write_text(sample[0])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([*command[:4], "--cdrs", str(one_path), "--out", str(Path(folder) / "one.parquet")],
                       check=True, cwd=ROOT, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        fixed_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    same = sum(
        e.get("total_cost") == {"excl_vat": str(row["total_cost_excl"]), "incl_vat": str(row["total_cost_incl"])}
        for e, row in zip(expected, priced.head(reference_cdrs).iter_rows(named=True)))
    errors = priced["error_code"].drop_nulls().len()
    rate_wall, rate_cpu = n_cdrs / process_wall, n_cdrs / process_cpu
    print(f"CDR file: {n_cdrs:,} mixed CDRs, {size_mb:,.0f} MB NDJSON ({bare.width} top-level fields); "
          f"price-cdrs whole process {process_wall:.2f} s wall / {process_cpu:.2f} s CPU = {rate_wall:,.0f} CDRs/s wall, "
          f"{rate_cpu:,.0f}/s CPU ({errors} CDR errors)")
    print(f"bare polars.read_ndjson of the same file: {bare_wall:.2f} s wall / {bare_cpu:.2f} s CPU = "
          f"{n_cdrs / bare_wall:,.0f} CDRs/s wall, {n_cdrs / bare_cpu:,.0f}/s CPU; price-cdrs reaches "
          f"{bare_wall / process_wall:.0%} of the bare parse (wall), {bare_cpu / process_cpu:.0%} (CPU) (goal >= 40%)")
    reference_rate = reference_cdrs / reference_cpu
    pricing_rate = reference_cdrs / pricing_cpu
    print(f"Decimal reference (json + parse_cdr + price_session + result_to_json) on the first {reference_cdrs:,}: "
          f"{reference_rate:,.0f} CDRs/s CPU; price-cdrs / reference = {rate_cpu / reference_rate:,.1f}x CPU, "
          f"{rate_wall / reference_rate:,.1f}x wall (goal >= 100x); {same}/{reference_cdrs} totals identical")
    print(f"  the reference's pricing alone (price_session on parsed sessions, {pricing_cpu / reference_cpu:.0%} of it): "
          f"{pricing_rate:,.0f} CDRs/s; price-cdrs / that = {rate_cpu / pricing_rate:,.1f}x CPU")
    budget = n_cdrs / (100 * reference_rate)
    print(f"100x the reference means the whole process in {budget:.2f} s CPU; of that, fixed cost (interpreter, imports, "
          f"numba cache loads: price-cdrs on one CDR) {fixed_cpu:.2f} s, and pyarrow's JSON reader alone on this file "
          f"{pyarrow_cpu:.2f} s CPU ({size_mb / pyarrow_cpu:,.0f} MB/s): the parse floor of this design is "
          f"{fixed_cpu + pyarrow_cpu:.2f} s = {n_cdrs / (fixed_cpu + pyarrow_cpu) / reference_rate:,.0f}x at most")


def main() -> None:
    """Run every measurement and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--reference-sessions", type=int, default=300)
    parser.add_argument("--frame-sessions", type=int, default=200_000)
    parser.add_argument("--cdr-file-cdrs", type=int, default=200_000, help="CDRs in the NDJSON file of the price-cdrs run")
    parser.add_argument("--reference-cdrs", type=int, default=2_000, help="CDRs the Decimal reference prices there")
    parser.add_argument("--cdr-file-only", action="store_true", help="only the price-cdrs file measurement")
    parser.add_argument("--quick", action="store_true", help="small sizes (100k kernel sessions) for a short run")
    args, _ = parser.parse_known_args()  # `python -m bench` passes the same arguments to every benchmark
    if args.quick:
        args.sessions, args.frame_sessions, args.reference_sessions = 100_000, 20_000, 100
    if args.cdr_file_only:
        bench_cdr_file(args.cdr_file_cdrs, args.reference_cdrs)
        return
    tariffs = bench_tariffs()
    compiled = compile_tariffs(tariffs, DEFAULT_POLICY)
    codes = policy_codes(DEFAULT_POLICY)

    # Warm-up: compile / load the numba cache outside every timing.
    warm, _ = generate_batch(100)
    price_batch(compiled, warm, codes)
    price_batch(compiled, warm, codes, want_rows=True)

    batch, raw = generate_batch(args.sessions)
    periods = batch.period_int.shape[0]
    wall = clock.perf_counter()
    kernel_s, output = timed(price_batch, compiled, batch, codes, repeat=3)
    wall_s = (clock.perf_counter() - wall) / 3
    errors = int((output.error != 0).sum())
    print(f"kernel: {args.sessions:,} sessions ({periods / args.sessions:.1f} periods avg) in {kernel_s:.3f} s "
          f"CPU = {args.sessions / kernel_s:,.0f} sessions/s on one core ({errors} session errors; "
          f"wall clock on this shared machine {args.sessions / wall_s:,.0f}/s)")
    print(f"kernel vs goal 1,000,000 sessions/s: ratio {args.sessions / kernel_s / 1_000_000:.2f} "
          f"(machine calibration: a trivial loop over the same periods takes {calibration_ns_per_period(batch):.1f} ns/period "
          f"vs the kernel's {kernel_s * 1e9 / periods:.0f})")

    # End-to-end from polars frames (encode + kernel + output frame).
    small, small_raw = generate_batch(args.frame_sessions, seed=11)
    session_frame, period_frame = frames_from_batch(small, small_raw, [t.id for t in tariffs])
    price_frame(session_frame.head(10), period_frame.head(50), {t.id: t for t in tariffs})
    frame_s, frame = timed(price_frame, session_frame, period_frame, {t.id: t for t in tariffs})
    print(f"end-to-end from polars: {args.frame_sessions:,} sessions in {frame_s:.3f} s "
          f"= {args.frame_sessions / frame_s:,.0f} sessions/s")

    # Kernel vs the Decimal reference on the same sessions.
    examples = spec_examples()
    repeat = max(1, 600 // len(examples))
    ex_tariffs = [t for t, _, _ in examples] * repeat
    ex_sessions = [s for _, s, _ in examples] * repeat
    ex_indexes = list(range(len(ex_sessions)))
    reference_s, _ = timed(lambda: [price_session(t, s) for t, s in zip(ex_tariffs, ex_sessions)], repeat=3)
    ex_compiled = compile_tariffs(ex_tariffs, DEFAULT_POLICY)
    ex_batch = encode_sessions(ex_sessions, ex_indexes)
    kernel_only_s, _ = timed(price_batch, ex_compiled, ex_batch, codes, repeat=5)
    full_s, _ = timed(price_sessions, ex_tariffs, ex_sessions, ex_indexes, breakdown=False, repeat=3)
    n = len(ex_sessions)
    print(f"spec examples x{repeat} ({n} sessions): reference {n / reference_s:,.0f}/s; "
          f"kernel alone ratio {reference_s / kernel_only_s:,.0f}x; object path (encode+kernel+results) "
          f"ratio {reference_s / full_s:,.1f}x")
    # the same examples as CDR dicts: one tariff document per example (CDRs carry no electricity rate)
    plain = [k for k, (t, _, _) in enumerate(examples) if not t.electricity_rate_required]
    documents, cdrs = as_cdrs([examples[k][0] for k in plain], [examples[k][1] for k in plain], list(range(len(plain))))
    cdrs = cdrs * repeat
    by_id = {d["id"]: parse_tariff(d) for d in documents}
    cdr_pairs = [(by_id[c["charging_periods"][0]["tariff_id"]], parse_cdr(c)) for c in cdrs]
    pricing_only_s, _ = timed(lambda: [price_session(t, s) for t, s in cdr_pairs], repeat=3)
    print_cdr_ratios(f"spec examples x{repeat}", documents, cdrs, pricing_only_s)
    gen_sessions, gen_indexes = batch_to_sessions(batch, args.reference_sessions)
    reference_s, _ = timed(lambda: [price_session(tariffs[i], s) for s, i in zip(gen_sessions, gen_indexes)], repeat=3)
    gen_batch = encode_sessions(gen_sessions, gen_indexes)
    kernel_only_s, _ = timed(price_batch, compiled, gen_batch, codes, repeat=5)
    full_s, _ = timed(price_sessions, tariffs, gen_sessions, gen_indexes, breakdown=False, repeat=3)
    n = len(gen_sessions)
    print(f"generated sessions ({n}): reference {n / reference_s:,.0f}/s; kernel alone ratio "
          f"{reference_s / kernel_only_s:,.0f}x; object path ratio {reference_s / full_s:,.1f}x; "
          f"kernel at 1M-batch rate ratio {(args.sessions / kernel_s) / (n / reference_s):,.0f}x")
    documents, cdrs = as_cdrs(tariffs, gen_sessions, gen_indexes)
    cdr_pairs = [(tariffs[i], parse_cdr(c)) for c, i in zip(cdrs, gen_indexes)]
    pricing_only_s, _ = timed(lambda: [price_session(t, s) for t, s in cdr_pairs], repeat=3)
    print_cdr_ratios("generated sessions", documents, cdrs, pricing_only_s)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    inputs_mb = (batch.period_int.nbytes + batch.session_int.nbytes) / 2**20
    print(f"peak RSS {peak_mb:,.0f} MB ({args.sessions:,}-session input arrays {inputs_mb:,.0f} MB; kernel outputs "
          f"allocated once per batch)")
    bench_cdr_file(args.cdr_file_cdrs, args.reference_cdrs)


if __name__ == "__main__":
    main()
