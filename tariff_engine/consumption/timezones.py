"""UTC-offset timelines of IANA zones, flattened into arrays the numba kernels can read.

A zone's timeline over a window is a list of segments: segment k starts at `segment_start_us[k]`
(UTC microseconds) and keeps the UTC offset `segment_offset_us[k]` until the next segment starts. The
first segment starts at `FAR_PAST_US`, so every instant falls in exactly one segment. Several zones are
packed CSR style (`zone_ptr`) so one kernel call can serve sessions of many sites.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

# Far enough from the int64 limits that adding an offset or an interval can never overflow.
FAR_PAST_US = -(2**62)
FAR_FUTURE_US = 2**62
US_PER_SECOND = 1_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
# tzdb transitions are months apart; sampling hourly cannot miss one, bisection then finds the second.
_SAMPLE_STEP_S = 3600
# Margin around the requested window, so local days that straddle its edges are covered too.
_MARGIN_S = 3 * 86400


class UnknownTimeZoneError(ValueError):
    """Raised for a zone name the tz database does not know (never silently priced in UTC)."""


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or `UnknownTimeZoneError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise UnknownTimeZoneError(f"unknown IANA time zone {name!r}") from exc


def to_us(moment: dt.datetime) -> int:
    """UTC microseconds since the epoch of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: timestamps must carry a zone (UTC expected)")
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def from_us(us: int) -> dt.datetime:
    """The aware UTC datetime of epoch microseconds."""
    return _EPOCH + dt.timedelta(microseconds=int(us))


def _offset_s(zone: ZoneInfo, epoch_s: int) -> int:
    moment = _EPOCH + dt.timedelta(seconds=epoch_s)
    return int(moment.astimezone(zone).utcoffset().total_seconds())


def offset_segments(zone_name: str, start_us: int, end_us: int) -> tuple[np.ndarray, np.ndarray]:
    """Segments (start, offset) in microseconds of `zone_name` covering [start_us, end_us] with margin."""
    zone = load_zone(zone_name)
    lo = start_us // US_PER_SECOND - _MARGIN_S
    hi = end_us // US_PER_SECOND + _MARGIN_S
    starts = [FAR_PAST_US]
    offsets = [_offset_s(zone, lo) * US_PER_SECOND]
    previous = _offset_s(zone, lo)
    t = lo
    while t < hi:
        nxt = min(t + _SAMPLE_STEP_S, hi)
        current = _offset_s(zone, nxt)
        if current != previous:
            # Bisect to the exact second the offset changes.
            a, b = t, nxt
            while b - a > 1:
                mid = (a + b) // 2
                if _offset_s(zone, mid) == previous:
                    a = mid
                else:
                    b = mid
            starts.append(b * US_PER_SECOND)
            offsets.append(current * US_PER_SECOND)
            previous = current
        t = nxt
    return np.asarray(starts, dtype=np.int64), np.asarray(offsets, dtype=np.int64)


@dataclass(frozen=True)
class ZoneTimelines:
    """Offset segments of several zones, CSR packed: zone z owns rows zone_ptr[z]:zone_ptr[z+1]."""

    zones: tuple[str, ...]
    zone_ptr: np.ndarray
    segment_start_us: np.ndarray
    segment_offset_us: np.ndarray

    def index(self, zone: str) -> int:
        """Position of `zone` in the packed arrays."""
        return self.zones.index(zone)


def build_zone_timelines(zones: Sequence[str], start_us: int, end_us: int) -> ZoneTimelines:
    """Pack the offset segments of `zones` (deduplicated, order kept) for the window [start_us, end_us]."""
    unique = tuple(dict.fromkeys(zones))
    ptr = [0]
    starts: list[np.ndarray] = []
    offsets: list[np.ndarray] = []
    for name in unique:
        s, o = offset_segments(name, start_us, end_us)
        starts.append(s)
        offsets.append(o)
        ptr.append(ptr[-1] + len(s))
    return ZoneTimelines(
        zones=unique,
        zone_ptr=np.asarray(ptr, dtype=np.int64),
        segment_start_us=np.concatenate(starts) if starts else np.zeros(0, np.int64),
        segment_offset_us=np.concatenate(offsets) if offsets else np.zeros(0, np.int64),
    )


def local_midnight_us(zone_name: str, day: dt.date) -> int:
    """UTC microseconds of the first instant of local date `day` (the transition itself if midnight is skipped)."""
    zone = load_zone(zone_name)
    wall = dt.datetime(day.year, day.month, day.day, tzinfo=zone, fold=0)
    us = to_us(wall.astimezone(dt.timezone.utc))
    # If midnight falls in a spring-forward gap, fold=0 maps it to the instant of the jump, which is the
    # first instant of the day; if it maps into the previous day, step to the day's first instant.
    if from_us(us).astimezone(zone).date() < day:
        nxt = to_us(dt.datetime(day.year, day.month, day.day, 1, tzinfo=zone).astimezone(dt.timezone.utc))
        us = nxt - 3600 * US_PER_SECOND
    return us
