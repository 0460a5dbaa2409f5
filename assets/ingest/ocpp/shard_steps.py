"""The OCPP assets as graphs whose charge-point shards are Dagster steps of their own.

Each of ``ocpp_messages``, ``meter_readings`` and ``transactions`` is a graph-backed asset of three ops:

1. ``<asset>_plan`` decides the date's shards (``shards``) and hands them on as dynamic outputs;
2. ``<asset>_shards`` (mapped over those outputs) ingests its shards, each into its own part file, written staged
   (``staged=True``: under a name no reader lists);
3. ``<asset>_report`` (after every shard) switches the date's staged files in together (``publish_parts``) and
   removes its files of shards it no longer has, then writes the quarantine slice and reports the metadata and
   checks of the whole date. A shard that fails stops the run before the report: readers keep the date's previous
   files, all of them.

How the shards are handed on follows the executor. When every step runs in the run's own process (the
``in_process`` executor, ``dg.materialize``, ``make settle``), the plan hands on all shards as one output and that one
step runs them on a pool of worker processes (``shards.run_shards``), as serial steps would leave cores idle. On an
executor that gives every step a process of its own (Dagster's default ``multiprocess`` executor, which the daemon
uses; ``k8s_job_executor`` gives each step a pod, ``celery_executor`` a worker), every shard is a step of its own, so
one date's OCPP chain runs on as many processes or machines as it has shards (docs/scaling.md §3.3).

A shard whose parse finds a frame of another shard's charge point (``ShardMismatch``) makes the report step ingest the
date again in one process, as unsplit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from assets.ingest.ocpp.shards import WHOLE, Shard, ShardMismatch, run_shards
from resources.landing import LandingZoneResource
from resources.tables import TableSpec
from resources.warehouse import WarehouseResource

# Executors that run every step of a run in the run's own process: Dagster's ``in_process`` executor, the one
# ``execute_in_process``/``dg.materialize`` use, and the default executor when its run config picks in_process.
ONE_PROCESS_EXECUTORS = {dg.in_process_executor.name, "execute_in_process_executor"}


def steps_share_one_process(context: dg.OpExecutionContext) -> bool:
    """Whether this run executes all its steps in one process (then shards are better run on a pool by one step)."""
    executor = context.job_def.executor_def.name
    if executor in ONE_PROCESS_EXECUTORS:
        return True
    if executor == dg.multi_or_in_process_executor.name:
        return "in_process" in (context.run_config.get("execution") or {}).get("config", {})
    return False


@dataclass(frozen=True)
class ShardGroup:
    """The shards one ``<asset>_shards`` step runs."""

    landing_date: dt.date
    shards: tuple[Shard, ...]

    @property
    def mapping_key(self) -> str:
        return "whole" if self.shards == (WHOLE,) else "shard_" + "_".join(str(shard.index) for shard in self.shards)


@dataclass(frozen=True)
class GroupOutcome:
    """What one ``<asset>_shards`` step wrote: a part per shard, or the mismatch that stopped it."""

    shards: tuple[Shard, ...]
    parts: tuple[Any, ...] = ()
    mismatch: str | None = None


# plan(context, warehouse, landing, landing_date) -> the date's shards
Plan = Callable[[dg.OpExecutionContext, WarehouseResource, LandingZoneResource | None, dt.date], list[Shard]]
# report(context, warehouse, landing, landing_date, shards, parts) -> the asset's materialization (the parts are
# in their files, stale shard files already gone)
Report = Callable[..., dg.MaterializeResult]


def _landing(context: dg.OpExecutionContext) -> LandingZoneResource | None:
    return getattr(context.resources, "landing", None)


@dataclass
class ShardedSteps:
    """The three ops of the sharded OCPP asset of ``table`` (see the module's docstring); ``compose`` wires them in
    its graph.

    ``step(warehouse, landing, landing_date, shard)`` is a module-level function (sent to pool workers by name)
    that writes one shard's part staged and returns what ``report`` needs of it.
    """

    table: TableSpec
    plan: Plan
    step: Callable[..., Any]
    report: Report
    check_specs: Sequence[dg.AssetCheckSpec]
    resources: frozenset[str] = frozenset({"warehouse"})

    def __post_init__(self) -> None:
        table, step, plan, report, resource_keys = self.table, self.step, self.plan, self.report, set(self.resources)
        name = table.name
        # The graph's outputs of the asset's checks, by the names Dagster gives them.
        check_outputs = [spec.get_python_identifier() for spec in self.check_specs]

        @dg.op(name=f"{name}_plan", ins={"after": dg.In(dg.Nothing)}, out=dg.DynamicOut(ShardGroup),
               required_resource_keys=resource_keys)
        def plan_op(context):
            """The landing date's charge-point shards: one output for all of them when the run's steps share one
            process (they then run on a pool), else one per shard (a step each)."""
            day = dt.date.fromisoformat(context.partition_key)
            shards = plan(context, context.resources.warehouse, _landing(context), day)
            groups = [shards] if steps_share_one_process(context) else [[shard] for shard in shards]
            for group in groups:
                found = ShardGroup(day, tuple(group))
                yield dg.DynamicOutput(found, mapping_key=found.mapping_key)

        @dg.op(name=f"{name}_shards", required_resource_keys=resource_keys)
        def shards_op(context, group: ShardGroup) -> GroupOutcome:
            """Ingest these shards of the date, each into its own part file (several: on a pool of processes)."""
            try:
                parts = run_shards(step, list(group.shards), context.resources.warehouse, _landing(context),
                                   group.landing_date)
            except ShardMismatch as mismatch:
                return GroupOutcome(group.shards, mismatch=str(mismatch))
            return GroupOutcome(group.shards, tuple(parts))

        @dg.op(name=f"{name}_report", required_resource_keys=resource_keys,
               out={"result": dg.Out(dg.Nothing), **{output: dg.Out(is_required=False) for output in check_outputs}})
        def report_op(context, outcomes: list[GroupOutcome]):
            """After every shard: the date's files of other shards removed, the quarantine slice, the date's metadata
            and checks."""
            day = dt.date.fromisoformat(context.partition_key)
            warehouse, landing = context.resources.warehouse, _landing(context)
            outcomes = sorted(outcomes, key=lambda outcome: outcome.shards[0].index)
            mismatches = [outcome.mismatch for outcome in outcomes if outcome.mismatch]
            if mismatches:
                context.log.warning(f"{mismatches[0]}: landing date {day} is ingested in one process")
                shards, parts = [WHOLE], run_shards(step, [WHOLE], warehouse, landing, day)
            else:
                shards = [shard for outcome in outcomes for shard in outcome.shards]
                parts = [part for outcome in outcomes for part in outcome.parts]
            # Every shard is written: the new set goes in, then files of shards the date no longer has (an earlier
            # shard count, or the fallback to one process) go.
            warehouse.publish_parts(table, [shard.index for shard in shards], landing_date=day)
            warehouse.remove_partition(table, keep=[shard.index for shard in shards], landing_date=day)
            result = report(context, warehouse, landing, day, shards, parts)
            yield dg.Output(None, output_name="result", metadata=dict(result.metadata or {}))
            yield from result.check_results or []

        self._plan, self._shards, self._report = plan_op, shards_op, report_op

    def compose(self, *upstream: Any) -> Any:
        """The graph of the asset (inside a ``graph_asset`` body): plan after ``upstream``, shards, report."""
        planned = self._plan(after=list(upstream)) if upstream else self._plan()
        outcomes = planned.map(self._shards).collect()
        return self._report(outcomes)
