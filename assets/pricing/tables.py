"""Tables of the pricing domain: canonical tariffs (reference) and priced sessions (per settlement date)."""

import pandera.polars as pa
import polars as pl

from assets.columns import MONEY
from resources.tables import TableSpec

PARTITION = "settlement_date"
AMOUNT_NAMES = ("energy", "time", "parking", "fixed", "reservation")
TOTAL_COLUMNS = tuple(f"total_{name}_cost_{side}" for name in AMOUNT_NAMES for side in ("excl", "incl")) + (
    "total_cost_excl", "total_cost_incl")


class TariffModel(pa.DataFrameModel):
    """Every accepted tariff has a unique id, a source family, an ISO 4217 code and its canonical JSON."""

    tariff_id: str = pa.Field(nullable=False, unique=True)
    source: str = pa.Field(isin=["ocpi", "platform", "eevion"])
    currency: str = pa.Field(nullable=False, str_matches=r"^[A-Z]{3}$")
    tariff_json: str = pa.Field(nullable=False, str_startswith="{")


TARIFFS = TableSpec(
    name="tariffs",
    description="Every tariff the pricing engine accepts, from OCPI, platform and Eevion sources, as canonical OCPI JSON.",
    schema={"tariff_id": pl.String(), "source": pl.String(), "currency": pl.String(), "tax_included": pl.String(),
            "tariff_json": pl.String(), "record_ref": pl.String(), "raw_payload": pl.String()},
    sort_by=("tariff_id",),
    column_docs={
        "tariff_id": "The id sessions and EVSEs name (OCPI id, platform tariff or snapshot id, Eevion id).",
        "source": "Family of the original document: ocpi, platform or eevion.",
        "currency": "ISO 4217 currency of every price of the tariff.",
        "tax_included": "YES / NO / N/A: whether the prices include the taxes (N/A: no tax information).",
        "tariff_json": "The canonical tariff (tariff_engine.tariff_to_json), re-readable with parse_tariff.",
        "record_ref": "Where the tariff came from: landing file, or platform_tariffs record and landing date.",
        "raw_payload": "The tariff document exactly as delivered (text).",
    },
    model=TariffModel,
)


class PricedSessionModel(pa.DataFrameModel):
    """One row per session; a row without an error carries a currency."""

    session_id: str = pa.Field(nullable=False, unique=True)

    @pa.dataframe_check
    def priced_rows_have_currency(cls, data) -> pl.LazyFrame:
        """Amounts without a currency would be meaningless."""
        return data.lazyframe.select(pl.col("error_code").is_not_null() | pl.col("currency").is_not_null())


_AMOUNT_DOCS = {
    f"total_{name}_cost_{side}": f"Computed OCPI total_{name}_cost {'excl.' if side == 'excl' else 'incl.'} VAT."
    for name in AMOUNT_NAMES for side in ("excl", "incl")
}

PRICED_SESSIONS = TableSpec(
    name="priced_sessions",
    description="Every session of the settlement date priced by the tariff engine, with the reported cost and the difference.",
    schema={PARTITION: pl.Date(), "session_id": pl.String(), "source": pl.String(), "operator_id": pl.String(),
            "tariff_id": pl.String(), "tariff_origin": pl.String(), "currency": pl.String(),
            "error_code": pl.String(), "error": pl.String(),
            **{column: MONEY for column in TOTAL_COLUMNS},
            "total_energy_wh": pl.Float64(), "total_time_s": pl.Int64(), "total_parking_s": pl.Int64(),
            "period_count": pl.Int64(), "pricing_warnings": pl.String(), "reported_currency": pl.String(),
            "reported_cost_excl_vat": MONEY, "reported_cost_incl_vat": MONEY,
            "difference_excl_vat": MONEY, "difference_incl_vat": MONEY},
    partition_by=(PARTITION,),
    sort_by=("session_id",),
    column_docs={
        PARTITION: "Settlement date of the session (the sessions partition).",
        "tariff_id": "Tariff applied (null when none was found: error NO_TARIFF).",
        "tariff_origin": "How it was chosen: session_payload (sealed in the CDR / Eevion session), session "
                         "(the session's tariff_ids in `tariffs`), evse (the EVSE's tariff) or null.",
        "currency": "Currency of the computed amounts (the tariff's).",
        "error_code": "Why the session could not be priced (NO_TARIFF, CREDIT_CDR, MISSING_SESSION_TIMES, "
                      "or the engine's code, e.g. NO_PERIODS, UNKNOWN_TIMEZONE); null when priced.",
        "error": "The error in words.",
        "total_cost_excl": "Computed OCPI total_cost excl. VAT.", "total_cost_incl": "Computed total_cost incl. VAT.",
        **_AMOUNT_DOCS,
        "period_count": "Charging periods priced (from charging_periods).",
        "pricing_warnings": "Glitches the engine repaired and priced under its default WARN policy, comma-separated "
                            "(PERIOD_BEFORE_SESSION_START, PERIODS_OUT_OF_ORDER); null when none.",
        "reported_cost_excl_vat": "Total cost as the source reported it, excl. VAT.",
        "reported_cost_incl_vat": "Total cost as the source reported it, incl. VAT.",
        "difference_excl_vat": "total_cost_excl - reported_cost_excl_vat (same currency only).",
        "difference_incl_vat": "total_cost_incl - reported_cost_incl_vat (same currency only); the reason of "
                               "every difference is in the `reconciliation` table.",
    },
    model=PricedSessionModel,
)

TABLES = [TARIFFS, PRICED_SESSIONS]
