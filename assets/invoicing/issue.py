"""One month of invoicing, outside Dagster: draft from the warehouse, issue through the register, export the
register's documents to the warehouse tables and PDFs. The asset and the late-data sensor both call it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from assets.invoicing import register
from assets.invoicing.drafting import MonthDrafts, Uninvoiced
from assets.invoicing.pdf import PdfDocument, PdfWriter
from assets.invoicing.tables import INVOICE_FLAGS, INVOICE_LINES, INVOICE_VAT, INVOICES, UNINVOICED_SESSIONS
from assets.partner_settlement import inputs
from assets.partner_settlement.assets import read_contracts
from assets.partner_settlement.vat import issuer_vat_rates
from assets.settlement.vat import tariff_rates
from resources.warehouse import SortedPartsWriter, WarehouseResource

DOCUMENTS_DIR = "documents"


def drafts_for(warehouse: WarehouseResource, first: dt.date, last: dt.date,
               direct_line_mode: str = "session") -> MonthDrafts:
    """The month's drafts (one customer at a time) from what the warehouse holds now; the sessions not invoiced
    are in its `uninvoiced` once they have all been drafted."""
    operators = warehouse.read("operators")
    issuers = dict(operators.select("operator_id", "name").iter_rows())
    tariffs = warehouse.read("tariffs")
    return MonthDrafts(first, last, inputs.scan_month(warehouse, "sessions", first, last),
                       inputs.scan_month(warehouse, "priced_sessions", first, last), read_contracts(warehouse), issuers,
                       inputs.partner_names(warehouse), direct_line_mode,
                       dict(tariffs.select("tariff_id", "tax_included").iter_rows()), issuer_vat_rates(operators),
                       tariff_rates(dict(tariffs.select("tariff_id", "tariff_json").iter_rows())),
                       spill_root=warehouse.spill_root)


def pdf_relative_path(doc: register.Issued, month: dt.date) -> str:
    issuer = doc.payload["issuer"]["id"]
    return f"{DOCUMENTS_DIR}/invoices/{issuer}/{month:%Y-%m}/{doc.number}.pdf"


# Documents exported at once: each batch of the register's documents becomes one part of the invoice tables. A
# batch ends at this many documents or lines, whichever comes first (a document is never split: one of more lines
# is a batch of its own).
EXPORT_BATCH_DOCUMENTS = 2_000
EXPORT_BATCH_LINES = 20_000
LINE_COLUMNS = ("line_no", "description", "session_id", "location_id", "quantity", "unit", "energy_wh", "vat_rate",
                "net", "vat", "gross")


@dataclass
class MonthExport:
    """What `export_month` wrote and what the asset's checks read: the documents (one row each), each document's
    sum of its line nets and VAT (`number`, `net`, `vat`), the sessions not invoiced and the session ids on the
    live documents of the run's type, as the register holds them (duplicates kept)."""

    documents: pl.DataFrame
    line_sums: pl.DataFrame
    uninvoiced: pl.DataFrame
    billed: pl.Series


def _document_rows(doc: register.Issued, path: str) -> tuple[dict, list[dict], list[dict]]:
    """(document row, line rows, VAT rows) of one document as the tables store them."""
    p = doc.payload
    head = {"number": doc.number, "document_type": doc.document_type, "status": doc.status,
            "issuer_id": p["issuer"]["id"], "issuer_name": p["issuer"]["name"],
            "customer_kind": p["customer"]["kind"], "customer_id": p["customer"]["id"],
            "customer_name": p["customer"]["name"], "currency": p["currency"],
            "period_start": dt.date.fromisoformat(p["period_start"]),
            "period_end": dt.date.fromisoformat(p["period_end"]),
            "issued_on": dt.date.fromisoformat(doc.issued_on), "credits_number": doc.credits_number,
            "credited_by": doc.credited_by, "contract": p["contract"], "vat_treatment": p["vat_treatment"],
            "line_mode": p["line_mode"], "line_count": len(p["lines"]), "session_count": len(p["session_ids"]),
            "net_total": p["totals"]["net"], "vat_total": p["totals"]["vat"], "gross_total": p["totals"]["gross"],
            "content_hash": doc.content_hash, "pdf_path": path}
    lines = [{"number": doc.number, **{k: line[k] for k in LINE_COLUMNS}} for line in p["lines"]]
    return head, lines, [{"number": doc.number, **row} for row in p["vat_summary"]]


def export_month(warehouse: WarehouseResource, first: dt.date, uninvoiced: list[Uninvoiced],
                 document_type: str = "invoice") -> MonthExport:
    """Write the month's tables from the register and any missing PDF.

    The register's documents are read in the tables' order (number) a batch at a time; each batch's rows are
    spilled as one part (`SortedPartsWriter`) and its PDFs handed to the renderer, so the month is exported in
    the memory of a batch, not of its documents."""
    month = {"billing_month": first}
    root = warehouse.root_path
    billed: list[pl.Series] = []
    sums: list[pl.DataFrame] = []
    with (SortedPartsWriter(warehouse, INVOICES, month, distinct_groups=True) as heads_out,
          SortedPartsWriter(warehouse, INVOICE_LINES, month, distinct_groups=True) as lines_out,
          SortedPartsWriter(warehouse, INVOICE_VAT, month, distinct_groups=True) as vat_out,
          PdfWriter(register.month_document_count(warehouse.registers_dir, first.isoformat())) as pdfs):
        documents = register.iter_month_documents(warehouse.registers_dir, first.isoformat(), by_number=True)
        for batch in _batches(documents):
            heads, lines, vat, billed_ids = [], [], [], []
            for doc in batch:
                path = pdf_relative_path(doc, first)
                pdfs.add(PdfDocument(root / path, doc.number, doc.document_type, doc.issued_on, doc.payload,
                                     doc.credits_number))
                head, doc_lines, doc_vat = _document_rows(doc, path)
                heads.append(head)
                lines += doc_lines
                vat += doc_vat
                if doc.document_type == document_type and doc.status == "issued":
                    billed_ids += doc.payload["session_ids"]
            billed.append(pl.Series("session_id", billed_ids, dtype=pl.String()))
            heads_out.append(_frame(INVOICES, heads))
            stored = lines_out.append(_frame(INVOICE_LINES, lines))
            sums.append(stored.group_by("number").agg(pl.col("net").sum(), pl.col("vat").sum()))
            vat_out.append(_frame(INVOICE_VAT, vat))
        pdfs.close()  # every PDF is on disk before the tables name them
        for writer in (heads_out, lines_out, vat_out):
            writer.commit()
    flags = [{k: f[k] for k in ("flag_id", "number", "reason", "detected_at", "resolved_by")}
             | {"settlement_date": dt.date.fromisoformat(f["settlement_date"]) if f["settlement_date"] else None}
             for f in register.month_flags(warehouse.registers_dir, first.isoformat())]
    skipped = [{"session_id": u.session_id, "operator_id": u.operator_id, "reason_code": u.reason_code,
                "reason": u.reason} for u in uninvoiced]
    frames = {}
    for spec, rows in ((INVOICE_FLAGS, flags), (UNINVOICED_SESSIONS, skipped)):
        frames[spec.name] = _frame(spec, rows)
        warehouse.write_partition(spec, frames[spec.name], **month)
    line_sums = pl.concat(sums) if sums else _frame(INVOICE_LINES, []).select("number", "net", "vat")
    return MonthExport(warehouse.read(INVOICES, **month).drop("billing_month"), line_sums,
                       frames[UNINVOICED_SESSIONS.name],
                       pl.concat(billed) if billed else pl.Series("session_id", [], dtype=pl.String()))


def _batches(documents: Iterator[register.Issued]) -> Iterator[list[register.Issued]]:
    """``documents`` in batches of at most ``EXPORT_BATCH_DOCUMENTS`` documents and, unless one document alone has
    more, ``EXPORT_BATCH_LINES`` lines."""
    batch, lines = [], 0
    for doc in documents:
        count = len(doc.payload["lines"])
        if batch and (len(batch) >= EXPORT_BATCH_DOCUMENTS or lines + count > EXPORT_BATCH_LINES):
            yield batch
            batch, lines = [], 0
        batch.append(doc)
        lines += count
    if batch:
        yield batch


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
    """Draft, issue (one register transaction, drafting customer by customer inside it) and export one month;
    returns (outcome, export)."""
    drafts = drafts_for(warehouse, first, last, direct_line_mode)
    outcome = register.issue_month(warehouse.registers_dir, first.isoformat(), drafts, issued_on, document_type)
    return outcome, export_month(warehouse, first, drafts.uninvoiced, document_type)


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
    mode = next((d.payload["line_mode"] for d in register.iter_month_documents(warehouse.registers_dir, first.isoformat(),
                                                                                by_number=True)
                 if d.document_type == "invoice" and d.status == "issued" and d.payload["customer"]["kind"] == "direct"),
                "session")
    current = {d.customer_key: d.content_hash for d in drafts_for(warehouse, first, last, mode)}
    stale = [number for key, (number, h) in live.items() if current.get(key) != h]
    return register.flag(warehouse.registers_dir, first.isoformat(), stale,
                         changed_day.isoformat() if changed_day else None, "LATE_DATA", detected_at)
