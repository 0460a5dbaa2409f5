"""The tariffs a quote is priced over: the warehouse's `tariffs` table, re-read when it changes.

Each row's canonical OCPI JSON (`tariff_json`) is parsed with `tariff_engine.parse_tariff` into a
`QuoteTariff`; a row the engine cannot read becomes an entry with an `error`, which the quote reports as
`no_price_reason` (never silently dropped). The table is one Parquet file; its size and modification time
are checked on every request (one `stat`), and the tariffs are re-parsed only when they changed, so a
running service follows the nightly `tariffs` refresh without a restart.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import polars as pl

from tariff_engine import OcpiFormatError, TariffModelError, parse_tariff
from tariff_engine.quote import QuoteTariff

TARIFFS_TABLE = "tariffs"


def _provider(document: dict, source: str) -> str:
    party = "*".join(str(document[key]) for key in ("country_code", "party_id") if document.get(key))
    return party or f"{source} tariff"


def quote_tariffs(frame: pl.DataFrame) -> list[QuoteTariff]:
    """One `QuoteTariff` per row of the `tariffs` table, in tariff id order."""
    entries = []
    for row in frame.sort("tariff_id").iter_rows(named=True):
        try:
            document = json.loads(row["tariff_json"])
            tariff = parse_tariff(document)
        except (ValueError, TariffModelError, OcpiFormatError) as error:
            entries.append(QuoteTariff(row["tariff_id"], None, provider=f"{row['source']} tariff",
                                       error=f"tariff {row['tariff_id']} cannot be read: {error}"))
            continue
        entries.append(QuoteTariff(row["tariff_id"], tariff, provider=_provider(document, row["source"])))
    return entries


class WarehouseTariffs:
    """The current tariffs of a warehouse (`<root>/tariffs/part-0.parquet`), cached per file version."""

    def __init__(self, warehouse_root: str | Path) -> None:
        self.table_dir = Path(warehouse_root) / TARIFFS_TABLE
        self._lock = threading.Lock()
        self._version: tuple | None = None
        self._entries: list[QuoteTariff] = []

    def _files(self) -> list[Path]:
        return sorted(self.table_dir.rglob("*.parquet")) if self.table_dir.exists() else []

    def current(self) -> list[QuoteTariff]:
        """The tariffs as of now (re-read only when a file of the table changed)."""
        files = self._files()
        version = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
        with self._lock:
            if version != self._version:
                frame = pl.read_parquet(files) if files else pl.DataFrame(
                    schema={"tariff_id": pl.String(), "source": pl.String(), "tariff_json": pl.String()})
                self._entries = quote_tariffs(frame)
                self._version = version
            return self._entries
