"""Monthly invoicing: the `monthly_invoicing` job (partner settlements + invoices, monthly partitions) and its
schedule on the 1st of each month for the month before, plus the late-data sensor that flags issued invoices.

The schedule's run key is the month, so it invoices a month once; a later run for the same month (requested by
the late-data sensor or by hand) re-issues only what changed: credit note + new invoice.
"""

import dagster as dg

from assets.partner_settlement.months import monthly
from sensors.late_data import build_invoice_late_data_sensor

monthly_invoicing = dg.define_asset_job(
    name="monthly_invoicing",
    selection=dg.AssetSelection.assets("partner_contracts", "partner_settlements", "invoices"),
    partitions_def=monthly,
    description="Close month M: contracts from the landing zone, partner settlements under the contracts, then the invoices, credit notes and PDFs.",
)

monthly_invoicing_schedule = dg.build_schedule_from_partitioned_job(
    monthly_invoicing, name="monthly_invoicing_schedule", hour_of_day=6, minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
"""Runs at 06:00 UTC on the 1st for the month just ended (the last complete partition), after the nightly
settlement of that month's last day in every operator zone (the latest zone, Toronto, ends it at 05:00 UTC)."""

defs = dg.Definitions(jobs=[monthly_invoicing], schedules=[monthly_invoicing_schedule],
                      sensors=[build_invoice_late_data_sensor(monthly_invoicing)])
