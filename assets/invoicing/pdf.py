"""Invoice documents as PDF (fpdf2): issuer, customer, period, lines, VAT summary, totals.

The bytes depend only on the document: the creation date is the issue date (midnight UTC), the producer
string is fixed and fpdf2 derives the file id from the content and that date, so rendering an issued document again gives the same file.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF

TITLES = {"invoice": "INVOICE", "credit_note": "CREDIT NOTE", "pro_forma": "PRO FORMA INVOICE"}
TREATMENT_NOTES = {"reverse_charge": "VAT reverse charge: the customer accounts for the VAT (0 % charged).",
                   "exempt": "Exempt from VAT."}


def _latin(text: str) -> str:
    """The core PDF fonts cover Latin-1 only; anything else is replaced, never dropped silently."""
    return text.encode("latin-1", errors="replace").decode("latin-1")


def _fitted_cell(pdf: FPDF, width: float, text: str, align: str, size: float = 7, smallest: float = 4.5) -> None:
    """One table cell; a long text is set smaller until it fits, so nothing is clipped (one line per row keeps
    rendering fast: fpdf2's wrapping tables take seconds for a long invoice)."""
    while size > smallest:
        pdf.set_font("Helvetica", size=size)
        if pdf.get_string_width(text) <= width - 2 * pdf.c_margin:
            break
        size -= 0.5
    pdf.set_font("Helvetica", size=size)
    pdf.cell(width, 4.5, text, border=1, align=align)
    pdf.set_font("Helvetica", size=7)


def render_pdf(number: str, document_type: str, issued_on: str, doc: dict, credits_number: str | None = None) -> bytes:
    """One document as PDF bytes."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_creation_date(dt.datetime.fromisoformat(issued_on).replace(tzinfo=dt.timezone.utc))
    pdf.set_producer("ChargeLedger")
    pdf.set_title(f"{TITLES[document_type]} {number}")
    pdf.set_author(_latin(doc["issuer"]["name"]))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    currency = doc["currency"]
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin(f"{TITLES[document_type]} {number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    header = [
        f"Issuer: {doc['issuer']['name']} ({doc['issuer']['id']})",
        f"Customer: {doc['customer']['name']} ({doc['customer']['id']}, {doc['customer']['kind']})",
        f"Issue date: {issued_on}",
        f"Period: {doc['period_start']} to {doc['period_end']}",
        f"Currency: {currency}",
    ]
    if doc.get("contract"):
        header.append(f"Contract: {doc['contract']}")
    if credits_number:
        header.append(f"Credits invoice {credits_number}")
    for text in header:
        pdf.cell(0, 5, _latin(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (8, 112, 22, 12, 18, 18)
    aligns = ("R", "L", "R", "R", "R", "R")
    pdf.set_font("Helvetica", "B", 7)
    for text, width, align in zip(("#", "Description", "Quantity", "VAT %", f"Net {currency}", f"VAT {currency}"),
                                  widths, aligns):
        pdf.cell(width, 5, text, border=1, align=align)
    pdf.ln()
    for line in doc["lines"]:
        values = (str(line["line_no"]), _latin(line["description"]), f"{line['quantity']} {line['unit']}",
                  line["vat_rate"], line["net"], line["vat"])
        for text, width, align in zip(values, widths, aligns):
            _fitted_cell(pdf, width, text, align)
        pdf.ln()
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(0, 6, "VAT summary", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    for row in doc["vat_summary"]:
        pdf.cell(0, 5, f"VAT {row['vat_rate']} %: net {row['net']} {currency}, VAT {row['vat']} {currency}, "
                       f"gross {row['gross']} {currency}", new_x="LMARGIN", new_y="NEXT")
    note = TREATMENT_NOTES.get(doc.get("vat_treatment", "standard"))
    if note:
        pdf.cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 10)
    totals = doc["totals"]
    for label, key in (("Total net", "net"), ("Total VAT", "vat"), ("Total gross", "gross")):
        pdf.cell(0, 6, f"{label}: {totals[key]} {currency}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def write_pdf_once(path: Path, content: bytes) -> bool:
    """Write an issued document's PDF unless it exists (issued documents never change); True when written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return True


@dataclass(frozen=True)
class PdfDocument:
    """What ``render_pdf`` needs of one issued document, and where its PDF goes."""

    path: Path
    number: str
    document_type: str
    issued_on: str
    payload: dict
    credits_number: str | None = None


# Rendering is pure Python (fpdf2, ~2-3 ms a document): a month of a large operator has tens of thousands of
# documents, so they are rendered on every core. A worker costs ~2.5 CPU-s to start (it imports the package),
# so a few documents are rendered in-process. ``CHARGELEDGER_PDF_WORKERS`` sets the workers (1: in-process).
PDF_WORKERS_ENV = "CHARGELEDGER_PDF_WORKERS"
POOLED_DOCUMENTS = 2_000
DOCUMENTS_PER_TASK = 250


def pdf_workers() -> int:
    """Workers for rendering: ``$CHARGELEDGER_PDF_WORKERS``, default the cores this process may use."""
    configured = os.environ.get(PDF_WORKERS_ENV)
    return max(1, int(configured)) if configured else len(os.sched_getaffinity(0))


def _write_documents(documents: list[PdfDocument]) -> int:
    """Render and write each document's PDF (``write_pdf_once``: never over an existing one); how many were
    written."""
    return sum(write_pdf_once(doc.path, render_pdf(doc.number, doc.document_type, doc.issued_on, doc.payload,
                                                   doc.credits_number))
               for doc in documents)


def write_missing_pdfs(documents: list[PdfDocument]) -> int:
    """Write the PDF of every document that has none yet (an issued document's PDF is written once and never
    replaced); many documents are rendered in worker processes (the bytes do not depend on where). Returns how
    many were written."""
    missing = [doc for doc in documents if not doc.path.exists()]
    workers = pdf_workers()
    if workers <= 1 or len(missing) < POOLED_DOCUMENTS:
        return _write_documents(missing)
    tasks = [missing[start:start + DOCUMENTS_PER_TASK] for start in range(0, len(missing), DOCUMENTS_PER_TASK)]
    # spawn, not fork: the parent runs polars' thread pool, which must not be forked.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return sum(pool.map(_write_documents, tasks))
