"""Benchmark: what Dagster itself costs per run and per step, with the settlement's run shapes but empty steps.

For each settlement job (`nightly_settlement`, `resettlement`) it builds a job of the same shape from the code
location: one asset per asset of the job, with the same keys, dependencies, partitions and asset checks, whose
body does nothing but report the materialization and pass its checks. Each job is run ``--runs`` times for one
partition on a fresh SQLite instance, the way ``make settle`` runs it (``execute_in_process``, console logger at
WARNING), and the CPU time of the runner process plus its children (the compute-log ``tail`` processes) is
measured per run. What is left is the orchestration: run start, plan, resource set-up, event-log writes, step
launch, the checks' events, compute-log capture.

It measures, in one run, two instance settings: Dagster's defaults (an empty ``dagster.yaml``) and the project's
``pipelines/dagster.yaml``, and prints each one's CPU per run, per step, and the ratio.

    .venv/bin/python -m bench.bench_run_overhead            # 8 runs of each job per setting
    .venv/bin/python -m bench.bench_run_overhead --runs 3
    .venv/bin/python -m bench.bench_run_overhead --quick      # 2 runs
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOBS = ("nightly_settlement", "resettlement")
PARTITION = "2026-10-24"


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def empty_job(job_name: str):
    """A job with `job_name`'s assets, dependencies, partitions and checks, whose steps do nothing."""
    import dagster as dg

    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = defs.resolve_job_def(job_name).asset_layer.executable_asset_keys
    assets = []
    for key in sorted(keys, key=lambda k: k.to_user_string()):
        node = graph.get(key)
        checks = [dg.AssetCheckSpec(c.name, asset=key) for c in graph.get_check_keys_for_assets([key])]
        assets.append(_empty_asset(key, [p for p in node.parent_keys if p in keys], node.partitions_def, checks))
    return dg.define_asset_job(f"empty_{job_name}", selection=[a.key for a in assets]), assets


def _empty_asset(key, deps, partitions_def, checks):
    import dagster as dg

    @dg.asset(key=key, deps=deps, partitions_def=partitions_def, check_specs=checks)
    def _nothing(context):
        """Does nothing: the step costs only what Dagster costs."""
        return dg.MaterializeResult(
            metadata={"rows": 0},
            check_results=[dg.AssetCheckResult(check_name=c.name, passed=True) for c in checks])

    return _nothing


def measure(yaml_text: str, runs: int) -> dict[str, tuple[int, list[float]]]:
    """{job: (steps, CPU seconds of each run)} on a fresh instance configured by `yaml_text`."""
    import dagster as dg

    home = Path(tempfile.mkdtemp(prefix="bench-run-overhead-"))
    try:
        (home / "dagster.yaml").write_text(yaml_text)
        os.environ["DAGSTER_HOME"] = str(home)
        results = {}
        with dg.DagsterInstance.get() as instance:
            quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
            for job_name in JOBS:
                job, assets = empty_job(job_name)
                resolved = dg.Definitions(assets=assets, jobs=[job]).resolve_job_def(job.name)
                timings = []
                for run in range(runs + 1):  # the first run warms imports and the storage: not counted
                    started = _cpu()
                    result = resolved.execute_in_process(instance=instance, partition_key=PARTITION,
                                                         run_config=quiet, raise_on_error=True)
                    assert result.success
                    if run:
                        timings.append(_cpu() - started)
                results[job_name] = (len(assets), timings)  # one step per asset
        return results
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=8, help="measured runs per job and setting (default 8)")
    parser.add_argument("--quick", action="store_true", help="2 runs (make bench BENCH_ARGS=--quick)")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.runs = 2
    settings = {"Dagster defaults": "telemetry:\n  enabled: false\n",
                "pipelines/dagster.yaml": (ROOT / "pipelines" / "dagster.yaml").read_text()}
    measured = {name: measure(text, arguments.runs) for name, text in settings.items()}
    print(f"\nCPU seconds per run of a job of empty steps (median of {arguments.runs} runs, runner + children)")
    print("| job | steps | " + " | ".join(f"{name}: per run | per step" for name in settings) + " | ratio |")
    print("|---|---|" + "---|---|" * len(settings) + "---|")
    for job_name in JOBS:
        cells, medians = [], []
        for name in settings:
            steps, timings = measured[name][job_name]
            median = statistics.median(timings)
            medians.append(median)
            cells.append(f"{median:.3f} | {median / steps:.4f}")
        print(f"| {job_name} | {steps} | " + " | ".join(cells) + f" | {medians[-1] / medians[0]:.2f} |")
    print("(ratio: the project's settings over Dagster's defaults; CPU time, robust on a shared machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
