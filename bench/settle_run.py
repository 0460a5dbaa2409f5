"""The settlement that ``bench_settlement`` measures: ``pipelines.demo``'s run, plus a per-step CPU logger.

Runs exactly what ``python -m pipelines.demo`` runs (same jobs, same order, same executor) with one extra
Dagster logger, ``step_cpu``: on a step's start event it notes the process CPU time (all threads of the
process that runs the step, plus what its pool workers spent on it, ``parallel.worker_cpu_seconds``: charge-point
shards, ``meter_curves`` chunks, invoice PDFs), on its success or failure the difference is added to that step's
total. The totals (asset -> CPU seconds of its steps, summed over the runs of the settlement) are written as JSON to
``$BENCH_STEP_CPU_FILE`` when the settlement ends. It also notes each step's peak resident memory in the process
that runs it (the kernel's high-water mark, reset at the step's start through ``/proc/self/clear_refs``; the
largest over the runs), written as ``{step: bytes}`` to the same file name with ``_rss`` before the suffix. Pool
workers a step starts are not in that figure; the benchmark's whole-tree peak includes them. Each run's job,
partition, process CPU (with its pool workers'), wall seconds, and CPU and wall seconds per asset go to the file name with ``_runs``
(a list, in run order); the pool workers' CPU over the whole settlement to the file name with ``_workers``; and each step's resident
memory at its start, its peak and at its end, in run order, with its run's partition and its start and end times
(epoch seconds: the benchmark finds the step its whole-tree peak fell in), to the file name with ``_rss_steps`` (what
a step starts from is what the process kept of the steps before it).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

import dagster as dg

import pipelines.demo as demo
from assets.parallel import worker_cpu_seconds

_started: dict[tuple[str, str], tuple[float, float]] = {}  # step -> (CPU, wall clock) at its start
_totals: dict[str, float] = {}
_peak_rss: dict[str, int] = {}
_runs: list[dict] = []  # one per run: job, partition, CPU of this process and wall seconds, CPU per asset
_run_steps: dict[str, dict[str, float]] = {}  # run id -> asset -> CPU seconds of its steps in that run
_run_walls: dict[str, dict[str, float]] = {}  # run id -> asset -> wall seconds of its steps in that run
_rss_steps: list[dict] = []  # one per step, in order: resident memory at its start, its peak, at its end
_current_partition: str | None = None  # the partition of the run executing now
END_EVENTS = {"STEP_SUCCESS", "STEP_FAILURE"}


class _StepCpuHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None or not event.step_key:
            return
        key = (meta.get("run_id") or "", event.step_key)
        if event.event_type_value == "STEP_START":
            _reset_peak_rss()
            _started[key] = (_cpu_now(), time.perf_counter())
            _rss_steps.append({"step": event.step_key, "partition": _current_partition,
                               "start": _proc_status("VmRSS"), "started_at": time.time(),
                               "glibc_heap": _glibc_heap(), "python_blocks": sys.getallocatedblocks()})
        elif event.event_type_value in END_EVENTS and key in _started:
            asset = asset_of_step(event.step_key)
            cpu_at_start, wall_at_start = _started.pop(key)
            spent = _cpu_now() - cpu_at_start
            _totals[asset] = _totals.get(asset, 0.0) + spent
            in_run = _run_steps.setdefault(key[0], {})
            in_run[asset] = in_run.get(asset, 0.0) + spent
            walls = _run_walls.setdefault(key[0], {})
            walls[asset] = walls.get(asset, 0.0) + time.perf_counter() - wall_at_start
            _peak_rss[asset] = max(_peak_rss.get(asset, 0), _peak_rss_now())
            for row in reversed(_rss_steps):
                if row["step"] == event.step_key and "end" not in row:
                    row.update(peak=_peak_rss_now(), end=_proc_status("VmRSS"), ended_at=time.time())
                    break


def asset_of_step(step_key: str) -> str:
    """The asset a step computes: its key, or the part before the dot for an op of a graph-backed asset (the OCPP
    assets' plan, shard and report steps: ``meter_readings.meter_readings_shards[shard_0]``)."""
    return step_key.split(".", 1)[0]


def _cpu_now() -> float:
    """This process's CPU seconds plus its pool workers' (``assets.parallel``)."""
    return time.process_time() + worker_cpu_seconds()


def _reset_peak_rss() -> None:
    """Set this process's high-water mark (VmHWM) back to its current RSS (Linux: "5" to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux, or not allowed: the figure is then the process's peak so far
        pass


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def _glibc_heap() -> int:
    """Bytes glibc's malloc has handed out and not had back (``mallinfo2``: in-use heap chunks plus mmapped
    blocks): Python objects, numpy, the C libraries that use malloc. The rest of a step's resident memory is
    other allocators' (polars' jemalloc, pyarrow's mimalloc, DuckDB) and the mapped code. 0 without glibc."""
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return 0
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return info.uordblks + info.hblkhd


def _peak_rss_now() -> int:
    """This process's resident high-water mark in bytes (0 where /proc is not available)."""
    return _proc_status("VmHWM")


def _proc_status(field: str) -> int:
    """One memory field of this process's /proc status (VmRSS, VmHWM), in bytes; 0 where /proc is not available."""
    try:
        found = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    except OSError:
        return 0
    return int(found.group(1)) * 1024 if found else 0


@dg.logger(description="Process CPU time per step, for bench_settlement.")
def step_cpu(_init_context) -> logging.Logger:
    log = logging.getLogger("bench.step_cpu")
    log.setLevel(logging.DEBUG)
    if not log.handlers:
        log.addHandler(_StepCpuHandler())
    return log


class _JobWithStepCpu:
    """A job whose runs also configure the ``step_cpu`` logger (run config names every logger it uses)."""

    def __init__(self, job: dg.JobDefinition):
        self._job = job.with_logger_defs({**job.loggers, "console": dg.default_loggers()["console"],
                                          "step_cpu": step_cpu})

    def execute_in_process(self, run_config=None, **kwargs):
        config = dict(run_config or {})
        config["loggers"] = {**config.get("loggers", {}), "step_cpu": {}}
        global _current_partition
        _current_partition = kwargs.get("partition_key")
        cpu, wall = _cpu_now(), time.perf_counter()
        result = None
        try:
            result = self._job.execute_in_process(run_config=config, **kwargs)
            return result
        finally:
            steps = _run_steps.pop(result.run_id, {}) if result is not None else {}
            walls = _run_walls.pop(result.run_id, {}) if result is not None else {}
            _runs.append({"job": self._job.name, "partition": kwargs.get("partition_key"),
                          "cpu_s": _cpu_now() - cpu, "wall_s": time.perf_counter() - wall, "steps": steps,
                          "step_walls": walls})


def _resolve_with_step_cpu(name: str, resolve=demo.defs.resolve_job_def) -> _JobWithStepCpu:
    return _JobWithStepCpu(resolve(name))


def main() -> None:
    # On the multiprocess executor the steps run in processes that rebuild the job from the code location, where
    # this logger does not exist: per-step CPU is measured in_process only.
    if os.environ.get("CHARGELEDGER_EXECUTOR", "in_process") == "in_process":
        demo.defs.resolve_job_def = _resolve_with_step_cpu  # type: ignore[method-assign]
    try:
        demo.main()
    finally:
        target = os.environ.get("BENCH_STEP_CPU_FILE")
        if target:
            with open(target, "w", encoding="utf-8") as handle:
                json.dump(_totals, handle, indent=1, sort_keys=True)
            path = Path(target)
            path.with_name(f"{path.stem}_rss{path.suffix}").write_text(json.dumps(_peak_rss, indent=1, sort_keys=True))
            path.with_name(f"{path.stem}_runs{path.suffix}").write_text(json.dumps(_runs, indent=1))
            path.with_name(f"{path.stem}_rss_steps{path.suffix}").write_text(json.dumps(_rss_steps, indent=1))
            path.with_name(f"{path.stem}_workers{path.suffix}").write_text(
                json.dumps({"shard_workers_cpu_s": worker_cpu_seconds()}))


if __name__ == "__main__":
    main()
