"""`interval_export`: each settlement date's home charges pushed to the Charge API (seed 000), its job and schedule."""

import datetime as dt
import os

import dagster as dg
import polars as pl

from assets.checks import CONSERVATION, schema_result
from assets.export.charges import build_charges
from assets.export.deliver import Exporter
from assets.export.log import DELIVERED, PENDING, REJECTED, ExportLog
from assets.export.tables import CHARGE_EXPORT_ATTEMPTS, CHARGE_EXPORTS
from assets.partitions import daily
from assets.quarantine import QUARANTINE, Rejection, quarantine_frame
from assets.settleable import latest_settleable_day, lateness, operator_zones
from resources.charge_api import ChargeApiResource
from resources.warehouse import WarehouseResource

# The demo fleet's home-charging operator; deployments list theirs in CHARGELEDGER_HOME_OPERATORS.
DEFAULT_HOME_OPERATORS = ("GB-HMC",)
EXPORT_POOL = "charge_export_log"  # one writer of the SQLite export log at a time


def home_operators() -> list[str]:
    configured = [o.strip() for o in os.environ.get("CHARGELEDGER_HOME_OPERATORS", "").split(",") if o.strip()]
    return configured or list(DEFAULT_HOME_OPERATORS)


class IntervalExportConfig(dg.Config):
    """Batch size of the Charge API requests, and which operators' sessions are home charges."""

    batch_size: int = 100
    home_operator_ids: list[str] = []  # empty: CHARGELEDGER_HOME_OPERATORS, else GB-HMC


@dg.asset(
    partitions_def=daily, group_name="export", deps=["sessions", "clock_aligned_consumption", "evses"],
    pool=EXPORT_POOL, kinds={"http", "sqlite", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(CONSERVATION, asset="interval_export",
                          description="Every home session of the date is delivered, rejected (quarantined) or pending: "
                                      "in = delivered + quarantined + pending."),
        dg.AssetCheckSpec("schema", asset="interval_export", description="Export rows satisfy the charge export model."),
    ],
)
def interval_export(context: dg.AssetExecutionContext, config: IntervalExportConfig, warehouse: WarehouseResource,
                    charge_api: ChargeApiResource) -> dg.MaterializeResult:
    """Home charges settling on this date sent to the Charge API: with their 30-minute clock-aligned intervals
    (`charges.addWithIntervals`), or start/end/total (`charges.add`) when they have none. Success and Duplicate
    both count as delivered and are never sent again; a charge the receiver refuses is found by bisecting the
    batch and quarantined with the receiver's message; charges whose outcome is unknown stay pending in the
    export log (SQLite, `_registers/charge_export_log.sqlite`) and are re-sent by `charge_export_retries`."""
    day = dt.date.fromisoformat(context.partition_key)
    built = build_charges(warehouse, day, config.home_operator_ids or home_operators())
    with ExportLog(warehouse.registers_dir) as log:
        outcome = Exporter(charge_api, log, config.batch_size).export(day.isoformat(), built.charges)
        exports = pl.DataFrame(log.charges_of(day.isoformat()), schema=[c for c in CHARGE_EXPORTS.data_columns],
                               orient="row")
        attempts = pl.DataFrame(log.attempts_of(day.isoformat()), schema=CHARGE_EXPORT_ATTEMPTS.data_columns,
                                orient="row")
    exports = exports.cast({c: CHARGE_EXPORTS.schema[c] for c in exports.columns})
    attempts = attempts.cast({c: CHARGE_EXPORT_ATTEMPTS.schema[c] for c in attempts.columns})
    warehouse.write_partition(CHARGE_EXPORTS, exports, settlement_date=day)
    warehouse.write_partition(CHARGE_EXPORT_ATTEMPTS, attempts, settlement_date=day)

    # Receiver rejections are quarantined next to the sessions that could not become a charge at all.
    payloads = {c.key: c.payload for c in built.charges}
    state = {(row["charge_external_id"], row["charge_point_external_id"]): row for row in exports.iter_rows(named=True)}
    ours = [state[c.key] for c in built.charges if c.key in state and state[c.key]["session_id"] == c.session_id]
    refused = [Rejection("charge_api", f"{row['charge_point_external_id']}/{row['charge_external_id']}",
                         "CHARGE_API_REJECTED", row["message"] or "rejected by the Charge API",
                         payloads[(row["charge_external_id"], row["charge_point_external_id"])])
               for row in ours if row["status"] == REJECTED]
    collided = [Rejection("home_session", charge.session_id, "CHARGE_KEY_COLLISION",
                          f"chargeExternalId {charge.charge_external_id} at {charge.charge_point_external_id} was "
                          f"already sent for session {holder}", charge.payload) for charge, holder in outcome.collisions]
    quarantined = built.rejections + refused + collided
    warehouse.write_partition(QUARANTINE, quarantine_frame(quarantined), source_asset="interval_export",
                              partition_key=context.partition_key)

    delivered = sum(row["status"] == DELIVERED for row in ours)
    pending = sum(row["status"] == PENDING for row in ours)
    conservation = dg.AssetCheckResult(
        check_name=CONSERVATION, passed=built.sessions_in == delivered + len(quarantined) + pending,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rows_in": built.sessions_in, "rows_delivered": delivered, "rows_quarantined": len(quarantined),
                  "rows_pending": pending, "difference": built.sessions_in - delivered - len(quarantined) - pending})
    with_intervals = sum(c.endpoint.endswith("addWithIntervals") for c in built.charges)
    metadata: dict[str, object] = {
        "sent": outcome.sent, "duplicate": outcome.duplicate, "rejected": outcome.rejected,
        "pending": outcome.pending, "home_sessions": built.sessions_in, "charges_with_intervals": with_intervals,
        "charges_totals_only": len(built.charges) - with_intervals, "delivered_total": delivered,
        "already_delivered": outcome.already_delivered, "still_rejected": outcome.still_rejected,
        "quarantined_before_sending": len(built.rejections), "resent_pending": outcome.resent_pending,
        "requests": outcome.requests, "batch_rejections": outcome.batch_rejections,
        "changed_after_delivery": outcome.changed_after_delivery, "dagster/row_count": exports.height,
    }
    metadata |= {f"totals_only_{reason}": count for reason, count in sorted(built.totals_only_reasons.items())}
    if outcome.unavailable:
        metadata["stopped_early"] = outcome.unavailable
        context.log.warning(f"Charge API unavailable; {outcome.pending} charges stay pending: {outcome.unavailable}")
    return dg.MaterializeResult(metadata=metadata, check_results=[conservation, schema_result(CHARGE_EXPORTS, exports)])


interval_export_job = dg.define_asset_job(
    name="interval_export_job",
    selection=dg.AssetSelection.assets(interval_export) | dg.AssetSelection.groups("catalog"),
    description="Send a settlement date's home charges to the Charge API, then refresh the analyst catalog.",
)

LOOKBACK_DAYS = 3  # later ticks re-offer recent dates: sessions settled late still go out, delivered ones are skipped


@dg.schedule(job=interval_export_job, cron_schedule="45 * * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def interval_export_schedule(context: dg.ScheduleEvaluationContext):
    """Once a date is settleable everywhere (as for the nightly settlement), export it and the two dates before."""
    now = context.scheduled_execution_time or dt.datetime.now(dt.timezone.utc)
    newest = latest_settleable_day(now.astimezone(dt.timezone.utc), operator_zones(), lateness())
    days = [newest - dt.timedelta(days=n) for n in range(LOOKBACK_DAYS)]
    return [dg.RunRequest(run_key=f"interval_export:{day.isoformat()}@{newest.isoformat()}", partition_key=day.isoformat(),
                          tags={"chargeledger/settlement_date": day.isoformat()}) for day in days]


def charge_api_from_env() -> ChargeApiResource:
    """The Charge API resource with endpoints and credentials from the environment (secrets via EnvVar)."""
    return ChargeApiResource(token_url=dg.EnvVar("CHARGE_API_TOKEN_URL"), base_url=dg.EnvVar("CHARGE_API_BASE_URL"),
                             client_id=dg.EnvVar("CHARGE_API_CLIENT_ID"),
                             client_secret=dg.EnvVar("CHARGE_API_CLIENT_SECRET"))
