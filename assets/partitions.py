"""The pipeline's partitionings: `daily` (the one used by every asset) and `monthly` (for month-end work).

A key `D` of `daily` is a landing date for ingest assets and a settlement date for canonical tables
(resources/README.md §1). Keys are UTC calendar days; the nightly schedule starts day D only once D has
ended in every operator's time zone. `monthly` keys are the first day of each month (`2026-10-01`).

The first day is configuration, so the UI lists the days that can hold data rather than hundreds of empty
ones. It is, in this order:
1. `CHARGELEDGER_PARTITIONS_START` (`YYYY-MM-DD`), if set;
2. else the earliest date-named landing folder in the landing zone (`CHARGELEDGER_LANDING`, default
   `data/landing`), read once when the definitions load;
3. else `FALLBACK_START` (2026-01-01).
The last day is tomorrow (UTC). A landing folder outside that range is not a partition: the demo runner and
the sensors report it (`in_range`) and settle the other days.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg

START_ENV = "CHARGELEDGER_PARTITIONS_START"
FALLBACK_START = "2026-01-01"


def _is_day(name: str) -> bool:
    try:
        dt.date.fromisoformat(name)
    except ValueError:
        return False
    return len(name) == 10


def first_landed_day(landing_root: Path) -> str | None:
    """The earliest `YYYY-MM-DD` folder at most two levels below a source (`<source>/<day>`,
    `<source>/<kind>/<day>`), or None when nothing has landed."""
    if not landing_root.is_dir():
        return None
    days = []
    for source in landing_root.iterdir():
        if not source.is_dir() or source.name.startswith((".", "_")):
            continue
        for child in source.iterdir():
            if not child.is_dir():
                continue
            if _is_day(child.name):
                days.append(child.name)
            else:
                days.extend(g.name for g in child.iterdir() if g.is_dir() and _is_day(g.name))
    return min(days, default=None)


def partitions_start(environ: dict[str, str] | None = None) -> str:
    """The first daily partition key, by the rule in this module's docstring."""
    environ = os.environ if environ is None else environ
    configured = environ.get(START_ENV, "").strip()
    if configured:
        if not _is_day(configured):
            raise ValueError(f"{START_ENV}={configured!r} is not a YYYY-MM-DD date")
        return configured
    landed = first_landed_day(Path(environ.get("CHARGELEDGER_LANDING", "data/landing")))
    return landed or FALLBACK_START


PARTITIONS_START = partitions_start()

daily = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)

# A monthly partition covers the month of the first day, so it starts on that month's first day.
monthly = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START[:8] + "01", end_offset=1)


def in_range(day: str) -> bool:
    """Whether `day` is a key of `daily` (a date within the configured start and tomorrow)."""
    return _is_day(day) and daily.has_partition_key(day)
