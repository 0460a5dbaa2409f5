"""Eevion (seed 003) session listings and session-complete webhooks for the operator running on Eevion.

`eevion/sessions/<day>/<run>-page-NNNN.json` holds `POST /session` responses (a bare JSON array, `limit` 500)
grouped by the UTC day of `updatedAt`; `eevion/webhooks/<day>/<session-id>-<sha8>.json` holds the body POSTed
to `webhookOnSessionComplete` (the session in the `GET session/{id}` format), on the day it was received.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from data.context import Fault, RunContext
from data.fleet import OPERATORS
from data.identity import eevion_session_id
from data.landing import Landing, Pager, dumps
from data.pricing import eevion_cost, engine_eevion
from data.sessions import SessionChunk
from data.tariffs import ASSIGNED, by_id
from data.timeutil import iso_ms, utc_date

PER_PAGE = 500
TAX_LABEL = "TVH/HST 13% #000000000RT0001"
_TARIFFS = by_id()
_VEHICLES = ("Hyundai Ioniq 5 2024", "Tesla Model Y 2025", "Kia EV6 2023", "Chevrolet Bolt EUV 2023",
             "Ford Mustang Mach-E 2024", "Unknown")


def port_id(evse: int) -> str:
    """Eevion port id (21 URL-safe characters, stable per EVSE)."""
    digest = hashlib.sha256(f"port-{evse}".encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "".join(alphabet[b % 64] for b in digest[:21])


def station_id(fleet, evse: int) -> str:
    """User-facing Eevion station id (one per EVSE/port)."""
    return f"{2000 + int(fleet.evse_station[evse])}{'AB'[int(fleet.evse_k[evse]) - 1]}"


class EevionWriter:
    """Listing pages and webhook bodies of the Eevion operator's sessions."""

    def __init__(self, ctx: RunContext, landing: Landing) -> None:
        self.ctx = ctx
        self.landing = landing
        self.pages = Pager(landing, PER_PAGE, lambda d, p: f"eevion/sessions/{d}/poll-{d}-page-{p:04d}.json",
                           lambda items, d, p, has_next: items)

    def emit_session(self, chunk: SessionChunk, i: int, fault: Fault) -> None:
        """Add the Eevion listing entry and webhook body of session `i`."""
        op = OPERATORS[int(chunk.op[i])]
        if op.backend != "eevion":
            return
        ctx = self.ctx
        body = self._session(chunk, i)
        end = int(chunk.start[i]) + int(chunk.plug_s[i])
        day = utc_date(end + 1).isoformat()
        self.pages.add(day, body)
        tally = ctx.tally
        if chunk.emsp[i] < 0:  # a roaming session's CDR wins in `sessions` (data.sources.ocpi records it)
            tariff = body["tariff"]
            energy = int(chunk.energy_wh[i])
            engine = engine_eevion(tariff, energy, op.vat_percent)
            # Eevion charges idle time it does not report: the engine cannot see it.
            unreported = Decimal(str(body["cost"])) - Decimal(engine["total_incl"])
            tally.expect(ctx.landing, "eevion", body["sessionId"], int(chunk.sid[i]), fault, tariff["id"], op.currency,
                         engine, {"total_excl": body["costBeforeTaxes"], "total_incl": body["cost"]},
                         unreported if unreported > Decimal("0.01") else None)
        tally.count("eevion_sessions", day, "sessions")
        if chunk.cancelled[i]:
            tally.count("eevion_sessions", day, "cancelled")
        else:
            tally.source_energy_wh["eevion_sessions"][op.currency] += int(chunk.energy_wh[i])
        received = end + 2 + int(ctx.rng.integers(0, 20))
        if fault == ("late_arrival", "eevion"):
            # The webhook endpoint was down; Eevion's retry delivered it a day or two later.
            received += 86_400 * int(ctx.rng.integers(1, 3))
        text = dumps(body)
        sha8 = hashlib.sha256(text.encode()).hexdigest()[:8]
        hook_day = utc_date(received).isoformat()
        rel = f"eevion/webhooks/{hook_day}/{body['sessionId']}-{sha8}.json"
        self.landing.write_json(rel, body)
        tally.count("eevion_webhooks", hook_day, "webhooks")
        if fault == ("late_arrival", "eevion"):
            tally.fault("late_arrival", "eevion", session=f"S{int(chunk.sid[i]):09d}",
                        eevion_session_id=body["sessionId"], file=rel, landing_date=hook_day)

    def close(self) -> None:
        """Write the last listing page of every day."""
        self.pages.close()

    def _session(self, chunk: SessionChunk, i: int) -> dict[str, Any]:
        fleet = self.ctx.fleet
        op = OPERATORS[int(chunk.op[i])]
        evse = int(chunk.evse[i])
        sid = int(chunk.sid[i])
        site = int(fleet.evse_site[evse])
        address = fleet.site_address(site)
        start_ms = int(chunk.start[i]) * 1000
        plug = int(chunk.plug_s[i])
        charge = int(chunk.charge_s[i])
        energy = int(chunk.energy_wh[i])
        cancelled = bool(chunk.cancelled[i])
        tariff = _TARIFFS[f"eevion:{ASSIGNED[op.id]['eevion']['DC' if chunk.is_dc[i] else 'AC']}"]
        cost, before = (0, 0) if cancelled else eevion_cost(tariff, energy, plug - charge, op.vat_percent)
        roaming = int(chunk.emsp[i]) >= 0
        soc_end = None
        soc_start = None
        if chunk.is_dc[i]:
            soc_start = round(float(chunk.soc0[i]))
            soc_end = round(min(100.0, float(chunk.soc0[i]) + energy * 100.0 / float(chunk.capacity_wh[i])))
        end_ms = start_ms + plug * 1000
        return {
            "authId": f"a{sid:09d}", "cost": float(cost), "costBeforeTaxes": float(before),
            "createdAt": iso_ms(start_ms - 3_000), "currency": op.currency, "currentIdleFee": 0,
            "customerId": "" if roaming else f"65c{int(chunk.customer[i]):021x}",
            "demandResponse": [], "duration": plug,
            "endPercentageFilled": soc_end, "endReason": "EVDisconnected", "endTime": iso_ms(end_ms),
            "energy": energy, "gracePeriodElapsedSeconds": 0, "isIdle": False, "isInGracePeriod": False,
            "location": {"name": fleet.site_name(site), "id": f"65{site:022x}", "city": address["city"],
                         "country": op.country3, "lat": float(address["coordinates"]["latitude"]),
                         "long": float(address["coordinates"]["longitude"]), "state": "ON",
                         "street": " Station Road", "streetNum": address["address"].split(" ")[0],
                         "zip": address["postal_code"], "timeZone": op.time_zone},
            "portId": port_id(evse), "sessionId": eevion_session_id(sid), "sessionLimits": {},
            "startPercentageFilled": soc_start, "startTime": iso_ms(start_ms),
            "startWith": "Roaming" if roaming else ("Card" if sid % 3 else "iOS"),
            "stationId": station_id(fleet, evse), "stationStatus": "Available",
            "stationStatusTimestamp": end_ms + 1_000,
            "status": "cancelled" if cancelled else "complete",
            "tariff": tariff, "taxIncluded": True,
            "taxes": [] if cancelled else [{"amount": float(cost - before), "description": TAX_LABEL}],
            "updatedAt": iso_ms(end_ms + 1_000), "vehicle": _VEHICLES[sid % len(_VEHICLES)],
        }
