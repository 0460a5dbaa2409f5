"""Monthly partitions of partner settlement and invoicing (a month key is its first day, `2026-10-01`).

They start with the daily partitioning (assets/partitions.py) and end with the last complete month, so the
`monthly_invoicing` run on the 1st closes the month before. When assets/partitions.py gains its own
`monthly`, this module should re-export it instead.
"""

from __future__ import annotations

import calendar
import datetime as dt

import dagster as dg

from assets.partitions import PARTITIONS_START

monthly = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START)


def month_bounds(partition_key: str) -> tuple[dt.date, dt.date]:
    """First and last day of the month a partition key names."""
    first = dt.date.fromisoformat(partition_key).replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def month_of(day: dt.date) -> str:
    """The monthly partition key of a settlement date."""
    return day.replace(day=1).isoformat()
