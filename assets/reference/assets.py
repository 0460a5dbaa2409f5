"""Reference assets: operators and locations from the landing zone's `reference/` files."""


import json

import dagster as dg
import polars as pl

from assets.checks import schema_result
from assets.ocpi_json import snake_keys
from assets.reference.tables import EVSES, LOCATIONS, OPERATORS
from assets.reference.timezones import valid_zone
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource


def _records(landing: LandingZoneResource, name: str) -> list[dict]:
    path = landing.source_dir("reference") / name
    if not path.exists():
        return []
    body = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(body, dict):
        body = body.get("data", body.get(name.split(".")[0], []))
    if not isinstance(body, list):
        raise ValueError(f"{path}: expected a list of objects")
    return body


@dg.asset(group_name="reference", check_specs=[dg.AssetCheckSpec("schema", asset="operators")])
def operators(warehouse: WarehouseResource, landing: LandingZoneResource) -> dg.MaterializeResult:
    """Charge point operators (id, country, IANA time zone, currency) from `reference/operators.json`."""
    rows = []
    for raw in _records(landing, "operators.json"):
        rec = snake_keys(raw)
        zone = rec.get("time_zone")
        if not valid_zone(zone):
            raise ValueError(f"operator {rec.get('id')!r} has an invalid time zone {zone!r}")
        rows.append({"operator_id": str(rec.get("id") or rec.get("operator_id")), "name": rec.get("name"),
                     "country": rec.get("country") or rec.get("country_code"), "time_zone": zone,
                     "currency": rec.get("currency"), "raw_payload": json.dumps(raw, sort_keys=True)})
    df = pl.DataFrame(rows, schema=OPERATORS.schema) if rows else OPERATORS.empty_frame()
    warehouse.write_partition(OPERATORS, df)
    return dg.MaterializeResult(metadata={"operators": df.height, "dagster/row_count": df.height},
                                check_results=[schema_result(OPERATORS, df)])


@dg.asset(group_name="reference", deps=[operators],
          check_specs=[dg.AssetCheckSpec("schema", asset="locations"), dg.AssetCheckSpec("evses_schema", asset="locations")])
def locations(warehouse: WarehouseResource, landing: LandingZoneResource) -> dg.MaterializeResult:
    """Charging locations with their IANA time zone and operator, and their EVSEs (table `evses`, with the OCPP
    charge point serving each), from `reference/locations.json` (OCPI Location shape)."""
    operator_zones = {r["operator_id"]: r["time_zone"] for r in warehouse.read("operators").iter_rows(named=True)}
    rows, evse_rows = [], []
    for raw in _records(landing, "locations.json"):
        rec = snake_keys(raw)
        operator_id = rec.get("operator_id") or (rec.get("operator") or {}).get("id") or (
            f"{rec.get('country_code')}-{rec.get('party_id')}" if rec.get("party_id") else None)
        zone = valid_zone(rec.get("time_zone")) or operator_zones.get(operator_id)
        if zone is None:
            raise ValueError(f"location {rec.get('id')!r} has no valid time zone and no operator zone")
        rows.append({"location_id": str(rec.get("id")), "operator_id": operator_id,
                     "country_code": rec.get("country_code") or rec.get("country"), "party_id": rec.get("party_id"),
                     "name": rec.get("name"), "city": rec.get("city"), "time_zone": zone,
                     "evse_count": len(rec.get("evses") or []), "raw_payload": json.dumps(raw, sort_keys=True)})
        for evse in rec.get("evses") or []:
            connector = (evse.get("connectors") or [{}])[0]
            evse_rows.append({"location_id": str(rec.get("id")), "evse_uid": str(evse.get("uid")),
                              "evse_id": evse.get("evse_id"), "charge_point_id": evse.get("charge_point_id"),
                              "ocpp_protocol": evse.get("ocpp_protocol"), "operator_id": operator_id,
                              "time_zone": zone, "power_type": connector.get("power_type"),
                              "max_electric_power_w": connector.get("max_electric_power"),
                              "tariff_ids": [str(t) for t in connector.get("tariff_ids") or []]})
    df = pl.DataFrame(rows, schema=LOCATIONS.schema) if rows else LOCATIONS.empty_frame()
    evses = pl.DataFrame(evse_rows, schema=EVSES.schema) if evse_rows else EVSES.empty_frame()
    warehouse.write_partition(LOCATIONS, df)
    warehouse.write_partition(EVSES, evses)
    return dg.MaterializeResult(metadata={"locations": df.height, "evses": evses.height, "dagster/row_count": df.height},
                                check_results=[schema_result(LOCATIONS, df), schema_result(EVSES, evses, "evses_schema")])
