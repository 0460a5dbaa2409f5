"""ChargeLedger demo fleet generator.

`python -m data.generate --help` writes a synthetic but realistic landing zone (OCPP-J frame logs, OCPI CDRs,
platform and Eevion API pages, 30-minute interval charges, partner documents, tariffs and reference data)
exactly as `resources/README.md` §2 describes it, plus `_manifest.json` with the figures tests check against.
No Dagster import: the generator is a plain library plus CLI.
"""
