"""OCPI 2.2.1 CDRs as the CPOs POST them to our OCPI receiver: `ocpi_cdrs/<day>/<sender>-<seq>.jsonl`.

One CDR per roaming session that delivered energy (cancelled sessions get no CDR). The CDR embeds the tariff,
charging periods (charging, then parking), and the CPO's own totals (see `data.pricing`). It lands a few
minutes after the session ends, or one or two days later under the `late_arrival` fault.
"""

from __future__ import annotations

from typing import Any

from data.context import Fault, RunContext
from data.fleet import EMSPS, OPERATORS
from data.identity import cdr_id, contract_id, eevion_session_id, ocpp16_transaction_id, \
    ocpp201_transaction_id, platform_session_id, rfid_uid
from data.landing import dumps
from data.pricing import engine_ocpi, ocpi_totals
from data.sessions import SessionChunk
from data.tariffs import ASSIGNED, by_id
from data.timeutil import iso_s, utc_date

LINES_PER_FILE = 5_000
_TARIFFS = by_id()
_OTHER_CURRENCY = {"GBP": "EUR", "EUR": "GBP", "CAD": "USD"}


def session_reference(ctx: RunContext, chunk: SessionChunk, i: int) -> str:
    """The CPO's own session id for session `i` (OCPI `session_id`), shared with its other sources."""
    sid = int(chunk.sid[i])
    backend = OPERATORS[int(chunk.op[i])].backend
    if backend == "platform":
        return platform_session_id(sid)
    if backend == "eevion":
        return eevion_session_id(sid)
    if ctx.fleet.ocpp_protocol(int(chunk.evse[i])) == "ocpp2.0.1":
        return ocpp201_transaction_id(ctx.cfg.seed, sid)
    return str(ocpp16_transaction_id(sid))


def cdr_location(ctx: RunContext, evse: int) -> dict[str, Any]:
    """OCPI 2.2.1 CdrLocation of an EVSE."""
    fleet = ctx.fleet
    site = int(fleet.evse_site[evse])
    op = OPERATORS[int(fleet.evse_operator[evse])]
    address = fleet.site_address(site)
    standard, fmt = fleet.connector_standard(evse)
    return {
        "id": fleet.site_location_id(site), "name": fleet.site_name(site), "address": address["address"],
        "city": address["city"], "postal_code": address["postal_code"], "country": op.country3,
        "coordinates": address["coordinates"], "evse_uid": fleet.evse_uid(evse), "evse_id": fleet.evse_id(evse),
        "connector_id": "1", "connector_standard": standard, "connector_format": fmt,
        "connector_power_type": fleet.power_type(evse),
    }


def build_cdr(ctx: RunContext, chunk: SessionChunk, i: int, fault: Fault) -> dict[str, Any]:
    """The OCPI 2.2.1 CDR body of roaming session `i` (camel-free snake_case, as OCPI defines it)."""
    op = OPERATORS[int(chunk.op[i])]
    evse = int(chunk.evse[i])
    current = "DC" if chunk.is_dc[i] else "AC"
    tariff = _TARIFFS[f"ocpi:{ASSIGNED[op.id]['ocpi'][current]}"]
    start = int(chunk.start[i])
    charge = int(chunk.charge_s[i])
    plug = int(chunk.plug_s[i])
    parking = plug - charge
    energy_wh = int(chunk.energy_wh[i])
    emsp = EMSPS[int(chunk.emsp[i])]
    totals = ocpi_totals(tariff, energy_wh, charge, parking)
    tariff_id = tariff["id"]
    tariffs = [tariff]
    currency = op.currency
    if fault == ("unknown_tariff", "ocpi_cdrs"):
        tariff_id = f"{op.id}-LEGACY-{current}-7"
        tariffs = []
    elif fault == ("currency_mismatch", "ocpi_cdrs"):
        currency = _OTHER_CURRENCY[op.currency]
    energy_dims = [{"type": "ENERGY", "volume": energy_wh / 1000}, {"type": "TIME", "volume": round(charge / 3600, 6)}]
    if chunk.is_dc[i]:
        energy_dims.append({"type": "MAX_POWER", "volume": round(float(chunk.power_w[i]) / 1000, 1)})
    periods = [{"start_date_time": iso_s(start), "dimensions": energy_dims, "tariff_id": tariff_id}]
    if parking > 0:
        periods.append({"start_date_time": iso_s(start + charge),
                        "dimensions": [{"type": "PARKING_TIME", "volume": round(parking / 3600, 6)}],
                        "tariff_id": tariff_id})

    def price(excl_key: str) -> dict[str, float]:
        return {"excl_vat": float(totals[f"{excl_key}_excl"]), "incl_vat": float(totals[f"{excl_key}_incl"])}

    customer = int(chunk.customer[i])
    emsp_index = int(chunk.emsp[i])
    cdr: dict[str, Any] = {
        "country_code": op.country, "party_id": op.party_id, "id": cdr_id(int(chunk.op[i]), int(chunk.sid[i])),
        "start_date_time": iso_s(start), "end_date_time": iso_s(start + plug),
        "session_id": session_reference(ctx, chunk, i),
        "cdr_token": {"country_code": emsp.country, "party_id": emsp.party_id,
                      "uid": rfid_uid(customer, emsp_index), "type": "RFID",
                      "contract_id": contract_id(customer, emsp_index)},
        "auth_method": "WHITELIST", "authorization_reference": f"AUTH-{int(chunk.sid[i]):010d}",
        "cdr_location": cdr_location(ctx, evse),
        "currency": currency, "tariffs": tariffs, "charging_periods": periods,
        "total_cost": price("total"),
        "total_fixed_cost": price("fixed"),
        "total_energy": energy_wh / 1000, "total_energy_cost": price("energy"),
        "total_time": round(plug / 3600, 6), "total_time_cost": price("time"),
        "total_parking_time": round(parking / 3600, 6), "total_parking_cost": price("parking"),
        "last_updated": iso_s(start + plug + 120),
    }
    return cdr


class OcpiCdrWriter:
    """Appends CDR lines, rolling to a new `<sender>-<seq>.jsonl` every LINES_PER_FILE lines per day."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.lines: dict[tuple[str, str], int] = {}

    def emit_session(self, chunk: SessionChunk, i: int, fault: Fault) -> None:
        """Write the CDR of session `i` if it is a roaming session that delivered energy."""
        if chunk.emsp[i] < 0 or chunk.cancelled[i]:
            return
        ctx = self.ctx
        op = OPERATORS[int(chunk.op[i])]
        cdr = build_cdr(ctx, chunk, i, fault)
        sent = int(chunk.start[i]) + int(chunk.plug_s[i]) + 120 + int(ctx.rng.integers(0, 600))
        if fault == ("late_arrival", "ocpi_cdrs"):
            sent += 86_400 * int(ctx.rng.integers(1, 3))
        day = utc_date(sent).isoformat()
        sender = f"{op.country}-{op.party_id}"
        n = self.lines.get((day, sender), 0)
        self.lines[(day, sender)] = n + 1
        rel = f"ocpi_cdrs/{day}/{sender}-{n // LINES_PER_FILE + 1:04d}.jsonl"
        line = dumps(cdr)
        if fault == ("malformed_json", "ocpi_cdrs"):
            line = line[: len(line) // 2]
        ctx.landing.append(rel, line)
        tally = ctx.tally
        tariff = _TARIFFS[f"ocpi:{ASSIGNED[op.id]['ocpi']['DC' if chunk.is_dc[i] else 'AC']}"]
        charge = int(chunk.charge_s[i])
        tally.expect(ctx.landing, "ocpi_cdr", cdr["id"], int(chunk.sid[i]), fault, tariff["id"], op.currency,
                     engine_ocpi(tariff, int(chunk.energy_wh[i]), charge, int(chunk.plug_s[i]) - charge),
                     {"total_excl": cdr["total_cost"]["excl_vat"], "total_incl": cdr["total_cost"]["incl_vat"]})
        tally.count("ocpi_cdrs", day, "cdrs")
        if fault is None or fault[1] != "ocpi_cdrs" or fault[0] == "late_arrival":
            tally.count("ocpi_cdrs", day, "valid")
            tally.source_energy_wh["ocpi_cdrs"][op.currency] += int(chunk.energy_wh[i])
        if fault is not None and fault[1] == "ocpi_cdrs":
            tally.fault(fault[0], "ocpi_cdrs", session=f"S{int(chunk.sid[i]):09d}", cdr_id=cdr["id"], file=rel,
                        line=n % LINES_PER_FILE + 1, landing_date=day)
