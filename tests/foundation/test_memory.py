"""Freed memory goes back to the system where a piece of work ends (``assets.memory``): in the step's process, in a
pool worker after its task, and after every step of the settlement jobs."""

from __future__ import annotations

import multiprocessing
import re
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
