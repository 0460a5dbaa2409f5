"""Tables of the platform API ingest (seed 001), all partitioned by landing date.

`platform_cdrs` and `platform_sessions` carry the unified session columns (`SESSION_COLUMNS`), so the
`sessions` asset can read them like `ocpi_cdrs`; every table keeps the record's raw payload.
"""

import pandera.polars as pa
import polars as pl

from assets.columns import LANDING, LANDING_DOCS, MONEY, RAW_DOC, SESSION_COLUMNS, SESSION_DOCS, UTC
from resources.tables import TableSpec

UNIT_PRICE = pl.Decimal(18, 6)


class PlatformCdrModel(pa.DataFrameModel):
    """Accepted CDRs: unique id per version, non-negative energy, ordered times, credit CDRs negative."""

    record_ref: str = pa.Field(nullable=False, unique=True)
    session_id: str = pa.Field(nullable=False, str_startswith="cpms:cdr:")
    energy_wh: float = pa.Field(ge=0)
    total_time_s: int = pa.Field(ge=0)
    parking_time_s: int = pa.Field(ge=0)
    protocol: str = pa.Field(isin=["OCPI", "Hubject"])
    time_zone: str = pa.Field(nullable=False)

    @pa.dataframe_check
    def credit_is_reversal(cls, data) -> pl.LazyFrame:
        """A credit CDR's reported total is never positive (it reverses an earlier CDR)."""
        return data.lazyframe.select(~pl.col("is_credit") | (pl.col("reported_cost_excl_vat").fill_null(0) <= 0))


PLATFORM_CDRS = TableSpec(
    name="platform_cdrs",
    description="CDRs from the platform API (`cdrs/v2.0`): OCPI 2.1.1/2.2 and OICP (Hubject) payloads; credit CDRs as negative reversals.",
    schema=LANDING | SESSION_COLUMNS | {
        "cdr_id": pl.Int64(), "protocol": pl.String(), "protocol_version": pl.String(), "is_local": pl.Boolean(),
        "platform_session_id": pl.String(), "roaming_id": pl.String(), "roaming_session_id": pl.String(),
        "evse_id": pl.String(), "contract_id": pl.String(), "received_at": UTC, "sent_at": UTC,
        "delivery_response": pl.String(), "reported_fixed_cost": MONEY, "reported_energy_cost": MONEY,
        "reported_time_cost": MONEY, "reported_parking_cost": MONEY, "invoice_reference_id": pl.String(),
        "charging_periods_json": pl.String(), "raw_payload": pl.String()},
    partition_by=("landing_date",),
    sort_by=("record_ref",),
    column_docs=SESSION_DOCS | LANDING_DOCS | RAW_DOC | {
        "cdr_id": "Platform CDR id.", "protocol": "OCPI or Hubject (OICP).",
        "protocol_version": "OCPI 2.1.1/2.2 or OICP 2.2/2.3.",
        "is_local": "True: we issued it as CPO (sentAt); false: received as eMSP (receivedAt).",
        "platform_session_id": "The platform's internal session id the CDR is for.",
        "evse_id": "EVSE id (eMI3 form) as given by the CDR.",
        "contract_id": "eMSP contract id (OCPI cdrToken.contractId, OICP EVCO id).",
        "reported_fixed_cost": "Fixed cost excl. VAT, negative on credit CDRs.",
        "reported_energy_cost": "Energy cost excl. VAT, negative on credit CDRs.",
        "reported_time_cost": "Time cost excl. VAT, negative on credit CDRs.",
        "reported_parking_cost": "Parking cost excl. VAT, negative on credit CDRs.",
        "charging_periods_json": "OCPI charging periods normalised to snake_case (JSON text); volumes in OCPI units.",
    },
    model=PlatformCdrModel,
)


class PlatformSessionModel(pa.DataFrameModel):
    """Accepted sessions: one row per session version, non-negative energy."""

    record_ref: str = pa.Field(nullable=False, unique=True)
    session_id: str = pa.Field(nullable=False, str_startswith="cpms:")
    energy_wh: float = pa.Field(ge=0)
    status: str = pa.Field(isin=["unknown", "pending", "active", "finished", "failed", "expired"])


PLATFORM_SESSIONS = TableSpec(
    name="platform_sessions",
    description="Sessions from the platform API (`sessions/v1.0`), one row per (session, lastUpdatedAt) version.",
    schema=LANDING | SESSION_COLUMNS | {
        "platform_session_id": pl.String(), "status": pl.String(), "reason": pl.String(),
        "charge_point_id": pl.Int64(), "evse_id": pl.Int64(), "user_id": pl.Int64(), "grid_wh": pl.Float64(),
        "local_wh": pl.Float64(), "non_billable_wh": pl.Float64(), "tax_percentage": pl.Decimal(9, 4),
        "payment_status": pl.String(), "billing_status": pl.String(), "billing_completed_at": UTC,
        "tariff_snapshot_id": pl.Int64(), "electricity_cost": MONEY, "evse_physical_reference": pl.String(),
        "emsp_id": pl.String(), "power_peak_w": pl.Float64(), "power_average_w": pl.Float64(),
        "raw_payload": pl.String()},
    partition_by=("landing_date",),
    sort_by=("record_ref",),
    column_docs=SESSION_DOCS | LANDING_DOCS | RAW_DOC | {
        "status": "unknown, pending, active, finished, failed, expired.",
        "tariff_snapshot_id": "The frozen tariff the platform priced the session with.",
        "billing_status": "pending, suspended, completed (priceBreakdown only when completed).",
        "electricity_cost": "Cost of the energy from the charge point's electricity rate (gross).",
        "emsp_id": "Roaming eMSP/CPO reference (chargePointOperatorRoamingId or authorization.roaming.client).",
    },
    model=PlatformSessionModel,
)

PLATFORM_CHARGING_PERIODS = TableSpec(
    name="platform_charging_periods",
    description="Charging periods of platform sessions (charging / idle), per session version.",
    schema=LANDING | {
        "session_id": pl.String(), "last_updated": UTC, "period_id": pl.Int64(), "started_at": UTC,
        "stopped_at": UTC, "energy_wh": pl.Float64(), "charging_state": pl.String(), "state": pl.String(),
        "grace_time_end_at": UTC, "total_incl_vat": MONEY, "total_excl_vat": MONEY, "currency": pl.String()},
    partition_by=("landing_date",),
    sort_by=("session_id", "last_updated", "started_at", "period_id"),
    column_docs=LANDING_DOCS | {"charging_state": "charging or idle.",
                                "energy_wh": "Energy of the period (energyPrecise when given), Wh."},
)

PLATFORM_PRICE_LINES = TableSpec(
    name="platform_price_lines",
    description="Price breakdown lines of platform sessions: session level and per charging period.",
    schema=LANDING | {
        "session_id": pl.String(), "last_updated": UTC, "scope": pl.String(), "period_id": pl.Int64(),
        "line_no": pl.Int64(), "type": pl.String(), "unit": pl.String(), "currency": pl.String(),
        "unit_price_incl_vat": UNIT_PRICE, "unit_price_excl_vat": UNIT_PRICE, "quantity": UNIT_PRICE,
        "price_incl_vat": MONEY, "price_excl_vat": MONEY, "tax_percentage": pl.Decimal(9, 4)},
    partition_by=("landing_date",),
    sort_by=("session_id", "last_updated", "scope", "period_id", "line_no"),
    column_docs=LANDING_DOCS | {"scope": "session or period.",
                                "type": "flat, connection, energy, charging_time, idle_time, … (seed 001 §3.4).",
                                "unit": "kwh, minute or session."},
)


class ConsumptionStatModel(pa.DataFrameModel):
    """Cumulative energy never negative."""

    energy_wh: float = pa.Field(ge=0, nullable=True)


CONSUMPTION_STATS = TableSpec(
    name="consumption_stats",
    description="Per-session cumulative energy (Wh) and power (W) points from `sessions/{id}/consumption-stats`.",
    schema=LANDING | {"session_id": pl.String(), "point_no": pl.Int64(), "timestamp": UTC,
                      "energy_wh": pl.Float64(), "power_w": pl.Float64(), "raw_payload": pl.String()},
    partition_by=("landing_date",),
    sort_by=("session_id", "timestamp", "point_no"),
    column_docs=LANDING_DOCS | RAW_DOC | {"energy_wh": "Cumulative energy since session start, Wh.", "power_w": "Power, W."},
    model=ConsumptionStatModel,
)

PLATFORM_TARIFFS = TableSpec(
    name="platform_tariffs",
    description="Platform tariffs (full snapshot per landing date) and tariff snapshots that sessions were priced with.",
    schema=LANDING | {"kind": pl.String(), "tariff_id": pl.Int64(), "snapshot_id": pl.Int64(),
                      "operator_id": pl.String(), "name": pl.String(), "type": pl.String(), "currency": pl.String(),
                      "last_updated": UTC, "pricing_json": pl.String(), "restrictions_json": pl.String(),
                      "raw_payload": pl.String()},
    partition_by=("landing_date",),
    sort_by=("kind", "tariff_id", "snapshot_id", "last_updated"),
    column_docs=LANDING_DOCS | RAW_DOC | {"kind": "tariff (live tariff listing) or snapshot (frozen at a session's start).",
                                "type": "One of the 11 platform tariff types (seed 001 §4.1).",
                                "pricing_json": "The `pricing` object as JSON text, numbers untouched."},
)

ELECTRICITY_RATES = TableSpec(
    name="electricity_rates",
    description="Electricity rates (`electricity-rates/v2.0`), full snapshot per landing date; prices include tax.",
    schema=LANDING | {"rate_id": pl.Int64(), "operator_id": pl.String(), "name": pl.String(), "type": pl.String(),
                      "utility_id": pl.Int64(), "default_price": UNIT_PRICE, "tax_percentage": pl.Decimal(9, 4),
                      "raw_payload": pl.String()},
    partition_by=("landing_date",),
    sort_by=("rate_id",),
    column_docs=LANDING_DOCS | RAW_DOC | {"default_price": "Gross price per kWh when no period applies."},
)

ELECTRICITY_RATE_PERIODS = TableSpec(
    name="electricity_rate_periods",
    description="Price periods of electricity rates: per week day (or `any`) or per date, local wall-clock times.",
    schema=LANDING | {"rate_id": pl.Int64(), "week_day": pl.String(), "date": pl.Date(), "starts_at": pl.String(),
                      "ends_at": pl.String(), "price": UNIT_PRICE},
    partition_by=("landing_date",),
    sort_by=("rate_id", "week_day", "date", "starts_at"),
    column_docs=LANDING_DOCS | {"week_day": "mon..sun or any; null for a date period.",
                                "starts_at": "HH:MM local time.", "ends_at": "HH:MM local time (00:00 = midnight).",
                                "price": "Gross price per kWh."},
)

TABLES = [PLATFORM_CDRS, PLATFORM_SESSIONS, PLATFORM_CHARGING_PERIODS, PLATFORM_PRICE_LINES, CONSUMPTION_STATS,
          PLATFORM_TARIFFS, ELECTRICITY_RATES, ELECTRICITY_RATE_PERIODS]
