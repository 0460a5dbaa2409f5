"""Writing one ingest partition and describing it: accepted rows, quarantine slice, metadata, checks.

Shared by the platform and Eevion parse assets so each of them states only how to read and parse.
`rows_in` counts distinct records (plus unreadable pages); exact re-deliveries are reported separately as
`rows_redelivered` and are not in `rows_in`, which is why re-delivering a page changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import polars as pl

from assets.checks import conservation_result, schema_result
from assets.quarantine import QUARANTINE, Rejection, quarantine_frame
from resources.tables import TableSpec
from resources.warehouse import WarehouseResource


@dataclass
class IngestOutcome:
    """What one parse run produced, before it is written."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    rows_in: int = 0
    redelivered: int = 0
    extra_tables: dict[str, tuple[TableSpec, list[dict[str, Any]]]] = field(default_factory=dict)
    # records accepted when they are not one table row each (e.g. a group that expands into child rows)
    accepted_records: int | None = None


FRAME_CHUNK = 5_000


def frame(spec: TableSpec, rows: list[dict[str, Any]], landing_date: dt.date) -> pl.DataFrame:
    """Rows → a frame with the table's schema (landing_date filled in).

    Consumes `rows`: they are converted in chunks and dropped as they go, so a large day never holds
    all row dicts and the whole frame (plus polars' conversion buffers) at the same time.
    """
    if not rows:
        return spec.empty_frame()
    chunks = []
    while rows:
        chunk = [{**row, "landing_date": landing_date} for row in rows[:FRAME_CHUNK]]
        del rows[:FRAME_CHUNK]
        chunks.append(pl.DataFrame(chunk, schema=spec.schema, strict=False))
    return pl.concat(chunks, how="vertical", rechunk=True)


def write_outcome(context: dg.AssetExecutionContext, warehouse: WarehouseResource, spec: TableSpec,
                  outcome: IngestOutcome, *, files: int, extra_metadata: dict[str, Any] | None = None) -> dg.MaterializeResult:
    """Write the partition, the extra tables and the quarantine slice; return the materialization."""
    landing_date = dt.date.fromisoformat(context.partition_key)
    accepted = frame(spec, outcome.rows, landing_date)  # empties outcome.rows
    warehouse.write_partition(spec, accepted, landing_date=landing_date)
    extra_counts: dict[str, int] = {}
    for name, (extra_spec, rows) in outcome.extra_tables.items():
        extra = frame(extra_spec, rows, landing_date)
        warehouse.write_partition(extra_spec, extra, landing_date=landing_date)
        extra_counts[f"rows_{name}"] = extra.height
    quarantine = quarantine_frame(outcome.rejected)
    asset_name = context.assets_def.key.to_user_string() if context.has_assets_def else spec.name
    warehouse.write_partition(QUARANTINE, quarantine, source_asset=asset_name, partition_key=context.partition_key)
    accepted_records = accepted.height if outcome.accepted_records is None else outcome.accepted_records
    reasons = quarantine.group_by("reason_code").len().sort("reason_code")
    metadata: dict[str, Any] = {
        "files": files, "rows_in": outcome.rows_in, "rows_accepted": accepted_records,
        "rows_quarantined": quarantine.height, "rows_redelivered": outcome.redelivered,
        "dagster/row_count": accepted.height, **extra_counts, **(extra_metadata or {}),
        "quarantine_reasons": dg.MetadataValue.md("\n".join(f"- {c}: {n}" for c, n in reasons.iter_rows()) or "none"),
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            conservation_result(outcome.rows_in, accepted_records, quarantine.height),
            schema_result(spec, accepted),
            schema_result(QUARANTINE, quarantine, check_name="quarantine_schema"),
        ],
    )
