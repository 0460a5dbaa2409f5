"""Column types and column groups that several tables share, declared once.

Every `tables.py` module imports what it shares from here instead of from another package's tables, so
no table module depends on another domain (that dependency made `ocpi_cdrs` ↔ `sessions` and
`interval_charges` ↔ `sessions` import cycles). This module imports nothing of the project.
"""

import polars as pl

# Instants are UTC with microsecond precision everywhere in the warehouse.
UTC = pl.Datetime("us", "UTC")

# Money is exact: DECIMAL(18,4) from tariff to invoice total (never a float).
MONEY = pl.Decimal(18, 4)

# VAT rates and percentage shares, exact to four places (e.g. 21.0000).
RATE = pl.Decimal(9, 4)

# The unified session columns: `sessions` has them, and so does every source table whose rows are
# already sessions (ocpi_cdrs, interval_charges, platform_cdrs, platform_sessions, eevion_sessions), so
# the `sessions` asset reads them all alike.
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

# Where an API record landed: the landing-date partition and the page file and index it was read from.
LANDING: dict[str, pl.DataType] = {"landing_date": pl.Date(), "record_ref": pl.String()}
LANDING_DOCS = {"landing_date": "UTC day the page landed (the partition).",
                "record_ref": "Landed page file and index (`file#n`) the record was read from."}
RAW_DOC = {"raw_payload": "The record exactly as the API returned it."}
