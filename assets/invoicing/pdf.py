"""Invoice documents as PDF (fpdf2): issuer, customer, period, lines, VAT summary, totals.

The bytes depend only on the document: the creation date is the issue date (midnight UTC), the producer
string is fixed and fpdf2 derives the file id from the content and that date, so rendering an issued document again gives the same file.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF

from assets.parallel import count_worker_cpu, timed

TITLES = {"invoice": "INVOICE", "credit_note": "CREDIT NOTE", "pro_forma": "PRO FORMA INVOICE"}
TREATMENT_NOTES = {"reverse_charge": "VAT reverse charge: the customer accounts for the VAT (0 % charged).",
                   "exempt": "Exempt from VAT."}


def _latin(text: str) -> str:
    """The core PDF fonts cover Latin-1 only; anything else is replaced, never dropped silently."""
    return text.encode("latin-1", errors="replace").decode("latin-1")


ROW_HEIGHT = 4.5
LINE_HEIGHT = 5


def _text_width(pdf: FPDF, text: str) -> float:
    """``pdf.get_string_width(text)`` of Latin-1 text in a core font without character spacing or stretching (all
    these documents use), from the font's width table: fpdf2's own goes through its text shaping on every call,
    which was a third of a document's rendering."""
    if pdf.current_font.type != "core" or pdf.char_spacing or pdf.font_stretching != 100:
        return pdf.get_string_width(text)
    return pdf.current_font.get_text_width(text, pdf.font_size_pt, None)[1] / pdf.k


def _fitted_size(pdf: FPDF, text: str, width: float, size: float = 7, smallest: float = 4.5) -> float:
    """The font size at which ``text`` fits ``width`` inside the cell padding: a long text is set smaller until
    it fits (at ``smallest`` it is set anyway), so nothing is clipped."""
    while size > smallest:
        pdf.set_font_size(size)
        if _text_width(pdf, text) <= width - 2 * pdf.c_margin:
            return size
        size -= 0.5
    return smallest


def _table_row(pdf: FPDF, values: tuple[str, ...], widths: tuple[float, ...], aligns: tuple[str, ...],
               fitted: bool = True, height: float = ROW_HEIGHT) -> None:
    """One bordered table row at the left margin, each value left- or right-aligned in its cell, on a new page
    when it would cross the bottom margin.

    Drawn as a rectangle and a text per cell rather than with ``FPDF.cell``: fpdf2's cell lays out styled text
    (~90 us a cell against ~15 us), and a month of a large operator has tens of thousands of documents. The
    text sits where ``cell`` puts it: the padding from the edge, its baseline 0.3 font sizes below the middle.
    """
    if pdf.will_page_break(height):
        pdf.add_page()
    x, y = pdf.l_margin, pdf.get_y()
    size = pdf.font_size_pt
    for text, width, align in zip(values, widths, aligns):
        if fitted:
            pdf.set_font_size(_fitted_size(pdf, text, width, size))
        pdf.rect(x, y, width, height)
        left = x + pdf.c_margin if align == "L" else x + width - pdf.c_margin - _text_width(pdf, text)
        pdf.text(left, y + height / 2 + 0.3 * pdf.font_size, text)
        x += width
    pdf.set_font_size(size)
    pdf.set_xy(pdf.l_margin, y + height)


def _text_line(pdf: FPDF, text: str, height: float = LINE_HEIGHT) -> None:
    """One line of text at the left margin (as ``cell(0, height, text)`` then a new line would put it)."""
    if pdf.will_page_break(height):
        pdf.add_page()
    y = pdf.get_y()
    pdf.text(pdf.l_margin + pdf.c_margin, y + height / 2 + 0.3 * pdf.font_size, text)
    pdf.set_xy(pdf.l_margin, y + height)


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
    _text_line(pdf, _latin(f"{TITLES[document_type]} {number}"), height=10)
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
        _text_line(pdf, _latin(text))
    pdf.ln(4)
    widths = (8, 112, 22, 12, 18, 18)
    aligns = ("R", "L", "R", "R", "R", "R")
    pdf.set_font("Helvetica", "B", 7)
    _table_row(pdf, ("#", "Description", "Quantity", "VAT %", f"Net {currency}", f"VAT {currency}"), widths, aligns,
               fitted=False, height=LINE_HEIGHT)
    pdf.set_font("Helvetica", size=7)
    for line in doc["lines"]:
        _table_row(pdf, (str(line["line_no"]), _latin(line["description"]), f"{line['quantity']} {line['unit']}",
                         line["vat_rate"], line["net"], line["vat"]), widths, aligns)
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 9)
    _text_line(pdf, "VAT summary", height=6)
    pdf.set_font("Helvetica", size=9)
    for row in doc["vat_summary"]:
        _text_line(pdf, f"VAT {row['vat_rate']} %: net {row['net']} {currency}, VAT {row['vat']} {currency}, "
                        f"gross {row['gross']} {currency}")
    note = TREATMENT_NOTES.get(doc.get("vat_treatment", "standard"))
    if note:
        _text_line(pdf, note)
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 10)
    totals = doc["totals"]
    for label, key in (("Total net", "net"), ("Total VAT", "vat"), ("Total gross", "gross")):
        _text_line(pdf, f"{label}: {totals[key]} {currency}", height=6)
    return bytes(pdf.output())


def write_pdfs_once(pdfs: list[tuple[Path, bytes]]) -> int:
    """Write each (path, PDF bytes) whose file does not exist yet (issued documents never change); how many were
    written.

    Each goes to a hidden temporary file first; the disks are synced once for all of them, then each is renamed into
    place. So a PDF is never seen half-written, even after a crash (an unfinished batch leaves hidden temporary
    files, and its documents are written again by the next run), and a batch costs one sync, not an fsync a file:
    on a month of 69,000 documents those fsyncs (0.4 ms of wall each) were 29 % of the rendering workers' time.
    """
    staged: dict[Path, Path] = {}  # final path -> its temporary file, not yet renamed
    try:
        for path, content in pdfs:
            if path in staged or path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            staged[path] = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            staged[path].write_bytes(content)
        if staged:
            os.sync()
        written = len(staged)
        while staged:
            path, tmp = staged.popitem()
            os.replace(tmp, path)
    finally:
        for tmp in staged.values():  # an error: no temporary file is left behind
            tmp.unlink(missing_ok=True)
    return written


@dataclass(frozen=True)
class PdfDocument:
    """What ``render_pdf`` needs of one issued document, and where its PDF goes."""

    path: Path
    number: str
    document_type: str
    issued_on: str
    payload: dict
    credits_number: str | None = None


# Rendering is pure Python (fpdf2, ~2 ms of CPU a document, written and synced): a month of a large operator has
# tens of thousands of documents, so they are rendered on every core. A worker costs ~2.5 CPU-s to start (it
# imports the package), so a few documents are rendered in-process. ``CHARGELEDGER_PDF_WORKERS`` sets the workers
# (1: in-process).
PDF_WORKERS_ENV = "CHARGELEDGER_PDF_WORKERS"
POOLED_DOCUMENTS = 2_000
DOCUMENTS_PER_TASK = 250
LINES_PER_TASK = 5_000


def pdf_workers() -> int:
    """Workers for rendering: ``$CHARGELEDGER_PDF_WORKERS``, default the cores this process may use."""
    configured = os.environ.get(PDF_WORKERS_ENV)
    return max(1, int(configured)) if configured else len(os.sched_getaffinity(0))


def _write_documents(documents: list[PdfDocument]) -> int:
    """Render and write the PDF of each document that has none (``write_pdfs_once``); how many were written."""
    return write_pdfs_once([(doc.path, render_pdf(doc.number, doc.document_type, doc.issued_on, doc.payload,
                                                  doc.credits_number))
                            for doc in documents if not doc.path.exists()])


class PdfWriter:
    """Writes the PDF of each document it is given that has none yet (an issued document's PDF is written once and
    never replaced), as they come, in tasks of at most ``DOCUMENTS_PER_TASK`` documents and, unless one document
    alone has more, ``LINES_PER_TASK`` lines, each task synced once (``write_pdfs_once``): a few in this process;
    past ``POOLED_DOCUMENTS`` missing ones, in worker processes (the bytes do not depend on where), with at most two
    tasks per worker in flight. So the documents held at a time are bounded (a partner's document can have a line
    per session of the month). ``expected``: how many documents will be given, when known: then the choice is made
    at once (fewer than ``POOLED_DOCUMENTS`` are rendered here as their tasks fill, more go to the pool from the
    first), instead of holding the first ``POOLED_DOCUMENTS`` to decide. ``written``: how many were written, once
    closed."""

    def __init__(self, expected: int | None = None) -> None:
        self.workers = pdf_workers()
        self.in_process = self.workers <= 1 or (expected is not None and expected < POOLED_DOCUMENTS)
        self._pooled = not self.in_process and expected is not None
        self.written = 0
        self._waiting: list[PdfDocument] = []
        self._pool: ProcessPoolExecutor | None = None
        self._running: deque[Future] = deque()

    def __enter__(self) -> PdfWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        elif self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def add(self, document: PdfDocument) -> None:
        if document.path.exists():
            return
        self._waiting.append(document)
        if not self.in_process and not self._pooled and len(self._waiting) >= POOLED_DOCUMENTS:
            self._pooled = True
        if self.in_process or self._pooled:
            self._submit_full_tasks()

    def _submit_full_tasks(self, everything: bool = False) -> None:
        """Cut the waiting documents into tasks and submit them; the rest of a task not yet full waits, unless
        ``everything``."""
        task, lines = [], 0
        for document in self._waiting:
            count = len(document.payload.get("lines") or ())
            if task and (len(task) >= DOCUMENTS_PER_TASK or lines + count > LINES_PER_TASK):
                self._submit(task)
                task, lines = [], 0
            task.append(document)
            lines += count
        full = len(task) >= DOCUMENTS_PER_TASK or lines >= LINES_PER_TASK
        if task and (everything or full):
            self._submit(task)
            task = []
        self._waiting = task

    def _submit(self, task: list[PdfDocument]) -> None:
        """Write a task's PDFs: in this process, or on the pool."""
        if not self._pooled:
            self.written += _write_documents(task)
            return
        if self._pool is None:
            # spawn, not fork: the parent runs polars' thread pool, which must not be forked.
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        while len(self._running) >= 2 * self.workers:
            self._collect(self._running.popleft())
        self._running.append(self._pool.submit(timed, _write_documents, task))

    def _collect(self, future: Future) -> None:
        written, cpu = future.result()
        self.written += written
        # The workers' CPU belongs to the step that issued the documents (``parallel.worker_cpu_seconds``).
        count_worker_cpu(cpu)

    def close(self) -> None:
        """Write what is left and wait for the workers."""
        self._submit_full_tasks(everything=True)  # in this process unless pooled
        while self._running:
            self._collect(self._running.popleft())
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def write_missing_pdfs(documents: Iterable[PdfDocument]) -> int:
    """``PdfWriter`` over ``documents``; how many PDFs were written."""
    with PdfWriter() as writer:
        for document in documents:
            writer.add(document)
    return writer.written
