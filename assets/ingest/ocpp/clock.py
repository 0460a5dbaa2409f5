"""Charger clock repair: reading timestamps are converted to UTC and compared with the receive time.

| rule / reason code          | condition (skew = timestamp - received_at)                        | outcome |
|-----------------------------|-------------------------------------------------------------------|---------|
| ``INVALID_TIMESTAMP``       | not an ISO-8601 date-time                                          | quarantined |
| ``naive_timestamp_utc``     | no offset at all                                                   | read as UTC (OCPP requires UTC), repaired |
| ``clock_not_set``           | before 2010-01-01 (a charger that has not had its clock set, 1970) | timestamp := received_at |
| ``local_time_marked_utc``   | skew > 5 min, <= 14 h and within 2 min of a multiple of 15 min     | timestamp -= skew rounded to 15 min |
| ``clock_ahead``             | skew > 5 min, <= 14 h otherwise (a fast charger clock)             | timestamp := received_at, repaired |
| ``FUTURE_TIMESTAMP``        | skew > 14 h and no zone offset                                      | quarantined |
| (none)                      | anything else, including timestamps in the past (offline queues)   | kept |

A timestamp cannot be later than the moment the central system received it, so a future stamp is certainly
wrong; a charger whose clock runs minutes ahead sends its samples as it takes them, so the receive time is
the closest bound on when the sample was taken (the energy stays attributed to the right half hour); a local time written with ``Z`` in a zone *west* of UTC looks like an ordinary late frame and
cannot be told apart, so it is kept. Explicit offsets (``+10:00``) are simply converted to UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

CLOCK_NOT_SET_BEFORE = datetime(2010, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_ZONE_OFFSET = timedelta(hours=14)
ZONE_OFFSET_STEP = timedelta(minutes=15)
ZONE_OFFSET_SLACK = timedelta(minutes=2)


@dataclass(frozen=True)
class RepairedTime:
    """The UTC instant to use and the rule that changed it (None when taken as sent)."""

    timestamp: datetime
    repair: str | None


@dataclass(frozen=True)
class TimeRejection:
    """A timestamp that no rule can repair."""

    reason_code: str
    reason: str


def repair_timestamp(raw: object, received_at: datetime) -> RepairedTime | TimeRejection:
    """Apply the rules of the module table to one charger timestamp."""
    if not isinstance(raw, str):
        return TimeRejection("INVALID_TIMESTAMP", f"timestamp {raw!r} is not a string")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return TimeRejection("INVALID_TIMESTAMP", f"timestamp {raw!r} is not ISO-8601")
    repair = None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
        repair = "naive_timestamp_utc"
    moment = parsed.astimezone(UTC)
    if moment < CLOCK_NOT_SET_BEFORE:
        return RepairedTime(received_at, "clock_not_set")
    skew = moment - received_at
    if skew <= FUTURE_TOLERANCE:
        return RepairedTime(moment, repair)
    steps = round(skew / ZONE_OFFSET_STEP)
    zone_offset = ZONE_OFFSET_STEP * steps
    if skew <= MAX_ZONE_OFFSET + ZONE_OFFSET_SLACK and abs(skew - zone_offset) <= ZONE_OFFSET_SLACK:
        return RepairedTime(moment - zone_offset, "local_time_marked_utc")
    if skew <= MAX_ZONE_OFFSET:
        return RepairedTime(received_at, "clock_ahead")
    return TimeRejection(
        "FUTURE_TIMESTAMP",
        f"timestamp {raw} is {skew.total_seconds():.0f} s after the frame was received and matches no zone offset, beyond any clock drift",
    )
