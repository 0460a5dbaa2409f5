"""When a settlement date may be settled: once it has ended, plus a grace for late data, in every operator zone.

Used by the nightly and monthly schedules (sensors/) and by the export's own schedule (assets/export), so it
lives here, beside the assets, rather than in sensors/: assets never import sensors.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

# Zones the demo fleet operates in; deployments list theirs in CHARGELEDGER_OPERATOR_ZONES.
DEFAULT_OPERATOR_ZONES = ("Europe/London", "Europe/Amsterdam", "America/Toronto")


def operator_zones() -> tuple[str, ...]:
    """The operator time zones from CHARGELEDGER_OPERATOR_ZONES (comma-separated), else the demo fleet's."""
    configured = os.environ.get("CHARGELEDGER_OPERATOR_ZONES", "")
    zones = tuple(z.strip() for z in configured.split(",") if z.strip())
    return zones or DEFAULT_OPERATOR_ZONES


def lateness() -> dt.timedelta:
    """Grace after local midnight for late frames and CDRs before the day is settled."""
    return dt.timedelta(hours=float(os.environ.get("CHARGELEDGER_SETTLEMENT_LATENESS_HOURS", "2")))


def latest_settleable_day(now_utc: dt.datetime, zones: tuple[str, ...], grace: dt.timedelta) -> dt.date:
    """The newest date D whose local end (+grace) has passed in every zone."""
    candidate = now_utc.date()
    while True:
        ends = [
            dt.datetime.combine(candidate + dt.timedelta(days=1), dt.time(0), tzinfo=ZoneInfo(zone)) + grace
            for zone in zones
        ]
        if all(end <= now_utc for end in ends):
            return candidate
        candidate -= dt.timedelta(days=1)
