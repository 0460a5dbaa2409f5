"""Slow-changing inputs: reference operators and locations, tariff files, and seed 004 partner documents."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from data.context import RunContext
from data.fleet import EMSPS, HOME_OPERATOR, OPERATORS, company_uuid
from data.sources.eevion import port_id, station_id
from data.tariffs import ASSIGNED, eevion_tariffs, ocpi_tariffs, platform_tariffs


def write_reference(ctx: RunContext) -> None:
    """`reference/operators.json` and `reference/locations.json` (streamed: one site at a time)."""
    operators = [{"id": op.id, "name": op.name, "country": op.country, "time_zone": op.time_zone,
                  "currency": op.currency, "country_code": op.country, "party_id": op.party_id,
                  "vat_percent": op.vat_percent, "backend": op.backend, "ocpp_protocols": op.ocpp_protocol,
                  "is_home_charging": i == HOME_OPERATOR} for i, op in enumerate(OPERATORS)]
    ctx.landing.write_json("reference/operators.json", operators, pretty=True)
    fleet = ctx.fleet
    path = ctx.landing.root / "reference" / "locations.json"
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        for n, (site, first, end) in enumerate(fleet.site_evse_ranges()):
            doc = _location(ctx, site, list(range(first, end)))
            out.write(("," if n else "") + json.dumps(doc, separators=(",", ":")) + "\n")
        out.write("]\n")


def _location(ctx: RunContext, site: int, evses: list[int]) -> dict[str, Any]:
    fleet = ctx.fleet
    op_index = int(fleet.site_operator[site])
    op = OPERATORS[op_index]
    address = fleet.site_address(site)
    evse_docs = []
    for evse in evses:
        current = "DC" if fleet.evse_is_dc[evse] else "AC"
        standard, fmt = fleet.connector_standard(evse)
        power = int(fleet.evse_power_w[evse])
        phases = fleet.phases(evse)
        voltage = 400 if current == "DC" else 230
        amperage = power // voltage if current == "DC" else power // (voltage * max(1, phases))
        tariff_ids = [str(family[current]) for family in ASSIGNED[op.id].values()]
        doc: dict[str, Any] = {
            "uid": fleet.evse_uid(evse), "evse_id": fleet.evse_id(evse), "status": "AVAILABLE",
            "charge_point_id": fleet.charge_point_id(evse), "ocpp_protocol": fleet.ocpp_protocol(evse),
            "connectors": [{"id": "1", "standard": standard, "format": fmt, "power_type": fleet.power_type(evse),
                            "max_voltage": voltage, "max_amperage": amperage, "max_electric_power": power,
                            "tariff_ids": tariff_ids, "last_updated": "2026-09-01T00:00:00Z"}],
            "last_updated": "2026-09-01T00:00:00Z",
        }
        if op.backend == "platform":
            doc["external_ids"] = {"platform": {"charge_point_id": int(fleet.evse_station[evse]), "evse_id": evse}}
        elif op.backend == "eevion":
            doc["external_ids"] = {"eevion": {"station_id": station_id(fleet, evse), "port_id": port_id(evse)}}
        evse_docs.append(doc)
    return {
        "country_code": op.country, "party_id": op.party_id, "id": fleet.site_location_id(site),
        "operator_id": op.id, "publish": op_index != HOME_OPERATOR, "name": fleet.site_name(site),
        "address": address["address"], "city": address["city"], "postal_code": address["postal_code"],
        "country": op.country3, "coordinates": address["coordinates"], "time_zone": op.time_zone,
        "parking_type": "ON_DRIVEWAY" if op_index == HOME_OPERATOR else "PARKING_LOT",
        "evses": evse_docs, "last_updated": "2026-09-01T00:00:00Z",
    }


def write_tariffs(ctx: RunContext) -> None:
    """One file per tariff in each family's own format."""
    for tariff in ocpi_tariffs():
        ctx.landing.write_json(f"tariffs/ocpi/{tariff['id']}.json", tariff, pretty=True)
    for tariff in platform_tariffs():
        ctx.landing.write_json(f"tariffs/platform/{tariff['id']}.json", {"data": tariff}, pretty=True)
    for tariff in eevion_tariffs():
        ctx.landing.write_json(f"tariffs/eevion/{tariff['id']}.json", tariff, pretty=True)
    ctx.tally.count("tariffs", "static", "ocpi", len(ocpi_tariffs()))
    ctx.tally.count("tariffs", "static", "platform", len(platform_tariffs()))
    ctx.tally.count("tariffs", "static", "eevion", len(eevion_tariffs()))


def _millis(day: dt.date, seconds: int) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()) * 1000 + seconds * 1000


def _company(key: str, name: str, version: int, is_cpo: bool, is_emp: bool, emps: list[str], created: int,
             updated: int) -> dict[str, Any]:
    return {"data": {
        "id": company_uuid(key), "type": "company",
        "attributes": {
            "name": name, "created_at": created, "updated_at": updated, "version": version,
            "url": f"https://www.{name.lower().replace(' ', '')}.example", "is_cpo": is_cpo, "is_emp": is_emp,
            "external_source_mapping": {"plugsurfing_ids": None, "going_electric_names": [name],
                                        "going_electric_charge_card_ids": None, "google_sheet_names": None,
                                        "open_charge_map_operator_ids": None, "ocpi_party_ids": [key]},
        },
        "relationships": {"supported_emps": {"data": [{"type": "company", "id": company_uuid(e)} for e in emps]}},
    }}


def write_partners(ctx: RunContext) -> None:
    """Seed 004 company documents in delivery order: every company on day 1, updates on day 2.

    With a non-zero fault rate, one update is delivered twice, the second time with a stale `version`
    (what the API answers with 409 VERSION_CONFLICT).
    """
    days = ctx.cfg.day_list
    first = days[0]
    created = _millis(first, 3_600)
    docs: list[tuple[dt.date, dict[str, Any]]] = []
    for emsp in EMSPS:
        docs.append((first, _company(emsp.id, emsp.name, 1, False, True, [], created, created)))
    for op in OPERATORS:
        if op.backend == "interval":
            continue
        # A CPO is also an eMSP for its own app customers, so it supports itself.
        docs.append((first, _company(op.id, op.name, 1, True, True, [op.id, *op.supported_emps], created, created)))
    second = days[1] if len(days) > 1 else first
    updated = _millis(second, 7_200)
    gb = OPERATORS[0]
    new_emps = [gb.id, *gb.supported_emps, "DE-CHX"]
    update = _company(gb.id, gb.name, 2, True, True, new_emps, created, updated)
    docs.append((second, update))
    seq: dict[dt.date, int] = {}
    for day, doc in docs:
        seq[day] = seq.get(day, 0) + 1
        ctx.landing.write_json(f"partners/{day.isoformat()}/{seq[day]:04d}.json", doc, pretty=True)
        ctx.tally.count("partners", day.isoformat(), "documents")
    if ctx.cfg.fault_rate > 0:
        stale = _company(gb.id, gb.name, 2, True, True, [gb.id, *gb.supported_emps], created, updated + 60_000)
        seq[second] = seq.get(second, 0) + 1
        rel = f"partners/{second.isoformat()}/{seq[second]:04d}.json"
        ctx.landing.write_json(rel, stale, pretty=True)
        ctx.tally.count("partners", second.isoformat(), "documents")
        ctx.tally.fault("version_conflict", "partners", company_id=company_uuid(gb.id), version=2, file=rel)
