"""Time helpers: fast ISO-8601 formatting of epoch instants and local-clock tables per time zone.

All instants inside the generator are integer epoch seconds (UTC) or epoch milliseconds; local time only exists
at the edges (arrival profiles, local-time faults, day boundaries), always through the IANA zone.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _day_prefix(epoch_day: int) -> str:
    return (_EPOCH + dt.timedelta(days=epoch_day)).strftime("%Y-%m-%dT")


def iso_s(epoch_s: int) -> str:
    """`2026-10-24T08:00:00Z` for integer epoch seconds (hot path: date prefix cached per day)."""
    day, second = divmod(int(epoch_s), 86_400)
    hour, rest = divmod(second, 3600)
    return f"{_day_prefix(day)}{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def iso_us(epoch_us: int) -> str:
    """`2026-10-24T08:00:00.123456Z` for integer epoch microseconds (the landing `received_at` format)."""
    seconds, micros = divmod(int(epoch_us), 1_000_000)
    return f"{iso_s(seconds)[:-1]}.{micros:06d}Z"


def iso_ms(epoch_ms: int) -> str:
    """`2026-10-24T08:00:00.123Z` for integer epoch milliseconds."""
    seconds, millis = divmod(int(epoch_ms), 1000)
    return f"{iso_s(seconds)[:-1]}.{millis:03d}Z"


def utc_date(epoch_s: int) -> dt.date:
    """The UTC calendar date of an instant: the landing date of a record received then."""
    return (_EPOCH + dt.timedelta(seconds=int(epoch_s))).date()


def local_wall_as_utc(epoch_s: int, zone: str) -> str:
    """The local wall-clock time of an instant, wrongly labelled `Z` (the 'local time written as UTC' fault)."""
    local = dt.datetime.fromtimestamp(int(epoch_s), ZoneInfo(zone))
    return local.strftime("%Y-%m-%dT%H:%M:%SZ")


def local_iso(epoch_s: int, zone: str) -> str:
    """Local time with its offset, e.g. `2026-10-25T01:30:00+01:00`."""
    return dt.datetime.fromtimestamp(int(epoch_s), ZoneInfo(zone)).isoformat()


def local_date(epoch_s: int, zone: str) -> dt.date:
    """The local calendar date of an instant in `zone` (the settlement date rule)."""
    return dt.datetime.fromtimestamp(int(epoch_s), ZoneInfo(zone)).date()


@lru_cache(maxsize=256)
def local_minute_table(zone: str, day: dt.date) -> np.ndarray:
    """UTC epoch seconds of every local clock minute of `day` in `zone`, shape (2, 1440): row = fold.

    On the autumn change the repeated hour has two instants (fold 0 and 1); elsewhere both rows agree.
    Vectorised arrival sampling indexes this table instead of calling zoneinfo per session.
    """
    tz = ZoneInfo(zone)
    table = np.empty((2, 1440), dtype=np.int64)
    for fold in (0, 1):
        for minute in range(1440):
            local = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60, fold=fold, tzinfo=tz)
            table[fold, minute] = int(local.timestamp())
    return table


def dst_transitions(zone: str, first: dt.date, last: dt.date) -> list[int]:
    """Epoch seconds of the UTC-offset changes of `zone` between local midnight of `first` and of `last`+1."""
    tz = ZoneInfo(zone)
    start = int(dt.datetime(first.year, first.month, first.day, tzinfo=tz).timestamp())
    end_day = last + dt.timedelta(days=1)
    end = int(dt.datetime(end_day.year, end_day.month, end_day.day, tzinfo=tz).timestamp())
    changes: list[int] = []
    previous = dt.datetime.fromtimestamp(start, tz).utcoffset()
    # Offsets only change on quarter hours in the zones we use; scan 15-minute steps.
    for t in range(start + 900, end + 1, 900):
        offset = dt.datetime.fromtimestamp(t, tz).utcoffset()
        if offset != previous:
            changes.append(t)
            previous = offset
    return changes
