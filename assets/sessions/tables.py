"""The unified `sessions` table and `session_links`; the session columns themselves are in `assets.columns`."""

import pandera.polars as pa
import polars as pl

from assets.columns import MONEY, SESSION_COLUMNS, SESSION_DOCS, UTC
from resources.tables import TableSpec

class SessionModel(pa.DataFrameModel):
    """A session has an id, a valid interval, non-negative quantities and a currency code."""

    session_id: str = pa.Field(nullable=False, unique=True)
    source: str = pa.Field(isin=["ocpi_cdr", "cpms_cdr", "cpms_session", "ocpp", "eevion", "interval"])
    time_zone: str = pa.Field(nullable=False)
    energy_wh: float = pa.Field(ge=0)
    total_time_s: int = pa.Field(ge=0)
    parking_time_s: int = pa.Field(ge=0)
    currency: str = pa.Field(nullable=True, str_matches=r"^[A-Z]{3}$")

    @pa.dataframe_check
    def ends_after_start(cls, data) -> pl.LazyFrame:
        """end_utc is never before start_utc."""
        return data.lazyframe.select(pl.col("end_utc") >= pl.col("start_utc"))


SESSIONS = TableSpec(
    name="sessions",
    description="One row per charging session from every source, deduplicated; partitioned by settlement_date.",
    schema=SESSION_COLUMNS | {"landing_date": pl.Date(), "raw_payload": pl.String()},
    partition_by=("settlement_date",),
    sort_by=("session_id",),
    column_docs=SESSION_DOCS | {"landing_date": "UTC day the winning record landed.",
                                "raw_payload": "The winning record exactly as received."},
    model=SessionModel,
)


SESSION_LINKS = TableSpec(
    name="session_links",
    description="Records of other sources that report a kept session (same reference, overlapping time), with their own figures.",
    schema={"settlement_date": pl.Date(), "session_id": pl.String(), "linked_session_id": pl.String(),
            "linked_source": pl.String(), "session_ref": pl.String(), "start_utc": UTC, "end_utc": UTC,
            "energy_wh": pl.Float64(), "currency": pl.String(), "reported_cost_excl_vat": MONEY,
            "reported_cost_incl_vat": MONEY},
    partition_by=("settlement_date",),
    sort_by=("session_id", "linked_session_id"),
    column_docs={"session_id": "The kept session (in `sessions`).",
                 "linked_session_id": "The other source's record of the same session.",
                 "energy_wh": "Energy as the linked source reports it, Wh."},
)

TABLES = [SESSIONS, SESSION_LINKS]
