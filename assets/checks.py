"""Shared asset-check plumbing: conservation (`in = accepted + quarantined`) and pandera schemas.

Ingest assets declare `ingest_check_specs(...)` and emit the results from the same function, so a
materialization and its checks describe the same rows.
"""

from __future__ import annotations

import dagster as dg
import polars as pl
from pandera.errors import SchemaErrors

from resources.tables import TableSpec

CONSERVATION = "conservation"
SCHEMA = "schema"
QUARANTINE_SCHEMA_CHECK = "quarantine_schema"


def ingest_check_specs(asset_key: dg.AssetKey | str) -> list[dg.AssetCheckSpec]:
    """The checks every ingest asset carries."""
    key = dg.AssetKey(asset_key) if isinstance(asset_key, str) else asset_key
    return [
        dg.AssetCheckSpec(CONSERVATION, asset=key, description="Every record read is accepted or quarantined: in = accepted + quarantined."),
        dg.AssetCheckSpec(SCHEMA, asset=key, description="Accepted rows satisfy the table's pandera model."),
        dg.AssetCheckSpec(QUARANTINE_SCHEMA_CHECK, asset=key, description="Quarantine rows carry a source, a reference and a reason code."),
    ]


def conservation_result(rows_in: int, accepted: int, quarantined: int, asset_key: dg.AssetKey | None = None) -> dg.AssetCheckResult:
    """Passes when no record was lost or counted twice."""
    return dg.AssetCheckResult(
        check_name=CONSERVATION,
        asset_key=asset_key,
        passed=rows_in == accepted + quarantined,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rows_in": rows_in, "rows_accepted": accepted, "rows_quarantined": quarantined,
                  "difference": rows_in - accepted - quarantined},
    )


def schema_result(spec: TableSpec, df: pl.DataFrame, check_name: str = SCHEMA, asset_key: dg.AssetKey | None = None) -> dg.AssetCheckResult:
    """Validate `df` against the spec's pandera model; failures go to the check's metadata."""
    if spec.model is None:
        return dg.AssetCheckResult(check_name=check_name, asset_key=asset_key, passed=True, metadata={"model": "none declared"})
    try:
        spec.model.validate(df, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        sample = cases.head(20).select(pl.all().cast(pl.String))
        table = "| " + " | ".join(sample.columns) + " |\n|" + "---|" * len(sample.columns) + "\n"
        table += "\n".join("| " + " | ".join(str(v) for v in row) + " |" for row in sample.iter_rows())
        return dg.AssetCheckResult(
            check_name=check_name,
            asset_key=asset_key,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"failure_cases": cases.height, "sample": dg.MetadataValue.md(table)},
        )
    return dg.AssetCheckResult(check_name=check_name, asset_key=asset_key, passed=True, metadata={"rows": df.height})


class BucketSchemaCheck:
    """The schema check of a partition written bucket by bucket (``PartitionWriter.commit``): ``add`` each
    bucket as written; ``result`` is the first failing bucket's result, else a pass with the row count."""

    def __init__(self, spec: TableSpec, check_name: str = SCHEMA):
        self.spec, self.check_name, self.rows, self.failed = spec, check_name, 0, None

    def add(self, bucket: pl.DataFrame) -> None:
        """Validate one written bucket (only until a bucket fails: its cases are the ones reported)."""
        self.rows += bucket.height
        if self.failed is None:
            outcome = schema_result(self.spec, bucket, check_name=self.check_name)
            self.failed = None if outcome.passed else outcome

    def result(self) -> dg.AssetCheckResult:
        """The check result over every bucket added."""
        return self.failed or dg.AssetCheckResult(check_name=self.check_name, passed=True,
                                                  metadata={"rows": self.rows})
