"""Settlement date and settlement period of clock-aligned intervals.

The UTC start is the key; (date, period) are derived from it, never the reverse (Elexon practice,
tariffs-and-metering.md §5.1). `settlement_date` is the local date of the interval start in the site's
zone; `settlement_period` counts intervals from the first instant of that local day in elapsed time:
period = (start_utc - local_midnight_utc) // interval + 1. With 30-minute intervals a day has 48
periods, 46 on the spring-forward day and 50 on the fall-back day (on the long day period 5 starts at
01:00 GMT in London, as Elexon numbers it).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from tariff_engine.consumption.timezones import load_zone, local_midnight_us

LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S%:z"


def periods_in_day(zone: str, day: dt.date, interval_minutes: int) -> int:
    """How many settlement periods local date `day` has in `zone` (48/46/50 for 30 minutes in London)."""
    start = local_midnight_us(zone, day)
    end = local_midnight_us(zone, day + dt.timedelta(days=1))
    return (end - start) // (interval_minutes * 60_000_000)


def label_settlement(intervals: pl.DataFrame, interval_minutes: int) -> pl.DataFrame:
    """Add interval_start_local (ISO text with offset), settlement_date and settlement_period.

    `intervals` needs interval_start_utc (Datetime us UTC) and time_zone (IANA name).
    """
    step_us = interval_minutes * 60_000_000
    out_schema = {"interval_start_local": pl.String, "settlement_date": pl.Date, "settlement_period": pl.Int32}
    if intervals.height == 0:
        return intervals.with_columns([pl.lit(None, dtype).alias(name) for name, dtype in out_schema.items()])
    parts = []
    for (zone,), part in intervals.with_row_index("_order").partition_by("time_zone", as_dict=True).items():
        load_zone(zone)
        local = pl.col("interval_start_utc").dt.convert_time_zone(zone)
        part = part.with_columns(
            local.dt.strftime(LOCAL_FORMAT).alias("interval_start_local"),
            local.dt.date().alias("settlement_date"),
        )
        days = part.get_column("settlement_date").unique().to_list()
        midnights = pl.DataFrame(
            {"settlement_date": days, "_midnight_us": [local_midnight_us(zone, d) for d in days]},
            schema={"settlement_date": pl.Date, "_midnight_us": pl.Int64},
        )
        part = part.join(midnights, on="settlement_date", how="left").with_columns(
            ((pl.col("interval_start_utc").dt.epoch("us") - pl.col("_midnight_us")) // step_us + 1)
            .cast(pl.Int32).alias("settlement_period")
        ).drop("_midnight_us")
        parts.append(part)
    return pl.concat(parts).sort("_order").drop("_order")
