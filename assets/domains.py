"""The domain packages, in dependency order: reference data, ingest, sessions, then what is computed from them.

Each exports `defs` (its assets, checks and own jobs; pipelines/definitions.py merges them) and `TABLES` (its
warehouse tables; assets/tables.py assembles them). A new domain package is added here, once, for both.
"""

from assets import (consumption, export, invoicing, partner_settlement, pricing, reconciliation, reference, sessions,
                    settlement)
from assets.ingest import eevion, interval_charges, ocpi_cdrs, ocpp, partners, platform

DOMAINS = (reference, ocpi_cdrs, ocpp, platform, eevion, interval_charges, partners, sessions, consumption, pricing,
           reconciliation, settlement, export, invoicing, partner_settlement)
