"""Choosing the tariff of each session.

In order: the tariff sealed in the session's own record (an OCPI CDR's attached `tariffs`, an Eevion
session's `tariff` object with its currency and taxes), then the first of the session's `tariff_ids`
found in the `tariffs` table, then the tariff of its EVSE (table `evses`, joined on location and EVSE
uid), preferring the one of the session's own family (an EVSE of a platform site lists both the roaming
OCPI tariff and the platform tariff). A platform session record states the tax rate it applied
(`tax.taxPercentage`); a tariff without taxes of its own is priced with it (`with_record_tax`, pricing key
`<tariff id>@tax:<rate>`). A session with none gets NO_TARIFF; one whose own tariff the engine
refuses and that has no other gets TARIFF_REFUSED with the adapter's message.

`choose_tariffs` is the one rule both consumers use: `charging_periods` cuts a session at the price changes of
the tariff chosen here, and `priced_sessions` prices it with the same tariff, so a period boundary the price
depends on (an idle-fee grace, a time window, a kWh tier) is never missing from the periods that are priced.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import lru_cache
from decimal import Decimal
from collections.abc import Mapping  # isinstance against typing.Mapping costs ~10x more per call
from typing import Any

import orjson
import polars as pl

from resources.warehouse import WarehouseResource
from tariff_engine import OcpiFormatError, Tariff, TariffModelError, parse_tariff
from tariff_engine.model import TaxRate
from tariff_engine.adapters.eevion import tariff_from_eevion_session
from tariff_engine.adapters.ocpi import snake_keys

# The tariff family each session source is priced in by its own back office.
FAMILY_OF_SOURCE = {"cpms_cdr": "ocpi", "cpms_session": "platform", "eevion": "eevion", "ocpi_cdr": "ocpi",
                    "ocpp": "ocpi", "interval": "ocpi"}


@dataclass(frozen=True)
class Choice:
    """The tariff chosen for one session: the key into the pricing dict, the tariff id and how it was found,
    or an error code and message when there is none."""

    pricing_key: str | None
    tariff_id: str | None
    origin: str | None
    error_code: str | None = None
    error: str | None = None


def _payload(row: Mapping[str, Any]) -> Any:
    if not row.get("raw_payload"):
        return None
    try:
        return orjson.loads(row["raw_payload"])  # the ingests stored it parseable by orjson; 3x json's speed
    except orjson.JSONDecodeError:
        pass  # what orjson refuses (NaN, integers beyond 64 bits) is read as the standard library reads it
    try:
        return json.loads(row["raw_payload"])
    except json.JSONDecodeError:
        return None


@lru_cache(maxsize=1024)
def _snake_name(key: str) -> str:
    return next(iter(snake_keys({key: None})))


def only_members(document: Mapping[str, Any], *fields: str) -> dict[str, Any]:
    """The top-level members of `document` whose snake_case names are among `fields`. Snake-casing a whole CDR
    (its location, periods, tariffs, …) per session is what made per-session parsing slow; an adapter that
    reads only `fields` gives the same result on the members."""
    return {key: value for key, value in document.items() if _snake_name(key) in fields}


@lru_cache(maxsize=4096)
def _attached_tariffs(tariffs_json: str) -> tuple[tuple[str, str], ...]:
    """(id, exact JSON text) of each tariff object a CDR attaches, from the JSON text of its `tariffs` member:
    most CDRs of a day attach the same few tariffs, so each distinct list is snake-cased once."""
    data = snake_keys(json.loads(tariffs_json))
    return tuple((str(t.get("id")), json.dumps(t)) for t in data.get("tariffs") or [] if isinstance(t, Mapping))


@lru_cache(maxsize=4096)
def _parsed_tariff(canonical: str) -> Tariff:
    """`parse_tariff` of one attached tariff, by its exact JSON text: each distinct one is parsed once (a
    `Tariff` is frozen, so sharing it is safe)."""
    return parse_tariff(json.loads(canonical))


def _period_tariff_ids(document: Mapping[str, Any]) -> list:
    """The distinct `tariff_id`s of the CDR's charging periods in order of appearance: what
    `tariff_engine.adapters.ocpi.cdr_tariff_ids` gives, read off the snake_case names of the members without
    snake-casing every period's dimensions (that recursion was most of a tariff choice's cost)."""
    periods = None
    for key, value in document.items():
        if _snake_name(key) == "charging_periods":
            periods = value  # the last member of that name wins, as in a snake-cased dict
    ids: list = []
    for period in periods or []:
        if not isinstance(period, Mapping):
            continue
        tariff_id = None
        for key, value in period.items():
            if _snake_name(key) == "tariff_id":
                tariff_id = value
        if tariff_id and tariff_id not in ids:
            ids.append(tariff_id)
    return ids


def _attached_cdr_tariff(payload: Any, tariff_ids: list[str]) -> Tariff | None:
    """The CDR's attached tariff its periods (or its session row) name; None when it attaches none."""
    if not isinstance(payload, Mapping):
        return None
    document = payload.get("ocpiData") if isinstance(payload.get("ocpiData"), Mapping) else payload
    attached = _attached_tariffs(json.dumps(only_members(document, "tariffs")))
    if not attached:
        return None
    wanted = _period_tariff_ids(document) or tariff_ids
    for tariff_id, text in attached:
        if not wanted or tariff_id in wanted:
            return _parsed_tariff(text)
    return None


# What `tariff_from_eevion_session` reads of an Eevion session: the tariff and the session's currency and taxes.
EEVION_TARIFF_MEMBERS = ("tariff", "currency", "taxIncluded", "taxes")
_EEVION_TARIFFS: dict[str, Tariff] = {}
_EEVION_TARIFFS_LIMIT = 4096


def _eevion_tariff(payload: Mapping[str, Any]) -> Tariff:
    """`tariff_from_eevion_session` of the session, by the JSON text of the members it reads: most sessions of a
    day carry one of a few tariffs, so each distinct one is converted once (a `Tariff` is frozen, so sharing it is
    safe; an error is raised again for every session, as it is not stored)."""
    members = {key: payload[key] for key in EEVION_TARIFF_MEMBERS if key in payload}
    text = json.dumps(members)  # the standard library's text keeps NaN and big integers apart, unlike orjson's
    tariff = _EEVION_TARIFFS.get(text)
    if tariff is None:
        tariff = tariff_from_eevion_session(members)
        if len(_EEVION_TARIFFS) >= _EEVION_TARIFFS_LIMIT:
            _EEVION_TARIFFS.clear()
        _EEVION_TARIFFS[text] = tariff
    return tariff


def own_tariff(row: Mapping[str, Any]) -> Tariff | None:
    """The tariff sealed in the session's raw record, if its source seals one; raises the adapter's error."""
    if row.get("source") == "eevion":
        payload = _payload(row)
        return _eevion_tariff(payload) if isinstance(payload, Mapping) and payload.get("tariff") else None
    if row.get("source") in ("ocpi_cdr", "cpms_cdr"):
        return _attached_cdr_tariff(_payload(row), list(row.get("tariff_ids") or []))
    return None


def record_tax_percentage(row: Mapping[str, Any]) -> Decimal | None:
    """The tax rate a platform session record states (`tax.taxPercentage`), or None."""
    if row.get("source") != "cpms_session":
        return None
    payload = _payload(row)
    tax = payload.get("tax") if isinstance(payload, Mapping) else None
    value = tax.get("taxPercentage") if isinstance(tax, Mapping) else None
    try:
        return None if value is None or isinstance(value, bool) else Decimal(str(value))
    except ArithmeticError:
        return None


def with_record_tax(tariff: Tariff, row: Mapping[str, Any]) -> Tariff | None:
    """The tariff with the tax rate the session's own record states, when the tariff states none.

    Platform tariffs carry gross prices without a tax split; the platform's session record says which rate
    it applied (`tax.taxPercentage`), so the excl./incl. split follows the record. None when the record
    states no rate or the tariff has its own taxes.
    """
    rate = record_tax_percentage(row)
    has_own = tariff.taxes or tariff.tax_included == "N/A" or any(
        c.vat is not None for e in tariff.elements for c in e.price_components)
    if rate is None or rate < 0 or has_own:
        return None
    return replace(tariff, tax_included=tariff.tax_included or "YES", taxes=(TaxRate("VAT", rate),))


def choose(row: Mapping[str, Any], known: Mapping[str, Tariff], family_of: Mapping[str, str],
           evse_tariffs: list[str]) -> tuple[Choice, Tariff | None]:
    """The tariff of one session (see the module docstring) and, when it is the session's own (sealed, or
    taxed by its record), that tariff; else None and the pricing key is a `known` id."""
    refused = None
    try:
        sealed = own_tariff(row)
    except (OcpiFormatError, TariffModelError, ValueError) as error:
        sealed, refused = None, str(error)
    if sealed is not None:
        return Choice(f"session:{row['session_id']}", sealed.id, "session_payload"), sealed
    found = next((t for t in row.get("tariff_ids") or [] if t in known), None)
    origin = "session"
    if found is None:
        usable = [t for t in evse_tariffs if t in known]
        preferred = [t for t in usable if family_of.get(t) == FAMILY_OF_SOURCE.get(row.get("source"))]
        found, origin = next(iter(preferred or usable), None), "evse"
    if found is not None:
        taxed = with_record_tax(known[found], row)
        if taxed is not None:
            return Choice(f"{found}@tax:{taxed.taxes[0].percentage}", found, origin), taxed
        return Choice(found, found, origin), None
    if refused is not None:
        return Choice(None, None, None, "TARIFF_REFUSED", refused), None
    named = ", ".join(row.get("tariff_ids") or []) or "none"
    return Choice(None, None, None, "NO_TARIFF",
                  f"no known tariff: session names {named}, its EVSE names {', '.join(evse_tariffs) or 'none'}"), None


def evse_tariff_lists(evses: pl.DataFrame) -> dict[tuple[str, str], list[str]]:
    """(location_id, evse_uid) -> the EVSE's tariff ids."""
    return {(r["location_id"], r["evse_uid"]): list(r["tariff_ids"] or []) for r in evses.iter_rows(named=True)}


@dataclass(frozen=True)
class TariffBook:
    """What a tariff choice reads: canonical tariffs by id, the family of each, and each EVSE's tariff ids.

    `fingerprint` is a digest of the table rows the book was read from (`load_tariff_book`); with one, the choices
    made under it are remembered (`choose_tariffs`). A book built in code has none and is never remembered."""

    known: Mapping[str, Tariff]
    family: Mapping[str, str]
    evses: Mapping[tuple[str, str], list[str]]
    fingerprint: bytes | None = None


def load_tariffs(warehouse: WarehouseResource) -> tuple[dict[str, Tariff], dict[str, str]]:
    """Canonical tariffs of the `tariffs` table by id, and the family (source) of each."""
    if not warehouse.has_data("tariffs"):
        return {}, {}
    known, family = {}, {}
    for tariff_id, source, text in warehouse.read("tariffs").select("tariff_id", "source", "tariff_json").iter_rows():
        try:
            known[tariff_id] = parse_tariff(json.loads(text))
        except (OcpiFormatError, ValueError):
            continue  # the tariffs asset only writes what parses; a hand-edited row just is not a known tariff
        family[tariff_id] = source
    return known, family


def _book_fingerprint(warehouse: WarehouseResource) -> bytes:
    """A digest of every row a `TariffBook` is read from (tariff id, family and JSON; each EVSE's tariff ids)."""
    digest = hashlib.blake2b(digest_size=16)
    for table, columns in (("tariffs", ("tariff_id", "source", "tariff_json")),
                           ("evses", ("location_id", "evse_uid", "tariff_ids"))):
        if warehouse.has_data(table):
            for row in warehouse.read(table).select(columns).iter_rows():
                digest.update(orjson.dumps([table, *row]))
        digest.update(b"|")
    return digest.digest()


def load_tariff_book(warehouse: WarehouseResource) -> TariffBook:
    """The `tariffs` and `evses` tables as a `TariffBook` (empty parts when a table has not been written)."""
    known, family = load_tariffs(warehouse)
    evses = evse_tariff_lists(warehouse.read("evses")) if warehouse.has_data("evses") else {}
    return TariffBook(known=known, family=family, evses=evses, fingerprint=_book_fingerprint(warehouse))


CHOICE_INPUTS = ("session_id", "source", "tariff_ids", "raw_payload", "location_id", "evse_uid")
CHOICE_SCHEMA = {"session_id": pl.String, "pricing_key": pl.String, "tariff_id": pl.String,
                 "tariff_origin": pl.String, "error_code": pl.String, "error": pl.String}


# Choices made under the last book fingerprint, by everything `choose` reads of a session row. `charging_periods`,
# `priced_sessions` and `reconciliation` choose the same sessions' tariffs, and a re-settlement the same date's
# again: in one process (the in-process executor) each session is chosen for once. Bounded: cleared when full.
_CHOICES: dict[tuple, tuple[Choice, Tariff | None]] = {}
_CHOICES_BOOK: list[bytes | None] = [None]
CHOICE_MEMO_LIMIT = 250_000


def _remembered_choice(row: Mapping[str, Any], book: TariffBook) -> tuple[Choice, Tariff | None]:
    """`choose` for one session row, remembered under the book's fingerprint (a pure function of the key)."""
    evse = book.evses.get((row.get("location_id"), row.get("evse_uid")), [])
    if book.fingerprint is None:
        return choose(row, book.known, book.family, evse)
    payload = row.get("raw_payload")
    key = (row.get("session_id"), row.get("source"), tuple(row.get("tariff_ids") or ()), row.get("location_id"),
           row.get("evse_uid"),
           None if payload is None else hashlib.blake2b(payload.encode(), digest_size=16).digest())
    if _CHOICES_BOOK[0] != book.fingerprint or len(_CHOICES) >= CHOICE_MEMO_LIMIT:
        _CHOICES.clear()
        _CHOICES_BOOK[0] = book.fingerprint
    found = _CHOICES.get(key)
    if found is None:
        found = _CHOICES[key] = choose(row, book.known, book.family, evse)
    return found


def choose_tariffs(sessions: pl.DataFrame, book: TariffBook) -> tuple[pl.DataFrame, dict[str, Tariff]]:
    """The tariff of every session (`choose`), as rows of CHOICE_SCHEMA, and the tariffs by pricing key.

    Needs the `sessions` columns session_id, source, tariff_ids, raw_payload, location_id and evse_uid.
    """
    rows, pricing = [], {}
    # Only the columns a choice reads (those present: a missing one reads as None, as before); converting every
    # amount column of every row to Python cost more than the choice.
    for row in sessions.select([c for c in CHOICE_INPUTS if c in sessions.columns]).iter_rows(named=True):
        choice, sealed = _remembered_choice(row, book)
        if choice.pricing_key is not None:
            pricing[choice.pricing_key] = sealed if sealed is not None else book.known[choice.pricing_key]
        rows.append({"session_id": row["session_id"], "pricing_key": choice.pricing_key,
                     "tariff_id": choice.tariff_id, "tariff_origin": choice.origin,
                     "error_code": choice.error_code, "error": choice.error})
    return pl.DataFrame(rows, schema=CHOICE_SCHEMA), pricing
