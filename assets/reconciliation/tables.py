"""The `reconciliation` table: every figure of every session, ours against each source's, with its reason."""

import pandera.polars as pa
import polars as pl

from assets.reconciliation.reasons import REASONS
from assets.columns import MONEY
from resources.tables import TableSpec

PARTITION = "settlement_date"
MONEY_DIMENSIONS = ("energy", "time", "parking", "fixed", "tax", "total_excl", "total_incl")
QUANTITY_DIMENSIONS = ("energy_wh", "duration_s")


class ReconciliationModel(pa.DataFrameModel):
    """Every row names its session, what was compared and a known reason code."""

    session_id: str = pa.Field(nullable=False)
    counterpart_id: str = pa.Field(nullable=False)
    dimension: str = pa.Field(isin=[*MONEY_DIMENSIONS, *QUANTITY_DIMENSIONS])
    reason_code: str = pa.Field(nullable=False, isin=list(REASONS))

    @pa.dataframe_check
    def one_row_per_comparison(cls, data) -> pl.LazyFrame:
        """A session, counterpart and dimension appear once."""
        return data.lazyframe.select(
            ~pl.struct("session_id", "counterpart_id", "dimension").is_duplicated())


RECONCILIATION = TableSpec(
    name="reconciliation",
    description="Every figure of every session of the settlement date, ours (priced_sessions, sessions) against "
                "the source's own record and each linked record of another source, with a reason code for "
                "every difference (assets/reconciliation/reasons.py).",
    schema={PARTITION: pl.Date(), "session_id": pl.String(), "source": pl.String(), "counterpart": pl.String(),
            "counterpart_id": pl.String(), "dimension": pl.String(), "unit": pl.String(), "ours": MONEY,
            "theirs": MONEY, "difference": MONEY, "reason_code": pl.String(), "explanation": pl.String()},
    partition_by=(PARTITION,),
    sort_by=("session_id", "counterpart_id", "dimension"),
    column_docs={
        PARTITION: "Settlement date of the session.",
        "session_id": "The session (sessions / priced_sessions).",
        "source": "The session's source (ocpi_cdr, cpms_session, eevion, ocpp, ...).",
        "counterpart": "What ours is compared with: `record` (the session's own record as the source reported "
                       "it) or the linked source (session_links: ocpp, cpms_session, eevion, ...).",
        "counterpart_id": "The compared record: the session id itself, or the linked record's id.",
        "dimension": "energy, time, parking (idle), fixed, tax: amounts excl. VAT per OCPI dimension; total_excl, "
                     "total_incl: session totals; energy_wh, duration_s: quantities of a linked record.",
        "unit": "Currency of an amount (the tariff's), or Wh / s for a quantity.",
        "ours": "Our figure: the tariff engine's amount, or the session's quantity.",
        "theirs": "The counterpart's figure as it reported it (null: not reported).",
        "difference": "ours - theirs (null when either is missing).",
        "reason_code": "Why they differ, or AGREES within the tolerance: " + ", ".join(REASONS) + ".",
        "explanation": "The reason with the figures it rests on (tariffs, kWh, seconds, engine error).",
    },
    model=ReconciliationModel,
)

TABLES = [RECONCILIATION]
