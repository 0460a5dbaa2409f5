"""The jobs that span domains: the nightly settlement over one daily partition, re-settlement of late data,
finance's `resettle` and `monthly_invoicing`, which closes a month. `defs` holds them; a job of one domain is in that domain's package (`refresh_reference` in
assets/reference, the API jobs in assets/ingest/platform and assets/ingest/eevion, `monthly_settlement` in
assets/settlement), and the schedules and sensors that start jobs are in sensors/."""

import dagster as dg

from assets.memory import release_after_step
from assets.settlement.assets import MONTHLY_GROUP
from assets.settlement.resettle import resettle_days

# Settlement-side groups: everything keyed by settlement date, downstream of the ingest, through the
# reconciliation and the statements.
SETTLEMENT_GROUPS = ("sessions", "consumption", "pricing", "reconciliation", "settlement", "catalog")

nightly_settlement = dg.define_asset_job(
    name="nightly_settlement",
    hooks=release_after_step,
    selection=dg.AssetSelection.groups("ingest", *SETTLEMENT_GROUPS),
    description="Ingest what landed on day D, then settle the sessions whose settlement date is D.",
)

resettlement = dg.define_asset_job(
    name="resettlement",
    hooks=release_after_step,
    selection=dg.AssetSelection.groups(*SETTLEMENT_GROUPS),
    description="Re-settle day D after late data for it landed (requested by the late-data sensor).",
)

monthly_invoicing = dg.define_asset_job(
    name="monthly_invoicing",
    hooks=release_after_step,
    selection=dg.AssetSelection.groups(MONTHLY_GROUP)
    | dg.AssetSelection.assets("partner_contracts", "partner_settlements", "invoices"),
    description="Close month M: the month's settlement statement and station report, contracts from the landing "
                "zone, partner settlements under them, then the invoices, credit notes and PDFs.",
)


@dg.job(description="Finance: re-settle one operator's settlement dates (typed config: operator_id, start_date, "
                    "end_date, reason) and record every day's statement totals before and after in settlement_audit.")
def resettle():
    """One op: a `resettlement` run per requested day, oldest first, then the audit rows."""
    resettle_days()


defs = dg.Definitions(jobs=[nightly_settlement, resettlement, monthly_invoicing, resettle])
