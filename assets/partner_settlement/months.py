"""Monthly partitions of partner settlement and invoicing (a month key is its first day, `2026-10-01`).

They start with the daily partitioning (assets/partitions.py) and include the running month (as the daily
partitions include today), so a pro forma of the month so far can be issued; the schedule
(sensors/monthly.py) invoices a month only once it has ended and its last day is settled. When assets/partitions.py gains its own
`monthly`, this module should re-export it instead.
"""

from __future__ import annotations

import calendar
import datetime as dt

import dagster as dg

from assets.partitions import PARTITIONS_START

monthly = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)


def month_bounds(partition_key: str) -> tuple[dt.date, dt.date]:
    """First and last day of the month a partition key names."""
    first = dt.date.fromisoformat(partition_key).replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def month_of(day: dt.date) -> str:
    """The monthly partition key of a settlement date."""
    return day.replace(day=1).isoformat()
