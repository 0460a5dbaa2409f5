"""Finding our EVSE from another system's id for it.

Back offices name EVSEs by their own ids (the platform's numeric EVSE id, Eevion's station id). The
reference locations list those under `evses[].external_ids.<system>.<key>`; this index maps them back to
our location, EVSE uid, operator and time zone.
"""

import json
from dataclasses import dataclass

from resources.warehouse import WarehouseResource


@dataclass(frozen=True)
class EvseSite:
    """Where an EVSE known by an external id is, per the reference locations."""

    location_id: str
    time_zone: str | None
    operator_id: str | None
    evse_uid: str | None = None


def external_evse_index(warehouse: WarehouseResource, system: str, key: str) -> dict[str, EvseSite]:
    """External id (as text) → our EVSE, from `external_ids.<system>.<key>` in the locations' raw payloads."""
    index: dict[str, EvseSite] = {}
    for row in warehouse.read("locations").iter_rows(named=True):
        try:
            document = json.loads(row["raw_payload"] or "{}")
        except ValueError:
            continue
        for evse in (document.get("evses") or []) if isinstance(document, dict) else []:
            ids = ((evse or {}).get("external_ids") or {}).get(system) or {}
            if ids.get(key) is not None:
                index[str(ids[key])] = EvseSite(row["location_id"], row["time_zone"], row["operator_id"],
                                                None if evse.get("uid") is None else str(evse["uid"]))
    return index
