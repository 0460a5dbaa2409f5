"""Tables of the partner registry."""

import pandera.polars as pa
import polars as pl

from assets.columns import UTC
from resources.tables import TableSpec

COMPANY_COLUMNS = {
    "company_id": pl.String(), "version": pl.Int64(), "name": pl.String(), "url": pl.String(),
    "is_cpo": pl.Boolean(), "is_emp": pl.Boolean(), "external_source_mapping": pl.String(),
    "supported_emps": pl.List(pl.String()), "created_at": UTC, "updated_at": UTC,
}
COMPANY_DOCS = {
    "company_id": "Chargeprice company UUID.",
    "version": "Optimistic-lock version (1 on create, +1 per update).",
    "is_cpo": "The company operates charge points.",
    "is_emp": "The company is an e-mobility service provider.",
    "external_source_mapping": "Names or ids in external data sources (JSON).",
    "supported_emps": "EMP company ids whose customers can charge at this CPO (roaming relations).",
}


class PartnerChangeModel(pa.DataFrameModel):
    """Accepted changes carry a positive version."""

    company_id: str = pa.Field(nullable=False)
    version: int = pa.Field(ge=1)


class PartnerModel(pa.DataFrameModel):
    """The registry holds each company once."""

    company_id: str = pa.Field(nullable=False, unique=True)
    version: int = pa.Field(ge=1)


PARTNER_CHANGES = TableSpec(
    name="partner_changes",
    description="Accepted company documents (seed 004), one row per accepted version; partitioned by landing date.",
    schema={"landing_date": pl.Date(), "record_ref": pl.String()} | COMPANY_COLUMNS | {"raw_payload": pl.String()},
    partition_by=("landing_date",),
    sort_by=("record_ref",),
    column_docs=COMPANY_DOCS,
    model=PartnerChangeModel,
)

PARTNERS = TableSpec(
    name="partners",
    description="The partner registry (CPOs and EMPs) as of the end of each landing day; query the latest as_of_date.",
    schema={"as_of_date": pl.Date()} | COMPANY_COLUMNS,
    partition_by=("as_of_date",),
    sort_by=("company_id",),
    column_docs=COMPANY_DOCS | {"as_of_date": "Landing day after which the registry looked like this."},
    model=PartnerModel,
)

TABLES = [PARTNER_CHANGES, PARTNERS]
