"""Schema of the unified `sessions` table, shared by every source that maps into it."""

import pandera.polars as pa
import polars as pl

from resources.tables import TableSpec

MONEY = pl.Decimal(18, 4)
UTC = pl.Datetime("us", "UTC")

SESSION_COLUMNS: dict[str, pl.DataType] = {
    "session_id": pl.String(),
    "source": pl.String(),
    "source_id": pl.String(),
    "session_ref": pl.String(),
    "operator_id": pl.String(),
    "location_id": pl.String(),
    "evse_uid": pl.String(),
    "connector_id": pl.String(),
    "auth_id": pl.String(),
    "auth_method": pl.String(),
    "emsp_id": pl.String(),
    "customer_id": pl.String(),
    "start_utc": UTC,
    "end_utc": UTC,
    "time_zone": pl.String(),
    "settlement_date": pl.Date(),
    "energy_wh": pl.Float64(),
    "total_time_s": pl.Int64(),
    "parking_time_s": pl.Int64(),
    "currency": pl.String(),
    "tariff_ids": pl.List(pl.String()),
    "reported_cost_excl_vat": MONEY,
    "reported_cost_incl_vat": MONEY,
    "reported_energy_cost": MONEY,
    "reported_time_cost": MONEY,
    "reported_parking_cost": MONEY,
    "reported_fixed_cost": MONEY,
    "is_credit": pl.Boolean(),
    "credit_reference_id": pl.String(),
    "last_updated": UTC,
}

SESSION_DOCS = {
    "session_id": "Namespaced id: <source>:<party or provider>:<source id>.",
    "source": "Where the row came from: ocpi_cdr, cpms_cdr, cpms_session, ocpp, eevion, interval.",
    "source_id": "The source's own id, as the source writes it.",
    "session_ref": "The CPO's own session reference, shared by every source that reports the session (OCPI "
                   "session_id, OCPP transaction id, platform or Eevion session id, interval chargeExternalId).",
    "emsp_id": "The eMSP (roaming partner) whose customer charged, as COUNTRY-PARTY (OCPI cdr_token "
               "country_code and party_id, platform roaming client); null for the operator's own customers.",
    "customer_id": "Who charged, as the source identifies the customer: contract id (eMAID) or account, "
                   "else the token uid / idTag; for home charging the charge point (household).",
    "start_utc": "Session start (UTC).",
    "end_utc": "Session end (UTC).",
    "time_zone": "IANA zone of the location; local times and the settlement date come from it.",
    "settlement_date": "Local date of the session end in the operator's zone: the daily partition.",
    "energy_wh": "Energy delivered, Wh.",
    "total_time_s": "Duration from start to end, seconds.",
    "parking_time_s": "Time connected without charging, seconds.",
    "currency": "ISO 4217 currency of every amount on the row.",
    "reported_cost_excl_vat": "Total cost as the source reported it, excl. VAT (DECIMAL(18,4)).",
    "reported_cost_incl_vat": "Total cost as the source reported it, incl. VAT, when given.",
    "reported_energy_cost": "Energy part of the reported cost, excl. VAT, when the source itemises it (OCPI total_energy_cost).",
    "reported_time_cost": "Time part of the reported cost, excl. VAT, when itemised (OCPI total_time_cost).",
    "reported_parking_cost": "Parking/idle part of the reported cost, excl. VAT, when itemised (OCPI total_parking_cost).",
    "reported_fixed_cost": "Fixed part of the reported cost, excl. VAT, when itemised (OCPI total_fixed_cost).",
    "is_credit": "True for a credit CDR that reverses credit_reference_id.",
}


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
