"""A process pool shared by the steps of a process, and an ordered map over it.

Three kinds of work use it. The OCPP chain (``assets.ingest.ocpp``): charge-point shards of a landing date
(``shards``), and, opt-in, the charge-point groups of ``meter_readings`` and ``transactions`` (``map_groups``
with the default ``workers``). ``meter_curves`` (``assets.consumption.build``), whose session chunks run on
every core once a day has enough of them. And the record-by-record ingests (platform, Eevion, OCPI CDRs, interval
charges: ``IngestRun.read``), whose batches of records are parsed on every core once a day's files are large
(``map_with_shared``: the parser, with its reference tables, goes to each worker once).

Charge-point groups: the rules of ``meter_readings`` and ``transactions`` are Python over one charge-point
group at a time and groups are independent (readings and transactions only relate frames of the same charge
point), so the groups can run in worker processes. Results come back in group order, so the output is the same
as a serial run, byte for byte. At most ``workers + 1`` groups are in flight, so memory stays bounded by the
group size.

``CHARGELEDGER_OCPP_WORKERS`` sets the number of workers of those groups; the default, 1, runs serially in-process.
Measured on a whole nightly settlement of a 5,000-session day (bench_settlement, machine idle): two workers cost
106.2 CPU-s, 88.6 s wall and 2.41 GB peak against 92.6 CPU-s, 84.6 s and 1.16 GB serially (at 25k,
``meter_readings`` alone 147 against 115 CPU-s). Each spawned worker imports the whole stack and holds its own copy
of a group's data, and the columnar rules left too little Python per group to win that back; so the pool is opt-in,
for a machine with idle cores and memory to spare. At 100k sessions it still does not pay: ``meter_readings`` on
the 100k day's busiest landing date took 517.4 CPU-s (271.9 in the step's process) and 278.0 s wall with two
workers, against 387.3 CPU-s and 288.1 s serially; what stays in the step's process (reading, spilling per group,
sorting and writing the parts) bounds the wall time. A day with fewer than ``MIN_POOLED_GROUPS`` groups runs
in-process: starting a worker costs about 1.5 CPU-seconds of imports, more than a few groups' work. The pool is
started once per process and kept for the next asset (the in-process executor runs all of a day's steps in one
process). Workers are started with ``spawn``: polars is multi-threaded and must not be forked. (As with any spawn
pool, a script that runs the assets directly needs an ``if __name__ == "__main__":`` guard.)
"""

from __future__ import annotations

import atexit
import hashlib
import os
import pickle
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import TypeVar

from assets.memory import ALLOCATOR_ENV, release_memory, worker_allocator_conf

Result = TypeVar("Result")

WORKERS_ENV = "CHARGELEDGER_OCPP_WORKERS"
MIN_POOLED_GROUPS = 4

_pool: ProcessPoolExecutor | None = None
_pool_workers = 0
# CPU seconds the pool workers spent on this process's steps (a benchmark adds it to the step that ran them).
_worker_cpu_s = 0.0


def worker_cpu_seconds() -> float:
    """CPU seconds (all threads) that pool workers have spent on this process's steps so far."""
    return _worker_cpu_s


def count_worker_cpu(seconds: float) -> None:
    """Add a pool worker's CPU seconds for one task to ``worker_cpu_seconds``."""
    global _worker_cpu_s
    _worker_cpu_s += seconds


def timed(function: Callable[..., Result], *args) -> tuple[Result, float]:
    """``function(*args)`` and the CPU seconds it took this (worker) process; the worker then returns what the task
    freed to the system (``release_memory``), so an idle worker does not keep a shard's memory."""
    started = time.process_time()
    try:
        return function(*args), time.process_time() - started
    finally:
        release_memory()


POLARS_THREADS_ENV = "POLARS_MAX_THREADS"
# The polars threads of the workers the pool starts next, and a lock over the parent's environment while one starts.
_worker_polars_threads = 1
_spawn_lock = threading.Lock()


def worker_polars_threads(workers: int, cores: int | None = None) -> int:
    """Polars threads for each of ``workers`` pool workers: the usable cores shared among them, at least one."""
    cores = usable_cores() if cores is None else cores
    return max(1, cores // max(1, workers))


class _WorkerProcess(SpawnProcess):
    """A spawned pool worker whose polars starts with ``_worker_polars_threads`` threads and the allocator settings
    of ``memory.worker_allocator_conf``: polars reads both once, at import, so they are in the environment the
    worker is started with. A ``POLARS_MAX_THREADS`` the user set applies to every process and is left as it is."""

    @staticmethod
    def _Popen(process_obj):
        with _spawn_lock:
            saved = {name: os.environ.get(name) for name in (POLARS_THREADS_ENV, ALLOCATOR_ENV)}
            if saved[POLARS_THREADS_ENV] is None:
                os.environ[POLARS_THREADS_ENV] = str(_worker_polars_threads)
            os.environ[ALLOCATOR_ENV] = worker_allocator_conf(saved[ALLOCATOR_ENV])
            try:
                return SpawnProcess._Popen(process_obj)
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value


class _WorkerContext(SpawnContext):
    Process = _WorkerProcess


def shared_pool(workers: int) -> ProcessPoolExecutor:
    """The process's pool of ``workers`` workers, started on first use and shut down at exit (shared with the
    charge-point shards of ``shards``)."""
    global _pool, _pool_workers, _worker_polars_threads
    if _pool is None or _pool_workers != workers:
        close_shared_pool()
        _worker_polars_threads = worker_polars_threads(workers)
        _pool = ProcessPoolExecutor(max_workers=workers, mp_context=_WorkerContext())
        _pool_workers = workers
    return _pool


@atexit.register
def close_shared_pool() -> None:
    """Stop the process's pool, if started, so its idle workers give their memory back; the next ``shared_pool``
    starts a new one.

    A worker keeps what its last task left resident (allocator caches, imported state: on the 100,000-session
    two-day bench the two idle workers still held memory from the steady-state date's shards while the next, small
    date ran ``meter_readings`` whole in the step's process, and the three processes together peaked at 4.10 GB).
    A step about to do large work in its own process calls this first; restarting workers later costs about
    1.5 CPU-seconds each."""
    global _pool, _pool_workers
    if _pool is not None:
        _pool.shutdown()
        _pool, _pool_workers = None, 0


def worker_count() -> int:
    """Workers to use: ``$CHARGELEDGER_OCPP_WORKERS``, default 1 (serial, in-process)."""
    configured = os.environ.get(WORKERS_ENV)
    return max(1, int(configured)) if configured else 1


def usable_cores() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


def map_groups(function: Callable[..., Result], arguments: Iterable[tuple], groups: int,
               workers: int | None = None) -> Iterator[Result]:
    """``function(*args)`` for each tuple of ``arguments`` (one per group), results in order, on ``workers``
    pool workers (default ``worker_count()``; 1: serially, in this process).

    ``function`` must be a module-level function (it is pickled by name); ``groups`` is how many tuples
    ``arguments`` yields, so the pool is only started when there are ``MIN_POOLED_GROUPS`` or more.
    """
    workers = worker_count() if workers is None else workers
    if workers <= 1 or groups < MIN_POOLED_GROUPS:
        for args in arguments:
            yield function(*args)
        return
    yield from _in_order(workers, ((function, *args) for args in arguments))


def map_with_shared(function: Callable[..., Result], shared: object, arguments: Iterable[tuple],
                    workers: int) -> Iterator[Result]:
    """``function(shared, *args)`` for each tuple of ``arguments``, results in order, on ``workers`` pool workers
    (1: serially, in this process), however many tuples ``arguments`` yields.

    ``shared`` is what every call needs and is the same for all (e.g. a parser holding the reference tables): it
    is pickled once here and unpickled once per worker, instead of with every task. ``function`` must be a
    module-level function.
    """
    if workers <= 1:
        for args in arguments:
            yield function(shared, *args)
        return
    payload = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
    key = hashlib.blake2b(payload, digest_size=16).digest()
    yield from _in_order(workers, ((_call_with_shared, key, payload, function, *args) for args in arguments))


# The ``shared`` value a worker last unpickled, by the digest of its pickle (one at a time: a step's tasks share one).
_shared: tuple[bytes, object] | None = None


def _call_with_shared(key: bytes, payload: bytes, function: Callable[..., Result], *args) -> Result:
    global _shared
    if _shared is None or _shared[0] != key:
        _shared = (key, pickle.loads(payload))
    return function(_shared[1], *args)


def _in_order(workers: int, calls: Iterable[tuple]) -> Iterator[Result]:
    """Each ``(function, *args)`` of ``calls`` run on the shared pool, results in the order of ``calls``; at most
    ``workers + 1`` in flight, so memory stays bounded by a task's size."""
    pool = shared_pool(workers)
    in_flight: deque[Future] = deque()

    def done() -> Result:
        result, cpu = in_flight.popleft().result()
        count_worker_cpu(cpu)
        return result

    try:
        for call in calls:
            in_flight.append(pool.submit(timed, *call))
            if len(in_flight) > workers:
                yield done()
        while in_flight:
            yield done()
    finally:
        for future in in_flight:
            future.cancel()
