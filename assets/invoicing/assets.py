"""The monthly `invoices` asset: issue the month's invoices through the register and export them."""


import datetime as dt
from typing import Literal

import dagster as dg
import polars as pl

from assets.catalog.incremental import refresh_catalog_if_changed
from assets.checks import schema_result
from assets.invoicing.issue import invoice_month
from assets.partner_settlement.inputs import month_sessions
from assets.invoicing.tables import INVOICES
from assets.partner_settlement.months import month_bounds, monthly
from resources.warehouse import WarehouseResource

REGISTER_POOL = "invoice_register"
TOTALS_ADD_UP = "lines_add_up"
EVERY_SESSION = "every_session_billed_once_or_explained"


class InvoicingConfig(dg.Config):
    """How the month is invoiced."""

    document_type: Literal["invoice", "pro_forma"] = "invoice"
    """invoice (numbered, immutable, credited when the data changes) or pro_forma (a preview, superseded)."""
    direct_line_mode: Literal["session", "aggregated"] = "session"
    """Lines of direct customers' invoices: one per session, or one per location and VAT rate (partners follow
    their contract). Changing it for an already invoiced month re-issues its invoices (credit note + invoice)."""
    issued_on: str = ""
    """Issue date of new documents (YYYY-MM-DD); empty = today (UTC)."""


def _totals_check(docs: pl.DataFrame, line_sums: pl.DataFrame) -> dg.AssetCheckResult:
    """Each document's totals against the sums of its lines (``line_sums``: number, net, vat)."""
    sums = line_sums.rename({"net": "n", "vat": "v"})
    joined = docs.join(sums, on="number", how="left")
    bad = joined.filter((pl.col("n").fill_null(0) != pl.col("net_total")) | (pl.col("v").fill_null(0) != pl.col("vat_total"))
                        | (pl.col("net_total") + pl.col("vat_total") != pl.col("gross_total")))
    return dg.AssetCheckResult(check_name=TOTALS_ADD_UP, passed=bad.is_empty(), severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"documents": docs.height, "documents_not_adding_up": bad.height})


@dg.asset(
    partitions_def=monthly, group_name="invoicing", pool=REGISTER_POOL,
    deps=["sessions", "priced_sessions", "operators", "partners", "partner_contracts", "partner_settlements"],
    check_specs=[
        dg.AssetCheckSpec(TOTALS_ADD_UP, asset="invoices",
                          description="Each document's totals are the sums of its rounded lines and net + VAT = gross."),
        dg.AssetCheckSpec("schema", asset="invoices", description="Unique numbers; credit notes name their invoice."),
        dg.AssetCheckSpec(EVERY_SESSION, asset="invoices",
                          description="Every session of the month is on exactly one live document of the run's type "
                                      "or in uninvoiced_sessions with a reason: sessions in = billed + not invoiced."),
    ],
    kinds={"sqlite", "pdf", "parquet"},
)
def invoices(context: dg.AssetExecutionContext, config: InvoicingConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Monthly invoices per issuer (operator) and customer (eMSP partner or direct customer), numbered gaplessly
    per issuer in one register transaction; lines per session or aggregated, VAT per rate, totals as sums of
    rounded lines; one PDF per document under `documents/invoices/`. An issued invoice never changes: if the
    month's data changed since (late data, re-pricing), the run issues a credit note and a new invoice; otherwise
    a re-run reproduces the same numbers, tables and PDFs. Also writes `invoice_lines`, `invoice_vat`,
    `invoice_flags` and `uninvoiced_sessions` (sessions not billed, with a reason), then refreshes the analyst
    catalog."""
    first, last = month_bounds(context.partition_key)
    issued_on = dt.date.fromisoformat(config.issued_on) if config.issued_on else dt.datetime.now(dt.timezone.utc).date()
    outcome, export = invoice_month(warehouse, first, last, issued_on, config.document_type, config.direct_line_mode)
    docs = export.documents
    live = docs.filter(pl.col("status") == "issued")
    metadata: dict[str, object] = {
        "documents": docs.height, "dagster/row_count": docs.height,
        "issued_this_run": len(outcome.issued), "credit_notes_this_run": len(outcome.credit_notes),
        "unchanged": len(outcome.unchanged), "sessions_not_invoiced": export.uninvoiced.height,
        "new_numbers": dg.MetadataValue.md(_listed(outcome.issued + outcome.credit_notes)),
    }
    for kind, currency, gross in (live.filter(pl.col("document_type") == "invoice")
                                    .group_by("customer_kind", "currency").agg(pl.col("gross_total").sum())
                                    .sort("customer_kind", "currency").iter_rows()):
        metadata[f"invoiced_{kind}_{currency}_incl_vat"] = float(gross)
    context.log.info(f"{context.partition_key}: issued {len(outcome.issued)}, credited {len(outcome.credit_notes)}, "
                     f"unchanged {len(outcome.unchanged)}")
    sessions = month_sessions(warehouse, first, last, ("session_id",)).get_column("session_id").unique().sort()
    billed, skipped = export.billed, export.uninvoiced.get_column("session_id")
    accounted = dg.AssetCheckResult(
        check_name=EVERY_SESSION, severity=dg.AssetCheckSeverity.ERROR,
        passed=billed.n_unique() == billed.len() and len(billed) + len(skipped) == len(sessions)
        and pl.concat([billed, skipped]).unique().sort().equals(sessions),
        metadata={"sessions_in": len(sessions), "sessions_billed": len(billed), "sessions_not_invoiced": len(skipped)})
    metadata["summary"] = dg.MetadataValue.md(_summary_markdown(live))
    # The nightly catalog rebuild runs before a month is invoiced; rebuild it here so analysts see the month's
    # settlements and invoices now (same swap-in-place rebuild as the catalog asset, skipped when unchanged).
    refresh_catalog_if_changed(warehouse)
    return dg.MaterializeResult(metadata=metadata, check_results=[
        _totals_check(docs, export.line_sums), schema_result(INVOICES, docs), accounted])


# Numbers named in the run's metadata: a large operator's month issues hundreds of thousands of documents, which
# belong in the `invoices` table, not in every run's event log.
LISTED_NUMBERS = 100


def _listed(numbers: list[str]) -> str:
    """The new numbers, the first ``LISTED_NUMBERS`` of them and how many more."""
    if not numbers:
        return "none"
    shown = ", ".join(numbers[:LISTED_NUMBERS])
    more = len(numbers) - LISTED_NUMBERS
    return shown if more <= 0 else f"{shown} and {more:,} more (the `invoices` table lists every one)"


def _summary_markdown(live: pl.DataFrame) -> str:
    """Live documents per type, customer kind and currency, with the exact totals."""
    rows = ["| type | customer | currency | documents | net | VAT | gross |", "|---|---|---|---|---|---|---|"]
    totals = (live.group_by("document_type", "customer_kind", "currency")
              .agg(pl.len(), pl.col("net_total").sum(), pl.col("vat_total").sum(), pl.col("gross_total").sum())
              .sort("document_type", "customer_kind", "currency"))
    for kind, customer, currency, n, net, vat, gross in totals.iter_rows():
        rows.append(f"| {kind} | {customer} | {currency} | {n} | {net:.2f} | {vat:.2f} | {gross:.2f} |")
    return "\n".join(rows)
