"""What starts runs: landing-file and API-polling sensors, late-data sensors, the nightly and monthly schedules.

`defs` holds every sensor and schedule. They depend on the asset packages and on pipelines/jobs.py (the jobs they
start); nothing under assets/ imports this package, so an asset package can be loaded without its triggers.
"""

import dagster as dg

from assets.export import interval_export_job
from pipelines.jobs import nightly_settlement, resettlement
from sensors import api_polling, monthly, webhooks
from sensors.export import build_export_retry_sensor
from sensors.landing_files import build_landing_sensor
from sensors.late_data import build_late_data_sensor
from sensors.nightly import build_nightly_schedule
from sensors.ocpp_landing import ocpp_landing_sensor

defs = dg.Definitions.merge(
    dg.Definitions(
        schedules=[build_nightly_schedule(nightly_settlement)],
        sensors=[
            build_late_data_sensor(nightly_settlement, resettlement),
            build_landing_sensor("ocpi_cdr_files", "ocpi_cdrs", ["ocpi_cdrs", "sessions"]),
            build_landing_sensor("partner_documents", "partners", ["partner_changes", "partners"]),
            build_landing_sensor("interval_charge_files", "interval_charges", ["interval_charges", "sessions"]),
            ocpp_landing_sensor,
            build_export_retry_sensor(interval_export_job),
        ],
    ),
    api_polling.defs, webhooks.defs, monthly.defs,
)
