"""Tables of the settlement domain: statements, their VAT and exception lines, station reports, the audit.

Statements and station reports are written per period: `period` is `day` (a settlement date) or `month`
(the calendar month of settlement dates), `period_start` its first day. Both periods come from the same
code, so a month is always what its days say, recomputed from the sessions (unique customers do not add up).
"""

import pandera.polars as pa
import polars as pl

from assets.columns import MONEY, RATE, UTC
from resources.tables import TableSpec

PERIOD_COLUMNS = {"period": pl.String(), "period_start": pl.Date(), "period_end": pl.Date()}
PERIOD_DOCS = {
    "period": "day (one settlement date) or month (every settlement date of a calendar month).",
    "period_start": "First settlement date of the period (the partition).",
    "period_end": "Last settlement date of the period (inclusive).",
}


class StatementModel(pa.DataFrameModel):
    """Counts are non-negative and the three session counts add up."""

    sessions: int = pa.Field(ge=0)
    sessions_priced: int = pa.Field(ge=0)
    sessions_not_priced: int = pa.Field(ge=0)

    @pa.dataframe_check
    def priced_plus_not_priced(cls, data) -> pl.LazyFrame:
        """Every session is priced or not priced, never both, never neither."""
        return data.lazyframe.select(pl.col("sessions") == pl.col("sessions_priced") + pl.col("sessions_not_priced"))


SETTLEMENT_STATEMENTS = TableSpec(
    name="settlement_statements",
    description="Settlement statement per operator and currency, per settlement day and per month: sessions, kWh, "
                "engine revenue excl./incl. VAT, electricity bought and gross margin.",
    schema=PERIOD_COLUMNS | {
        "operator_id": pl.String(), "currency": pl.String(), "sessions": pl.Int64(), "sessions_priced": pl.Int64(),
        "sessions_not_priced": pl.Int64(), "sessions_without_energy": pl.Int64(), "energy_wh": pl.Float64(),
        "revenue_excl_vat": MONEY, "vat_amount": MONEY, "revenue_incl_vat": MONEY, "electricity_bought": MONEY,
        "sessions_with_electricity_cost": pl.Int64(), "sessions_without_electricity_cost": pl.Int64(),
        "gross_margin": MONEY},
    partition_by=("period", "period_start"),
    sort_by=("operator_id", "currency"),
    column_docs=PERIOD_DOCS | {
        "operator_id": "The CPO (sessions.operator_id).",
        "currency": "ISO 4217 currency of every amount on the row (the tariff's; else the session's; for "
                    "electricity the rate's).",
        "sessions": "Sessions settled in the period (credit CDRs included, as not priced).",
        "sessions_priced": "Sessions the tariff engine priced (priced_sessions.error_code is null).",
        "sessions_not_priced": "Sessions without an engine price; by error code in settlement_statement_exceptions.",
        "sessions_without_energy": "Sessions with 0 Wh (cancelled, or stopped before charging).",
        "energy_wh": "Energy delivered, Wh (every session of the row).",
        "revenue_excl_vat": "Sum of priced_sessions.total_cost_excl (exact, DECIMAL(18,4)).",
        "vat_amount": "revenue_incl_vat - revenue_excl_vat; by rate in settlement_statement_vat.",
        "revenue_incl_vat": "Sum of priced_sessions.total_cost_incl.",
        "electricity_bought": "Sum of session_electricity_cost.electricity_cost (rates are tax-inclusive) of the "
                              "sessions whose every interval had a rate.",
        "sessions_with_electricity_cost": "Sessions whose electricity cost is known.",
        "sessions_without_electricity_cost": "Sessions with an interval without a rate (cost unknown, not 0).",
        "gross_margin": "revenue_excl_vat - electricity_bought (same currency).",
    },
    model=StatementModel,
)

SETTLEMENT_STATEMENT_VAT = TableSpec(
    name="settlement_statement_vat",
    description="Statement revenue per VAT rate: per operator, currency and rate, the engine amounts excl./incl. "
                "VAT; the lines of a statement row add up to its revenue exactly.",
    schema=PERIOD_COLUMNS | {
        "operator_id": pl.String(), "currency": pl.String(), "vat_rate": RATE, "vat_rate_source": pl.String(),
        "sessions": pl.Int64(), "amount_excl_vat": MONEY, "vat_amount": MONEY, "amount_incl_vat": MONEY},
    partition_by=("period", "period_start"),
    sort_by=("operator_id", "currency", "vat_rate", "vat_rate_source"),
    column_docs=PERIOD_DOCS | {
        "vat_rate": "Tax rate in percent (e.g. 20.0000; 13.0000 for GST+PST named taxes added together).",
        "vat_rate_source": "How the rate was found (assets/settlement/vat.py), joined by + when several: tariff (the "
                           "tariff's one rate for the dimension, checked against the amounts), derived (the simplest "
                           "rate that fits excl and incl), session (the session's one rate, for rounding and min/max "
                           "adjustments and amounts too small to show a rate), undetermined (null rate).",
        "sessions": "Sessions with a non-zero amount at this rate.",
        "amount_excl_vat": "Sum of the session dimension amounts excl. VAT at this rate.",
        "vat_amount": "amount_incl_vat - amount_excl_vat.",
        "amount_incl_vat": "Sum of the session dimension amounts incl. VAT at this rate.",
    },
)

SETTLEMENT_STATEMENT_EXCEPTIONS = TableSpec(
    name="settlement_statement_exceptions",
    description="What a statement could not settle: sessions not priced per operator and error code, and records "
                "quarantined per source asset and reason code.",
    schema=PERIOD_COLUMNS | {
        "kind": pl.String(), "operator_id": pl.String(), "source_asset": pl.String(), "code": pl.String(),
        "records": pl.Int64()},
    partition_by=("period", "period_start"),
    sort_by=("kind", "operator_id", "source_asset", "code"),
    column_docs=PERIOD_DOCS | {
        "kind": "NOT_PRICED (a settled session without an engine price) or QUARANTINED (a rejected record).",
        "operator_id": "The session's operator; null for QUARANTINED (a rejected record cannot be trusted to "
                       "name its operator, so quarantine is reported for the whole fleet).",
        "source_asset": "The asset that quarantined the record (priced_sessions for NOT_PRICED).",
        "code": "priced_sessions.error_code, or quarantine.reason_code.",
        "records": "Sessions (NOT_PRICED) or records (QUARANTINED; counted by the landing date they were "
                   "rejected on, which is the period's day).",
    },
)

REPORT_METRICS = ("count", "cancel_count", "total_cost_cents", "total_energy_cost_cents",
                  "total_energy_watt_hours", "total_duration_seconds")
"""The metrics Eevion adds up in its `total` row and divides by the number of groups in its `average` row."""

STATION_REPORTS = TableSpec(
    name="station_reports",
    description="Eevion-style (seed 003) session report from our own sessions: per station, site and region and "
                "currency, with total and average rows, per day and per month.",
    schema=PERIOD_COLUMNS | {
        "currency": pl.String(), "group_by": pl.String(), "group_key": pl.String(), "row_kind": pl.String(),
        "location": pl.String(), "location_id": pl.String(), "count": pl.Float64(), "cancel_count": pl.Float64(),
        "unpriced_count": pl.Float64(), "total_cost_cents": MONEY, "average_cost_cents": MONEY,
        "total_energy_cost_cents": MONEY, "total_energy_watt_hours": pl.Float64(),
        "total_duration_seconds": pl.Float64(), "average_duration_seconds": pl.Float64(),
        "maximum_power_watts": pl.Float64(), "unique_customers": pl.Int64(), "most_common_start_with": pl.String()},
    partition_by=("period", "period_start"),
    sort_by=("currency", "group_by", "row_kind", "group_key"),
    column_docs=PERIOD_DOCS | {
        "currency": "Currency of the cents (a report never adds different currencies).",
        "group_by": "station (the EVSE, Eevion's stationId), site (the location) or region (the location's "
                    "state or province, else its country).",
        "group_key": "The station, site or region; `total` or `average` on the summary rows.",
        "row_kind": "group, total (sum over the groups) or average (total / number of groups), as Eevion.",
        "count": "Sessions (credit CDRs excluded: they reverse a session, they are not one).",
        "cancel_count": "Sessions without energy (0 Wh).",
        "unpriced_count": "Sessions without an engine price (their cost counts as 0 cents).",
        "total_cost_cents": "Engine total incl. VAT in minor units; each session rounded half-up to the unit.",
        "average_cost_cents": "total_cost_cents / count (4 decimals, half-up).",
        "total_energy_cost_cents": "Electricity bought in minor units (session_electricity_cost, each session "
                                   "rounded half-up); sessions of unknown electricity cost add 0.",
        "total_energy_watt_hours": "Energy delivered, Wh.",
        "total_duration_seconds": "Session durations (start to end), seconds.",
        "average_duration_seconds": "total_duration_seconds / count.",
        "maximum_power_watts": "Highest power of any session: the measured meter power when there is one, "
                               "else the highest average power of a clock-aligned interval.",
        "unique_customers": "Distinct sessions.customer_id.",
        "most_common_start_with": "How sessions were started, Eevion's vocabulary (Roaming for an eMSP's customer; "
                                  "Card for OCPI AUTH_REQUEST/WHITELIST and OCPP tags; App for COMMAND; Unknown); "
                                  "ties go to the first name alphabetically.",
    },
)

STATION_REPORT_DIFFERENCES = TableSpec(
    name="station_report_differences",
    description="Our station report against Eevion's report rows for the same period and grouping: one row per "
                "Eevion row and metric where the figures differ.",
    schema={"report_date": pl.Date(), "period_start_utc": UTC,
            "period_end_utc": UTC, "group_by": pl.String(), "group_key": pl.String(),
            "metric": pl.String(), "eevion_value": MONEY, "our_value": MONEY,
            "difference": MONEY},
    partition_by=("report_date",),
    sort_by=("period_start_utc", "group_by", "group_key", "metric"),
    column_docs={
        "report_date": "UTC date the Eevion report period starts on (the partition).",
        "period_start_utc": "Eevion report period start (sessions by start time, as Eevion selects them).",
        "group_key": "Eevion's station/site/region, or total/average.",
        "metric": "The seed 003 metric that differs.",
        "eevion_value": "Eevion's figure (null when Eevion has the row and we have no session there).",
        "our_value": "Our figure for the same Eevion sessions' period and group (null when we have none).",
        "difference": "our_value - eevion_value.",
    },
)

SETTLEMENT_AUDIT = TableSpec(
    name="settlement_audit",
    description="Every re-settlement finance requested (resettle job): per day, operator and currency the "
                "statement totals before and after, with the reason given.",
    schema={"run_id": pl.String(), "settlement_date": pl.Date(), "operator_id": pl.String(),
            "currency": pl.String(), "requested_operator": pl.String(), "requested_start": pl.Date(),
            "requested_end": pl.Date(), "reason": pl.String(), "requested_at": UTC,
            "sessions_before": pl.Int64(), "sessions_after": pl.Int64(),
            "revenue_excl_vat_before": MONEY, "revenue_excl_vat_after": MONEY,
            "revenue_incl_vat_before": MONEY, "revenue_incl_vat_after": MONEY,
            "electricity_bought_before": MONEY, "electricity_bought_after": MONEY,
            "gross_margin_before": MONEY, "gross_margin_after": MONEY, "changed": pl.Boolean()},
    partition_by=("run_id",),
    sort_by=("settlement_date", "operator_id", "currency"),
    column_docs={
        "run_id": "The Dagster run of the resettle job (the partition; an audit is never overwritten).",
        "operator_id": "Operator of the statement row; the requested operator always has rows, other operators "
                       "only when their totals changed too (a day is re-settled for every operator).",
        "requested_operator": "The operator finance asked to re-settle.",
        "reason": "Why finance asked (free text from the run config).",
        "requested_at": "When the run started (UTC).",
        "sessions_before": "Statement sessions before the re-settlement (0 when there was no statement).",
        "changed": "Whether any before/after pair differs.",
    },
)

TABLES = [SETTLEMENT_STATEMENTS, SETTLEMENT_STATEMENT_VAT, SETTLEMENT_STATEMENT_EXCEPTIONS, STATION_REPORTS,
          STATION_REPORT_DIFFERENCES, SETTLEMENT_AUDIT]
