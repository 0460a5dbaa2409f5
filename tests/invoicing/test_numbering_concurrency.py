"""Invoice numbering under concurrent runs: several processes issue at once; no gap, no duplicate, no reuse.

Each worker process issues 15 drafts for its own month and the same 10 drafts for a shared month. The shared
month must end with 10 documents (the other runs find them unchanged), and GB-VLT's INV numbers must be
exactly 1..(4 × 15 + 10), each used once.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
from pathlib import Path

from assets.invoicing import register
from assets.invoicing.drafting import content_hash

WORKERS = 4
OWN = 15
SHARED = 10


def _drafts(month: str, count: int) -> list[register.Draft]:
    drafts = []
    for n in range(count):
        payload = {"customer": f"cust-{n}", "month": month, "lines": [], "vat_summary": [],
                   "totals": {"net": "1.00", "vat": "0.20", "gross": "1.20"}}
        drafts.append(register.Draft("GB-VLT", f"GB-VLT|direct|cust-{n:03d}|GBP", content_hash(payload), payload))
    return drafts


def _worker(registers_dir: str, worker: int, start: multiprocessing.Event) -> None:
    start.wait()
    own_month = f"2026-{worker + 1:02d}-01"
    for month, count in ((own_month, OWN), ("2026-10-01", SHARED)):
        register.issue_month(Path(registers_dir), month, _drafts(month, count), dt.date(2026, 11, 1))


def test_concurrent_processes_never_skip_or_reuse_a_number(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    workers = [ctx.Process(target=_worker, args=(str(tmp_path), w, start)) for w in range(WORKERS)]
    for p in workers:
        p.start()
    start.set()
    for p in workers:
        p.join(120)
        assert p.exitcode == 0
    with sqlite3.connect(tmp_path / register.REGISTER_FILE) as con:
        seqs = [r[0] for r in con.execute("SELECT seq FROM documents WHERE issuer = 'GB-VLT' AND series = 'INV' ORDER BY seq")]
        per_month = dict(con.execute("SELECT billing_month, count(*) FROM documents GROUP BY 1"))
        counter = con.execute("SELECT last_number FROM counters WHERE issuer = 'GB-VLT' AND series = 'INV'").fetchone()[0]
    total = WORKERS * OWN + SHARED
    assert seqs == list(range(1, total + 1))
    assert counter == total
    assert per_month["2026-10-01"] == SHARED
    assert all(per_month[f"2026-{w + 1:02d}-01"] == OWN for w in range(WORKERS))
    numbers = [d.number for m in per_month for d in register.month_documents(tmp_path, m)]
    assert len(numbers) == len(set(numbers)) == total
