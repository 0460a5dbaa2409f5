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

ALLOCATOR_ENV = "_RJEM_MALLOC_CONF"
"""The settings of polars' allocator, its own jemalloc. ``import polars`` writes its defaults into it, then
the value it found, if any: jemalloc takes the last value of each key, so what follows polars' defaults wins."""
POLARS_DIRTY_DECAY = "dirty_decay_ms:500"
WORKER_DIRTY_DECAY = "dirty_decay_ms:10000"


def worker_allocator_conf(current: str | None) -> str:
    """The ``ALLOCATOR_ENV`` a pool worker starts with: this process's (``current``) with ``WORKER_DIRTY_DECAY``
    last, unless it holds a ``dirty_decay_ms`` of the user's own (one other than polars' default), which is left
    to win.

    The workers that run the OCPP shards and ``meter_curves`` chunks (``parallel``) keep freed pages for reuse for
    jemalloc's own default of 10 s, not the 0.5 s ``import polars`` sets (``dirty_decay_ms:500``, then 1 s as
    lazily freed pages). They allocate and free buffers of every size all the time (a batch's columns, a group's
    frames, a part's sort keys), so with polars' setting most buffers were fresh pages the kernel had to fault in
    and zero. Alternating runs of one shard alone (2026-12-05, the 100,000-session two-day warehouse):

    - ``ocpp_messages``, steady-state date (7.3 M frames): 115.2 / 120.1 CPU-s (18-22 of them in the kernel,
      3.3-3.6 M page faults) against 104.7 / 96.9 (kernel 10.6-11.4, 1.55 M faults); peak 1.22-1.24 GB against
      1.25-1.30;
    - ``meter_readings``, first date (12.7 M readings): 93.3 / 96.0 CPU-s (16.0 in the kernel, 3.9 M faults)
      against 79.5 (kernel 6.7, 1.27 M faults); peak 1.12-1.16 GB against 1.19 GB;
    - the same files byte for byte. Keeping pages 30 s saved about as much more CPU and cost 150-350 MB of peak.

    A worker that goes idle still gives the pages back within about 10 s (jemalloc's background thread), and
    ``release_memory`` at the end of each task still returns the C heap's.
    """
    pairs = [pair for pair in (current or "").split(",") if pair]
    if any(pair.startswith("dirty_decay_ms:") and pair != POLARS_DIRTY_DECAY for pair in pairs):
        return current
    return ",".join([*pairs, WORKER_DIRTY_DECAY])


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
