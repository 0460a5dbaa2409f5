"""Export: home charges pushed to the Charge API (seed 000) — `interval_export`, its job and schedule (the
`charge_export_retries` sensor is in sensors/export.py); the export log's tables `charge_exports` and
`charge_export_attempts`.

`defs` binds the `charge_api` resource from the environment (CHARGE_API_TOKEN_URL, CHARGE_API_BASE_URL,
CHARGE_API_CLIENT_ID, CHARGE_API_CLIENT_SECRET); `warehouse` comes from the merged definitions.
"""

import dagster as dg

from assets.export.assets import charge_api_from_env, interval_export, interval_export_job, interval_export_schedule
from assets.export.tables import CHARGE_EXPORT_ATTEMPTS, CHARGE_EXPORTS, TABLES

defs = dg.Definitions(
    assets=[interval_export],
    jobs=[interval_export_job],
    schedules=[interval_export_schedule],
    resources={"charge_api": charge_api_from_env()},
)

__all__ = ["CHARGE_EXPORTS", "CHARGE_EXPORT_ATTEMPTS", "TABLES", "defs", "interval_export", "interval_export_job"]
