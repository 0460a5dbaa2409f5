"""The state a settlement-side asset saves after a run of a date so its next run of that date can take over what
did not change (`curve_cache` for `meter_curves`, `period_cache` for `charging_periods`): where it lives, the
code version it was made by, the version of the partition it describes, and its file format.

A saved state is a cache, not a table: one Arrow IPC file per asset and date under the warehouse's registers (local
state, like the invoice register; losing it only costs a full rebuild), written whole and renamed into place.
``CHARGELEDGER_CURVE_CACHE=off`` turns every such reuse off.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc

from assets.consumption.tables import PARTITION
from resources.tables import TableSpec
from resources.warehouse import WarehouseResource

CACHE_ENV = "CHARGELEDGER_CURVE_CACHE"
METADATA_KEY = b"chargeledger.saved_state"


def _code_version() -> str:
    """A digest of the code that builds curves and periods (the consumption assets, the engine, the tariff choice,
    the session batches and the readers' index) and of the polars version: any change to it makes every saved
    state describe nothing."""
    root = Path(__file__).resolve().parents[2]
    files = sorted([*(root / "assets" / "consumption").glob("*.py"), *(root / "tariff_engine").rglob("*.py"),
                    root / "assets" / "pricing" / "session_tariffs.py",
                    root / "assets" / "ingest" / "ocpp" / "transaction_days.py", root / "assets" / "session_batches.py"])
    digest = hashlib.sha256(pl.__version__.encode())
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


CODE_VERSION = _code_version()


def enabled() -> bool:
    return os.environ.get(CACHE_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def unusable(warehouse: WarehouseResource) -> str | None:
    """Why no state can be saved or used for this warehouse, or None when it can: reuse turned off, or an object
    store, whose listing gives a size and a modification time in whole seconds, too little to tell a rewritten file
    from the version saved."""
    if not enabled():
        return f"{CACHE_ENV}=off"
    if warehouse.is_object_store:
        return "object-store warehouse: no file versions to compare"
    return None


def previous(warehouse: WarehouseResource, spec: TableSpec, day: dt.date,
             columns: set[str]) -> tuple[dict, pl.DataFrame] | str:
    """(state, frame) saved after the last run of ``spec``'s asset for ``day``, or why there is none to use: none
    saved or unreadable, made by other code, or describing another ``spec`` partition than the one in place (a
    run that failed after writing, another writer)."""
    why = unusable(warehouse)
    if why:
        return why
    saved = read(state_path(warehouse, spec.name, day), columns)
    if saved is None:
        return "no saved state for this date"
    state, frame = saved
    if state.get("code") != CODE_VERSION:
        return "the code changed"
    if state.get("output") != partition_version(warehouse, spec, {PARTITION: day}):
        return f"the {spec.name} partition is not the one the saved state describes"
    return state, frame


def save(warehouse: WarehouseResource, spec: TableSpec, day: dt.date, state: dict, frame: pl.DataFrame) -> None:
    """Save ``state`` and ``frame`` for ``spec``'s asset and ``day``, once its partition is written (with the code
    version and that partition's version); nothing where no state can be used (`unusable`)."""
    if unusable(warehouse):
        return
    state = state | {"code": CODE_VERSION, "output": partition_version(warehouse, spec, {PARTITION: day})}
    write(state_path(warehouse, spec.name, day), state, frame)


def state_path(warehouse: WarehouseResource, asset: str, day: dt.date) -> Path:
    return warehouse.registers_dir / "saved_state" / asset / f"{day.isoformat()}.arrow"


def partition_version(warehouse: WarehouseResource, spec: TableSpec, partition: dict) -> dict[str, list[int]]:
    """The files of one partition of ``spec`` with their versions (size, modified ns, inode)."""
    folder = warehouse.partition_dir(spec.name, spec, partition) + "/"
    prefix = folder[len(spec.name) + 1:]
    return {path: list(version) for path, version in warehouse.tables.part_file_versions(spec.name).items()
            if path.startswith(prefix)}


def write(path: Path, state: dict, frame: pl.DataFrame) -> None:
    """Save ``state`` (JSON) with ``frame`` in one file, replacing the previous one whole."""
    table = frame.to_arrow()
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(state, sort_keys=True).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    with pa.OSFile(str(scratch), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(scratch, path)


def read(path: Path, columns: set[str]) -> tuple[dict, pl.DataFrame] | None:
    """(state, frame) saved at ``path``, or None when there is none, it cannot be read or lacks ``columns``."""
    if not path.exists():
        return None
    try:
        with pa.OSFile(str(path), "rb") as source:
            table = ipc.open_file(source).read_all()
        state = json.loads((table.schema.metadata or {})[METADATA_KEY])
        frame = pl.from_arrow(table)
        if not isinstance(frame, pl.DataFrame) or not columns <= set(frame.columns) or not isinstance(state, dict):
            return None
        return state, frame
    except (OSError, KeyError, ValueError, pa.ArrowException, pl.exceptions.PolarsError):
        return None  # a cache: what cannot be read is rebuilt
