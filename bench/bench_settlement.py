"""Benchmark: one nightly settlement of one generated day, at several sizes, as the operator would run it.

First it fills the numba cache the timed runs use (``pipelines.warm_kernels``, not timed): compiling the kernels
is a one-off after an install or a code change (``make warm``), not part of a nightly run, and would otherwise be
timed in the first size (about two CPU-minutes). For each size N (sessions per day) it generates one day of
every source (``data.generate``, 60-s meter values, not timed), then settles it with ``python -m pipelines.demo`` in a subprocess (reference refresh,
the nightly run of every landing day, re-settlements, catalog) and measures:

- CPU time of the whole process tree (user + system, from ``getrusage(RUSAGE_CHILDREN)``), wall time;
- peak RSS of the whole process tree (``/proc`` sampled every 50 ms, summed over the runner and its
  descendants, so executor subprocesses and pool workers count);
- sessions per CPU-second overall, and per asset: each step's CPU seconds, recorded by the runner's
  ``bench.step_cpu`` logger (process CPU time between a step's start and end events, in the process that runs
  the step), and each step's peak RSS in that process (its high-water mark, reset at the step's start);
- per job (nightly settlement, re-settlement, monthly invoicing, export): runs, CPU and wall seconds;
- the OCPP ingest alone (the three OCPP assets' CPU) against a bare ``polars.read_ndjson`` of the same landing
  files: ingest speed as a share of the parse limit;
- the floor under the OCPP ingest: that bare parse plus encoding the three tables the ingest wrote, row group by
  row group, the way they are stored (``resources.warehouse.write_parquet``: zstd, statistics). No ingest of
  these files can cost less while it keeps what DESIGN.md asks of it (each frame's raw text beside its parsed
  columns), so the floor says how much of a speed goal is left for the ingest's own rules.

It then prints the ratios of the Done-when of issue 9: CPU largest/middle size (goal <= 2.2 for 100k/50k),
peak RSS largest/smallest (goal <= 1.5 for 100k/25k, and 100k under 4 GB), the 1M-session projection from
the largest size, and the parallel speed-up (CPU / wall).

``--days N`` generates N consecutive days instead of one (N times the sessions in all). The first date of a
warehouse is not what an operator settles every night: nothing came before it, while every later date also reads
the earlier dates' frames and readings of the sessions that cross its midnight, and re-settles the day before
for data that landed late. The table per nightly run then shows that steady-state date (the second) beside
the first, asset by asset; a second table gives that date's wall seconds per asset and the cores its CPU used
(CPU / wall), and how much of the run's wall time went to steps using under 1.5 cores: what the parallel
speed-up loses.

    .venv/bin/python -m bench.bench_settlement                  # 25k, 50k, 100k (long: minutes per size)
    .venv/bin/python -m bench.bench_settlement --quick          # 1k, 2k, 4k smoke run
    .venv/bin/python -m bench.bench_settlement --sizes 2000,5000 --keep /tmp/bench
    .venv/bin/python -m bench.bench_settlement --landing-cache /var/tmp/chargeledger-days   # generate once
    .venv/bin/python -m bench.bench_settlement --sizes 100000 --days 2 --landing-cache /var/tmp/chargeledger-days
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from assets.ingest.ocpp.shards import SHARDS_ENV
from pipelines import warm_kernels
from resources.warehouse import WarehouseResource

ROOT = Path(__file__).resolve().parent.parent
NUMBA_CACHE = ROOT / ".numba_cache"
OCPP_STEPS = ("ocpp_messages", "meter_readings", "transactions")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GOAL_CPU_RATIO = 2.2
GOAL_RSS_RATIO = 1.5
GOAL_RSS_BYTES = 4 * 1024**3
GOAL_PARSE_SHARE = 0.25
GOAL_WALL_S_100K = 90  # wall seconds for 100,000 sessions, on this machine's two cores
CORES = 2


@dataclass
class Measurement:
    """One settled day."""

    sessions: int
    cpu_s: float
    wall_s: float
    peak_rss: int
    step_cpu: dict[str, float] = field(default_factory=dict)
    ocpp_bytes: int = 0
    ocpp_read_ndjson_s: float = 0.0
    ocpp_encode_s: float = 0.0  # encoding the OCPP tables as stored (see encode_floor)
    runner_cpu_s: float = 0.0  # the settlement process itself; the rest of cpu_s is its child processes
    step_rss: dict[str, int] = field(default_factory=dict)  # peak RSS of the runner during each step
    # CPU of the pool workers (child processes: OCPP shards, meter_curves chunks), counted in step_cpu
    shard_workers_cpu_s: float = 0.0
    runs: list[dict] = field(default_factory=list)  # per Dagster run: job, partition, cpu_s, wall_s, steps
    ocpp_shards: dict[str, int] = field(default_factory=dict)  # landing date -> shard files of its ocpp_messages
    days: int = 1  # consecutive days generated (``--days``)
    # Where the whole-tree peak was: the runner's step then (``None``: between steps) and each process's share
    peak_step: str | None = None
    peak_parts: list[int] = field(default_factory=list)  # the settlement process's RSS, then its children's

    @property
    def settled(self) -> int:
        """Sessions settled in all: per day times the days."""
        return self.sessions * self.days


def _children(pid_parents: dict[int, int], root: int) -> list[int]:
    tree, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, ppid in pid_parents.items() if ppid == parent]
        tree += kids
        frontier += kids
    return tree


def _tree_sample(root: int) -> tuple[int, dict[int, float], dict[int, int]]:
    """(resident bytes, {pid: CPU seconds so far}, {pid: resident bytes}) of ``root`` and all its descendants (from
    /proc/<pid>/stat)."""
    parents, rss, cpu = {}, {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces: fields start after the last ')'.
        fields = stat[stat.rindex(b")") + 2:].split()
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * PAGE_SIZE
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime of the process itself
    tree = _children(parents, root)
    resident = {pid: rss[pid] for pid in tree if pid in rss}
    return sum(resident.values()), {pid: cpu[pid] for pid in tree if pid in cpu}, resident


class PeakRss(threading.Thread):
    """Samples the process tree until stopped: ``peak`` holds the maximum RSS, ``tree_cpu`` the CPU seconds of
    every process seen in the tree (the multiprocess executor's step processes are forked by a server that the
    settlement process may not wait for, so ``getrusage`` alone can miss them)."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        # When the peak was sampled (epoch seconds) and each process's share of it: the root's, then the others'.
        self.peak_at, self.peak_parts = 0.0, []
        self._cpu: dict[int, float] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            rss, cpu, resident = _tree_sample(self.pid)
            if rss > self.peak:
                self.peak, self.peak_at = rss, time.time()
                self.peak_parts = [resident.get(self.pid, 0)] + sorted(
                    (size for pid, size in resident.items() if pid != self.pid), reverse=True)
            self._cpu.update(cpu)
            self._stop_event.wait(self.interval)

    @property
    def tree_cpu(self) -> float:
        return sum(self._cpu.values())

    @property
    def root_cpu(self) -> float:
        """CPU seconds of the root process alone (its last sample, at most `interval` before it ended)."""
        return self._cpu.get(self.pid, 0.0)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def settle(work: Path, sessions: int, executor: str = "in_process") -> Measurement:
    """Run ``bench.settle_run`` (the demo's settlement with a per-step CPU logger) and measure it."""
    home = work / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "pipelines" / "dagster.yaml", home / "dagster.yaml")
    step_file = work / "step_cpu.json"
    env = dict(os.environ, DAGSTER_HOME=str(home), CHARGELEDGER_LANDING=str(work / "landing"),
               CHARGELEDGER_WAREHOUSE=str(work / "warehouse"), NUMBA_CACHE_DIR=str(NUMBA_CACHE),
               BENCH_STEP_CPU_FILE=str(step_file), CHARGELEDGER_EXECUTOR=executor)
    cpu_before, started = _children_cpu(), time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "bench.settle_run"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = PeakRss(process.pid)
    sampler.start()
    output, _ = process.communicate()
    wall = time.perf_counter() - started
    peak = sampler.stop()
    # getrusage counts every process the settlement waited for; the /proc samples also see processes it did not
    # wait for (a pid reused within one run would be undercounted, never double counted)
    cpu = max(_children_cpu() - cpu_before, sampler.tree_cpu)
    if process.returncode:
        print(output[-4000:])
        raise SystemExit(f"settlement of {sessions} sessions failed with exit code {process.returncode}")
    step_cpu = json.loads(step_file.read_text()) if step_file.exists() else {}
    rss_file = step_file.with_name("step_cpu_rss.json")
    step_rss = json.loads(rss_file.read_text()) if rss_file.exists() else {}
    runs_file = step_file.with_name("step_cpu_runs.json")
    runs = json.loads(runs_file.read_text()) if runs_file.exists() else []
    workers_file = step_file.with_name("step_cpu_workers.json")
    workers = json.loads(workers_file.read_text())["shard_workers_cpu_s"] if workers_file.exists() else 0.0
    steps_file = step_file.with_name("step_cpu_rss_steps.json")
    steps = json.loads(steps_file.read_text()) if steps_file.exists() else []
    return Measurement(sessions, cpu, wall, peak, step_cpu, runner_cpu_s=sampler.root_cpu, step_rss=step_rss,
                       shard_workers_cpu_s=workers, runs=runs, peak_step=step_at(steps, sampler.peak_at),
                       peak_parts=sampler.peak_parts)


def step_at(steps: list[dict], moment: float) -> str | None:
    """The step (``run partition: step key``) the settlement process was running at ``moment`` (epoch seconds),
    from ``settle_run``'s step records; None between steps."""
    for step in steps:
        if step.get("started_at", float("inf")) <= moment <= step.get("ended_at", float("-inf")):
            return f"{step.get('partition') or '-'}: {step['step']}"
    return None


def parse_limit(landing: Path, measurement: Measurement) -> None:
    """Time a bare ``polars.read_ndjson`` of every OCPP landing file (the floor of parsing them).

    The generator injects malformed lines, on which ``read_ndjson`` stops; they are left out first (not
    timed), so the floor is the parse of the well-formed lines.
    """
    import io

    import orjson
    import polars as pl

    def well_formed(line: bytes) -> bool:
        try:
            return isinstance(orjson.loads(line), dict)
        except orjson.JSONDecodeError:
            return False

    files = sorted(p for p in (landing / "ocpp").rglob("*.jsonl") if p.is_file())
    measurement.ocpp_bytes = sum(p.stat().st_size for p in files)
    for path in files:
        clean = b"\n".join(line for line in path.read_bytes().split(b"\n") if line.strip() and well_formed(line))
        started = time.process_time()
        pl.read_ndjson(io.BytesIO(clean))
        measurement.ocpp_read_ndjson_s += time.process_time() - started


def encode_floor(warehouse: Path, measurement: Measurement) -> None:
    """Time encoding the OCPP tables the settlement wrote, as stored, one row group at a time (reading them is
    not timed): the part of the floor under the OCPP ingest that its output costs."""
    import io

    import polars as pl
    import pyarrow.parquet as pq

    from resources.warehouse import write_parquet

    for table in OCPP_STEPS:
        for path in sorted((warehouse / table).rglob("*.parquet")):
            stored = pq.ParquetFile(path)
            for group in range(stored.num_row_groups):
                frame = pl.from_arrow(stored.read_row_group(group))
                started = time.process_time()
                write_parquet(frame, io.BytesIO())
                measurement.ocpp_encode_s += time.process_time() - started


def generator_digest() -> str:
    """A digest of the generator's source: a cached landing day is reused only while the generator is unchanged."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "data").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def cached_landing(cache: Path, sessions: int, seed: int, days: int = 1) -> Path:
    """The generated day for (sessions, seed, generator version) under ``cache``, generated on first use.

    Generating a 100,000-session day takes minutes and is not what the benchmark measures; the generator is
    deterministic, so a day generated once serves every later run. It is written to a temporary name and renamed
    when complete, so an interrupted generation is never reused.
    """
    size = f"{sessions}" if days == 1 else f"{sessions}x{days}"
    landing = cache / f"landing-{size}-seed{seed}-{generator_digest()}"
    if not landing.exists():
        partial = cache / f"{landing.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        warm_kernels.generate_day(partial, sessions, seed, days)
        partial.rename(landing)
    return landing


def run_size(sessions: int, seed: int, keep: Path | None, cache: Path | None = None,
             executor: str = "in_process", days: int = 1) -> Measurement:
    work = Path(tempfile.mkdtemp(prefix=f"bench-settle-{sessions}-", dir=keep))
    try:
        if cache is None:
            warm_kernels.generate_day(work / "landing", sessions, seed, days)
        else:
            # the settlement only reads the landing zone, so the cached day is linked, not copied
            (work / "landing").symlink_to(cached_landing(cache, sessions, seed, days), target_is_directory=True)
        measurement = settle(work, sessions, executor)
        measurement.days = days
        measurement.ocpp_shards = ocpp_shards(work / "warehouse")
        parse_limit(work / "landing", measurement)
        encode_floor(work / "warehouse", measurement)
        return measurement
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def ocpp_shards(warehouse_root: Path) -> dict[str, int]:
    """How many charge-point shards each landing date's OCPP chain ran in (the part files of its
    ``ocpp_messages`` partition)."""
    warehouse = WarehouseResource(root=str(warehouse_root))
    return {partition["landing_date"]: len(warehouse.partition_parts("ocpp_messages", **partition))
            for partition in warehouse.partitions("ocpp_messages")}


def _gb(n: int) -> str:
    return f"{n / 1024**3:.2f} GB"


def job_runs(runs: list[dict]) -> dict[str, list[dict]]:
    """The runs of a settlement by job, jobs in order of first run."""
    by_job: dict[str, list[dict]] = {}
    for run in runs:
        by_job.setdefault(run["job"], []).append(run)
    return by_job


def nightly_runs(large: Measurement) -> None:
    """Each nightly run of the largest size, asset by asset (the first date against the later ones)."""
    nightly = [run for run in large.runs if run["job"] == "nightly_settlement" and run.get("steps")]
    if len(nightly) < 2:
        return
    print(f"\nPer nightly run at {large.sessions:,} sessions a day: CPU seconds by asset (assets of at least 1 "
          "CPU-s in a run), then the run's process CPU and wall seconds")
    print("| asset | " + " | ".join(run["partition"] for run in nightly) + " |")
    print("|---|" + "---|" * len(nightly))
    assets = sorted({a for run in nightly for a, cpu in run["steps"].items() if cpu >= 1.0},
                    key=lambda a: -max(run["steps"].get(a, 0.0) for run in nightly))
    for asset in assets:
        print(f"| {asset} | " + " | ".join(f"{run['steps'].get(asset, 0.0):.1f}" for run in nightly) + " |")
    print("| **run CPU** | " + " | ".join(f"{run['cpu_s']:.1f}" for run in nightly) + " |")
    print("| **run wall** | " + " | ".join(f"{run['wall_s']:.1f}" for run in nightly) + " |")
    cores_used(nightly[1])


def cores_used(run: dict) -> None:
    """Where a nightly run's wall time goes: per asset its wall seconds and the cores its CPU kept busy (CPU / wall;
    2.0 is this machine's two cores). The wall of a step that uses one core is what the parallel speed-up loses."""
    walls = run.get("step_walls") or {}
    if not walls:
        return
    print(f"\nThe nightly run of {run['partition']} (the steady-state date): wall seconds by asset and the cores "
          "its CPU used (CPU / wall; assets of at least 1 s wall)")
    print("| asset | wall s | CPU s | cores |")
    print("|---|---|---|---|")
    for asset, wall in sorted(walls.items(), key=lambda item: -item[1]):
        if wall >= 1.0:
            cpu = run["steps"].get(asset, 0.0)
            print(f"| {asset} | {wall:.1f} | {cpu:.1f} | {cpu / wall:.2f} |")
    one_core = sum(wall for asset, wall in walls.items() if run["steps"].get(asset, 0.0) < 1.5 * wall)
    outside = run["wall_s"] - sum(walls.values())
    print(f"Steps using under 1.5 cores: {one_core:.1f} s of the run's {run['wall_s']:.1f} s wall; outside any "
          f"step (Dagster's run start and end): {outside:.1f} s")


def report(results: list[Measurement]) -> None:
    print("\n| sessions | CPU s | wall s | CPU/wall | peak RSS | sessions/CPU-s | OCPP ingest CPU s | OCPP vs read_ndjson |")
    print("|---|---|---|---|---|---|---|---|")
    for m in results:
        ocpp_cpu = sum(m.step_cpu.get(s, 0.0) for s in OCPP_STEPS)
        share = m.ocpp_read_ndjson_s / ocpp_cpu if ocpp_cpu else float("nan")
        print(f"| {m.sessions:,} | {m.cpu_s:.1f} | {m.wall_s:.1f} | {m.cpu_s / m.wall_s:.2f} | {_gb(m.peak_rss)} "
              f"| {m.settled / m.cpu_s:.0f} | {ocpp_cpu:.1f} | {share:.0%} |")
    print("\nCPU outside the steps (whole tree - sum of step CPU): the runner process's own (Dagster per run and step, "
          "imports, the demo's reads) and its child processes' (the pool workers' start-up, their work being counted "
          "in the steps; compute-log tails)")
    for m in results:
        steps_cpu = sum(m.step_cpu.values())
        in_runner = steps_cpu - m.shard_workers_cpu_s  # the steps' CPU in the runner itself
        if steps_cpu:
            print(f"  {m.sessions:,}: whole tree {m.cpu_s:.1f}, steps {steps_cpu:.1f}, outside {m.cpu_s - steps_cpu:.1f} "
                  f"({(m.cpu_s - steps_cpu) / m.cpu_s:.0%}) = runner outside its steps {m.runner_cpu_s - in_runner:.1f} "
                  f"+ child processes {m.cpu_s - m.runner_cpu_s - m.shard_workers_cpu_s:.1f} CPU-s"
                  + (f" (besides {m.shard_workers_cpu_s:.1f} CPU-s of pool workers, counted in their steps)"
                     if m.shard_workers_cpu_s else ""))
    steps = sorted({s for m in results for s in m.step_cpu}, key=lambda s: -results[-1].step_cpu.get(s, 0.0))
    print("\nPer asset: CPU seconds (sessions per CPU-second), all runs of the settlement summed")
    print("| asset | " + " | ".join(f"{m.sessions:,}" for m in results) + " |")
    print("|---|" + "---|" * len(results))
    for step in steps:
        cells = []
        for m in results:
            cpu = m.step_cpu.get(step)
            cells.append("-" if cpu is None else f"{cpu:.2f} ({m.settled / cpu:,.0f})" if cpu > 0 else "0.00")
        print(f"| {step} | " + " | ".join(cells) + " |")
    if any(m.step_rss for m in results):
        print("\nPer asset: peak RSS of the settlement process during the step (largest over its runs; pool workers "
              "not included, they are in the whole-tree peak above)")
        print("| asset | " + " | ".join(f"{m.sessions:,}" for m in results) + " |")
        print("|---|" + "---|" * len(results))
        for step in sorted({s for m in results for s in m.step_rss}, key=lambda s: -results[-1].step_rss.get(s, 0)):
            print(f"| {step} | " + " | ".join(_gb(m.step_rss[step]) if step in m.step_rss else "-" for m in results)
                  + " |")
    if results[-1].runs:
        print(f"\nPer job at {results[-1].sessions:,} sessions: runs, and CPU-s / wall s of the settlement process (a "
              "re-settlement re-runs a date's settlement chain for data that landed late)")
        print("| job | runs | partitions | CPU s | wall s |")
        print("|---|---|---|---|---|")
        for job, runs in job_runs(results[-1].runs).items():
            partitions = ", ".join(sorted({r["partition"] or "-" for r in runs}))
            print(f"| {job} | {len(runs)} | {partitions} | {sum(r['cpu_s'] for r in runs):.1f} "
                  f"| {sum(r['wall_s'] for r in runs):.1f} |")
        nightly_runs(results[-1])
    small, large = results[0], results[-1]
    print()
    if len(results) >= 2:
        middle = results[-2]
        cpu_ratio = large.cpu_s / middle.cpu_s
        size_ratio = large.sessions / middle.sessions
        print(f"CPU ratio {large.sessions:,}/{middle.sessions:,} sessions ({size_ratio:.1f}x the sessions): "
              f"{cpu_ratio:.2f} (goal <= {GOAL_CPU_RATIO * size_ratio / 2:.2f})")
        rss_ratio = large.peak_rss / small.peak_rss
        print(f"Peak RSS ratio {large.sessions:,}/{small.sessions:,} sessions: {rss_ratio:.2f} "
              f"(goal <= {GOAL_RSS_RATIO}); largest {_gb(large.peak_rss)} (goal < {_gb(GOAL_RSS_BYTES)} at 100k)")
    per_session_cpu = large.cpu_s / large.settled
    speedup = large.cpu_s / large.wall_s
    projected_wall = 1_000_000 * large.wall_s / large.settled
    print(f"1,000,000-session day projected from {large.sessions:,}: {1_000_000 * per_session_cpu / 60:.1f} CPU-min, "
          f"{projected_wall / 60:.1f} min wall at the measured parallel speed-up {speedup:.2f} (goal <= 15 min)")
    ocpp_cpu = sum(large.step_cpu.get(s, 0.0) for s in OCPP_STEPS)
    if ocpp_cpu:
        print(f"OCPP ingest at {large.sessions:,}: {large.ocpp_bytes / 1e6:.0f} MB of landing lines in {ocpp_cpu:.1f} CPU-s "
              f"= {large.ocpp_read_ndjson_s / ocpp_cpu:.0%} of bare polars.read_ndjson ({large.ocpp_read_ndjson_s:.1f} CPU-s) "
              f"(goal >= {GOAL_PARSE_SHARE:.0%})")
        floor = large.ocpp_read_ndjson_s + large.ocpp_encode_s
        allowed = large.ocpp_read_ndjson_s / GOAL_PARSE_SHARE
        goal_cpu = GOAL_WALL_S_100K * large.settled / 100_000 * CORES
        print(f"OCPP floor at {large.sessions:,}: the bare parse {large.ocpp_read_ndjson_s:.1f} + encoding the three tables "
              f"as stored {large.ocpp_encode_s:.1f} = {floor:.1f} CPU-s; the {GOAL_PARSE_SHARE:.0%} goal allows the "
              f"ingest {allowed:.1f} CPU-s, the floor takes {floor / allowed:.0%} of it; the "
              f"{GOAL_WALL_S_100K} s-per-100k goal allows the whole run {goal_cpu:.0f} CPU-s on {CORES} cores, "
              f"the OCPP floor alone takes {floor / goal_cpu:.0%} of it")
    print("(CPU time is the robust figure: the machine may be shared while this runs)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="25000,50000,100000", help="comma-separated sessions per day")
    parser.add_argument("--quick", action="store_true", help="sizes 1000,2000,4000 (smoke run)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="keep the generated days and warehouses under this folder")
    parser.add_argument("--landing-cache", type=Path,
                        help="generate each day once into this folder and reuse it on later runs "
                             "(keyed by size, seed and the generator's source; default: generate every run)")
    parser.add_argument("--executor", choices=("in_process", "multiprocess"), default="in_process",
                        help="how the settlement runs its steps (pipelines/executors.py; default in_process); per-asset "
                             "CPU is measured in_process only")
    parser.add_argument("--ocpp-shards", default=None,
                        help=f"split each landing date's OCPP chain into this many charge-point shards, or 'auto' "
                             f"({SHARDS_ENV}; default: the environment's, else auto: a large date is split)")
    parser.add_argument("--days", type=int, default=1,
                        help="consecutive days generated per size (default 1); with 2 or more, the later dates are the "
                             "steady state a nightly run meets (sessions crossing midnight, re-settlements)")
    arguments = parser.parse_args(argv)
    if arguments.ocpp_shards is not None:
        os.environ[SHARDS_ENV] = str(arguments.ocpp_shards)
    shards = os.environ.get(SHARDS_ENV, "auto")
    sizes = [1000, 2000, 4000] if arguments.quick else [int(s) for s in arguments.sizes.split(",")]
    if arguments.keep:
        arguments.keep.mkdir(parents=True, exist_ok=True)
    # Compiling the numba kernels is a one-off per install (pipelines/warm_kernels.py), not nightly work: the cache
    # the timed runs use is filled first, untimed, or the first size would time the compiler (~2 CPU-minutes).
    os.environ["NUMBA_CACHE_DIR"] = str(NUMBA_CACHE)
    print(f"warming the numba cache (untimed) ... {warm_kernels.warm():.1f} s", flush=True)
    results = []
    for sessions in sizes:
        days = "one day" if arguments.days == 1 else f"{arguments.days} days"
        print(f"settling {days} of {sessions:,} sessions ({arguments.executor}, OCPP shards: {shards}) ...", flush=True)
        measurement = run_size(sessions, arguments.seed, arguments.keep, arguments.landing_cache, arguments.executor,
                               arguments.days)
        print(f"  {measurement.cpu_s:.1f} CPU-s, {measurement.wall_s:.1f} s wall, peak {_gb(measurement.peak_rss)}; "
              "OCPP shards per landing date: "
              + ", ".join(f"{date} {count}" for date, count in sorted(measurement.ocpp_shards.items())), flush=True)
        if measurement.peak_parts:
            others = ", ".join(_gb(size) for size in measurement.peak_parts[1:]) or "none"
            print(f"  the peak: during {measurement.peak_step or 'no step'}; settlement process "
                  f"{_gb(measurement.peak_parts[0])}, its child processes {others}", flush=True)
        results.append(measurement)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
