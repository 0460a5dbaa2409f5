"""The resident memory a benchmark's child process reports: its own high-water mark, read from ``/proc``.

Not ``resource.getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries that figure over ``fork`` and ``exec`` (the forked
copy of the parent counts as the child's own peak), so a step run in a child of a benchmark that had just read a
few GB of landing lines started at that benchmark's peak. ``VmHWM`` is the peak of the process's current memory
map, which ``exec`` starts afresh.
"""

from __future__ import annotations

import re
from pathlib import Path


def status_bytes(field: str) -> int:
    """One memory field of this process's ``/proc/self/status`` (``VmHWM``: the peak, ``VmRSS``: now), in bytes."""
    found = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"/proc/self/status has no {field}: the benchmarks' memory figures need Linux")
    return int(found.group(1)) * 1024


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (``VmHWM``)."""
    return status_bytes("VmHWM") / 2**20
