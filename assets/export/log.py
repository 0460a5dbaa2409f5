"""The Charge API export log: a SQLite file under the warehouse's `_registers/` (one writer at a time).

Two tables:

- `charges`: one row per charge the receiver knows us by (`charge_external_id`, `charge_point_external_id`,
  the seed's duplicate key), with its state:
  `PENDING` (an attempt was logged before sending and its outcome is not known yet, or it has not been sent
  yet), `DELIVERED` (the receiver answered `Success` or `Duplicate`: never sent again) or `REJECTED` (the
  receiver refused it on its own; `message` is the receiver's text). `payload` is exactly what was (or will
  be) sent, so a pending charge is re-sent byte for byte.
- `attempts`: every request that carried the charge, with its batch, time and result
  (`SENT` until the answer is logged, then `Success`, `Duplicate`, `BATCH_REJECTED` (a 400 for a batch it
  shared), `REJECTED` (a 400 for it alone), `NO_STATUS` (the answer did not mention it) or `FAILED`).

Crash safety: every batch is logged as pending (one transaction) *before* it is sent, and its outcome in one
transaction after. A crash in between leaves the charges `PENDING`; the next export re-sends them and the
receiver answers `Duplicate` for those it had stored, so nothing is lost and nothing is stored twice.
The file holds no credential: payloads carry charge data only.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LOG_FILE = "charge_export_log.sqlite"
PENDING, DELIVERED, REJECTED = "PENDING", "DELIVERED", "REJECTED"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (
    charge_external_id       TEXT NOT NULL,
    charge_point_external_id TEXT NOT NULL,
    session_id               TEXT NOT NULL,
    settlement_date          TEXT NOT NULL,
    endpoint                 TEXT NOT NULL,
    payload                  TEXT NOT NULL,
    payload_sha256           TEXT NOT NULL,
    status                   TEXT NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'REJECTED')),
    outcome                  TEXT,
    message                  TEXT,
    attempts                 INTEGER NOT NULL DEFAULT 0,
    first_attempt_at         TEXT,
    last_attempt_at          TEXT,
    resolved_at              TEXT,
    PRIMARY KEY (charge_external_id, charge_point_external_id)
);
CREATE INDEX IF NOT EXISTS charges_by_date ON charges (settlement_date, status);
CREATE TABLE IF NOT EXISTS attempts (
    attempt_id               INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id                 TEXT NOT NULL,
    charge_external_id       TEXT NOT NULL,
    charge_point_external_id TEXT NOT NULL,
    settlement_date          TEXT NOT NULL,
    endpoint                 TEXT NOT NULL,
    batch_size               INTEGER NOT NULL,
    sent_at                  TEXT NOT NULL,
    result                   TEXT NOT NULL,
    message                  TEXT
);
CREATE INDEX IF NOT EXISTS attempts_by_batch ON attempts (batch_id);
CREATE INDEX IF NOT EXISTS attempts_by_date ON attempts (settlement_date);
"""


@dataclass(frozen=True)
class Charge:
    """One charge ready to send: its receiver key, where it came from and its JSON payload."""

    charge_external_id: str
    charge_point_external_id: str
    session_id: str
    settlement_date: str
    endpoint: str
    payload: str  # canonical JSON text of the charge object
    payload_sha256: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.charge_external_id, self.charge_point_external_id)

    def body(self) -> dict:
        return json.loads(self.payload)


@dataclass(frozen=True)
class LoggedCharge:
    """A row of `charges`."""

    charge: Charge
    status: str
    outcome: str | None
    message: str | None
    attempts: int


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class ExportLog:
    """The export log of one warehouse. Use as a context manager; every write is its own transaction."""

    def __init__(self, registers_dir: Path, *, read_only: bool = False) -> None:
        self.path = Path(registers_dir) / LOG_FILE
        if read_only:
            self._con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        else:
            self._con = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=FULL")  # an outcome logged is an outcome on disk
            self._con.executescript(_SCHEMA)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "ExportLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._con.execute("BEGIN IMMEDIATE")  # take the write lock now: one writer at a time
        try:
            yield self._con
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    # -- reading ---------------------------------------------------------------------------------
    def lookup(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], LoggedCharge]:
        """The logged state of each known key."""
        wanted = list(keys)
        found: dict[tuple[str, str], LoggedCharge] = {}
        for start in range(0, len(wanted), 400):
            chunk = wanted[start:start + 400]
            condition = " OR ".join(["(charge_external_id = ? AND charge_point_external_id = ?)"] * len(chunk))
            params = [part for key in chunk for part in key]
            for row in self._con.execute(f"SELECT * FROM charges WHERE {condition}", params) if chunk else []:
                logged = self._logged(row)
                found[logged.charge.key] = logged
        return found

    def pending(self, settlement_date: str | None = None) -> list[Charge]:
        """Charges whose outcome is not known (oldest first), for one settlement date or all."""
        sql = "SELECT * FROM charges WHERE status = 'PENDING'"
        params: list[str] = []
        if settlement_date is not None:
            sql += " AND settlement_date = ?"
            params.append(settlement_date)
        rows = self._con.execute(sql + " ORDER BY settlement_date, charge_point_external_id, charge_external_id", params)
        return [self._logged(row).charge for row in rows]

    def pending_dates(self) -> dict[str, tuple[int, int, str | None]]:
        """settlement date -> (pending charges, newest attempt id, newest attempt time) for dates with pendings."""
        rows = self._con.execute(
            "SELECT c.settlement_date, COUNT(*), "
            "(SELECT MAX(attempt_id) FROM attempts a WHERE a.settlement_date = c.settlement_date), MAX(c.last_attempt_at) "
            "FROM charges c WHERE c.status = 'PENDING' GROUP BY c.settlement_date ORDER BY c.settlement_date")
        return {day: (count, last_id or 0, last_at) for day, count, last_id, last_at in rows}

    def charges_of(self, settlement_date: str) -> list[tuple]:
        """Every `charges` row of a settlement date, ordered by key (for the catalog snapshot)."""
        return self._con.execute(
            "SELECT charge_external_id, charge_point_external_id, session_id, endpoint, status, outcome, message, "
            "attempts, payload_sha256, first_attempt_at, resolved_at FROM charges WHERE settlement_date = ? "
            "ORDER BY charge_point_external_id, charge_external_id", (settlement_date,)).fetchall()

    def attempts_of(self, settlement_date: str) -> list[tuple]:
        """Every attempt of a settlement date, in order."""
        return self._con.execute(
            "SELECT attempt_id, batch_id, charge_external_id, charge_point_external_id, endpoint, batch_size, sent_at, "
            "result, message FROM attempts WHERE settlement_date = ? ORDER BY attempt_id", (settlement_date,)).fetchall()

    def all_text(self) -> str:
        """Every value stored, as text (for the test that greps the log for secrets)."""
        parts = []
        for table in ("charges", "attempts"):
            for row in self._con.execute(f"SELECT * FROM {table}"):
                parts.extend(str(value) for value in row)
        return "\n".join(parts)

    @staticmethod
    def _logged(row: tuple) -> LoggedCharge:
        (charge_id, point_id, session_id, day, endpoint, payload, sha, status, outcome, message, attempts,
         *_times) = row
        return LoggedCharge(Charge(charge_id, point_id, session_id, day, endpoint, payload, sha),
                            status, outcome, message, attempts)

    # -- writing ---------------------------------------------------------------------------------
    def queue(self, charges: Sequence[Charge], message: str) -> None:
        """Record charges as PENDING without an attempt (they could not be sent yet; `message` says why)."""
        with self._transaction() as con:
            for charge in charges:
                con.execute(
                    "INSERT INTO charges (charge_external_id, charge_point_external_id, session_id, settlement_date, "
                    "endpoint, payload, payload_sha256, status, message) VALUES (?, ?, ?, ?, ?, ?, ?, 'PENDING', ?) "
                    "ON CONFLICT (charge_external_id, charge_point_external_id) DO UPDATE SET message = excluded.message WHERE status = 'PENDING'",
                    (*charge.key, charge.session_id, charge.settlement_date, charge.endpoint, charge.payload,
                     charge.payload_sha256, message))

    def begin_attempt(self, batch_id: str, charges: Sequence[Charge]) -> None:
        """Before sending: every charge of the batch PENDING with this payload, one `SENT` attempt each."""
        now = _now()
        with self._transaction() as con:
            for charge in charges:
                con.execute(
                    "INSERT INTO charges (charge_external_id, charge_point_external_id, session_id, settlement_date, "
                    "endpoint, payload, payload_sha256, status, attempts, first_attempt_at, last_attempt_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 'PENDING', 1, ?, ?) "
                    "ON CONFLICT (charge_external_id, charge_point_external_id) DO UPDATE SET status = 'PENDING', outcome = NULL, message = NULL, "
                    "endpoint = excluded.endpoint, payload = excluded.payload, payload_sha256 = excluded.payload_sha256, "
                    "attempts = attempts + 1, first_attempt_at = coalesce(first_attempt_at, excluded.first_attempt_at), "
                    "last_attempt_at = excluded.last_attempt_at, resolved_at = NULL",
                    (*charge.key, charge.session_id, charge.settlement_date, charge.endpoint, charge.payload,
                     charge.payload_sha256, now, now))
                con.execute(
                    "INSERT INTO attempts (batch_id, charge_external_id, charge_point_external_id, settlement_date, "
                    "endpoint, batch_size, sent_at, result) VALUES (?, ?, ?, ?, ?, ?, ?, 'SENT')",
                    (batch_id, *charge.key, charge.settlement_date, charge.endpoint, len(charges), now))

    def record_answer(self, batch_id: str, charges: Sequence[Charge], statuses: dict[tuple[str, str], str]) -> None:
        """The receiver answered the batch: charges with a status are DELIVERED, the others stay PENDING."""
        now = _now()
        with self._transaction() as con:
            for charge in charges:
                status = statuses.get(charge.key)
                if status is None:
                    self._set_attempt(con, batch_id, charge, "NO_STATUS", "the answer did not list this charge")
                    con.execute("UPDATE charges SET message = ? WHERE charge_external_id = ? AND charge_point_external_id = ?",
                                ("the answer did not list this charge", *charge.key))
                    continue
                self._set_attempt(con, batch_id, charge, status, None)
                con.execute("UPDATE charges SET status = 'DELIVERED', outcome = ?, message = NULL, resolved_at = ? "
                            "WHERE charge_external_id = ? AND charge_point_external_id = ?", (status, now, *charge.key))

    def record_batch_rejected(self, batch_id: str, charges: Sequence[Charge], message: str) -> None:
        """A 400 for a batch of several: nothing was ingested; the charges stay PENDING until bisected."""
        with self._transaction() as con:
            for charge in charges:
                self._set_attempt(con, batch_id, charge, "BATCH_REJECTED", message)

    def record_rejected(self, batch_id: str, charge: Charge, message: str) -> None:
        """A 400 for this charge alone: it is REJECTED with the receiver's message."""
        with self._transaction() as con:
            self._set_attempt(con, batch_id, charge, "REJECTED", message)
            con.execute("UPDATE charges SET status = 'REJECTED', outcome = NULL, message = ?, resolved_at = ? "
                        "WHERE charge_external_id = ? AND charge_point_external_id = ?", (message, _now(), *charge.key))

    def record_failed(self, batch_id: str, charges: Sequence[Charge], message: str) -> None:
        """The batch got no answer after every retry: the charges stay PENDING (maybe received, maybe not)."""
        with self._transaction() as con:
            for charge in charges:
                self._set_attempt(con, batch_id, charge, "FAILED", message)
                con.execute("UPDATE charges SET message = ? WHERE charge_external_id = ? AND charge_point_external_id = ?",
                            (message, *charge.key))

    @staticmethod
    def _set_attempt(con: sqlite3.Connection, batch_id: str, charge: Charge, result: str, message: str | None) -> None:
        con.execute("UPDATE attempts SET result = ?, message = ? WHERE batch_id = ? AND charge_external_id = ? "
                    "AND charge_point_external_id = ?", (result, message, batch_id, *charge.key))
