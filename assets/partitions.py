"""The one daily partitioning of the pipeline.

A key `D` is a landing date for ingest assets and a settlement date for canonical tables
(resources/README.md §1). Keys are UTC calendar days; the nightly schedule starts day D only once D has
ended in every operator's time zone.
"""

import dagster as dg

PARTITIONS_START = "2026-01-01"

daily = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)

monthly = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)
