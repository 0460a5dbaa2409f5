"""The quarantine table: every record an ingest rejects, with a stable reason code and the raw payload.

Each ingest asset writes its own slice (`source_asset`, `partition_key`), so re-running a partition
replaces its quarantine rows instead of adding to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from resources.tables import TableSpec


class Rejected(Exception):
    """Raised by a parser for a record it cannot accept; `code` becomes the quarantine reason code."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Rejection:
    """One rejected record."""

    source: str
    record_ref: str
    reason_code: str
    reason: str
    raw_payload: str


QUARANTINE_SCHEMA = {
    "source_asset": pl.String(),
    "partition_key": pl.String(),
    "source": pl.String(),
    "record_ref": pl.String(),
    "reason_code": pl.String(),
    "reason": pl.String(),
    "raw_payload": pl.String(),
}


class QuarantineModel(pa.DataFrameModel):
    """Every rejected record names where it came from and why, in a stable code and a sentence."""

    source: str = pa.Field(nullable=False)
    record_ref: str = pa.Field(nullable=False)
    reason_code: str = pa.Field(nullable=False, str_matches=r"^[A-Z][A-Z0-9_]*$")
    reason: str = pa.Field(nullable=False, str_length={"min_value": 1})
    raw_payload: str = pa.Field(nullable=True)


QUARANTINE = TableSpec(
    name="quarantine",
    description="Records rejected by an ingest, one row each, with the reason and the payload as received.",
    schema=QUARANTINE_SCHEMA,
    partition_by=("source_asset", "partition_key"),
    sort_by=("record_ref", "reason_code"),
    column_docs={
        "source_asset": "Dagster asset that rejected the record.",
        "partition_key": "Partition (landing date) of that asset's run.",
        "source": "Kind of input, e.g. ocpi_cdr_file, ocpp_frame, platform_cdr_page.",
        "record_ref": "Where the record was: file:line, page:index or the source's id.",
        "reason_code": "Stable upper-case code of the rule that rejected it.",
        "reason": "What was wrong, in words.",
        "raw_payload": "The record exactly as received (text).",
    },
    model=QuarantineModel,
)


def quarantine_frame(rows: list[Rejection]) -> pl.DataFrame:
    """The quarantine rows of one asset run (without the partition columns, which the path holds)."""
    data = {
        "source": [r.source for r in rows],
        "record_ref": [r.record_ref for r in rows],
        "reason_code": [r.reason_code for r in rows],
        "reason": [r.reason for r in rows],
        "raw_payload": [r.raw_payload for r in rows],
    }
    return pl.DataFrame(data, schema={k: QUARANTINE_SCHEMA[k] for k in data})
