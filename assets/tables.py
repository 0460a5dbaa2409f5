"""The table list: every warehouse table, assembled from each domain package's `TABLES`.

This is the one answer to "which tables exist": the warehouse looks specs up here by name
(`resources.tables.get_spec`), the analyst catalog publishes a view for each, and the shared `quarantine`
table is listed here beside them. A package that declares a table adds it to its own `TABLES`;
tests/foundation/test_table_list.py fails when a declared or written table is missing from the list.
"""

from __future__ import annotations

import functools

from assets.domains import DOMAINS
from assets.quarantine import QUARANTINE
from resources.tables import TableSpec


def all_tables() -> tuple[TableSpec, ...]:
    """Every warehouse table: the shared quarantine, then each domain package's `TABLES` in domain order."""
    return (QUARANTINE, *(spec for domain in DOMAINS for spec in domain.TABLES))


@functools.cache
def specs_by_name() -> dict[str, TableSpec]:
    """`all_tables()` by table name; two specs with one name are an error, not a silent override."""
    specs: dict[str, TableSpec] = {}
    for spec in all_tables():
        if spec.name in specs:
            raise ValueError(f"table {spec.name} is declared twice in the table list")
        specs[spec.name] = spec
    return specs
