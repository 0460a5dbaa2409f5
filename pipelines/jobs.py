"""Jobs: the nightly settlement over one daily partition, re-settlement of late data, finance's `resettle`,
reference refresh."""

import dagster as dg

from assets.settlement.resettle import resettle_days

# Settlement-side groups: everything keyed by settlement date, downstream of the ingest, through the
# reconciliation and the statements.
SETTLEMENT_GROUPS = ("sessions", "consumption", "pricing", "reconciliation", "settlement", "catalog")

nightly_settlement = dg.define_asset_job(
    name="nightly_settlement",
    selection=dg.AssetSelection.groups("ingest", *SETTLEMENT_GROUPS),
    description="Ingest what landed on day D, then settle the sessions whose settlement date is D.",
)

resettlement = dg.define_asset_job(
    name="resettlement",
    selection=dg.AssetSelection.groups(*SETTLEMENT_GROUPS),
    description="Re-settle day D after late data for it landed (requested by the late-data sensor).",
)

refresh_reference = dg.define_asset_job(
    name="refresh_reference",
    selection=dg.AssetSelection.groups("reference"),
    description="Reload operators and locations (time zones, currencies) from the landing zone.",
)


@dg.job(description="Finance: re-settle one operator's settlement dates (typed config: operator_id, start_date, "
                    "end_date, reason) and record every day's statement totals before and after in settlement_audit.")
def resettle():
    """One op: a `resettlement` run per requested day, oldest first, then the audit rows."""
    resettle_days()
