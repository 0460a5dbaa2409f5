"""Where tariff documents come from: landing files of each family and the platform ingest's `platform_tariffs`.

Each document becomes one `TariffDocument` (or a `Rejection` when its file is not JSON), so the `tariffs`
asset can account for every record it read: in = accepted + quarantined.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from assets.quarantine import Rejection
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

FAMILIES = ("ocpi", "platform", "eevion")
FILE_SOURCE = "tariff_file"
TABLE_SOURCE = "platform_tariffs"


@dataclass(frozen=True)
class TariffDocument:
    """One tariff as delivered: its family's format, where it was read, and its text."""

    family: str
    source: str
    record_ref: str
    document: Any
    raw_payload: str


def _items(body: Any) -> list[Any]:
    """The tariff objects of a file: an OCPI/platform response (`data` object or list), a list, or one object."""
    if isinstance(body, dict) and "data" in body and isinstance(body["data"], (dict, list)):
        body = body["data"]
    return body if isinstance(body, list) else [body]


def landing_documents(landing: LandingZoneResource) -> tuple[list[TariffDocument], list[Rejection]]:
    """Every tariff of `tariffs/<family>/*.json`, files in name order, items in file order."""
    documents: list[TariffDocument] = []
    rejections: list[Rejection] = []
    for family in FAMILIES:
        folder = landing.source_dir("tariffs") / family
        files = sorted(p for p in folder.glob("*.json") if p.is_file() and not p.name.startswith(".")) \
            if folder.exists() else []
        for path in files:
            ref = f"tariffs/{family}/{path.name}"
            text = path.read_text(encoding="utf-8", errors="replace")
            try:
                body = json.loads(text)
            except json.JSONDecodeError as error:
                rejections.append(Rejection(source=FILE_SOURCE, record_ref=ref, reason_code="MALFORMED_JSON",
                                            reason=f"the file is not JSON: {error}", raw_payload=text))
                continue
            items = _items(body)
            for index, item in enumerate(items):
                item_ref = ref if len(items) == 1 else f"{ref}#{index}"
                documents.append(TariffDocument(family=family, source=FILE_SOURCE, record_ref=item_ref,
                                                document=item, raw_payload=json.dumps(item, sort_keys=True)))
    return documents, rejections


def platform_table_documents(warehouse: WarehouseResource) -> list[TariffDocument]:
    """The latest version of every platform tariff and tariff snapshot the platform ingest accepted.

    `platform_tariffs` holds a full listing per landing date; only the newest row of each (kind, tariff,
    snapshot) is a tariff in force, the older ones were accounted for by the ingest itself.
    """
    if not warehouse.has_data(TABLE_SOURCE):
        return []
    keys = ["kind", "tariff_id", "snapshot_id"]
    latest = (
        warehouse.scan(TABLE_SOURCE)
        .sort([*keys, "landing_date", "last_updated", "record_ref"], descending=[False, False, False, True, True, True],
              nulls_last=True)
        .unique(keys, keep="first", maintain_order=True)
        .collect()
    )
    documents = []
    for row in latest.iter_rows(named=True):
        try:
            document = json.loads(row["raw_payload"])
        except (TypeError, json.JSONDecodeError):
            document = row["raw_payload"]
        ref = f"{TABLE_SOURCE}:{row['landing_date']}:{row['record_ref']}"
        documents.append(TariffDocument(family="platform", source=TABLE_SOURCE, record_ref=ref, document=document,
                                        raw_payload=row["raw_payload"] or ""))
    return documents


def evse_tariff_context(warehouse: WarehouseResource) -> pl.DataFrame:
    """(tariff_id, time_zone, currency) for every tariff an EVSE names: the zone and operator currency a
    tariff document does not carry itself (Eevion tariffs have no currency, platform validity dates are local)."""
    empty = pl.DataFrame(schema={"tariff_id": pl.String, "time_zone": pl.String, "currency": pl.String})
    if not warehouse.has_data("evses"):
        return empty
    evses = warehouse.read("evses").select("operator_id", "time_zone", "tariff_ids").explode("tariff_ids") \
        .rename({"tariff_ids": "tariff_id"}).drop_nulls("tariff_id")
    operators = warehouse.read("operators").select("operator_id", "currency") if warehouse.has_data("operators") \
        else pl.DataFrame(schema={"operator_id": pl.String, "currency": pl.String})
    return evses.join(operators, on="operator_id", how="left").select("tariff_id", "time_zone", "currency").unique() \
        .sort(["tariff_id", "time_zone", "currency"], nulls_last=True)
