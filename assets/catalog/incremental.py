"""The analyst catalog, rebuilt only when its definition changed.

Every view reads its table through a glob (`<table>/**/*.parquet`), so a partition written since the last
rebuild is already visible through the existing view: the catalog only has to be rebuilt when a view's SQL or
a comment changes (a table written for the first time, a new table or column, a new description). Rebuilding
it anyway costs a bind of every view, and binding reads the footer of every Parquet file of the table, i.e.
cost proportional to the whole history on every run.

The definition (every statement `WarehouseResource.refresh_catalog` would execute, and that function's own
code) is hashed into a stamp file beside the catalog, together with the catalog file's identity (inode, size,
modification time). A catalog rebuilt or replaced by anything else, or missing, does not match the stamp and
is rebuilt.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Iterable
from pathlib import Path

from resources.tables import TableSpec, registered_specs
from resources.warehouse import WarehouseResource, _view_sql

STAMP_SUFFIX = ".definition"


def _stamp_path(warehouse: WarehouseResource) -> Path:
    catalog = warehouse.catalog_path
    return catalog.with_name(f".{catalog.name}{STAMP_SUFFIX}")


def catalog_definition(warehouse: WarehouseResource, specs: Iterable[TableSpec]) -> str:
    """A digest of what the catalog holds: each view's SQL, its comments, and the code that builds it."""
    digest = hashlib.sha256(inspect.getsource(WarehouseResource.refresh_catalog).encode())
    for spec in specs:
        digest.update(json.dumps([_view_sql(warehouse, spec), spec.description, spec.column_docs],
                                 sort_keys=True).encode())
    return digest.hexdigest()


def _identity(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def _stamp_matches(warehouse: WarehouseResource, definition: str) -> bool:
    try:
        stamp = json.loads(_stamp_path(warehouse).read_text(encoding="utf-8"))
        return stamp == {"definition": definition, "catalog": _identity(warehouse.catalog_path)}
    except (OSError, ValueError):
        return False


def refresh_catalog_if_changed(warehouse: WarehouseResource, specs: Iterable[TableSpec] | None = None) -> tuple[Path, bool]:
    """(catalog path, whether it was rebuilt): `warehouse.refresh_catalog(specs)` unless the catalog on disk was
    built by it from the same definition."""
    specs = list(specs) if specs is not None else registered_specs()
    definition = catalog_definition(warehouse, specs)
    if _stamp_matches(warehouse, definition):
        return warehouse.catalog_path, False
    stamp = _stamp_path(warehouse)
    stamp.unlink(missing_ok=True)  # never a stale stamp beside a catalog being replaced
    path = warehouse.refresh_catalog(specs)
    tmp = stamp.with_name(f"{stamp.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"definition": definition, "catalog": _identity(path)}), encoding="utf-8")
    os.replace(tmp, stamp)
    return path, True
