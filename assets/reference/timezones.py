"""Resolving a session's IANA time zone.

OCPI 2.2.1/2.3.0 CDRs carry no time zone (`cdr_location` has none), so the zone comes from the Location
(`locations` reference table). Only when the location is unknown do we fall back to the country, and
only for countries that have one zone; anything else is quarantined as NO_TIME_ZONE rather than priced
or settled in UTC by accident (DESIGN §4).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# ISO 3166 alpha-2 and alpha-3 codes of countries with a single IANA zone in common use.
SINGLE_ZONE_COUNTRIES = {
    "GB": "Europe/London", "GBR": "Europe/London", "IE": "Europe/Dublin", "IRL": "Europe/Dublin",
    "NL": "Europe/Amsterdam", "NLD": "Europe/Amsterdam", "BE": "Europe/Brussels", "BEL": "Europe/Brussels",
    "DE": "Europe/Berlin", "DEU": "Europe/Berlin", "FR": "Europe/Paris", "FRA": "Europe/Paris",
    "AT": "Europe/Vienna", "AUT": "Europe/Vienna", "CH": "Europe/Zurich", "CHE": "Europe/Zurich",
    "IT": "Europe/Rome", "ITA": "Europe/Rome", "DK": "Europe/Copenhagen", "DNK": "Europe/Copenhagen",
    "SE": "Europe/Stockholm", "SWE": "Europe/Stockholm", "NO": "Europe/Oslo", "NOR": "Europe/Oslo",
    "FI": "Europe/Helsinki", "FIN": "Europe/Helsinki", "PL": "Europe/Warsaw", "POL": "Europe/Warsaw",
    "LU": "Europe/Luxembourg", "LUX": "Europe/Luxembourg", "CZ": "Europe/Prague", "CZE": "Europe/Prague",
}


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
    zone = valid_zone(location_zone)
    if zone:
        return zone
    return SINGLE_ZONE_COUNTRIES.get((country or "").upper())
