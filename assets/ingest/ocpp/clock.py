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

import polars as pl

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


# -- the same rules as column expressions (the columnar extraction, ``reading_columns``) ------------------

# The ISO-8601 forms read here: date-time, 1-6 fraction digits, ``Z``, ``±hh:mm`` or no offset, year 1000-2999
# (any other text, e.g. other fraction lengths or offsets without colon, goes to ``repair_timestamp``).
ISO_DATE_TIME = (r"^([12][0-9]{3}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?)"
                 r"(Z|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))?$")
_US = 1_000_000


def _us(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def repair_timestamp_columns(frame: pl.DataFrame, raw: str, received_at: str) -> pl.DataFrame:
    """``repair_timestamp`` over columns: ``frame`` with ``_timestamp``, ``_time_repair`` and ``_time_exact``,
    which is False where the text is not of a form read here or the rule rejects the timestamp (the caller
    hands those to ``repair_timestamp``, which gives the reason)."""
    parts = pl.col(raw).str.extract_groups(ISO_DATE_TIME)
    frame = frame.with_columns(parts.alias("_iso"))
    iso = pl.col("_iso").struct
    sign = pl.when(iso.field("3") == "-").then(-1).otherwise(1)
    offset_us = (sign * (iso.field("4").cast(pl.Int64()) * 3600 + iso.field("5").cast(pl.Int64()) * 60) * _US).fill_null(0)
    local = iso.field("1").str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False)
    frame = frame.with_columns(
        (local.dt.replace_time_zone("UTC") - pl.duration(microseconds=offset_us)).alias("_moment"),
        iso.field("2").is_null().alias("_naive"),
    ).drop("_iso")
    moment, received = pl.col("_moment"), pl.col(received_at)
    frame = frame.with_columns((moment - received).dt.total_microseconds().alias("_skew"))
    skew = pl.col("_skew")
    step = _us(ZONE_OFFSET_STEP)
    # Python's round() of skew / step; an exact half is 7.5 min away from both offsets, so no rule below
    # depends on which way it goes.
    frame = frame.with_columns((((skew + step // 2) // step) * step).alias("_zone"),
                               (moment < pl.lit(CLOCK_NOT_SET_BEFORE)).alias("_not_set"))
    zone = pl.col("_zone")
    zone_ok = (skew <= _us(MAX_ZONE_OFFSET + ZONE_OFFSET_SLACK)) & ((skew - zone).abs() <= _us(ZONE_OFFSET_SLACK))
    not_set, in_time = pl.col("_not_set"), skew <= _us(FUTURE_TOLERANCE)
    ahead = skew <= _us(MAX_ZONE_OFFSET)
    frame = frame.with_columns(
        pl.when(not_set).then(received).when(in_time).then(moment)
        .when(zone_ok).then(moment - pl.duration(microseconds=zone)).when(ahead).then(received).alias("_timestamp"),
        pl.when(not_set).then(pl.lit("clock_not_set"))
        .when(in_time).then(pl.when(pl.col("_naive")).then(pl.lit("naive_timestamp_utc")))
        .when(zone_ok).then(pl.lit("local_time_marked_utc")).when(ahead).then(pl.lit("clock_ahead"))
        .alias("_time_repair"),
    )
    return (frame.with_columns((moment.is_not_null() & pl.col("_timestamp").is_not_null()).fill_null(False)
                               .alias("_time_exact"))
            .drop("_moment", "_naive", "_skew", "_zone", "_not_set"))
