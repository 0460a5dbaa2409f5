"""One month of invoicing, outside Dagster: draft from the warehouse, issue through the register, export the
register's documents to the warehouse tables and PDFs. The asset and the late-data sensor both call it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from assets.invoicing import register
from assets.invoicing.drafting import Uninvoiced, draft_month
from assets.invoicing.pdf import PdfDocument, write_missing_pdfs
from assets.invoicing.tables import INVOICE_FLAGS, INVOICE_LINES, INVOICE_VAT, INVOICES, UNINVOICED_SESSIONS
from assets.partner_settlement import inputs
from assets.partner_settlement.assets import read_contracts
from assets.partner_settlement.vat import issuer_vat_rates
from assets.settlement.vat import tariff_rates
from resources.warehouse import WarehouseResource

DOCUMENTS_DIR = "documents"


def drafts_for(warehouse: WarehouseResource, first: dt.date, last: dt.date, direct_line_mode: str = "session"):
    """(drafts, uninvoiced) of the month from what the warehouse holds now."""
    operators = warehouse.read("operators")
    issuers = dict(operators.select("operator_id", "name").iter_rows())
    tariffs = warehouse.read("tariffs")
    return draft_month(first, last, inputs.month_sessions(warehouse, first, last),
                       inputs.month_priced(warehouse, first, last), read_contracts(warehouse), issuers,
                       inputs.partner_names(warehouse), direct_line_mode,
                       dict(tariffs.select("tariff_id", "tax_included").iter_rows()), issuer_vat_rates(operators),
                       tariff_rates(dict(tariffs.select("tariff_id", "tariff_json").iter_rows())))


def pdf_relative_path(doc: register.Issued, month: dt.date) -> str:
    issuer = doc.payload["issuer"]["id"]
    return f"{DOCUMENTS_DIR}/invoices/{issuer}/{month:%Y-%m}/{doc.number}.pdf"


def export_month(warehouse: WarehouseResource, first: dt.date, uninvoiced: list[Uninvoiced]) -> dict[str, pl.DataFrame]:
    """Write the month's tables from the register and any missing PDF; returns the frames written."""
    docs = register.month_documents(warehouse.registers_dir, first.isoformat())
    root = warehouse.root_path
    heads, lines, vat, pdfs = [], [], [], []
    for doc in docs:
        p = doc.payload
        path = pdf_relative_path(doc, first)
        pdfs.append(PdfDocument(root / path, doc.number, doc.document_type, doc.issued_on, p, doc.credits_number))
        heads.append({"number": doc.number, "document_type": doc.document_type, "status": doc.status,
                      "issuer_id": p["issuer"]["id"], "issuer_name": p["issuer"]["name"],
                      "customer_kind": p["customer"]["kind"], "customer_id": p["customer"]["id"],
                      "customer_name": p["customer"]["name"], "currency": p["currency"],
                      "period_start": dt.date.fromisoformat(p["period_start"]),
                      "period_end": dt.date.fromisoformat(p["period_end"]),
                      "issued_on": dt.date.fromisoformat(doc.issued_on), "credits_number": doc.credits_number,
                      "credited_by": doc.credited_by, "contract": p["contract"], "vat_treatment": p["vat_treatment"],
                      "line_mode": p["line_mode"], "line_count": len(p["lines"]), "session_count": len(p["session_ids"]),
                      "net_total": p["totals"]["net"], "vat_total": p["totals"]["vat"], "gross_total": p["totals"]["gross"],
                      "content_hash": doc.content_hash, "pdf_path": path})
        for line in p["lines"]:
            lines.append({"number": doc.number, **{k: line[k] for k in ("line_no", "description", "session_id",
                          "location_id", "quantity", "unit", "energy_wh", "vat_rate", "net", "vat", "gross")}})
        vat += [{"number": doc.number, **row} for row in p["vat_summary"]]
    flags = [{k: f[k] for k in ("flag_id", "number", "reason", "detected_at", "resolved_by")}
             | {"settlement_date": dt.date.fromisoformat(f["settlement_date"]) if f["settlement_date"] else None}
             for f in register.month_flags(warehouse.registers_dir, first.isoformat())]
    skipped = [{"session_id": u.session_id, "operator_id": u.operator_id, "reason_code": u.reason_code,
                "reason": u.reason} for u in uninvoiced]
    write_missing_pdfs(pdfs)
    frames = {}
    for spec, rows in ((INVOICES, heads), (INVOICE_LINES, lines), (INVOICE_VAT, vat), (INVOICE_FLAGS, flags),
                       (UNINVOICED_SESSIONS, skipped)):
        frames[spec.name] = _frame(spec, rows)
        warehouse.write_partition(spec, frames[spec.name], billing_month=first)
    return frames


def _frame(spec, rows: list[dict]) -> pl.DataFrame:
    schema = {c: t for c, t in spec.schema.items() if c != "billing_month"}
    if not rows:
        return pl.DataFrame(schema=schema)
    # Decimal columns arrive as exact text; cast from String keeps every digit.
    text = pl.DataFrame(rows, schema={c: (pl.String() if isinstance(t, pl.Decimal) else t) for c, t in schema.items()},
                        orient="row")
    return text.with_columns([pl.col(c).cast(t) for c, t in schema.items() if isinstance(t, pl.Decimal)])


def invoice_month(warehouse: WarehouseResource, first: dt.date, last: dt.date, issued_on: dt.date,
                  document_type: str = "invoice", direct_line_mode: str = "session"):
    """Draft, issue (one register transaction) and export one month; returns (outcome, frames)."""
    drafts, uninvoiced = drafts_for(warehouse, first, last, direct_line_mode)
    outcome = register.issue_month(warehouse.registers_dir, first.isoformat(), drafts, issued_on, document_type)
    return outcome, export_month(warehouse, first, uninvoiced)


def billed_session_ids(warehouse: WarehouseResource, first: dt.date, document_type: str) -> list[str]:
    """Session ids on the month's live documents of one type, as the register holds them (duplicates kept)."""
    return [sid for doc in register.month_documents(warehouse.registers_dir, first.isoformat())
            if doc.document_type == document_type and doc.status == "issued" for sid in doc.payload["session_ids"]]


def flag_stale_invoices(warehouse: WarehouseResource, first: dt.date, last: dt.date, changed_day: dt.date | None,
                        detected_at: str) -> list[int]:
    """Flag the month's live invoices whose content no longer matches the data (LATE_DATA); returns new flag ids.

    A customer who has a live invoice but no draft any more, or whose draft differs, is flagged; a customer
    who is new in the month has no invoice to flag and is simply invoiced by the next run.
    """
    live = register.live_hashes(warehouse.registers_dir, first.isoformat())
    if not live:
        return []
    # Draft the way the month was invoiced: the direct customers' line mode is on their documents.
    mode = next((d.payload["line_mode"] for d in register.month_documents(warehouse.registers_dir, first.isoformat())
                 if d.document_type == "invoice" and d.status == "issued" and d.payload["customer"]["kind"] == "direct"),
                "session")
    drafts, _ = drafts_for(warehouse, first, last, mode)
    current = {d.customer_key: d.content_hash for d in drafts}
    stale = [number for key, (number, h) in live.items() if current.get(key) != h]
    return register.flag(warehouse.registers_dir, first.isoformat(), stale,
                         changed_day.isoformat() if changed_day else None, "LATE_DATA", detected_at)
