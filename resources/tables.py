"""Table registry: one `TableSpec` per warehouse table.

A spec names the table, its Hive partition columns, the sort key that makes a partition's bytes
reproducible, the description and column comments that the DuckDB catalog publishes, and the
pandera model that validates it. Specs register themselves on construction, so the warehouse can look
a table up by name once the module that declares it has been imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

_REGISTRY: dict[str, "TableSpec"] = {}


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
        _REGISTRY[self.name] = self

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


def get_spec(name: str) -> TableSpec | None:
    """The registered spec of a table, or None when no imported module declares it."""
    return _REGISTRY.get(name)


def registered_specs() -> list[TableSpec]:
    """Every spec registered so far, by name."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]
