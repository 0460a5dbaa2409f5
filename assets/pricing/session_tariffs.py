"""Choosing the tariff of each session.

In order: the tariff sealed in the session's own record (an OCPI CDR's attached `tariffs`, an Eevion
session's `tariff` object with its currency and taxes), then the first of the session's `tariff_ids`
found in the `tariffs` table, then the tariff of its EVSE (table `evses`, joined on location and EVSE
uid), preferring the one of the session's own family (an EVSE of a platform site lists both the roaming
OCPI tariff and the platform tariff). A session with none gets NO_TARIFF; one whose own tariff the engine
refuses and that has no other gets TARIFF_REFUSED with the adapter's message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import polars as pl

from tariff_engine import OcpiFormatError, Tariff, TariffModelError, parse_tariff
from tariff_engine.adapters.eevion import tariff_from_eevion_session
from tariff_engine.adapters.ocpi import cdr_tariff_ids, snake_keys

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
    try:
        return json.loads(row["raw_payload"]) if row.get("raw_payload") else None
    except json.JSONDecodeError:
        return None


def _attached_cdr_tariff(payload: Any, tariff_ids: list[str]) -> Tariff | None:
    """The CDR's attached tariff its periods (or its session row) name; None when it attaches none."""
    if not isinstance(payload, Mapping):
        return None
    document = payload.get("ocpiData") if isinstance(payload.get("ocpiData"), Mapping) else payload
    data = snake_keys(document)
    attached = [t for t in data.get("tariffs") or [] if isinstance(t, Mapping)]
    if not attached:
        return None
    wanted = cdr_tariff_ids(document) or tariff_ids
    for candidate in attached:
        if not wanted or str(candidate.get("id")) in wanted:
            return parse_tariff(candidate)
    return None


def own_tariff(row: Mapping[str, Any]) -> Tariff | None:
    """The tariff sealed in the session's raw record, if its source seals one; raises the adapter's error."""
    if row.get("source") == "eevion":
        payload = _payload(row)
        return tariff_from_eevion_session(payload) if isinstance(payload, Mapping) and payload.get("tariff") else None
    if row.get("source") in ("ocpi_cdr", "cpms_cdr"):
        return _attached_cdr_tariff(_payload(row), list(row.get("tariff_ids") or []))
    return None


def choose(row: Mapping[str, Any], known: Mapping[str, Tariff], family_of: Mapping[str, str],
           evse_tariffs: list[str]) -> tuple[Choice, Tariff | None]:
    """The tariff of one session (see the module docstring) and, when it is the session's own, the tariff."""
    refused = None
    try:
        sealed = own_tariff(row)
    except (OcpiFormatError, TariffModelError, ValueError) as error:
        sealed, refused = None, str(error)
    if sealed is not None:
        return Choice(f"session:{row['session_id']}", sealed.id, "session_payload"), sealed
    for tariff_id in row.get("tariff_ids") or []:
        if tariff_id in known:
            return Choice(tariff_id, tariff_id, "session"), None
    usable = [t for t in evse_tariffs if t in known]
    preferred = [t for t in usable if family_of.get(t) == FAMILY_OF_SOURCE.get(row.get("source"))]
    if preferred or usable:
        tariff_id = (preferred or usable)[0]
        return Choice(tariff_id, tariff_id, "evse"), None
    if refused is not None:
        return Choice(None, None, None, "TARIFF_REFUSED", refused), None
    named = ", ".join(row.get("tariff_ids") or []) or "none"
    return Choice(None, None, None, "NO_TARIFF",
                  f"no known tariff: session names {named}, its EVSE names {', '.join(evse_tariffs) or 'none'}"), None


def evse_tariff_lists(evses: pl.DataFrame) -> dict[tuple[str, str], list[str]]:
    """(location_id, evse_uid) -> the EVSE's tariff ids."""
    return {(r["location_id"], r["evse_uid"]): list(r["tariff_ids"] or []) for r in evses.iter_rows(named=True)}
