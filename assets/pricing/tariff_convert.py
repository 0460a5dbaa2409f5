"""Turning delivered tariff documents into canonical tariffs, with the adapter of their family.

A document the engine refuses becomes a `Rejection` whose reason starts with the adapter's JSON path
(e.g. `$.pricing.lockPriceOnSessionStart: ...`). When two documents carry the same tariff id, the newest
(`last_updated`) wins, the platform ingest before a landing file on a tie; the other is quarantined as
DUPLICATE_TARIFF_ID, so every document is accounted for exactly once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import polars as pl

from assets.pricing.tables import TARIFFS
from assets.pricing.tariff_sources import TABLE_SOURCE, TariffDocument
from assets.quarantine import Rejection
from tariff_engine import OcpiFormatError, Tariff, TariffModelError, parse_tariff, tariff_to_json
from tariff_engine.adapters.eevion import tariff_from_eevion, tariff_from_eevion_session
from tariff_engine.adapters.platform import tariff_from_platform

_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Session-level fields an Eevion tariff file may carry beside the tariff object itself.
_EEVION_SESSION_FIELDS = ("currency", "taxIncluded", "taxes")


class TariffRefused(ValueError):
    """A document that cannot become a canonical tariff; `code` is the quarantine reason code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class TariffBuild:
    """The accepted `tariffs` rows and the rejected documents of one run."""

    table: pl.DataFrame
    rejections: list[Rejection] = field(default_factory=list)
    rows_in: int = 0
    accepted_by_source: dict[str, int] = field(default_factory=dict)


def _single(context: pl.DataFrame, tariff_id: str, column: str) -> str | None:
    """The one value of `column` over the EVSEs naming `tariff_id`, or None when there is none or several."""
    values = context.filter(pl.col("tariff_id") == tariff_id)[column].drop_nulls().unique().to_list()
    return values[0] if len(values) == 1 else None


def _eevion(document: Any, context: pl.DataFrame) -> Tariff:
    if isinstance(document, Mapping) and isinstance(document.get("tariff"), Mapping):
        return tariff_from_eevion_session(document)
    if not isinstance(document, Mapping):
        raise TariffRefused("TARIFF_REFUSED", "$: expected a tariff object")
    tariff = {k: v for k, v in document.items() if k not in _EEVION_SESSION_FIELDS}
    currency = document.get("currency") or _single(context, str(document.get("id")), "currency")
    if currency is None:
        raise TariffRefused("CURRENCY_UNKNOWN", "$.currency: an Eevion tariff has no currency of its own and no "
                                                "single operator currency is known from the EVSEs naming it")
    return tariff_from_eevion(tariff, currency=currency, tax_included=document.get("taxIncluded", True),
                              taxes=document.get("taxes"))


def _platform(document: Any, context: pl.DataFrame) -> Tariff:
    if isinstance(document, Mapping) and isinstance(document.get("data"), Mapping):
        document = document["data"]
    zone = _single(context, str(document.get("id")), "time_zone") if isinstance(document, Mapping) else None
    # The platform's tariffs do not state their tax; prices are treated as gross without a tax split.
    return tariff_from_platform(document, timezone_name=zone)


def to_canonical(doc: TariffDocument, context: pl.DataFrame) -> Tariff:
    """The canonical tariff of one document, through its family's adapter; raises `TariffRefused`."""
    try:
        if doc.family == "ocpi":
            tariff = parse_tariff(doc.document)
        elif doc.family == "platform":
            tariff = _platform(doc.document, context)
        else:
            tariff = _eevion(doc.document, context)
        # The stored JSON must read back as the same tariff: the consumption and pricing assets re-parse it.
        if parse_tariff(tariff_to_json(tariff)) != tariff:
            raise TariffRefused("TARIFF_NOT_ROUND_TRIPPABLE", "$: the canonical JSON does not read back as the same tariff")
    except TariffRefused:
        raise
    except (OcpiFormatError, TariffModelError, ValueError, TypeError, AttributeError) as error:
        raise TariffRefused("TARIFF_REFUSED", f"{doc.family} adapter: {error}") from None
    if not tariff.id:
        raise TariffRefused("TARIFF_REFUSED", f"{doc.family} adapter: $.id: the tariff has no id")
    if not _CURRENCY.match(tariff.currency or ""):
        raise TariffRefused("INVALID_CURRENCY", f"$.currency: {tariff.currency!r} is not an ISO 4217 code")
    return tariff


def _last_updated(doc: TariffDocument) -> str:
    document = doc.document.get("data", doc.document) if isinstance(doc.document, Mapping) else {}
    if not isinstance(document, Mapping):
        return ""
    return str(document.get("last_updated") or document.get("lastUpdated") or document.get("lastUpdatedAt") or "")


def build_tariffs(documents: list[TariffDocument], rejections: list[Rejection], context: pl.DataFrame) -> TariffBuild:
    """Convert every document; keep one tariff per id; everything else becomes a rejection."""
    rejected = list(rejections)
    candidates: dict[str, list[tuple[TariffDocument, Tariff]]] = {}
    for doc in documents:
        try:
            tariff = to_canonical(doc, context)
        except TariffRefused as error:
            rejected.append(Rejection(source=doc.source, record_ref=doc.record_ref, reason_code=error.code,
                                      reason=str(error), raw_payload=doc.raw_payload))
            continue
        candidates.setdefault(tariff.id, []).append((doc, tariff))
    rows = []
    for tariff_id in sorted(candidates):
        ranked = sorted(candidates[tariff_id], reverse=True,
                        key=lambda c: (_last_updated(c[0]), c[0].source == TABLE_SOURCE, c[0].record_ref))
        (doc, tariff), losers = ranked[0], ranked[1:]
        rows.append({"tariff_id": tariff_id, "source": doc.family, "currency": tariff.currency,
                     "tax_included": tariff.tax_included,
                     "tariff_json": json.dumps(tariff_to_json(tariff), sort_keys=True, separators=(",", ":")),
                     "record_ref": doc.record_ref, "raw_payload": doc.raw_payload})
        for loser, _ in losers:
            rejected.append(Rejection(
                source=loser.source, record_ref=loser.record_ref, reason_code="DUPLICATE_TARIFF_ID",
                reason=f"tariff id {tariff_id!r} is also defined by {doc.record_ref}, which is newer or preferred",
                raw_payload=loser.raw_payload))
    table = pl.DataFrame(rows, schema=TARIFFS.schema) if rows else TARIFFS.empty_frame()
    by_source = {family: int((table["source"] == family).sum()) for family in ("ocpi", "platform", "eevion")}
    return TariffBuild(table=table, rejections=rejected, rows_in=len(documents) + len(rejections),
                       accepted_by_source=by_source)
