"""The daily `reconciliation` asset and its checks."""

import datetime as dt
from decimal import Decimal

import dagster as dg
import polars as pl
from pydantic import Field

from assets.partitions import daily
from assets.reconciliation.build import TOLERANCE_ENV, Tolerances, money_tolerance, reconcile_day, session_reasons
from assets.reconciliation.reasons import NOT_A_DIFFERENCE
from resources.warehouse import WarehouseResource

EVERY_SESSION = "every_session_reconciled"
WITHIN_TOLERANCE = "sessions_within_tolerance"


class ReconciliationConfig(dg.Config):
    """Tolerances of the reconciliation (a figure closer than this to the source's agrees)."""

    tolerance: str = Field(default="", description=(
        f"Money tolerance per amount, in the currency (decimal text). Empty: ${TOLERANCE_ENV}, else 0.01."))
    energy_tolerance_wh: int = Field(default=1, description="Energy tolerance against linked records, Wh.")
    duration_tolerance_s: int = Field(default=60, description="Duration tolerance, seconds (clocks of two "
                                                              "sources disagree by seconds).")


@dg.asset(
    partitions_def=daily, group_name="settlement", deps=["priced_sessions", "sessions", "tariffs"],
    check_specs=[
        dg.AssetCheckSpec(EVERY_SESSION, asset="reconciliation",
                          description="Every priced_sessions row is compared with its own record, every "
                                      "comparison has a reason code."),
        dg.AssetCheckSpec(WITHIN_TOLERANCE, asset="reconciliation",
                          description="Every session's total agrees with its source within the tolerance "
                                      "(warns with the count per reason otherwise)."),
        dg.AssetCheckSpec("schema", asset="reconciliation", description="Rows satisfy the reconciliation model."),
    ],
    kinds={"polars", "parquet"},
)
def reconciliation(context: dg.AssetExecutionContext, config: ReconciliationConfig,
                   warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every figure of every session settling on this date, ours against the source's: per dimension (energy,
    time, parking/idle, fixed, tax, totals) against the session's own record, and energy, duration and cost
    against each linked record of another source (`session_links`). Every comparison carries a reason code
    (AGREES within the tolerance; else TARIFF_DIFFERS, ENERGY_DIFFERS, DURATION_DIFFERS, IDLE_NOT_REPORTED,
    ROUNDING, CURRENCY, NOT_PRICED, ... as chosen by `assets.reconciliation.reasons.reason_expr`)."""
    day = dt.date.fromisoformat(context.partition_key)
    tolerances = Tolerances(money=money_tolerance(config.tolerance), energy_wh=Decimal(config.energy_tolerance_wh),
                            duration_s=Decimal(config.duration_tolerance_s))
    result = reconcile_day(warehouse, day, tolerances)  # writes the partition
    table = result.table
    per_session = session_reasons(table)
    unexplained = table.filter(pl.col("reason_code").is_null()).height
    differing = per_session.filter(~pl.col("reason_code").is_in(list(NOT_A_DIFFERENCE)))
    metadata = dict(result.metadata)
    summary = metadata.pop("summary")
    counts = {reason: n for reason, n in differing.group_by("reason_code").len().sort("reason_code").iter_rows()}
    return dg.MaterializeResult(
        metadata=metadata | {"summary": dg.MetadataValue.md(summary), "dagster/row_count": table.height},
        check_results=[
            dg.AssetCheckResult(check_name=EVERY_SESSION, severity=dg.AssetCheckSeverity.ERROR,
                                passed=per_session.height == result.sessions_in and unexplained == 0,
                                metadata={"sessions_in": result.sessions_in, "sessions_compared": per_session.height,
                                          "comparisons_without_reason": unexplained}),
            dg.AssetCheckResult(check_name=WITHIN_TOLERANCE, severity=dg.AssetCheckSeverity.WARN,
                                passed=differing.height == 0,
                                metadata={"tolerance": float(tolerances.money), "sessions_differing": differing.height,
                                          **{f"sessions_{r.lower()}": n for r, n in counts.items()}}),
            result.schema,
        ])


RECONCILIATION_ASSETS = [reconciliation]
