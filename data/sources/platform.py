"""Platform (seed 001, AMPECO-style) API pages for the operator whose back office it is.

`platform/sessions/<day>/<run>-page-NNNN.json` holds `GET sessions/v1.0` listings (cursor envelope, 100 per page)
with charging periods, price breakdowns and 30-minute clock-aligned consumption; `platform/cdrs/<day>/...` holds
`GET cdrs/v2.0` listings of the local (CPO-issued) OCPI CDRs of roaming sessions, keys in camelCase as the
platform returns them. A record lands on the UTC day of its `lastUpdatedAt` / `sentAt`.
"""

from __future__ import annotations

import base64
import re
from decimal import Decimal
from typing import Any

import numpy as np

from data.context import Fault, RunContext
from data.fleet import OPERATORS
from data.identity import platform_cdr_id, platform_session_id, rfid_uid
from data.landing import Landing, Pager
from data.pricing import UNIT5, engine_platform, platform_breakdown, sum_lines
from data.sessions import SessionChunk, energy_wh_at, power_at
from data.sources.ocpi import build_cdr
from data.tariffs import ASSIGNED, by_id
from data.timeutil import iso_s, utc_date

PER_PAGE = 100
BASE_URL = "https://grx.cpms.example.com/public-api/resources"
PLATFORM_OPERATOR_ID = 1
ROAMING_PLATFORM_ID = 4
_TARIFFS = by_id()
_CAMEL = re.compile(r"_([a-z])")


def _camel(obj: Any) -> Any:
    """snake_case keys → camelCase, recursively (the platform re-keys OCPI objects)."""
    if isinstance(obj, dict):
        return {_CAMEL.sub(lambda m: m.group(1).upper(), k): _camel(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_camel(v) for v in obj]
    return obj


def _cursor(resource: str, day: str, page: int) -> str:
    return base64.urlsafe_b64encode(f'{{"r":"{resource}","d":"{day}","p":{page}}}'.encode()).decode().rstrip("=")


def listing_envelope(resource: str, path: str):
    """A builder of cursor-paginated listing bodies (`data`, `links`, `meta`) for one platform resource."""
    def build(items: list[Any], day: str, page: int, has_next: bool) -> dict[str, Any]:
        url = f"{BASE_URL}/{path}"
        next_cursor = _cursor(resource, day, page + 1) if has_next else None
        prev_cursor = _cursor(resource, day, page - 1) if page > 1 else None
        return {
            "data": items,
            "links": {"first": f"{url}?cursor=&per_page={PER_PAGE}", "last": None,
                      "prev": f"{url}?cursor={prev_cursor}&per_page={PER_PAGE}" if prev_cursor else None,
                      "next": f"{url}?cursor={next_cursor}&per_page={PER_PAGE}" if next_cursor else None},
            "meta": {"path": url, "per_page": PER_PAGE, "next_cursor": next_cursor, "prev_cursor": prev_cursor},
        }
    return build


def _clock_aligned(chunk: SessionChunk, i: int, price_per_kwh: Decimal) -> list[dict[str, Any]]:
    """30-minute buckets: the first starts at session start, the rest on :00/:30; they sum to the total."""
    start = int(chunk.start[i])
    end = start + int(chunk.plug_s[i])
    edges = [start] + list(range((start // 1800 + 1) * 1800, end, 1800)) + [end]
    wh = energy_wh_at(chunk, i, np.array(edges, dtype=np.int64) - start)
    buckets = []
    for a, b, w0, w1 in zip(edges[:-1], edges[1:], wh[:-1].tolist(), wh[1:].tolist()):
        energy = w1 - w0
        cost = (Decimal(energy) / 1000 * price_per_kwh).quantize(UNIT5)
        buckets.append({"start": iso_s(a), "end": iso_s(b), "energyConsumed": energy,
                        "energyConsumption": {"total": energy, "local": 0, "grid": energy},
                        "totalCost": {"withTax": float(cost)}})
    return buckets


class PlatformWriter:
    """Pages of platform sessions and CDRs for the platform operator's sessions."""

    def __init__(self, ctx: RunContext, landing: Landing) -> None:
        self.ctx = ctx
        self.sessions = Pager(landing, PER_PAGE, lambda d, p: f"platform/sessions/{d}/sync-{d}-page-{p:04d}.json",
                              listing_envelope("sessions", "sessions/v1.0"))
        self.cdrs = Pager(landing, PER_PAGE, lambda d, p: f"platform/cdrs/{d}/sync-{d}-page-{p:04d}.json",
                          listing_envelope("cdrs", "cdrs/v2.0"))

    def emit_session(self, chunk: SessionChunk, i: int, fault: Fault) -> None:
        """Add the platform session (and its CDR when roaming) of session `i`."""
        op = OPERATORS[int(chunk.op[i])]
        if op.backend != "platform":
            return
        ctx = self.ctx
        sid = int(chunk.sid[i])
        session = self._session(chunk, i)
        updated = int(chunk.start[i]) + int(chunk.plug_s[i]) + 40 + int(ctx.rng.integers(0, 50))
        if fault == ("late_arrival", "platform"):
            updated += 86_400 * int(ctx.rng.integers(1, 3))
            ctx.tally.fault("late_arrival", "platform", session=f"S{sid:09d}", platform_session_id=session["id"],
                            landing_date=utc_date(updated).isoformat())
        session["lastUpdatedAt"] = iso_s(updated)
        session["paymentStatusUpdatedAt"] = iso_s(updated)
        day = utc_date(updated).isoformat()
        self.sessions.add(day, session)
        tally = ctx.tally
        if chunk.emsp[i] < 0:  # a roaming session's CDR wins in `sessions` (data.sources.ocpi records it)
            tariff = _TARIFFS[f"platform:{ASSIGNED[op.id]['platform']['DC' if chunk.is_dc[i] else 'AC']}"]
            charge = int(chunk.charge_s[i])
            tally.expect(ctx.landing, "cpms_session", session["id"], sid, fault, str(tariff["id"]), op.currency,
                         engine_platform(tariff, int(chunk.energy_wh[i]), charge, int(chunk.plug_s[i]) - charge,
                                         op.vat_percent),
                         {"total_excl": session["totalAmount"]["withoutTax"], "total_incl": session["totalAmount"]["withTax"]})
        tally.count("platform_sessions", day, "sessions")
        if chunk.cancelled[i]:
            tally.count("platform_sessions", day, "cancelled")
        else:
            tally.source_energy_wh["platform_sessions"][op.currency] += int(chunk.energy_wh[i])
        if chunk.emsp[i] >= 0 and not chunk.cancelled[i]:
            sent = updated + 60 + int(ctx.rng.integers(0, 600))
            cdr_day = utc_date(sent).isoformat()
            self.cdrs.add(cdr_day, self._cdr(chunk, i, sent))
            tally.count("platform_cdrs", cdr_day, "cdrs")
            tally.source_energy_wh["platform_cdrs"][op.currency] += int(chunk.energy_wh[i])

    def close(self) -> None:
        """Write the last page of every day."""
        self.sessions.close()
        self.cdrs.close()

    def _session(self, chunk: SessionChunk, i: int) -> dict[str, Any]:
        ctx = self.ctx
        fleet = ctx.fleet
        op = OPERATORS[int(chunk.op[i])]
        evse = int(chunk.evse[i])
        sid = int(chunk.sid[i])
        start = int(chunk.start[i])
        charge = int(chunk.charge_s[i])
        plug = int(chunk.plug_s[i])
        energy = int(chunk.energy_wh[i])
        cancelled = bool(chunk.cancelled[i])
        roaming = int(chunk.emsp[i]) >= 0
        tariff = _TARIFFS[f"platform:{ASSIGNED[op.id]['platform']['DC' if chunk.is_dc[i] else 'AC']}"]
        charging_lines, idle_lines = ([], []) if cancelled else platform_breakdown(
            tariff, energy, charge, plug - charge, op.currency, op.vat_percent)
        all_lines = charging_lines + idle_lines
        total = sum_lines(all_lines)
        periods = []
        if not cancelled:
            periods.append({"id": 9_000_000 + 2 * sid, "energy": energy, "energyPrecise": float(energy),
                            "startedAt": iso_s(start), "stoppedAt": iso_s(start + charge), "state": "charging",
                            "chargingState": "charging", "totalAmount": sum_lines(charging_lines),
                            "priceBreakdown": charging_lines})
            if plug > charge:
                grace = int(tariff["pricing"].get("idleFeeGracePeriodMinutes") or 0) * 60
                periods.append({"id": 9_000_001 + 2 * sid, "energy": 0, "energyPrecise": 0.0,
                                "startedAt": iso_s(start + charge), "stoppedAt": iso_s(start + plug),
                                "state": "idle", "chargingState": "idle",
                                "graceTimeEndAt": iso_s(start + charge + grace),
                                "totalAmount": sum_lines(idle_lines), "priceBreakdown": idle_lines})
        breakdown = [dict(line, unitPrice=line["pricePerUnit"]["withTax"], totalPrice=line["price"]["withTax"])
                     for line in all_lines]
        uid = rfid_uid(int(chunk.customer[i]), int(chunk.emsp[i]))
        powers = power_at(chunk, i, np.array([0.0]))
        session: dict[str, Any] = {
            "id": platform_session_id(sid), "operatorId": PLATFORM_OPERATOR_ID,
            "chargePointId": int(fleet.evse_station[evse]), "evseId": evse, "connectorId": 1,
            "status": "failed" if cancelled else "finished",
            "reason": "evdisconnected",
            "userId": None if roaming else 50_000 + int(chunk.customer[i]),
            "startedAt": iso_s(start), "stoppedAt": iso_s(start + plug),
            "energy": energy,
            "amount": total["withTax"], "totalAmount": total,
            "tax": {"taxId": 3, "taxPercentage": op.vat_percent}, "currency": op.currency,
            "paymentType": "corporate" if roaming else "tokenized",
            "paymentMethodId": "corporate:roaming" if roaming else str(7_000 + int(chunk.customer[i]) % 900),
            "terminalId": None, "nonBillableEnergy": 0,
            "paymentStatus": "paid" if not cancelled else None,
            "authorizationId": 990_000 + sid, "idTag": uid, "idTagLabel": "Roaming token" if roaming else "App card",
            "idTagType": "rfid", "reimbursementEligibility": False,
            "chargingPeriods": periods, "priceBreakdown": breakdown,
            "tariffSnapshotId": 88_000 + int(tariff["id"]),
            "evsePhysicalReference": fleet.evse_id(evse),
            "externalAppData": None,
            "clockAlignedEnergyConsumption": [] if cancelled else _clock_aligned(
                chunk, i, Decimal(str(tariff["pricing"]["pricePerKwh"]))),
            "energyConsumption": {"total": energy, "local": 0, "grid": energy},
            "billingStatus": "completed",
            "billingCompletedAt": iso_s(start + plug + 30),
            "power": {"latest": 0, "peak": int(float(powers[0])) if not cancelled else 0,
                      "average": int(energy * 3600 / charge) if charge else 0},
        }
        if chunk.is_dc[i] and not cancelled:
            session["socPercent"] = round(min(100.0, float(chunk.soc0[i]) + energy * 100.0 /
                                              float(chunk.capacity_wh[i])), 1)
        return session

    def _cdr(self, chunk: SessionChunk, i: int, sent: int) -> dict[str, Any]:
        ocpi = build_cdr(self.ctx, chunk, i, None)
        sid = int(chunk.sid[i])
        keep = ("cdr_token", "auth_method", "authorization_reference", "cdr_location", "charging_periods",
                "currency")
        data = {k: ocpi[k] for k in keep}
        data = _camel(data)
        ocpi_data = {"version": "2.2", **data}
        for key in ("total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost"):
            ocpi_data[_camel({key: 0}).popitem()[0]] = ocpi[key]["excl_vat"]  # platform keeps excl. VAT amounts
        ocpi_data["totalEnergy"] = ocpi["total_energy"]
        ocpi_data["totalTime"] = ocpi["total_time"]
        ocpi_data["totalParkingTime"] = ocpi["total_parking_time"]
        ocpi_data["invoiceReferenceId"] = f"INV-GRX-{sid:010d}"
        return {
            "id": platform_cdr_id(sid), "operatorId": PLATFORM_OPERATOR_ID, "platformId": ROAMING_PLATFORM_ID,
            "protocolType": "OCPI", "sessionId": platform_session_id(sid), "roamingSessionId": None,
            "receivedAt": iso_s(sent - 5), "startTime": ocpi["start_date_time"], "endTime": ocpi["end_date_time"],
            "ocpiData": ocpi_data, "roamingId": ocpi["id"], "credit": False, "isLocal": True,
            "lastUpdatedAt": iso_s(sent), "sentAt": iso_s(sent), "deliveryResponse": "success",
            "externalAppData": None,
        }
