"""Jobs: the nightly settlement over one daily partition, re-settlement of late data, reference refresh."""

import dagster as dg

# Settlement-side groups: everything keyed by settlement date, downstream of the ingest.
SETTLEMENT_GROUPS = ("sessions", "consumption", "pricing", "settlement", "catalog")

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
