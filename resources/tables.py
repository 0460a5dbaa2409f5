"""`TableSpec`: how one warehouse table is stored, described and validated; and lookups in the table list.

A spec names the table, its Hive partition columns, the sort key that makes a partition's bytes
reproducible, the description and column comments that the DuckDB catalog publishes, and the
pandera model that validates it. Constructing a spec registers nothing: the tables that exist are the
explicit list `assets.tables.all_tables()` (each package's `TABLES`), whatever happens to be imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

@dataclass(frozen=True)
class TableSpec:
    """How one table is stored, described and validated."""

    name: str
    description: str
    schema: dict[str, pl.DataType]  # every column, partition columns included
    partition_by: tuple[str, ...] = ()
    sort_by: tuple[str, ...] = ()
    column_docs: dict[str, str] = field(default_factory=dict)
    model: Any = None  # a pandera.polars DataFrameModel class, or None

    def __post_init__(self) -> None:
        unknown = [c for c in (*self.partition_by, *self.sort_by, *self.column_docs) if c not in self.schema]
        if unknown:
            raise ValueError(f"table {self.name}: columns {unknown} are not in its schema")

    @property
    def data_columns(self) -> list[str]:
        """Columns stored inside the Parquet files (partition columns live in the path)."""
        return [c for c in self.schema if c not in self.partition_by]

    def empty_frame(self) -> pl.DataFrame:
        """A zero-row frame with the table's full schema (partition columns included)."""
        return pl.DataFrame(schema=self.schema)

    def conform(self, df: pl.DataFrame) -> pl.DataFrame:
        """Select and cast the data columns in schema order; a missing or extra column is an error."""
        missing = [c for c in self.data_columns if c not in df.columns]
        if missing:
            raise ValueError(f"table {self.name}: frame lacks columns {missing}")
        return df.select([pl.col(c).cast(self.schema[c]) for c in self.data_columns])


def _specs_by_name() -> dict[str, TableSpec]:
    # Imported when first asked, not at module load: every tables module imports this one.
    from assets.tables import specs_by_name

    return specs_by_name()


def get_spec(name: str) -> TableSpec | None:
    """The spec of the warehouse table `name` from the table list, or None when no package lists it."""
    return _specs_by_name().get(name)


def registered_specs() -> list[TableSpec]:
    """Every table of the table list (`assets.tables.all_tables`), by name."""
    specs = _specs_by_name()
    return [specs[name] for name in sorted(specs)]
