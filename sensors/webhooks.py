"""Webhook arrivals: new Eevion webhook bodies in the landing zone → re-parse `eevion_sessions` for that day.

The receiver (resources/eevion_webhook.py) lands each body under `eevion/webhooks/<day>/`; this sensor
fingerprints each day's files and requests `eevion_sessions` for a day whose files changed, with a run
key made of the day and the fingerprint (shared landing-sensor logic in sensors/landing_files.py), so
re-evaluating the same arrivals asks for nothing and a repeated run changes nothing.
"""

import dagster as dg

from sensors.landing_files import build_landing_sensor

eevion_webhook_arrivals = build_landing_sensor("eevion_webhook_arrivals", "eevion/webhooks", ["eevion_sessions"],
                                               minimum_interval_seconds=30)

defs = dg.Definitions(sensors=[eevion_webhook_arrivals])
