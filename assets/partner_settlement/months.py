"""Monthly partitions of partner settlement and invoicing (a month key is its first day, `2026-10-01`).

The partitioning itself is the pipeline's one `monthly` (assets/partitions.py): it starts with the daily
partitioning and includes the running month (as the daily partitions include today), so a pro forma of the
month so far can be issued; the schedule (sensors/monthly.py) invoices a month only once it has ended and its
last day is settled.
"""

from __future__ import annotations

import calendar
import datetime as dt

from assets.partitions import monthly

__all__ = ["monthly", "month_bounds", "month_of"]


def month_bounds(partition_key: str) -> tuple[dt.date, dt.date]:
    """First and last day of the month a partition key names."""
    first = dt.date.fromisoformat(partition_key).replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def month_of(day: dt.date) -> str:
    """The monthly partition key of a settlement date."""
    return day.replace(day=1).isoformat()
