"""The invoice register: a SQLite file under the warehouse's registers folder, the only place numbers are made.

Every document ever issued is a row here and never changes afterwards, except its `status`
(issued → credited, or superseded for a pro forma) and the number of the document that credited it.
Numbers are sequential per issuer and series with no gap and no reuse:

| series | document type | number |
|---|---|---|
| INV | invoice | `<issuer>-INV-000001` |
| CN | credit note | `<issuer>-CN-000001` |
| PF | pro forma (no legal effect: superseded, not credited, when the data changes or the month is invoiced) | `<issuer>-PF-000001` |

`issue_month` compares a month's drafts with what the register holds and, in ONE `BEGIN IMMEDIATE`
transaction, issues what is new or changed: an unchanged draft keeps its document (so re-running a month
reproduces the same numbers), a changed one gets a credit note for the old invoice plus a new invoice, a
customer who no longer has anything to bill gets a credit note only. SQLite's write lock serialises
concurrent runs (several processes may call it at once; Dagster's `invoice_register` pool keeps it to one
writer in normal operation), so a number is handed out exactly once and the counter never skips.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Iterator

REGISTER_FILE = "invoice_register.sqlite"
SERIES = {"invoice": "INV", "credit_note": "CN", "pro_forma": "PF"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    issuer TEXT NOT NULL, series TEXT NOT NULL, last_number INTEGER NOT NULL,
    PRIMARY KEY (issuer, series));
CREATE TABLE IF NOT EXISTS documents (
    number TEXT PRIMARY KEY, issuer TEXT NOT NULL, series TEXT NOT NULL, seq INTEGER NOT NULL,
    document_type TEXT NOT NULL, billing_month TEXT NOT NULL, customer_key TEXT NOT NULL,
    content_hash TEXT NOT NULL, issued_on TEXT NOT NULL, status TEXT NOT NULL,
    credits_number TEXT, credited_by TEXT, payload TEXT NOT NULL,
    UNIQUE (issuer, series, seq));
CREATE INDEX IF NOT EXISTS documents_month ON documents (billing_month, document_type, status);
-- A month's documents in number order straight from an index: sorting them would hold every payload of the month.
CREATE INDEX IF NOT EXISTS documents_month_number ON documents (billing_month, number);
CREATE TABLE IF NOT EXISTS flags (
    flag_id INTEGER PRIMARY KEY AUTOINCREMENT, number TEXT NOT NULL, billing_month TEXT NOT NULL,
    settlement_date TEXT, reason TEXT NOT NULL, detected_at TEXT NOT NULL, resolved_by TEXT);
"""


@dataclass(frozen=True)
class Draft:
    """What a month's data says one customer should be billed; `payload` is the document without number/date."""

    issuer: str
    customer_key: str  # issuer|kind|customer|currency: one live document per key and month
    content_hash: str
    payload: dict


@dataclass(frozen=True)
class Issued:
    number: str
    document_type: str
    customer_key: str
    status: str
    credits_number: str | None
    credited_by: str | None
    issued_on: str
    content_hash: str
    payload: dict


def register_path(registers_dir: Path) -> Path:
    return Path(registers_dir) / REGISTER_FILE


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=60, isolation_level=None)) as con:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")  # an issued number survives a power cut
        con.executescript(_SCHEMA)
        yield con


@contextmanager
def _transaction(path: Path) -> Iterator[sqlite3.Connection]:
    with _connect(path) as con:
        con.execute("BEGIN IMMEDIATE")  # take the write lock before reading the counters
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def _next_number(con: sqlite3.Connection, issuer: str, series: str) -> tuple[str, int]:
    row = con.execute("SELECT last_number FROM counters WHERE issuer = ? AND series = ?", (issuer, series)).fetchone()
    seq = (row[0] if row else 0) + 1
    con.execute("INSERT INTO counters (issuer, series, last_number) VALUES (?, ?, ?) "
                "ON CONFLICT (issuer, series) DO UPDATE SET last_number = excluded.last_number", (issuer, series, seq))
    return f"{issuer}-{series}-{seq:06d}", seq


def _insert(con: sqlite3.Connection, month: str, document_type: str, issuer: str, customer_key: str,
            content_hash: str, payload: dict, issued_on: str, credits_number: str | None = None) -> str:
    series = SERIES[document_type]
    number, seq = _next_number(con, issuer, series)
    con.execute("INSERT INTO documents (number, issuer, series, seq, document_type, billing_month, customer_key, "
                "content_hash, issued_on, status, credits_number, credited_by, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'issued', ?, NULL, ?)",
                (number, issuer, series, seq, document_type, month, customer_key, content_hash, issued_on,
                 credits_number, json.dumps(payload, sort_keys=True, separators=(",", ":"))))
    return number


def _credit_payload(original: dict) -> dict:
    """The credit note of a document: the same lines and totals with the opposite sign."""
    def negate(text: str) -> str:
        return str(-Decimal(text)) if Decimal(text) != 0 else text
    lines = [line | {k: negate(line[k]) for k in ("net", "vat", "gross")} for line in original["lines"]]
    vat = [row | {k: negate(row[k]) for k in ("net", "vat", "gross")} for row in original["vat_summary"]]
    totals = {k: negate(v) for k, v in original["totals"].items()}
    return original | {"lines": lines, "vat_summary": vat, "totals": totals}


@dataclass(frozen=True)
class MonthOutcome:
    """What one `issue_month` call changed: numbers issued, credited and reused."""

    issued: list[str]
    credit_notes: list[str]
    unchanged: list[str]


def _checked_key_order(drafts: Iterable[Draft]) -> Iterator[Draft]:
    """``drafts`` by customer key: a list is sorted here, any other iterable (drafted one customer at a time) must
    come in strictly increasing key order. Two drafts for one key are refused either way."""
    if isinstance(drafts, (list, tuple)):
        drafts = sorted(drafts, key=lambda d: d.customer_key)
    previous = None
    for draft in drafts:
        if previous is not None and draft.customer_key <= previous:
            raise ValueError("two drafts for the same customer key" if draft.customer_key == previous
                             else "drafts out of customer key order")
        previous = draft.customer_key
        yield draft


def issue_month(registers_dir: Path, month: str, drafts: Iterable[Draft], issued_on: dt.date,
                document_type: str = "invoice") -> MonthOutcome:
    """Bring the register in line with `drafts` for `month` (see the module docstring); one transaction.

    `drafts` may be a generator in customer key order (`_checked_key_order`): it is consumed inside the transaction,
    one draft at a time, so a month is issued without holding all its drafts; the register's live documents are
    read without their payloads (a credited one's payload is read when its credit note is made)."""
    if document_type not in ("invoice", "pro_forma"):
        raise ValueError(f"document_type must be invoice or pro_forma, got {document_type!r}")
    issued, credits, unchanged = [], [], []
    day = issued_on.isoformat()

    def retire(con: sqlite3.Connection, key: str, current: tuple[str, str, str]) -> None:
        """The live document of `key` no longer stands: credited (invoice) or superseded (pro forma)."""
        number, _, issuer = current
        if document_type == "invoice":
            payload = con.execute("SELECT payload FROM documents WHERE number = ?", (number,)).fetchone()[0]
            note = _insert(con, month, "credit_note", issuer, key, "credit:" + number,
                           _credit_payload(json.loads(payload)), day, credits_number=number)
            credits.append(note)
            con.execute("UPDATE documents SET status = 'credited', credited_by = ? WHERE number = ?", (note, number))
        else:
            con.execute("UPDATE documents SET status = 'superseded' WHERE number = ?", (number,))

    with _transaction(register_path(registers_dir)) as con:
        live = {key: (number, content_hash, issuer) for number, key, content_hash, issuer in con.execute(
            "SELECT number, customer_key, content_hash, issuer FROM documents "
            "WHERE billing_month = ? AND document_type = ? AND status = 'issued' ORDER BY number", (month, document_type))}
        live_keys = iter(sorted(live))
        pending = next(live_keys, None)  # the next live key not yet walked past
        # One walk over both key orders: every key of either side, in order, as `sorted(drafts | live)` would.
        for draft in _checked_key_order(drafts):
            while pending is not None and pending < draft.customer_key:
                retire(con, pending, live[pending])  # a customer with nothing to bill any more
                pending = next(live_keys, None)
            current = None
            if pending == draft.customer_key:
                current, pending = live[pending], next(live_keys, None)
            if current is not None and current[1] == draft.content_hash:
                unchanged.append(current[0])
                continue
            if current is not None:
                retire(con, draft.customer_key, current)
            issued.append(_insert(con, month, document_type, draft.issuer, draft.customer_key, draft.content_hash,
                                  draft.payload, day))
        while pending is not None:
            retire(con, pending, live[pending])
            pending = next(live_keys, None)
        if document_type == "invoice":  # the month is invoiced for real: its previews are superseded
            con.execute("UPDATE documents SET status = 'superseded' WHERE billing_month = ? "
                        "AND document_type = 'pro_forma' AND status = 'issued'", (month,))
        resolution = ", ".join(credits + issued) or "unchanged"
        con.execute("UPDATE flags SET resolved_by = ? WHERE billing_month = ? AND resolved_by IS NULL", (resolution, month))
    return MonthOutcome(issued, credits, unchanged)


_DOCUMENT_COLUMNS = "number, document_type, customer_key, status, credits_number, credited_by, issued_on, content_hash, payload"


def iter_month_documents(registers_dir: Path, month: str, by_number: bool = False) -> Iterator[Issued]:
    """Every document of `month`, one row at a time (a partner's document can be megabytes of lines): in number
    order per issuer and series, or with `by_number` in the order of the number's text (the order of the exported
    tables, read from an index). A pure read; no lock taken."""
    path = register_path(registers_dir)
    if not path.exists():
        return
    order = "number" if by_number else "issuer, series, seq"
    with _connect(path) as con:
        for row in con.execute(f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE billing_month = ? ORDER BY {order}",
                               (month,)):
            yield Issued(*row[:8], payload=json.loads(row[8]))


def month_document_count(registers_dir: Path, month: str) -> int:
    """How many documents `month` has (a pure read)."""
    path = register_path(registers_dir)
    if not path.exists():
        return 0
    with _connect(path) as con:
        return con.execute("SELECT COUNT(*) FROM documents WHERE billing_month = ?", (month,)).fetchone()[0]


def month_documents(registers_dir: Path, month: str) -> list[Issued]:
    """Every document of `month`, in number order (a pure read; no lock taken)."""
    return list(iter_month_documents(registers_dir, month))


def live_hashes(registers_dir: Path, month: str) -> dict[str, tuple[str, str]]:
    """customer_key → (number, content hash) of the month's live invoices."""
    path = register_path(registers_dir)
    if not path.exists():
        return {}
    with _connect(path) as con:
        return {key: (number, h) for number, key, h in con.execute(
            "SELECT number, customer_key, content_hash FROM documents WHERE billing_month = ? "
            "AND document_type = 'invoice' AND status = 'issued'", (month,))}


def flag(registers_dir: Path, month: str, numbers: list[str], settlement_date: str | None, reason: str,
         detected_at: str) -> list[int]:
    """Record that issued invoices no longer match the data; an invoice with an open flag is not flagged twice."""
    created = []
    with _transaction(register_path(registers_dir)) as con:
        for number in sorted(numbers):
            if con.execute("SELECT 1 FROM flags WHERE number = ? AND resolved_by IS NULL", (number,)).fetchone():
                continue
            cur = con.execute("INSERT INTO flags (number, billing_month, settlement_date, reason, detected_at) "
                              "VALUES (?, ?, ?, ?, ?)", (number, month, settlement_date, reason, detected_at))
            created.append(cur.lastrowid)
    return created


def month_flags(registers_dir: Path, month: str) -> list[dict]:
    path = register_path(registers_dir)
    if not path.exists():
        return []
    with _connect(path) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM flags WHERE billing_month = ? ORDER BY flag_id", (month,))]


def months_with_invoices(registers_dir: Path) -> list[str]:
    path = register_path(registers_dir)
    if not path.exists():
        return []
    with _connect(path) as con:
        return [r[0] for r in con.execute("SELECT DISTINCT billing_month FROM documents WHERE document_type = 'invoice' "
                                          "ORDER BY 1")]
