"""The date and time of day of an ISO 8601 instant, read from its bytes in numba (the byte scans of landing lines
and CDR files share it).

``civil_seconds`` reads ``YYYY-MM-DDTHH:MM:SS`` and accepts exactly the values Python's ``fromisoformat`` accepts
there: years 1-9999, real dates (leap years), hours below 24, minutes and seconds below 60. Whatever follows (a
fraction, a zone) is the caller's.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_SEPARATORS = ((4, ord("-")), (7, ord("-")), (10, ord("T")), (13, ord(":")), (16, ord(":")))


@njit(cache=True)
def digits(data, start, count):
    """The decimal value of ``count`` ASCII digits at ``start``, or -1 when one is not a digit."""
    value = 0
    for k in range(start, start + count):
        digit = data[k] - 48
        if digit < 0 or digit > 9:
            return -1
        value = value * 10 + digit
    return value


@njit(cache=True)
def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


@njit(cache=True)
def civil_seconds(data, start, end):
    """(seconds since 1970-01-01T00:00:00, True) of the ``YYYY-MM-DDTHH:MM:SS`` at ``data[start:end]`` (its first
    19 bytes), or (0, False) when those bytes are not one or not a real date and time."""
    if end - start < 19:
        return 0, False
    for offset, separator in _SEPARATORS:
        if data[start + offset] != separator:
            return 0, False
    year, month, day = digits(data, start, 4), digits(data, start + 5, 2), digits(data, start + 8, 2)
    hour, minute, second = digits(data, start + 11, 2), digits(data, start + 14, 2), digits(data, start + 17, 2)
    if year < 1 or month < 1 or month > 12 or day < 1 or hour < 0 or hour > 23 or minute < 0 or minute > 59 \
            or second < 0 or second > 59:
        return 0, False
    leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
    if day > _MONTH_DAYS[month - 1] + (1 if leap and month == 2 else 0):
        return 0, False
    return ((days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second, True
