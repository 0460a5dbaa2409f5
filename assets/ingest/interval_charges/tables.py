"""Tables of the interval-charge ingest (partitioned by landing date)."""

import pandera.polars as pa
import polars as pl

from assets.columns import SESSION_COLUMNS, SESSION_DOCS, UTC
from resources.tables import TableSpec


class IntervalChargeModel(pa.DataFrameModel):
    """One row per accepted charge."""

    record_ref: str = pa.Field(nullable=False, unique=True)
    energy_wh: float = pa.Field(ge=0)
    interval_count: int = pa.Field(ge=0)


class IntervalModel(pa.DataFrameModel):
    """Intervals are at most 30 minutes and non-negative."""

    energy_wh: float = pa.Field(ge=0)

    @pa.dataframe_check
    def at_most_half_an_hour(cls, data) -> pl.LazyFrame:
        """No interval is longer than one settlement period."""
        return data.lazyframe.select(
            (pl.col("interval_end_utc") - pl.col("interval_start_utc")) <= pl.duration(minutes=30))


INTERVAL_CHARGES = TableSpec(
    name="interval_charges",
    description="Charges delivered as 30-minute interval data (or as totals only), one row per charge; by landing date.",
    schema={"landing_date": pl.Date(), "record_ref": pl.String()} | SESSION_COLUMNS
    | {"has_intervals": pl.Boolean(), "interval_count": pl.Int64(), "repairs": pl.Int64(), "raw_payload": pl.String()},
    partition_by=("landing_date",),
    sort_by=("record_ref",),
    column_docs=SESSION_DOCS | {"has_intervals": "False when the charge came as a total only (charges.add).",
                                "repairs": "Repairs applied (intervals re-ordered)."},
    model=IntervalChargeModel,
)

INTERVAL_CHARGE_INTERVALS = TableSpec(
    name="interval_charge_intervals",
    description="The 30-minute intervals of interval charges, as delivered; by landing date.",
    schema={"landing_date": pl.Date(), "session_id": pl.String(), "settlement_date": pl.Date(),
            "interval_start_utc": UTC, "interval_end_utc": UTC, "energy_wh": pl.Float64(), "energy_kwh": pl.Decimal(18, 6)},
    partition_by=("landing_date",),
    sort_by=("session_id", "interval_start_utc"),
    column_docs={"energy_kwh": "Interval energy exactly as delivered (kWh).", "energy_wh": "The same in Wh."},
    model=IntervalModel,
)

TABLES = [INTERVAL_CHARGES, INTERVAL_CHARGE_INTERVALS]
