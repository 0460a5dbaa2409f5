"""Validating one interval charge (seed 000 shape: a charge with ids, start/end, total kWh, 30-min intervals).

Repairs (documented, counted in `repairs`): intervals delivered out of order are sorted.
Rejections (quarantine reason codes):

| code | rule |
|---|---|
| MISSING_FIELD | chargeExternalId, chargePointExternalId, start, end or total kWh absent |
| INVALID_TIMESTAMP / INVALID_VALUE | a time or a number does not parse, or a field has the wrong JSON type (`intervals` a number) |
| TIMESTAMP_OUT_OF_RANGE | a time lies outside the landing day's window |
| VALUE_OUT_OF_RANGE / PRECISION_LOSS | energy beyond 10 MWh, or more than 6 decimals of kWh |
| END_BEFORE_START | the charge or an interval ends before it starts |
| NEGATIVE_ENERGY | the total or an interval is negative |
| NO_TIME_ZONE | neither the charge point's location nor the provider gives a time zone |
| INTERVAL_NOT_ALIGNED | an interval edge (other than the charge's own start/end) is not on the local :00/:30 clock |
| INTERVAL_TOO_LONG | an interval spans more than one 30-minute period |
| INTERVAL_OVERLAP | two intervals overlap |
| INTERVAL_OUTSIDE_CHARGE | an interval lies outside the charge's start/end |
| INTERVAL_SUM_MISMATCH | the intervals do not sum to the total (tolerance: half a Wh per interval and for the total, for senders that round each to Wh) |
"""

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from assets.ingest.common import guards
from assets.ingest.common.guards import DEFAULT_WINDOW, TimeWindow
from assets.quarantine import Rejected

PERIOD = dt.timedelta(minutes=30)
ROUNDING_TOLERANCE_KWH = Decimal("0.0005")

# Field spellings seen for the same data (seed 000 documents only the ids by name).
ALIASES = {
    "start": ("startDateTime", "start", "startTime", "start_date_time"),
    "end": ("endDateTime", "end", "endTime", "end_date_time"),
    "total": ("totalKwh", "kwh", "consumptionKwh", "totalConsumptionKwh", "total_kwh"),
    "interval_kwh": ("kwh", "consumptionKwh", "energyKwh", "total_kwh"),
}


def _field(obj: dict, key: str, where: str) -> tuple[str, Any]:
    for name in ALIASES[key]:
        if obj.get(name) is not None:
            return f"{where}.{name}", obj[name]
    raise Rejected("MISSING_FIELD", f"{where}: {' / '.join(ALIASES[key])} is missing")


def _time(obj: dict, key: str, where: str, window: TimeWindow) -> dt.datetime:
    return guards.timestamp(*reversed(_field(obj, key, where)), window)


def _kwh(obj: dict, key: str, where: str) -> Decimal:
    name, raw = _field(obj, key, where)
    value = guards.exact(raw, name, 6)
    guards.energy_wh(value * 1000, name)
    return value


def _on_half_hour(moment: dt.datetime, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone)
    return local.minute in (0, 30) and local.second == 0 and local.microsecond == 0


def parse_charge(charge: Any, zone_of: dict[str, str], provider_zone: str | None,
                 window: TimeWindow = DEFAULT_WINDOW) -> dict[str, Any]:
    """Validate one charge; returns the charge fields plus its sorted intervals. Raises Rejected."""
    if not isinstance(charge, dict):
        raise Rejected("NOT_AN_OBJECT", "a charge must be a JSON object")
    charge_id = guards.text(charge.get("chargeExternalId"), "chargeExternalId")
    point_id = guards.text(charge.get("chargePointExternalId"), "chargePointExternalId")
    if not charge_id or not point_id:
        raise Rejected("MISSING_FIELD", "chargeExternalId and chargePointExternalId are required")
    start, end = _time(charge, "start", "charge", window), _time(charge, "end", "charge", window)
    if end < start:
        raise Rejected("END_BEFORE_START", f"charge ends {end.isoformat()} before it starts {start.isoformat()}")
    total = _kwh(charge, "total", "charge")
    zone_name = zone_of.get(point_id) or provider_zone
    if not zone_name:
        raise Rejected("NO_TIME_ZONE", f"charge point {point_id!r} has no known location and the provider no zone")
    zone = ZoneInfo(zone_name)

    intervals = []
    for index, item in enumerate(guards.array(charge.get("intervals"), "intervals")):
        where = f"intervals[{index}]"
        if not isinstance(item, dict):
            raise Rejected("NOT_AN_OBJECT", f"{where} is not an object")
        i_start, i_end = _time(item, "start", where, window), _time(item, "end", where, window)
        if i_end <= i_start:
            raise Rejected("END_BEFORE_START", f"{where} ends at or before its start")
        intervals.append((i_start, i_end, _kwh(item, "interval_kwh", where)))
    repairs = 0
    if intervals != sorted(intervals):
        intervals.sort()
        repairs += 1
    for index, (i_start, i_end, _) in enumerate(intervals):
        where = f"interval starting {i_start.isoformat()}"
        if i_start < start or i_end > end:
            raise Rejected("INTERVAL_OUTSIDE_CHARGE", f"{where} lies outside the charge {start.isoformat()}–{end.isoformat()}")
        if index and i_start < intervals[index - 1][1]:
            raise Rejected("INTERVAL_OVERLAP", f"{where} overlaps the previous interval")
        for edge in (i_start, i_end):
            if edge not in (start, end) and not _on_half_hour(edge, zone):
                raise Rejected("INTERVAL_NOT_ALIGNED", f"{where}: edge {edge.isoformat()} is not on the local half hour")
        if i_end - i_start > PERIOD:
            raise Rejected("INTERVAL_TOO_LONG", f"{where} lasts {i_end - i_start}, more than 30 minutes")
    if intervals:
        summed = sum((kwh for _, _, kwh in intervals), Decimal(0))
        tolerance = ROUNDING_TOLERANCE_KWH * (len(intervals) + 1)  # each interval and the total rounded
        if abs(summed - total) > tolerance:
            raise Rejected("INTERVAL_SUM_MISMATCH", f"intervals sum to {summed} kWh, the total is {total} kWh")
    return {
        "charge_id": charge_id, "charge_point_id": point_id, "start": start, "end": end,
        "total_kwh": total, "time_zone": zone_name, "settlement_date": end.astimezone(zone).date(),
        "intervals": intervals, "repairs": repairs,
    }
