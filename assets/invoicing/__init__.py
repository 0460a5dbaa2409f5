"""Invoicing: monthly invoices, credit notes and pro formas per issuer and customer, numbered in the invoice
register (SQLite, one writer), exported to `invoices`, `invoice_lines`, `invoice_vat`, `invoice_flags`,
`uninvoiced_sessions` and rendered as PDF under the warehouse's `documents/`."""

from __future__ import annotations

import dagster as dg
import polars as pl

from assets.invoicing.assets import invoices
from assets.invoicing.tables import TABLES
from resources.warehouse import WarehouseResource

defs = dg.Definitions(assets=[invoices])


def invoice_lines(warehouse: WarehouseResource) -> list[str]:
    """The demo summary's invoicing section: documents per type, totals per currency, where the PDFs are."""
    docs = warehouse.read("invoices")
    if docs.is_empty():
        return ["Invoices: none issued yet (run monthly_invoicing for a closed month)"]
    lines = [f"Invoices: {docs.height} documents, PDFs under {warehouse.root_path / 'documents' / 'invoices'}"]
    for month, kind, status, n in (docs.group_by("billing_month", "document_type", "status").len()
                                     .sort("billing_month", "document_type", "status").iter_rows()):
        lines.append(f"  {month:%Y-%m} {kind} ({status}): {n}")
    live = docs.filter((pl.col("document_type") == "invoice") & (pl.col("status") == "issued"))
    totals = (live.group_by("currency", "customer_kind")
              .agg(pl.len(), pl.col("net_total").sum(), pl.col("vat_total").sum(), pl.col("gross_total").sum())
              .sort("currency", "customer_kind"))
    for currency, kind, n, net, vat, gross in totals.iter_rows():
        lines.append(f"  {currency} {kind}: {n} invoices, net {net:.2f} + VAT {vat:.2f} = {gross:.2f}")
    skipped = warehouse.read("uninvoiced_sessions")
    for (code, n) in skipped.group_by("reason_code").len().sort("reason_code").iter_rows():
        lines.append(f"  not invoiced, {code}: {n} sessions")
    return lines


__all__ = ["TABLES", "defs", "invoice_lines", "invoices"]
