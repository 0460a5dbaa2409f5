"""Freed memory goes back to the system where a piece of work ends (``assets.memory``): in the step's process, in a
pool worker after its task, and after every step of the settlement jobs."""

from __future__ import annotations

import multiprocessing
import os
import re
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from assets.memory import release_memory
from assets.parallel import timed

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim and /proc")

MB = 2**20
_kept: list[bytearray] = []


def _resident() -> int:
    return int(re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024


def _allocate_and_free(megabytes: int) -> int:
    """Fill the C heap with 64 KiB blocks (below glibc's mmap threshold: they come from the heap), keep only the
    last one, which pins the heap's top so free() alone cannot give the pages back; the resident bytes after."""
    blocks = [bytearray(b"x" * (64 * 1024)) for _ in range(megabytes * 16)]
    _kept.append(blocks[-1])
    del blocks
    return _resident()


def test_release_memory_gives_freed_heap_pages_back():
    before = _resident()
    after_free = _allocate_and_free(200)
    assert after_free - before > 150 * MB  # free() kept the pages
    release_memory()
    assert after_free - _resident() > 150 * MB


def test_a_pool_worker_gives_back_what_its_task_freed():
    """``parallel.timed`` (how every pool task runs) releases after the task: the worker's next task starts small."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        (held_at_end, _), = list(pool.map(timed, [_allocate_and_free], [200]))
        idle = pool.submit(_resident).result()
    assert held_at_end - idle > 150 * MB


def test_the_settlement_jobs_release_memory_after_every_step():
    from pipelines.definitions import defs

    for job in ("nightly_settlement", "resettlement", "monthly_invoicing"):
        hooks = {hook.name for hook in defs.resolve_job_def(job).hook_defs}
        assert {"release_memory_after_step", "release_memory_after_failure"} <= hooks, job


def _allocator_conf() -> str | None:
    import polars  # noqa: F401  (as every task does: polars' import reads the setting and writes its own first)

    return os.environ.get("_RJEM_MALLOC_CONF")


POLARS_DEFAULTS = "dirty_decay_ms:500,muzzy_decay_ms:1000"  # what ``import polars`` writes before a user's value


@pytest.mark.parametrize(("parent", "worker"), [
    (POLARS_DEFAULTS, f"{POLARS_DEFAULTS},dirty_decay_ms:10000"),
    (f"{POLARS_DEFAULTS},narenas:4", f"{POLARS_DEFAULTS},narenas:4,dirty_decay_ms:10000"),
    (f"{POLARS_DEFAULTS},dirty_decay_ms:2000", f"{POLARS_DEFAULTS},dirty_decay_ms:2000"),  # the user's wins
    (None, "dirty_decay_ms:10000"),
])
def test_pool_workers_start_with_the_allocator_settings(parent, worker, monkeypatch, fresh_pool):
    """The OCPP shards' workers keep freed pages for reuse (``worker_allocator_conf``) unless the user chose a
    decay of their own; the parent's environment is left as it was."""
    if parent is None:
        monkeypatch.delenv("_RJEM_MALLOC_CONF", raising=False)
    else:
        monkeypatch.setenv("_RJEM_MALLOC_CONF", parent)
    seen = fresh_pool(1).submit(_allocator_conf).result()
    # The worker's own ``import polars`` put its defaults first again: the value it was started with follows.
    assert seen == f"{POLARS_DEFAULTS},{worker}"
    assert os.environ.get("_RJEM_MALLOC_CONF") == parent


def _jemalloc_report() -> subprocess.CompletedProcess:
    """jemalloc's statistics at exit of a process that reads the allocator settings this worker read (what its own
    jemalloc was configured with; ``import polars`` puts its defaults first again, as it did here)."""
    import polars  # noqa: F401

    conf = os.environ["_RJEM_MALLOC_CONF"]
    return subprocess.run([sys.executable, "-c", "import polars as pl; print(pl.Series([1, 2]).sum())"],
                          env={**os.environ, "_RJEM_MALLOC_CONF": f"{conf},stats_print:true"},
                          capture_output=True, text=True, check=True)


def test_polars_allocator_runs_the_workers_with_ten_seconds_of_dirty_pages(fresh_pool):
    """What jemalloc itself reports for a pool worker's settings: the worker's decay wins over polars' default, and
    no setting is refused (jemalloc ignores one it does not know and only says so on stderr)."""
    done = fresh_pool(1).submit(_jemalloc_report).result()
    assert done.stdout.strip() == "3"
    assert "opt.dirty_decay_ms: 10000 " in done.stderr
    assert "Invalid conf" not in done.stderr
