"""Running one partition of a job in this process, or with one process per step on every core.

`make settle` runs each job in its own process (`in_process`, the default): one process, no start-up cost per
step, the right choice for small days. With `multiprocess` (`make settle EXECUTOR=multiprocess`, or
`python -m pipelines.demo --executor multiprocess`) Dagster's multiprocess executor runs independent steps at
the same time (the OCPP chain next to the platform, Eevion, OCPI and interval ingests; consumption next to
pricing), on up to `max_concurrent` processes forked from a server that has already imported the code location,
so a step does not pay the imports again. The steps read and write the same warehouse either way (each asset
replaces its own partition atomically; the single-writer assets are limited by the `concurrency` pools of
`dagster.yaml`), and the outputs are byte-identical (tests/foundation/test_executors.py).

The multiprocess executor needs a job it can rebuild in another process, hence the module-level job functions.
"""

from __future__ import annotations

import os

import dagster as dg

EXECUTORS = ("in_process", "multiprocess")


def nightly_settlement_job() -> dg.JobDefinition:
    """`nightly_settlement`, as a step process rebuilds it."""
    from pipelines.definitions import defs

    return defs.resolve_job_def("nightly_settlement")


def resettlement_job() -> dg.JobDefinition:
    """`resettlement`, as a step process rebuilds it."""
    from pipelines.definitions import defs

    return defs.resolve_job_def("resettlement")


RECONSTRUCTABLE_JOBS = {"nightly_settlement": nightly_settlement_job, "resettlement": resettlement_job}


def multiprocess_config(max_concurrent: int | None = None) -> dict:
    """Run config for the multiprocess executor: one process per step, forked from a preloaded server."""
    return {"execution": {"config": {"multiprocess": {
        "max_concurrent": max_concurrent or os.cpu_count() or 2,
        "start_method": {"forkserver": {"preload_modules": ["pipelines.step_preload"]}},
    }}}}


def run_partition(job_name: str, instance: dg.DagsterInstance, *, partition_key: str | None, run_config: dict,
                  tags: dict, executor: str = "in_process") -> dg.ExecutionResult:
    """Run `job_name` (for `partition_key`) on `executor`; the result's checks and events read the same way."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; one of {', '.join(EXECUTORS)}")
    if executor == "multiprocess" and job_name in RECONSTRUCTABLE_JOBS:
        partition_tags = {"dagster/partition": partition_key} if partition_key else {}
        return dg.execute_job(dg.reconstructable(RECONSTRUCTABLE_JOBS[job_name]), instance=instance,
                              run_config=run_config | multiprocess_config(), tags=tags | partition_tags)
    from pipelines.definitions import defs

    # Jobs with few or light steps (reference refresh, the monthly close, the export) gain nothing from
    # a process per step, so they always run in this process.
    return defs.resolve_job_def(job_name).execute_in_process(instance=instance, partition_key=partition_key,
                                                            raise_on_error=False, run_config=run_config, tags=tags)
