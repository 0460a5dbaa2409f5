"""OCPP ingest: landed OCPP-J frames -> ``ocpp_messages`` -> ``meter_readings`` and ``transactions``.

Parsing, normalisation and repair rules are plain functions (``frames``, ``units``, ``clock``,
``readings``, ``reading_rules``, ``transactions``); ``assets`` wires them into Dagster. ``defs`` holds the
assets; ``sensors.ocpp_landing`` triggers the affected landing-date partitions (sensors depend on assets, never
the reverse).
"""

import dagster as dg

from assets.ingest.ocpp.assets import OCPP_ASSETS, meter_readings, ocpp_messages, transactions
from assets.ingest.ocpp.tables import TABLES

defs = dg.Definitions(assets=OCPP_ASSETS)

__all__ = ["TABLES", "defs", "meter_readings", "ocpp_messages", "transactions"]
