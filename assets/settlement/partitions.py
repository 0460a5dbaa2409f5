"""Monthly partitions for the settlement outputs, aligned with the daily partitions.

They start in the month of the daily partitioning's first day, so a configurable start moves both.
(When assets/partitions.py offers a `monthly` definition, this module should re-export it instead.)
"""

import dagster as dg

from assets.partitions import daily

monthly = dg.MonthlyPartitionsDefinition(start_date=daily.start.strftime("%Y-%m-01"), end_offset=1)
