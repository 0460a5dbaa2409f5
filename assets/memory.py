"""Giving freed memory back to the operating system between pieces of work.

glibc's malloc keeps memory a process has freed for its next allocations instead of returning it: numpy arrays,
Python objects and the parsers' buffers of a step are freed, but the pages stay resident. Measured on one charge-point
shard of the 100,000-session day's busiest landing date (``ocpp_messages``, 7.3 M frames): after its parse loop the
worker held 985 MB, of which ``malloc_trim`` returned 291 MB at once (the key sets it still needed were 235 MB);
between steps the settlement process carried 1.0 to 1.4 GB from one step into the next, and a pool worker kept
665 MB while idle. A process that keeps memory it no longer uses is memory the next step, or the other worker,
cannot have, so the whole-tree peak follows the day instead of a batch.

``release_memory`` runs ``malloc_trim(0)``; it is called where a piece of work ends: after
every step of the settlement jobs (``release_after_step``, a hook), after every task of a pool worker
(``assets.parallel.timed``), and every ``TRIM_EVERY_BATCHES`` landing batches of the OCPP parse.
Returning memory costs little: about 2 ms a call on a 1 GB heap (1.7 CPU-s over the 729 batches of that shard,
1.3% of its parse). Forcing every large allocation to ``mmap`` instead (``MALLOC_MMAP_THRESHOLD_``) bounds memory
too, but on that shard page faults took 69 s of system time (31 s with trims every batch) and 50 s more wall, so
it is not used.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import dagster as dg

TRIM_EVERY_BATCHES = 16
"""Landing batches between two releases inside the OCPP parse loop (``pipeline.stream_ocpp_messages``)."""


def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        library = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return getattr(library, "malloc_trim", None)
    except OSError:
        return None


_trim = _malloc_trim()


def release_memory() -> None:
    """Return the C heap's free pages to the operating system. No garbage collection: the data path's objects die
    by reference count, and a full collection of a settlement process's objects costs far more than the trim."""
    if _trim is not None:
        _trim(0)


@dg.success_hook(name="release_memory_after_step")
def _release_after_success(_context: dg.HookContext) -> None:
    release_memory()


@dg.failure_hook(name="release_memory_after_failure")
def _release_after_failure(_context: dg.HookContext) -> None:
    release_memory()


release_after_step = {_release_after_success, _release_after_failure}
"""Hooks for a job: every step's process releases memory when the step ends (the in-process executor runs a whole
day's steps in one process, so what one step freed is then free for the next)."""
