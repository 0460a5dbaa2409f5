"""The `ocpi_cdrs` table: validated OCPI CDRs, partitioned by landing date."""

import pandera.polars as pa
import polars as pl

from assets.columns import SESSION_COLUMNS, SESSION_DOCS
from resources.tables import TableSpec


class OcpiCdrModel(pa.DataFrameModel):
    """Accepted CDRs keep their payload and have sane quantities."""

    record_ref: str = pa.Field(nullable=False, unique=True)
    session_id: str = pa.Field(nullable=False)
    energy_wh: float = pa.Field(ge=0)
    raw_payload: str = pa.Field(nullable=False)


OCPI_CDRS = TableSpec(
    name="ocpi_cdrs",
    description="OCPI CDRs (2.1.1/2.2.1/2.3.0) accepted from the landing zone, one row per record; partitioned by landing date.",
    schema={"landing_date": pl.Date(), "record_ref": pl.String(), "ocpi_version": pl.String()}
    | SESSION_COLUMNS | {"raw_payload": pl.String()},
    partition_by=("landing_date",),
    sort_by=("record_ref",),
    column_docs=SESSION_DOCS | {"record_ref": "file:line the CDR was read from.",
                                "raw_payload": "The CDR exactly as received."},
    model=OcpiCdrModel,
)

TABLES = [OCPI_CDRS]
