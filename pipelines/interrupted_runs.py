"""Runs left STARTED by a runner process that died (kill -9, power loss) are marked failed.

`make settle` runs jobs in its own process (`execute_in_process`), where no daemon watches the run worker: if
the process is killed, the run stays STARTED forever. Each run the demo runner starts is tagged with the
identity of its process (host, pid and the pid's start time, so a recycled pid is not mistaken for the
original); on the next start, `mark_interrupted_runs_failed` fails every unfinished run whose process is gone
and frees any concurrency slots it held. Runs launched by the daemon or the UI carry no such tag and are left
to Dagster's run monitoring (pipelines/dagster.yaml).

The settlement itself needs nothing more: every asset replaces its partition atomically, so the re-run of the
same day (which `make settle` does anyway) completes it with byte-identical results.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg

RUNNER_TAG = "chargeledger/runner_process"
UNFINISHED = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
              dg.DagsterRunStatus.CANCELING]


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None if no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (not Linux): fall back to "does a process with this pid exist"
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "?"
    # field 22; the command name (field 2) may contain spaces, so split after its closing parenthesis
    return stat.rsplit(")", 1)[1].split()[19]


def runner_identity(pid: int | None = None) -> str:
    """`host:pid:start` of a process (this one by default)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}"


def runner_tags() -> dict[str, str]:
    """Tags to put on every run this process executes in process."""
    return {RUNNER_TAG: runner_identity()}


def _runner_is_gone(identity: str) -> bool:
    host, pid, start = identity.rsplit(":", 2)
    if host != socket.gethostname():
        return False  # another machine's run: not ours to judge
    alive = _process_start(int(pid))
    return alive is None or (alive != "?" and start != "?" and alive != start)


def mark_interrupted_runs_failed(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Fail every unfinished, runner-tagged run whose process no longer exists; returns those runs."""
    failed = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        identity = run.tags.get(RUNNER_TAG)
        if not identity or not _runner_is_gone(identity):
            continue
        instance.report_run_failed(run, f"The process that ran this run ({identity}) is gone (killed or crashed); "
                                        "marked failed on the next start. Re-run the partition to complete it.")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run)
    return failed
