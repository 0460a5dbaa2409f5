"""Resolving a session's IANA time zone.

OCPI 2.2.1/2.3.0 CDRs carry no time zone (`cdr_location` has none), so the zone comes from the Location
(`locations` reference table). Only when the location is unknown do we fall back to the country, and
only for countries that have one zone (the engine's table); anything else is quarantined as NO_TIME_ZONE
rather than priced or settled in UTC by accident (DESIGN §4).
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tariff_engine.adapters.ocpi import country_time_zone


def valid_zone(name: str | None) -> str | None:
    """`name` if it is a known IANA zone, else None."""
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def resolve_time_zone(location_zone: str | None, country: str | None) -> str | None:
    """The location's zone if valid, else the country's single zone, else None."""
    return valid_zone(location_zone) or country_time_zone(country)
