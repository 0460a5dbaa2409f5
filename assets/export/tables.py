"""Catalog snapshots of the Charge API export log (the SQLite log stays the system of record).

After each export of a settlement date the asset copies that date's rows of the log into these two Parquet
tables, so the analyst catalog gets commented views `charge_exports` and `charge_export_attempts` like every
other table (they register themselves here; `analyst_catalog` publishes every registered table).
"""

import pandera.polars as pa
import polars as pl

from resources.tables import TableSpec

PARTITION = "settlement_date"


class ChargeExportModel(pa.DataFrameModel):
    """One row per charge key; the state is one of the log's three."""

    charge_external_id: str = pa.Field(nullable=False)
    charge_point_external_id: str = pa.Field(nullable=False)
    status: str = pa.Field(isin=["PENDING", "DELIVERED", "REJECTED"])
    outcome: str = pa.Field(nullable=True, isin=["Success", "Duplicate"])
    attempts: int = pa.Field(ge=0)

    @pa.dataframe_check
    def delivered_has_outcome(cls, data) -> pl.LazyFrame:
        """A DELIVERED charge names the receiver's answer; the others have none."""
        return data.lazyframe.select((pl.col("status") == "DELIVERED") == pl.col("outcome").is_not_null())


CHARGE_EXPORTS = TableSpec(
    name="charge_exports",
    description="Home charges sent to the Charge API (seed 000): one row per charge with its delivery state, "
                "copied from the export log (_registers/charge_export_log.sqlite) after each export.",
    schema={PARTITION: pl.Date(), "charge_external_id": pl.String(), "charge_point_external_id": pl.String(),
            "session_id": pl.String(), "endpoint": pl.String(), "status": pl.String(), "outcome": pl.String(),
            "message": pl.String(), "attempts": pl.Int64(), "payload_sha256": pl.String(),
            "first_attempt_at": pl.String(), "resolved_at": pl.String()},
    partition_by=(PARTITION,),
    sort_by=("charge_point_external_id", "charge_external_id"),
    column_docs={
        PARTITION: "Settlement date of the session the charge was built from.",
        "charge_external_id": "chargeExternalId sent: the session's session_ref (OCPP transaction id).",
        "charge_point_external_id": "chargePointExternalId sent: the OCPP charge point id.",
        "session_id": "The session in `sessions`.",
        "endpoint": "/dataProvider.charges.addWithIntervals (30-minute intervals) or /dataProvider.charges.add (total).",
        "status": "DELIVERED (never sent again), REJECTED (refused by the receiver alone; see message) or PENDING "
                  "(outcome unknown or not sent yet; the charge_export_retries sensor re-sends it).",
        "outcome": "The receiver's answer that delivered it: Success, or Duplicate (it had the charge already).",
        "message": "The receiver's rejection message, or why the charge is still pending.",
        "attempts": "Requests that carried this charge (bisection and re-sends included).",
        "payload_sha256": "SHA-256 of the JSON charge object sent (the payload itself is in the export log).",
        "first_attempt_at": "UTC time of the first attempt (ISO 8601).",
        "resolved_at": "UTC time it became DELIVERED or REJECTED.",
    },
    model=ChargeExportModel,
)

CHARGE_EXPORT_ATTEMPTS = TableSpec(
    name="charge_export_attempts",
    description="Every request that carried a home charge to the Charge API, per charge, with its result "
                "(copied from the export log after each export).",
    schema={PARTITION: pl.Date(), "attempt_id": pl.Int64(), "batch_id": pl.String(), "charge_external_id": pl.String(),
            "charge_point_external_id": pl.String(), "endpoint": pl.String(), "batch_size": pl.Int64(),
            "sent_at": pl.String(), "result": pl.String(), "message": pl.String()},
    partition_by=(PARTITION,),
    sort_by=("attempt_id",),
    column_docs={
        PARTITION: "Settlement date of the charge.",
        "attempt_id": "Order of the attempt in the export log.",
        "batch_id": "The request (batch) it travelled in; a bisected batch gives new batches.",
        "batch_size": "Charges in that request.",
        "sent_at": "UTC time the attempt was logged, just before sending (ISO 8601).",
        "result": "SENT (no outcome logged: crash), Success, Duplicate, BATCH_REJECTED (400 for a batch it shared), "
                  "REJECTED (400 for it alone), NO_STATUS (the answer did not list it) or FAILED (no answer after retries).",
        "message": "The receiver's message for a 400, or the failure.",
    },
)

TABLES = [CHARGE_EXPORTS, CHARGE_EXPORT_ATTEMPTS]
