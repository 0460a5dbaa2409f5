"""Tariff catalogue of every family the engine prices: OCPI 2.2.1, the platform's 11 types (seed 001), Eevion.

`ASSIGNED` names the tariff each operator applies per current type; those are priced by `data.pricing` when
CDRs and session records are generated. The rest of the catalogue exercises the engine's adapters
(time-of-day, tiers, restrictions, power levels, ...) and is written to `tariffs/<family>/<id>.json`.
"""

from __future__ import annotations

from typing import Any

_LAST_UPDATED = "2026-09-01T00:00:00Z"


def _pc(kind: str, price: float, vat: float, step: int) -> dict[str, Any]:
    return {"type": kind, "price": price, "vat": vat, "step_size": step}


def _ocpi(cc: str, party: str, tid: str, currency: str, elements: list[dict], **extra: Any) -> dict[str, Any]:
    tariff = {"country_code": cc, "party_id": party, "id": tid, "currency": currency, "type": "REGULAR",
              "elements": elements}
    tariff.update(extra)
    tariff["last_updated"] = _LAST_UPDATED
    return tariff


def ocpi_tariffs() -> list[dict[str, Any]]:
    """OCPI 2.2.1 tariffs of all three CPOs (priced ones first, then the richer families)."""
    return [
        _ocpi("GB", "VLT", "GB-VLT-AC-STD", "GBP", [
            {"price_components": [_pc("ENERGY", 0.375, 20.0, 1), _pc("PARKING_TIME", 2.5, 20.0, 60)]}]),
        _ocpi("GB", "VLT", "GB-VLT-DC-HPC", "GBP", [
            {"price_components": [_pc("FLAT", 0.5, 20.0, 1), _pc("ENERGY", 0.575, 20.0, 1)]}]),
        _ocpi("NL", "GRX", "NL-GRX-AC", "EUR", [
            {"price_components": [_pc("ENERGY", 0.33, 21.0, 1), _pc("TIME", 0.5, 21.0, 60)]}]),
        _ocpi("NL", "GRX", "NL-GRX-DC", "EUR", [
            {"price_components": [_pc("FLAT", 0.29, 21.0, 1), _pc("ENERGY", 0.49, 21.0, 1)]}]),
        _ocpi("CA", "MPL", "CA-MPL-AC", "CAD", [
            {"price_components": [_pc("ENERGY", 0.25, 13.0, 1), _pc("PARKING_TIME", 2.0, 13.0, 60)]}]),
        _ocpi("CA", "MPL", "CA-MPL-DC", "CAD", [
            {"price_components": [_pc("ENERGY", 0.45, 13.0, 1)]}]),
        # Families beyond the priced ones: time of day wrapping past midnight, weekdays, kWh tiers, power and
        # duration restrictions, min/max price, reservation.
        _ocpi("GB", "VLT", "GB-VLT-DC-TOD", "GBP", [
            {"price_components": [_pc("ENERGY", 0.69, 20.0, 1)],
             "restrictions": {"start_time": "16:00", "end_time": "20:00",
                              "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
            {"price_components": [_pc("ENERGY", 0.39, 20.0, 1)],
             "restrictions": {"start_time": "23:00", "end_time": "06:00"}},
            {"price_components": [_pc("ENERGY", 0.55, 20.0, 1)]},
        ]),
        _ocpi("NL", "GRX", "NL-GRX-AC-TIERED", "EUR", [
            {"price_components": [_pc("ENERGY", 0.35, 21.0, 1)], "restrictions": {"max_kwh": 20.0}},
            {"price_components": [_pc("ENERGY", 0.29, 21.0, 1)], "restrictions": {"min_kwh": 20.0}},
            {"price_components": [_pc("TIME", 1.2, 21.0, 300)], "restrictions": {"max_power": 3.7}},
            {"price_components": [_pc("PARKING_TIME", 4.0, 21.0, 300)]},
        ], min_price={"excl_vat": 1.0, "incl_vat": 1.21}, max_price={"excl_vat": 40.0, "incl_vat": 48.4}),
        _ocpi("CA", "MPL", "CA-MPL-AC-DURATION", "CAD", [
            {"price_components": [_pc("TIME", 1.5, 13.0, 900)], "restrictions": {"max_duration": 7200}},
            {"price_components": [_pc("TIME", 3.0, 13.0, 900)], "restrictions": {"min_duration": 7200}},
        ]),
        _ocpi("NL", "GRX", "NL-GRX-RESERVATION", "EUR", [
            {"price_components": [_pc("FLAT", 2.0, 21.0, 1), _pc("TIME", 5.0, 21.0, 60)],
             "restrictions": {"reservation": "RESERVATION"}},
            {"price_components": [_pc("ENERGY", 0.35, 21.0, 1)]},
        ]),
    ]


def _platform(tid: int, name: str, kind: str, pricing: dict | None = None, **extra: Any) -> dict[str, Any]:
    tariff: dict[str, Any] = {"id": tid, "operatorId": 1, "name": name, "type": kind, "currency": "EUR",
                              "lastUpdatedAt": _LAST_UPDATED}
    tariff.update(extra)
    if pricing is not None:
        tariff["pricing"] = pricing
    return tariff


def platform_tariffs() -> list[dict[str, Any]]:
    """Platform (seed 001) tariffs: one or more of each of the 11 `type`s, as `GET tariffs/v1.0/{id}` data."""
    idle = {"idleFeeGracePeriodMode": "idle_detection", "idlePricingPeriodInMinutes": 1}
    return [
        _platform(201, "AC public: energy + time + idle", "duration+energy", {
            "connectionFee": 0.5, "connectionFeeMinimumSessionDuration": 2, "connectionFeeMinimumSessionEnergy": 0.5,
            "pricePerKwh": 0.42, "pricePeriodInMinutes": 1, "pricePerPeriod": 0.01, "durationFeeGracePeriod": 0,
            "idleFeePerMinute": 0.1, "idleFeeGracePeriodMinutes": 30, **idle}),
        _platform(202, "DC public: energy + idle", "duration+energy", {
            "connectionFee": 0.0, "pricePerKwh": 0.62, "pricePeriodInMinutes": 1, "pricePerPeriod": 0.0,
            "idleFeePerMinute": 0.25, "idleFeeGracePeriodMinutes": 10, **idle}),
        _platform(203, "Flat 6 EUR", "flat rate", {"pricePerSession": 6.0}),
        _platform(204, "Day/Night AC", "duration+energy time of day", {
            "connectionFee": 0.5, "dayPricePerKwh": 0.45, "nightPricePerKwh": 0.3, "pricePeriodInMinutes": 15,
            "dayPricePerPeriod": 0.25, "nightPricePerPeriod": 0.0, "dayIdleFeePerMinute": 0.2,
            "nightIdleFeePerMinute": 0.0, "idleFeeGracePeriodMinutes": 30, "idleFeeGracePeriodMode": "session_start",
            "lockPriceOnSessionStart": False}, dayTariffStart="07:00", nightTariffStart="23:00"),
        _platform(205, "Spot + markup", "energy tou", {
            "chargePointElectricityRate": False, "fallbackElectricityRateId": 12, "markupPercentagePerKwh": 12,
            "markupFixedFeePerKwh": 0.06, "flexibleMarkUpAsFixedPerKwh": {
                "intervalPricing": [{"startsAt": "17:00", "endsAt": "21:00", "price": 0.12}]},
            "idleFeePerMinute": 0.1, "idleFeeGracePeriodMinutes": 20, "lockPriceOnSessionStart": True}),
        _platform(206, "DC tiered", "standard", {
            "connectionFee": 0.0, "pricePeriodInMinutes": 15,
            "multiPricePerKwh": [{"firstKwh": 0, "lastKwh": 5.0, "feePerKwh": 0.0, "flatFee": 2.0},
                                 {"firstKwh": 5.0, "lastKwh": 20.0, "feePerKwh": 0.45, "flatFee": 0.0},
                                 {"firstKwh": 20.0, "lastKwh": None, "feePerKwh": 0.5, "flatFee": 0.0}],
            "multiPricePerDuration": [{"firstUnit": 0, "lastUnit": 4, "feePerUnit": 0.0, "flatFee": 0.0},
                                      {"firstUnit": 5, "lastUnit": None, "feePerUnit": 0.6, "flatFee": 0.0}],
            "multiIdleFee": [{"firstUnit": 0, "lastUnit": 1, "feePerUnit": 0.0, "flatFee": 0.0},
                             {"firstUnit": 2, "lastUnit": None, "feePerUnit": 1.0, "flatFee": 0.0}],
            "minPrice": 1.0}),
        _platform(207, "Time of day with holiday override", "standard_tod", {
            "pricePeriodInMinutes": 15, "idlePricingPeriodInMinutes": 15, "idleFeeGracePeriodMinutes": 10,
            "idleFeeGracePeriodMode": "idle_detection",
            "timePeriods": [{"startTime": "00:00", "endTime": "07:00"}, {"startTime": "07:00", "endTime": "22:00"},
                            {"startTime": "22:00", "endTime": "00:00"}],
            "pricePeriods": {"connectionFeePeriods": {"fee": [0.3, 0.5, 0.3]},
                             "energyFeePeriods": {"fee": [0.28, 0.47, 0.33]},
                             "durationFeePeriods": {"fee": [0.0, 0.25, 0.0]},
                             "idleFeePeriods": {"fee": [0.0, 2.0, 0.0]}},
            "daysWhenApplied": [{"name": "Holidays", "specialDates": ["2026-12-25", "2026-12-26"],
                                 "pricePeriodInMinutes": 15, "pricePeriods": {
                                     "connectionFeePeriods": {"fee": [0.0, 0.0, 0.0]},
                                     "energyFeePeriods": {"fee": [0.28, 0.38, 0.33]},
                                     "durationFeePeriods": {"fee": [0.0, 0.0, 0.0]},
                                     "idleFeePeriods": {"fee": [0.0, 0.0, 0.0]}}}],
            "lockEnergyPriceOnSessionStart": False, "lockDurationPriceOnSessionStart": False,
            "lockIdlePriceOnSessionStart": False}),
        _platform(208, "HPC peak power levels", "peak power levels", {
            "regularUsePeriod": 30, "peakPowerLevels": [
                {"peakPowerUpToKw": 50, "regularPricePerMinute": 0.29, "excessUsePricePerMin": 0.5},
                {"peakPowerUpToKw": 150, "regularPricePerMinute": 0.49, "excessUsePricePerMin": 0.8},
                {"peakPowerUpToKw": 350, "regularPricePerMinute": 0.79, "excessUsePricePerMin": 1.2}]}),
        _platform(209, "Average power levels", "average power levels", {
            "averagePowerLevels": [{"averagePowerUpToKw": 11, "pricePerMinute": 0.05},
                                   {"averagePowerUpToKw": 22, "pricePerMinute": 0.09},
                                   {"averagePowerUpToKw": 50, "pricePerMinute": 0.2}]}),
        _platform(210, "Smart & cheap", "optimised dynamic pricing", {
            "pricePerKwh": 0.55, "thresholdPriceForEnergy": 0.18, "priceForEnergyWhenOptimized": 0.35,
            "optimisedLabel": "Eco", "chargePointElectricityRate": True}),
        _platform(211, "Staff free", "free", restrictions={"applyToUserGroupIds": [7]}),
        _platform(212, "No ad-hoc", "charging not allowed", restrictions={"applyToAdHocUsers": True}),
    ]


def eevion_tariffs() -> list[dict[str, Any]]:
    """Eevion (seed 003) tariff objects as embedded in session responses.

    `idleFee.gracePeriodMinutes` is our reading: the seed says the idle fee object carries the grace period
    but does not name the field.
    """
    no_occupancy = {"minPrice": 0, "maxPrice": 0, "price": 0, "unit": "hour", "isActive": False}
    return [
        {"type": "kwh", "price": 0.35, "occupancyFee": no_occupancy,
         "idleFee": {"minPrice": 0, "maxPrice": 1.2, "price": 1.2, "unit": "hour", "isActive": True,
                     "gracePeriodMinutes": 15},
         "paymentCycleUnit": "hour", "priceIncrement": 0, "id": "6a0e0000000000000000ac01",
         "name": "$0.35/kWh + idle", "isPrivate": False},
        {"type": "kwh", "price": 0.55, "occupancyFee": no_occupancy, "paymentCycleUnit": "hour",
         "priceIncrement": 0, "id": "6a0e0000000000000000dc01", "name": "$0.55/kWh", "isPrivate": False},
        {"type": "time", "price": 2, "unit": "hour", "id": "6a0e00000000000000007102", "name": "Time - 2",
         "isPrivate": False},
        {"type": "kwh", "price": 0.3, "occupancyFee": {"minPrice": 0, "maxPrice": 6, "price": 1.5, "unit": "hour",
                                                         "isActive": True},
         "paymentCycleUnit": "hour", "priceIncrement": 0.5, "id": "6a0e0000000000000000ac03",
         "name": "$0.30/kWh + occupancy", "isPrivate": False},
    ]


# Tariff applied per operator id and current type ("AC"/"DC"), per family.
ASSIGNED: dict[str, dict[str, dict[str, Any]]] = {
    "GB-VLT": {"ocpi": {"AC": "GB-VLT-AC-STD", "DC": "GB-VLT-DC-HPC"}},
    "NL-GRX": {"ocpi": {"AC": "NL-GRX-AC", "DC": "NL-GRX-DC"}, "platform": {"AC": 201, "DC": 202}},
    "CA-MPL": {"ocpi": {"AC": "CA-MPL-AC", "DC": "CA-MPL-DC"},
               "eevion": {"AC": "6a0e0000000000000000ac01", "DC": "6a0e0000000000000000dc01"}},
    "GB-HMC": {},
}


def by_id() -> dict[str, dict[str, Any]]:
    """Every catalogue tariff keyed `<family>:<id>`."""
    table: dict[str, dict[str, Any]] = {}
    for t in ocpi_tariffs():
        table[f"ocpi:{t['id']}"] = t
    for t in platform_tariffs():
        table[f"platform:{t['id']}"] = t
    for t in eevion_tariffs():
        table[f"eevion:{t['id']}"] = t
    return table
