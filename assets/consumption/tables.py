"""Tables of the consumption domain, partitioned by the settlement date of the session they belong to.

Clock-aligned rows also carry the settlement date and period *of the interval* (a session that crosses
midnight has intervals on two local dates), so the partition column is named `session_settlement_date`
to keep the two apart; it holds the sessions table's `settlement_date` partition key.
"""

import pandera.polars as pa
import polars as pl

from assets.columns import MONEY, UTC
from resources.tables import TableSpec

PARTITION = "session_settlement_date"
PARTITION_DOC = "Settlement date of the session (the sessions partition this row was computed for)."


class MeterCurveModel(pa.DataFrameModel):
    """Curve points are non-negative and belong to a session."""

    session_id: str = pa.Field(nullable=False)
    energy_wh: float = pa.Field(ge=0, nullable=True)
    power_w: float = pa.Field(nullable=True)
    current_a: float = pa.Field(ge=0, nullable=True)


METER_CURVES = TableSpec(
    name="meter_curves",
    description="Per session: cleaned cumulative register (Wh), power (W) and current (A, phases summed) and OCPP charging state, one row per instant.",
    schema={PARTITION: pl.Date(), "session_id": pl.String(), "timestamp": UTC, "energy_wh": pl.Float64(),
            "power_w": pl.Float64(), "current_a": pl.Float64(), "charging_state": pl.String(),
            "reset_bridged": pl.Boolean(), "source": pl.String()},
    partition_by=(PARTITION,),
    sort_by=("session_id", "timestamp"),
    column_docs={
        PARTITION: PARTITION_DOC,
        "session_id": "Session id (for OCPP: ocpp:<cp>:<tx>).",
        "timestamp": "Instant of the point (UTC).",
        "energy_wh": "Cleaned cumulative register, Wh, non-decreasing; null when only power/current/state was measured then.",
        "power_w": "Active power import, W (phase-less value, else phases summed).",
        "current_a": "Current import summed over phases, A.",
        "charging_state": "OCPP charging state that started at this instant, if any.",
        "reset_bridged": "True where a register reset was bridged (later values shifted to continue the curve).",
        "source": "meter_readings, transaction (meterStart/meterStop anchor) or consumption_stats.",
    },
    model=MeterCurveModel,
)


class ChargingPeriodModel(pa.DataFrameModel):
    """Periods have non-negative volumes and a known state."""

    session_id: str = pa.Field(nullable=False)
    state: str = pa.Field(isin=["CHARGING", "PARKING"])
    time_s: float = pa.Field(ge=0)
    parking_time_s: float = pa.Field(ge=0)

    @pa.dataframe_check
    def ordered(cls, data) -> pl.LazyFrame:
        """A period never ends before it starts."""
        return data.lazyframe.select(pl.col("end_utc") >= pl.col("start_utc"))


CHARGING_PERIODS = TableSpec(
    name="charging_periods",
    description="OCPI charging periods per session: cut at every moment the price could change (tariff windows, thresholds, power/current crossings, charging/parking switches).",
    schema={PARTITION: pl.Date(), "session_id": pl.String(), "period_index": pl.Int32(), "start_utc": UTC,
            "end_utc": UTC, "state": pl.String(), "energy_wh": pl.Float64(), "time_s": pl.Float64(),
            "parking_time_s": pl.Float64(), "min_power_w": pl.Float64(), "max_power_w": pl.Float64(),
            "min_current_a": pl.Float64(), "max_current_a": pl.Float64(), "tariff_id": pl.String(),
            "method": pl.String()},
    partition_by=(PARTITION,),
    sort_by=("session_id", "period_index"),
    column_docs={
        PARTITION: PARTITION_DOC,
        "period_index": "0-based position of the period in its session.",
        "start_utc": "Period start (UTC); it ends where the next starts.",
        "end_utc": "Period end (UTC).",
        "state": "CHARGING or PARKING (vehicle not requesting power).",
        "energy_wh": "ENERGY, Wh (whole Wh for metered sessions; as reported for CDR periods).",
        "time_s": "TIME: charging seconds.",
        "parking_time_s": "PARKING_TIME: seconds.",
        "min_power_w": "MIN_POWER, W.", "max_power_w": "MAX_POWER, W.",
        "min_current_a": "MIN_CURRENT, A (phases summed).", "max_current_a": "MAX_CURRENT, A (phases summed).",
        "tariff_id": "Tariff whose boundaries cut the session (null: only charging/parking switches).",
        "method": "meter (cut from the meter curve) or cdr (the CDR's own periods, kept as delivered).",
    },
    model=ChargingPeriodModel,
)


class ClockAlignedModel(pa.DataFrameModel):
    """Intervals carry non-negative whole Wh and a valid settlement period."""

    session_id: str = pa.Field(nullable=False)
    energy_wh: int = pa.Field(ge=0)
    settlement_period: pl.Int32 = pa.Field(ge=1, le=100)
    interval_minutes: pl.Int32 = pa.Field(isin=[15, 30, 60])


CLOCK_ALIGNED = TableSpec(
    name="clock_aligned_consumption",
    description="Session energy in clock-aligned intervals of the site's local clock (integer Wh summing exactly to the session), with settlement date and period.",
    schema={PARTITION: pl.Date(), "session_id": pl.String(), "interval_start_utc": UTC,
            "interval_start_local": pl.String(), "settlement_date": pl.Date(), "settlement_period": pl.Int32(),
            "time_zone": pl.String(), "interval_minutes": pl.Int32(), "energy_wh": pl.Int64(),
            "method": pl.String(), "is_estimated": pl.Boolean()},
    partition_by=(PARTITION,),
    sort_by=("session_id", "interval_start_utc"),
    column_docs={
        PARTITION: PARTITION_DOC,
        "interval_start_utc": "Clock start of the interval (UTC); the key. The first and last intervals of a session are partial.",
        "interval_start_local": "The same instant on the site's local clock, ISO 8601 with offset.",
        "settlement_date": "Local date of the interval start.",
        "settlement_period": "1-based period of the local day (1…48; 46/50 on clock-change days for 30 minutes).",
        "interval_minutes": "Interval length: 15, 30 or 60.",
        "energy_wh": "Energy in the interval, whole Wh.",
        "method": "meter (interpolated register), or estimated_uniform (session total spread at constant power).",
        "is_estimated": "True when no meter curve existed and the total was spread.",
    },
    model=ClockAlignedModel,
)

ELECTRICITY_COST = TableSpec(
    name="electricity_cost",
    description="Electricity cost of each clock-aligned interval at the operator's electricity rate (tax-inclusive).",
    schema={PARTITION: pl.Date(), "session_id": pl.String(), "interval_start_utc": UTC,
            "settlement_date": pl.Date(), "settlement_period": pl.Int32(), "energy_wh": pl.Int64(),
            "rate_id": pl.String(), "electricity_price_per_kwh": pl.Decimal(18, 6),
            "electricity_cost": MONEY, "currency": pl.String(), "unpriced_reason": pl.String()},
    partition_by=(PARTITION,),
    sort_by=("session_id", "interval_start_utc"),
    column_docs={
        PARTITION: PARTITION_DOC,
        "rate_id": "Electricity rate applied (the operator's rate).",
        "electricity_price_per_kwh": "Tax-inclusive price per kWh at the interval's local start.",
        "electricity_cost": "energy_wh / 1000 × price, rounded half-up to 4 decimals.",
        "currency": "Currency of the cost (the session's currency).",
        "unpriced_reason": "Stable code when no price could be applied (NO_RATE_FOR_OPERATOR, AMBIGUOUS_RATE).",
    },
)

SESSION_ELECTRICITY_COST = TableSpec(
    name="session_electricity_cost",
    description="Electricity cost per session: the sum of its rounded interval costs.",
    schema={PARTITION: pl.Date(), "session_id": pl.String(), "energy_wh": pl.Int64(), "rate_id": pl.String(),
            "electricity_cost": MONEY, "currency": pl.String(), "unpriced_intervals": pl.Int64()},
    partition_by=(PARTITION,),
    sort_by=("session_id",),
    column_docs={PARTITION: PARTITION_DOC,
                 "electricity_cost": "Sum of the session's interval costs (Decimal 18,4).",
                 "unpriced_intervals": "Intervals without a price; when above 0 the session's cost is null (unknown)."},
)

TABLES = [METER_CURVES, CHARGING_PERIODS, CLOCK_ALIGNED, ELECTRICITY_COST, SESSION_ELECTRICITY_COST]
