"""Tables of the Eevion ingest (seed 003), partitioned by landing date.

`eevion_sessions` carries the unified session columns so the `sessions` asset can read it; sessions still
charging have no end and no settlement date yet (their later, complete version settles).
"""

import pandera.polars as pa
import polars as pl

from assets.columns import LANDING, LANDING_DOCS, MONEY, RAW_DOC, SESSION_COLUMNS, SESSION_DOCS, UTC
from resources.tables import TableSpec


class EevionSessionModel(pa.DataFrameModel):
    """One row per (session, updatedAt); non-negative energy; complete sessions have an end."""

    record_ref: str = pa.Field(nullable=False, unique=True)
    session_id: str = pa.Field(nullable=False, str_startswith="eevion:")
    energy_wh: float = pa.Field(ge=0)
    origin: str = pa.Field(isin=["listing", "webhook"])

    @pa.dataframe_check
    def complete_has_end(cls, data) -> pl.LazyFrame:
        """A complete session has an end time and a settlement date."""
        return data.lazyframe.select((pl.col("status") != "complete") | pl.col("end_utc").is_not_null())


EEVION_SESSIONS = TableSpec(
    name="eevion_sessions",
    description="Eevion sessions from the session listing and from webhookOnSessionComplete bodies, one row per (session, updatedAt).",
    schema=LANDING | SESSION_COLUMNS | {
        "origin": pl.String(), "status": pl.String(), "station_id": pl.String(), "port_id": pl.String(),
        "location_name": pl.String(), "region": pl.String(), "created_at": UTC, "cost_incl_tax": MONEY,
        "cost_excl_tax": MONEY, "tax_included": pl.Boolean(), "taxes_json": pl.String(), "tariff_type": pl.String(),
        "tariff_price": pl.Decimal(18, 6), "tariff_unit": pl.String(), "customer_id": pl.String(),
        "end_reason": pl.String(), "raw_payload": pl.String()},
    partition_by=("landing_date",),
    sort_by=("record_ref",),
    column_docs=SESSION_DOCS | LANDING_DOCS | RAW_DOC | {
        "origin": "listing (POST /session page) or webhook (webhookOnSessionComplete body).",
        "status": "Eevion session status, e.g. charging, complete.",
        "station_id": "User-facing Hypercharge station id (also in evse_uid).",
        "port_id": "Connector id (also in connector_id).",
        "cost_incl_tax": "`cost`: session cost incl. taxes.", "cost_excl_tax": "`costBeforeTaxes`.",
        "tariff_price": "The tariff's charging fee per tariff_unit, as stated.",
        "end_reason": "Stop reason as reported by the station (OCPP 1.6 reasons).",
    },
    model=EevionSessionModel,
)


class EevionReportModel(pa.DataFrameModel):
    """Report rows have a group and non-negative counts."""

    group_key: str = pa.Field(nullable=False)
    count: float = pa.Field(ge=0)


EEVION_REPORTS = TableSpec(
    name="eevion_reports",
    description="Eevion `POST /session/report` rows (per station/site/region, plus the total and average rows) for a requested period.",
    schema=LANDING | {
        "period_start": UTC, "period_end": UTC, "group_by": pl.String(), "group_key": pl.String(),
        "row_kind": pl.String(), "location": pl.String(), "location_id": pl.String(), "count": pl.Float64(),
        "cancel_count": pl.Float64(), "unique_customers": pl.Int64(), "total_cost_cents": MONEY,
        "total_energy_cost_cents": MONEY, "average_cost_cents": pl.Float64(), "total_energy_wh": pl.Float64(),
        "total_duration_s": pl.Float64(), "average_duration_s": pl.Float64(), "most_common_start_with": pl.String(),
        "raw_payload": pl.String()},
    partition_by=("landing_date",),
    sort_by=("period_start", "group_by", "row_kind", "group_key"),
    column_docs=LANDING_DOCS | RAW_DOC | {
        "row_kind": "group, total or average (the API appends the last two).",
        "total_cost_cents": "Revenue in cents of the sessions' currency (the report names no currency).",
        "count": "Sessions (fractional on the average row).",
    },
    model=EevionReportModel,
)

TABLES = [EEVION_SESSIONS, EEVION_REPORTS]
