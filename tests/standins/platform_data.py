"""Deterministic sample records for the platform stand-in, shaped like seed 001's response schemas.

The builders start from seed 001's worked examples (tests/fixtures/seed-001-examples/, copied here
in reduced form so the stand-in does not depend on that folder) and vary ids, times and amounts by an
index, so a test can ask for "250 CDRs" and know every field of every one.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

BASE_TIME = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix, as the platform writes it."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_cdr(index: int, *, version: str = "2.2", is_local: bool = True, credit: bool = False,
             received_at: datetime | None = None, snake_case_periods: bool = False) -> dict[str, Any]:
    """An OCPI CDR of the platform (`cdrs/v2.0` item); `version` is "2.2" or "2.1.1"."""
    start = BASE_TIME + timedelta(minutes=7 * index)
    end = start + timedelta(minutes=85)
    received = received_at or end + timedelta(minutes=10)
    energy_kwh = round(10 + (index % 17) * 1.5, 3)
    energy_cost = round(energy_kwh * 0.39, 2)
    total = round(0.5 + energy_cost + 1.5, 2)
    sign = -1 if credit else 1
    if snake_case_periods:
        periods = [
            {"start_date_time": iso(start), "dimensions": [{"type": "ENERGY", "volume": energy_kwh},
                                                            {"type": "TIME", "volume": 1.16667}],
             "tariff_id": "EUR-AC-STD"},
            {"start_date_time": iso(start + timedelta(minutes=70)),
             "dimensions": [{"type": "PARKING_TIME", "volume": 0.25}], "tariff_id": "EUR-AC-STD"},
        ]
    else:
        periods = [
            {"startDateTime": iso(start), "dimensions": [{"type": "ENERGY", "volume": energy_kwh},
                                                          {"type": "TIME", "volume": 1.16667}],
             "tariffId": "EUR-AC-STD"},
            {"startDateTime": iso(start + timedelta(minutes=70)),
             "dimensions": [{"type": "PARKING_TIME", "volume": 0.25}], "tariffId": "EUR-AC-STD"},
        ]
    if version == "2.1.1":
        location: dict[str, Any] = {
            "id": f"LOC-{100 + index % 5}", "name": "Riverside P+R", "address": "Hafenstrasse 12",
            "city": "Hamburg", "postal_code": "20457", "country": "DEU", "time_zone": "Europe/Berlin",
            "coordinates": {"latitude": "53.543210", "longitude": "9.987650"},
            "evses": [{"uid": f"{2000 + index % 9}", "evse_id": f"DE*ABC*E{1200 + index % 9}*1",
                       "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                                       "power_type": "AC_3_PHASE"}]}],
        }
        token: dict[str, Any] | None = None
    else:
        location = {
            "id": f"LOC-{100 + index % 5}", "name": "Riverside P+R", "address": "Hafenstrasse 12",
            "city": "Hamburg", "postalCode": "20457", "country": "DEU",
            "coordinates": {"latitude": "53.543210", "longitude": "9.987650"},
            "evseUid": f"{2000 + index % 9}", "evseId": f"DE*ABC*E{1200 + index % 9}*1", "connectorId": "1",
            "connectorStandard": "IEC_62196_T2", "connectorFormat": "SOCKET", "connectorPowerType": "AC_3_PHASE",
        }
        token = {"uid": f"0123{index:05d}", "type": "RFID", "contractId": f"NL-TNM-C{index:08d}-X"}
    ocpi: dict[str, Any] = {
        "version": version, "authMethod": "WHITELIST", "authorizationReference": f"AUTH-{index:06d}",
        "cdrLocation": location, "chargingPeriods": periods, "currency": "EUR",
        "totalCost": sign * total, "totalFixedCost": sign * 0.5, "totalEnergy": energy_kwh,
        "totalEnergyCost": sign * energy_cost, "totalTime": 1.41667, "totalTimeCost": 0.0,
        "totalParkingTime": 0.25, "totalParkingCost": sign * 1.5,
        "invoiceReferenceId": f"INV-2026-11-{index:06d}",
    }
    if token is not None:
        ocpi["cdrToken"] = token
    cdr: dict[str, Any] = {
        "id": 300000 + index, "operatorId": 1, "platformId": 4, "protocolType": "OCPI",
        "sessionId": str(4700000 + index), "roamingSessionId": f"rs-{index:08d}",
        "receivedAt": iso(received), "startTime": iso(start), "endTime": iso(end), "ocpiData": ocpi,
        "roamingId": f"CDR-DEABC-{index:08d}", "credit": credit, "isLocal": is_local,
        "lastUpdatedAt": iso(received + timedelta(seconds=1)), "externalAppData": None,
    }
    if is_local:
        cdr["sentAt"] = iso(received + timedelta(seconds=1))
        cdr["deliveryResponse"] = "success"
    return cdr


def make_oicp_cdr(index: int, *, received_at: datetime | None = None) -> dict[str, Any]:
    """A Hubject (OICP 2.3) CDR of the platform: energy and times, no amounts."""
    start = BASE_TIME + timedelta(minutes=11 * index)
    end = start + timedelta(minutes=50)
    received = received_at or end + timedelta(minutes=5)
    consumed = round(5 + (index % 7) * 2.125, 3)
    return {
        "id": 500000 + index, "operatorId": 1, "platformId": 7, "protocolType": "Hubject",
        "sessionId": str(4900000 + index), "receivedAt": iso(received), "startTime": iso(start),
        "endTime": iso(end), "credit": False, "isLocal": False, "lastUpdatedAt": iso(received),
        "oicpData": {
            "sessionId": f"oicp-{index:08d}", "version": "2.3", "evseId": f"DE*HUB*E{300 + index % 4}",
            "identification": {"remoteIdentification": {"evcoId": f"DE-HUB-C{index:08d}-1"}},
            "sessionStart": iso(start), "sessionEnd": iso(end), "chargingStart": iso(start),
            "chargingEnd": iso(end - timedelta(minutes=5)), "meterValueStart": 1000.0,
            "meterValueEnd": round(1000.0 + consumed, 3), "consumedEnergy": consumed,
            "empPartnerSessionId": f"emp-{index}", "hubOperatorId": "DE*HUB", "hubProviderId": "DE-HUB",
        },
    }


_SESSION_TEMPLATE: dict[str, Any] = {
    "operatorId": 1, "chargePointId": 1203, "evseId": 2291, "connectorId": 1, "status": "finished",
    "reason": "evdisconnected", "userId": 58213, "socPercent": 80, "tax": {"taxId": 3, "taxPercentage": 20},
    "currency": "EUR", "paymentType": "tokenized", "paymentMethodId": "7731", "terminalId": None,
    "nonBillableEnergy": 0, "paymentStatus": "paid", "authorizationId": 993812, "idTag": "04A2B3C4D5E680",
    "idTagLabel": "Fleet card 12", "idTagType": "rfid", "reimbursementEligibility": False,
    "tariffSnapshotId": 88213, "electricityCost": 4.93, "evsePhysicalReference": "1203-2",
    "externalAppData": None, "billingStatus": "completed", "power": {"latest": 0, "peak": 22000, "average": 17920},
}


def _line(kind: str, unit: str, gross: float, net: float, qty: float, price_gross: float, price_net: float,
          *, deprecated: bool) -> dict[str, Any]:
    line: dict[str, Any] = {
        "type": kind, "currency": "EUR", "unit": unit, "pricePerUnit": {"withTax": gross, "withoutTax": net},
        "quantity": qty, "price": {"withTax": price_gross, "withoutTax": price_net}, "taxPercentage": 20,
    }
    if deprecated:
        line["unitPrice"] = gross
        line["totalPrice"] = price_gross
    return line


def make_session(index: int, *, last_updated_at: datetime | None = None, energy_wh: int | None = None,
                 billing_completed: bool = True) -> dict[str, Any]:
    """A finished platform session (`sessions/v1.0` item) with charging periods and price breakdowns.

    The amounts follow seed 001's worked example: connection 1.00 + energy 0.45/kWh + 0.02/min charging
    + 0.20/min idle after a 15-minute grace, all gross with 20 % VAT.
    """
    start = BASE_TIME + timedelta(minutes=13 * index)
    charging_end = start + timedelta(minutes=75)
    stop = charging_end + timedelta(minutes=18)
    wh = energy_wh if energy_wh is not None else 22400 + 100 * (index % 10)
    kwh = wh / 1000
    energy_gross = round(kwh * 0.45, 2)
    energy_net = round(kwh * 0.375, 2)
    session = copy.deepcopy(_SESSION_TEMPLATE)
    updated = last_updated_at or stop + timedelta(seconds=51)
    gross = round(1.0 + energy_gross + 1.5 + 0.6, 2)
    net = round(0.83 + energy_net + 1.25 + 0.5, 2)
    session.update({
        "id": str(4800000 + index), "startedAt": iso(start), "stoppedAt": iso(stop), "energy": wh, "amount": gross,
        "totalAmount": {"withTax": gross, "withoutTax": net},
        "energyConsumption": {"total": wh, "local": 0, "grid": wh},
        "lastUpdatedAt": iso(updated), "paymentStatusUpdatedAt": iso(updated),
    })
    charging_lines = [
        _line("connection", "session", 1.0, 0.83333, 1, 1.0, 0.83, deprecated=False),
        _line("energy", "kwh", 0.45, 0.375, kwh, energy_gross, energy_net, deprecated=False),
        _line("charging_time", "minute", 0.02, 0.01667, 75, 1.5, 1.25, deprecated=False),
    ]
    idle_lines = [_line("idle_time", "minute", 0.2, 0.16667, 3, 0.6, 0.5, deprecated=False)]
    session["chargingPeriods"] = [
        {"id": 9100000 + 2 * index, "energy": wh, "energyPrecise": float(wh), "startedAt": iso(start),
         "stoppedAt": iso(charging_end), "state": "charging", "chargingState": "charging",
         "totalAmount": {"withTax": round(1.0 + energy_gross + 1.5, 2), "withoutTax": round(0.83 + energy_net + 1.25, 2)},
         "priceBreakdown": charging_lines},
        {"id": 9100001 + 2 * index, "energy": 0, "energyPrecise": 0.0, "startedAt": iso(charging_end),
         "stoppedAt": iso(stop), "state": "idle", "chargingState": "idle",
         "graceTimeEndAt": iso(charging_end + timedelta(minutes=15)),
         "totalAmount": {"withTax": 0.6, "withoutTax": 0.5}, "priceBreakdown": idle_lines},
    ]
    if billing_completed:
        session["billingCompletedAt"] = iso(stop + timedelta(seconds=48))
        session["priceBreakdown"] = [
            _line("connection", "session", 1.0, 0.83333, 1, 1.0, 0.83, deprecated=True),
            _line("energy", "kwh", 0.45, 0.375, kwh, energy_gross, energy_net, deprecated=True),
            _line("charging_time", "minute", 0.02, 0.01667, 75, 1.5, 1.25, deprecated=True),
            _line("idle_time", "minute", 0.2, 0.16667, 3, 0.6, 0.5, deprecated=True),
        ]
    else:
        session["billingStatus"] = "pending"
    return session


def make_consumption_stats(session: dict[str, Any], points: int = 6) -> list[dict[str, Any]]:
    """Cumulative Wh and W every 5 minutes over the session's charging, ending at its total."""
    start = datetime.fromisoformat(session["startedAt"].replace("Z", "+00:00"))
    total = session["energyConsumption"]["total"]
    rows = []
    for step in range(points):
        rows.append({"energy": round(total * step / (points - 1)), "power": 0 if step in (0, points - 1) else 22000,
                     "timestamp": iso(start + timedelta(minutes=5 * step))})
    return rows


def sample_tariffs() -> list[dict[str, Any]]:
    """Two platform tariffs (flat rate and duration+energy), as in seed 001's tariffs example."""
    return [
        {"id": 101, "operatorId": 1, "name": "Flat 5 EUR per session", "type": "flat rate", "currency": "EUR",
         "lastUpdatedAt": "2026-10-01T08:00:00Z", "pricing": {"pricePerSession": 5.0, "preAuthorizeAmount": 10.0},
         "restrictions": {"applyToAdHocUsers": True, "adHocPreAuthorizeAmount": 10.0}},
        {"id": 102, "operatorId": 1, "name": "AC public: energy + time + idle", "type": "duration+energy",
         "currency": "EUR", "lastUpdatedAt": "2026-10-01T08:00:00Z",
         "pricing": {"connectionFee": 1.0, "pricePerKwh": 0.45, "pricePeriodInMinutes": 1, "pricePerPeriod": 0.02,
                     "idleFeePerMinute": 0.2, "idleFeeGracePeriodMinutes": 15, "idlePricingPeriodInMinutes": 1,
                     "minPrice": 1.5},
         "restrictions": {"applyToAdHocUsers": True, "startDate": "2026-10-01", "endDate": None}},
    ]


def sample_tariff_snapshot(snapshot_id: int = 88213) -> dict[str, Any]:
    """The frozen tariff a session was priced with (`tariff-snapshots/v1.0/{id}`)."""
    tariff = copy.deepcopy(sample_tariffs()[1])
    tariff.update({"id": snapshot_id, "tariffId": 102})
    return tariff


def sample_electricity_rates() -> list[dict[str, Any]]:
    """Two electricity rates (v2.0) with their price periods under the key `_pricePeriods`."""
    return [
        {"id": 11, "operatorId": 1, "name": "Grid day/night", "type": "admin_defined", "utilityId": 3,
         "defaultPrice": 0.31, "taxPercentage": 19.0,
         "_pricePeriods": [
             {"weekDay": "any", "periods": [{"startsAt": "00:00", "endsAt": "07:00", "price": 0.21},
                                             {"startsAt": "22:00", "endsAt": "00:00", "price": 0.23}]},
             {"date": "2026-12-25", "periods": [{"startsAt": "00:00", "endsAt": "00:00", "price": 0.12}]},
         ]},
        {"id": 12, "operatorId": 1, "name": "Flat supply", "type": "admin_defined", "utilityId": None,
         "defaultPrice": 0.28765, "taxPercentage": 20.0, "_pricePeriods": []},
    ]
