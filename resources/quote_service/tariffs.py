"""The tariffs a quote is priced over: the warehouse's `tariffs` table, re-read when it changes.

Each row's canonical OCPI JSON (`tariff_json`) is parsed with `tariff_engine.parse_tariff` into a
`QuoteTariff`; a row the engine cannot read becomes an entry with an `error`, which the quote reports as
`no_price_reason` (never silently dropped). The tables are small Parquet files; their sizes and modification
times are checked on every request (a few `stat`s) and the tariffs re-parsed only when they changed, so a
running service follows the nightly `tariffs` refresh without a restart.

Network scoping (seed 002: `station.network` is "the CPO/Operator ID"): a tariff belongs to the operators whose
EVSEs name it (`evses.tariff_ids`) and to the operator of its OCPI party (`country_code`-`party_id`). A request
gets the tariffs of its network plus the tariffs that belong to no known operator (where they apply cannot be
told, so they are offered rather than hidden); tariffs the request lists with `include: always` or `exclusive`
are offered whatever their network. Networks are compared as operator ids, `NL-GRX` = `NL*GRX` = `nl-grx`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tariff_engine import OcpiFormatError, TariffModelError, parse_tariff
from tariff_engine.quotes import QuoteTariff
from resources.table_storage import is_object_store

TARIFFS_TABLE = "tariffs"
EVSES_TABLE = "evses"


def network_id(value: str) -> str:
    """An operator id as networks are compared: upper case, `*` read as `-`."""
    return value.strip().upper().replace("*", "-")


def _provider(document: dict, source: str) -> str:
    party = "*".join(str(document[key]) for key in ("country_code", "party_id") if document.get(key))
    return party or f"{source} tariff"


@dataclass(frozen=True)
class OfferedTariffs:
    """Every tariff of the warehouse and the operators (networks) each belongs to."""

    entries: list[QuoteTariff]
    networks: dict[str, frozenset[str]] = field(default_factory=dict)

    def for_request(self, request: Any) -> list[QuoteTariff]:
        """The tariffs offered at the request's station (all of them when the request has no readable network:
        the engine then answers the request's 400)."""
        try:
            data = request["data"]
            network = network_id(data["attributes"]["station"]["network"])
        except (KeyError, TypeError, AttributeError):
            return self.entries
        listed: set[str] = set()
        link = (data.get("relationships") or {}).get("tariffs") if isinstance(data.get("relationships"), Mapping) else None
        if isinstance(link, Mapping) and ((link.get("meta") or {}).get("include") in ("always", "exclusive")):
            listed = {str(t.get("id")) for t in link.get("data") or [] if isinstance(t, Mapping)}
        return [entry for entry in self.entries
                if not self.networks.get(entry.tariff_id) or network in self.networks[entry.tariff_id]
                or entry.tariff_id in listed]


def offered_tariffs(tariffs: pl.DataFrame, evses: pl.DataFrame | None = None) -> OfferedTariffs:
    """Quote entries (tariff id order) and their networks, from the `tariffs` and `evses` tables."""
    entries: list[QuoteTariff] = []
    networks: dict[str, set[str]] = {}
    for row in tariffs.sort("tariff_id").iter_rows(named=True):
        try:
            document = json.loads(row["tariff_json"])
            tariff = parse_tariff(document)
        except (ValueError, TariffModelError, OcpiFormatError) as error:
            entries.append(QuoteTariff(row["tariff_id"], None, provider=f"{row['source']} tariff",
                                       error=f"tariff {row['tariff_id']} cannot be read: {error}"))
            continue
        entries.append(QuoteTariff(row["tariff_id"], tariff, provider=_provider(document, row["source"])))
        if document.get("country_code") and document.get("party_id"):
            networks.setdefault(row["tariff_id"], set()).add(network_id(f"{document['country_code']}-{document['party_id']}"))
    if evses is not None and evses.height:
        for operator, tariff_id in (evses.select("operator_id", "tariff_ids").explode("tariff_ids")
                                    .drop_nulls().unique().iter_rows()):
            networks.setdefault(tariff_id, set()).add(network_id(operator))
    return OfferedTariffs(entries, {k: frozenset(v) for k, v in networks.items()})


class WarehouseTariffs:
    """The current tariffs of a warehouse (`<root>/tariffs/`, `<root>/evses/`), cached per file version."""

    def __init__(self, warehouse_root: str | Path) -> None:
        if is_object_store(str(warehouse_root)):
            # Versions come from local file times; an object-store root would need its listing's etags.
            raise ValueError(f"the quote service reads a local warehouse folder, not {warehouse_root}")
        root = Path(warehouse_root)
        self.table_dir = root / TARIFFS_TABLE
        self.evses_dir = root / EVSES_TABLE
        self._lock = threading.Lock()
        self._version: tuple | None = None
        self._offered = OfferedTariffs([])

    @staticmethod
    def _files(folder: Path) -> list[Path]:
        return sorted(folder.rglob("*.parquet")) if folder.exists() else []

    def current(self) -> OfferedTariffs:
        """The tariffs as of now (re-read only when a file of either table changed)."""
        tariff_files, evse_files = self._files(self.table_dir), self._files(self.evses_dir)
        version = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in tariff_files + evse_files)
        with self._lock:
            if version != self._version:
                tariffs = pl.read_parquet(tariff_files) if tariff_files else pl.DataFrame(
                    schema={"tariff_id": pl.String(), "source": pl.String(), "tariff_json": pl.String()})
                evses = pl.read_parquet(evse_files, columns=["operator_id", "tariff_ids"]) if evse_files else None
                self._offered = offered_tariffs(tariffs, evses)
                self._version = version
            return self._offered
