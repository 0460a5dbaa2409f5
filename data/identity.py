"""Source identifiers of a generated session, derived only from its global number and the fleet.

The same physical session carries the same external ids in every source that reports it (OCPP transaction id =
OCPI `session_id` = interval `chargeExternalId`; platform and Eevion session ids inside their CDRs), as roaming
does in practice.
"""

from __future__ import annotations

import uuid

from data.fleet import EMSPS, OPERATORS

PLATFORM_SESSION_BASE = 4_700_000
PLATFORM_CDR_BASE = 300_000
OCPP16_TX_BASE = 100_000


def ocpp16_transaction_id(sid: int) -> int:
    """Transaction id our central system issues in StartTransaction.conf."""
    return OCPP16_TX_BASE + sid


def ocpp201_transaction_id(seed: int, sid: int) -> str:
    """Transaction id a 2.0.1 station generates itself (UUID form)."""
    return str(uuid.UUID(int=((sid + 1) * 0x9E3779B97F4A7C15 * 0x100000001B3 + seed) % (1 << 128)))


def platform_session_id(sid: int) -> str:
    """Platform (seed 001) session id: a string of digits."""
    return str(PLATFORM_SESSION_BASE + sid)


def platform_cdr_id(sid: int) -> int:
    """Platform CDR resource id (integer)."""
    return PLATFORM_CDR_BASE + sid


def eevion_session_id(sid: int) -> str:
    """Eevion session id: 24 hex digits like a Mongo ObjectId."""
    return f"6a{sid:022x}"


def cdr_id(op_index: int, sid: int) -> str:
    """OCPI CDR id, unique per CPO (<= 39 characters)."""
    return f"{OPERATORS[op_index].party_id}-CDR-{sid:010d}"


def rfid_uid(customer: int, emsp: int) -> str:
    """RFID card UID (hex) of a customer of `emsp` (-1 = the operator's own card)."""
    return f"{((customer + 1) * 2654435761 + (emsp + 2) * 40503) % (1 << 56):014X}"


def contract_id(customer: int, emsp: int) -> str:
    """eMA contract id of a roaming customer, e.g. `NL-TNM-C00001234-7`."""
    e = EMSPS[emsp]
    return f"{e.country}-{e.party_id}-C{customer:08d}-{customer % 10}"
