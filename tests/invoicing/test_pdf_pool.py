"""PDFs rendered in worker processes are the same files as those rendered in-process, and existing ones stay."""

from __future__ import annotations

import pytest

from assets import parallel
from assets.invoicing import pdf
from assets.invoicing.pdf import PdfDocument, render_pdf, write_missing_pdfs


def _payload(customer: str, lines: int) -> dict:
    return {"issuer": {"id": "GB-VLT", "name": "Voltline UK"},
            "customer": {"id": customer, "name": f"Customer {customer}", "kind": "direct"},
            "currency": "GBP", "period_start": "2026-10-01", "period_end": "2026-10-31", "contract": None,
            "vat_treatment": "standard",
            "lines": [{"line_no": n, "description": f"session ocpi:{customer}-{n}", "quantity": "1", "unit": "session",
                       "vat_rate": "20.0", "net": "1.00", "vat": "0.20", "gross": "1.20"} for n in range(1, lines + 1)],
            "vat_summary": [{"vat_rate": "20.0", "net": f"{lines}.00", "vat": f"{lines * 0.2:.2f}",
                             "gross": f"{lines * 1.2:.2f}"}],
            "totals": {"net": f"{lines}.00", "vat": f"{lines * 0.2:.2f}", "gross": f"{lines * 1.2:.2f}"}}


def _documents(root, count: int) -> list[PdfDocument]:
    return [PdfDocument(root / "GB-VLT" / f"GB-VLT-INV-{n:06d}.pdf", f"GB-VLT-INV-{n:06d}", "invoice", "2026-11-01",
                        _payload(f"cust-{n}", 1 + n % 3)) for n in range(1, count + 1)]


def test_pooled_rendering_writes_the_same_bytes_and_skips_existing(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf, "POOLED_DOCUMENTS", 2)
    monkeypatch.setattr(pdf, "DOCUMENTS_PER_TASK", 3)
    monkeypatch.setenv(pdf.PDF_WORKERS_ENV, "2")
    pools = []

    class RecordedPool(pdf.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            pools.append(kwargs["max_workers"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(pdf, "ProcessPoolExecutor", RecordedPool)
    documents = _documents(tmp_path / "pooled", 8)
    kept = documents[0].path
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"issued earlier")  # an issued document's PDF is never replaced
    cpu_before = parallel.worker_cpu_seconds()
    assert write_missing_pdfs(documents) == 7
    assert parallel.worker_cpu_seconds() > cpu_before  # the workers' CPU is counted for the step (benchmarks)
    assert pools == [2]  # rendered by two worker processes, not in-process
    assert kept.read_bytes() == b"issued earlier"
    for doc in documents[1:]:
        assert doc.path.read_bytes() == render_pdf(doc.number, doc.document_type, doc.issued_on, doc.payload)
    assert write_missing_pdfs(documents) == 0  # a re-run writes nothing
    assert sorted(p.name for p in (tmp_path / "pooled" / "GB-VLT").iterdir()) == [d.path.name for d in documents]


def test_few_documents_render_in_process(tmp_path, monkeypatch):
    monkeypatch.setenv(pdf.PDF_WORKERS_ENV, "2")
    monkeypatch.setattr(pdf, "ProcessPoolExecutor", None)  # a pool would fail: below the threshold none starts
    documents = _documents(tmp_path, 3)
    assert write_missing_pdfs(documents) == 3
    assert all(doc.path.exists() for doc in documents)


def test_a_writer_told_of_few_documents_renders_them_a_task_at_a_time(tmp_path, monkeypatch):
    """The export streams the register's documents into a ``PdfWriter``: told how many there are, a month below
    the pool's threshold is rendered in this process a task at a time (one sync a task), never held until the
    end."""
    monkeypatch.setenv(pdf.PDF_WORKERS_ENV, "2")
    monkeypatch.setattr(pdf, "ProcessPoolExecutor", None)
    monkeypatch.setattr(pdf, "DOCUMENTS_PER_TASK", 2)
    documents = _documents(tmp_path, 3)
    with pdf.PdfWriter(expected=len(documents)) as writer:
        writer.add(documents[0])
        assert writer.written == 0 and not documents[0].path.exists()
        writer.add(documents[1])
        assert writer.written == 2 and documents[0].path.exists() and documents[1].path.exists()
        writer.add(documents[2])
        assert writer.written == 2
    assert writer.written == 3 and documents[2].path.exists()


def test_a_batch_of_pdfs_is_synced_once_before_any_is_in_place(tmp_path, monkeypatch):
    """``write_pdfs_once`` writes every new PDF to a hidden temporary file, syncs once, then renames them: a PDF
    is never seen half-written; an existing one is left as it is, and a failed batch leaves no file behind."""
    kept = tmp_path / "kept.pdf"
    kept.write_bytes(b"issued earlier")
    pdfs = [(tmp_path / f"{n}.pdf", f"pdf {n}".encode()) for n in range(3)] + [(kept, b"other")]
    seen_at_sync = []
    monkeypatch.setattr(pdf.os, "sync", lambda: seen_at_sync.append(sorted(p.name for p in tmp_path.iterdir())))
    assert pdf.write_pdfs_once(pdfs) == 3
    tmp = [f".{n}.pdf.tmp-{pdf.os.getpid()}" for n in range(3)]
    assert seen_at_sync == [sorted(tmp + ["kept.pdf"])]  # one sync, before any new PDF had its name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.pdf", "1.pdf", "2.pdf", "kept.pdf"]
    assert (tmp_path / "1.pdf").read_bytes() == b"pdf 1" and kept.read_bytes() == b"issued earlier"
    assert pdf.write_pdfs_once(pdfs) == 0 and len(seen_at_sync) == 1  # nothing new: no sync

    def failing():
        raise OSError("disk full")

    monkeypatch.setattr(pdf.os, "sync", failing)
    with pytest.raises(OSError, match="disk full"):
        pdf.write_pdfs_once([(tmp_path / "new" / "a.pdf", b"a"), (tmp_path / "new" / "b.pdf", b"b")])
    assert list((tmp_path / "new").iterdir()) == []


def test_pool_tasks_are_cut_by_documents_and_by_lines(tmp_path, monkeypatch):
    """A task ends at DOCUMENTS_PER_TASK documents or LINES_PER_TASK lines (a partner's document can have a line
    per session of the month), so the documents in flight are bounded; a document is never split."""
    monkeypatch.setenv(pdf.PDF_WORKERS_ENV, "2")
    monkeypatch.setattr(pdf, "POOLED_DOCUMENTS", 2)
    monkeypatch.setattr(pdf, "DOCUMENTS_PER_TASK", 3)
    monkeypatch.setattr(pdf, "LINES_PER_TASK", 4)
    tasks = []
    monkeypatch.setattr(pdf.PdfWriter, "_submit", lambda writer, task: tasks.append(
        [(doc.number[-2:], len(doc.payload["lines"])) for doc in task]))
    documents = _documents(tmp_path, 7) + [PdfDocument(tmp_path / "big.pdf", "GB-VLT-INV-000099", "invoice",
                                                       "2026-11-01", _payload("big", 9))]
    with pdf.PdfWriter(expected=len(documents)) as writer:
        for doc in documents:
            writer.add(doc)
    # Lines per document: 2, 3, 1, 2, 3, 1, 2, then 9.
    assert tasks == [[("01", 2)], [("02", 3), ("03", 1)], [("04", 2)], [("05", 3), ("06", 1)], [("07", 2)],
                     [("99", 9)]]
