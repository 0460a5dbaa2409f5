"""Tariffs offered for quotes: `QuoteTariff` entries, from canonical tariffs or a folder of tariff files.

A folder may hold tariffs of every family as delivered (OCPI, platform, Eevion: `documents`) and electricity
rates (objects with `defaultPrice`) feeding energy-linked tariffs. A quote never idles, so platform duration
fees without an idle fee are priced as charging time only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..consumption.electricity import ElectricityRate, RateError, parse_electricity_rate
from ..documents import (
    TariffDocumentError, TariffFile, TariffSourceError, documents_in, json_files, load_json, tariff_from_document,
)
from ..model import Tariff


@dataclass(frozen=True)


class QuoteTariff:
    """A tariff offered for quotes: the canonical tariff (None when it cannot be priced, with `error`),
    display attributes and the electricity rate its periods need (energy-linked tariffs)."""

    tariff_id: str
    tariff: Tariff | None
    provider: str = ""
    tariff_name: str | None = None
    direct_payment: bool = False
    electricity_rate: ElectricityRate | None = None
    error: str | None = None


def as_entries(tariffs: Iterable[Tariff | QuoteTariff]) -> list[QuoteTariff]:
    """Canonical tariffs wrapped as quote entries; `QuoteTariff`s pass through."""
    entries = []
    for item in tariffs:
        if isinstance(item, QuoteTariff):
            entries.append(item)
        elif isinstance(item, Tariff):
            entries.append(QuoteTariff(tariff_id=item.id, tariff=item, provider=item.party_id or item.source))
        else:
            raise TypeError(f"expected Tariff or QuoteTariff, got {type(item).__name__}")
    return entries


def _entry(item: TariffFile, zone: str | None, currency: str | None, rates: dict[str, ElectricityRate]) -> QuoteTariff:
    """The quote entry of one tariff document (any family, see `documents`); refusals keep their reason."""
    document = item.document
    name = document.get("name") if isinstance(document, Mapping) else None
    tariff_id = str(document.get("id") or item.origin) if isinstance(document, Mapping) else item.origin
    rate = _platform_rate(document, rates) if item.family == "platform" else _single_rate(rates)
    if item.family == "eevion" and isinstance(document.get("tariff"), Mapping):
        tariff_id, name = str(document["tariff"].get("id") or item.origin), document["tariff"].get("name")
    try:
        # a quote never idles: platform duration fees without an idle fee are priced as charging time only
        tariff = tariff_from_document(document, timezone_name=zone, currency=currency, electricity_rate=rate,
                                      never_idle=True)
    except TariffDocumentError as error:
        return QuoteTariff(tariff_id, None, tariff_name=name, error=f"{item.origin}: {error}")
    if item.family == "ocpi":
        party = "*".join(str(document[k]) for k in ("country_code", "party_id") if document.get(k))
        return QuoteTariff(tariff.id, tariff, provider=party, direct_payment=document.get("type") == "AD_HOC_PAYMENT",
                           electricity_rate=rate)
    if item.family == "platform":
        restrictions = document.get("restrictions") or {}
        return QuoteTariff(tariff_id, tariff, provider=f"operator {document.get('operatorId')}", tariff_name=name,
                           direct_payment=bool(restrictions.get("applyToAdHocUsers")), electricity_rate=rate)
    return QuoteTariff(tariff_id, tariff, provider="Eevion", tariff_name=name)


def _single_rate(rates: dict[str, ElectricityRate]) -> ElectricityRate | None:
    return next(iter(rates.values())) if len(rates) == 1 else None


def _platform_rate(document: Mapping[str, Any], rates: dict[str, ElectricityRate]) -> ElectricityRate | None:
    pricing = document.get("pricing") or {}
    wanted = pricing.get("fallbackElectricityRateId")
    if wanted is not None and str(wanted) in rates:
        return rates[str(wanted)]
    return _single_rate(rates)


def load_tariff_directory(directory: Path | str, timezone_name: str | None = None,
                          currency: str | None = None) -> list[QuoteTariff]:
    """Every tariff in `directory` and its subfolders (*.json, sorted by path), of any family (OCPI,
    platform, Eevion: `documents`); `currency` is the currency of bare Eevion tariffs, which carry none.
    Electricity rates (objects with `defaultPrice` and optional `pricePeriods`) in the same tree feed
    energy-linked tariffs. A file that cannot be read or priced becomes an entry with an `error`, never a
    silent skip; a missing folder or one without JSON files raises `TariffSourceError`."""
    root = Path(directory)
    documents, rates, entries = [], {}, []
    for path in json_files(root):
        origin = str(path.relative_to(root))
        try:
            content = load_json(path)
        except TariffSourceError as error:
            entries.append(QuoteTariff(path.stem, None, error=f"{origin}: unreadable JSON ({error})"))
            continue
        if isinstance(content, Mapping) and "defaultPrice" in content:
            try:
                rate = parse_electricity_rate(content, content.get("pricePeriods"))
            except RateError as error:
                entries.append(QuoteTariff(path.stem, None, error=f"{origin}: {error}"))
                continue
            rates[rate.rate_id] = rate
            continue
        documents += documents_in(content, origin)
    for item in documents:
        entries.append(_entry(item, timezone_name, currency, rates))
    return entries
