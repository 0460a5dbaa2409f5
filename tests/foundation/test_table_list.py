"""The table list (assets/tables.py) is the one answer to "which tables exist", whatever was imported.

Every `TableSpec` declared anywhere under assets/ and every table an asset writes is in it; the warehouse
refuses to write a table name nobody lists, and the catalog publishes exactly the list.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import polars as pl
import pytest

import assets
from assets.quarantine import QUARANTINE
from assets.sessions.tables import SESSIONS
from assets.tables import all_tables, specs_by_name
from resources.tables import TableSpec, get_spec, registered_specs

ROOT = Path(__file__).resolve().parents[2]
WRITE_METHODS = {"write_partition", "partition_writer"}


def _asset_modules() -> list:
    return [importlib.import_module(info.name)
            for info in pkgutil.walk_packages(assets.__path__, prefix="assets.")]


def test_every_declared_table_spec_is_in_the_list():
    listed = {id(spec) for spec in all_tables()}
    declared = {f"{module.__name__}.{name}": value for module in _asset_modules()
                for name, value in vars(module).items() if isinstance(value, TableSpec)}
    assert len(declared) >= 45  # every domain's tables, quarantine included
    assert sorted(where for where, spec in declared.items() if id(spec) not in listed) == []


def _write_targets(path: Path) -> list[tuple[int, str]]:
    """(line, name) of each warehouse write whose table argument is a module-level name or a string."""
    targets = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITE_METHODS \
                and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Name):
                targets.append((node.lineno, arg.id))
            elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                targets.append((node.lineno, repr(arg.value)))
    return targets


def test_every_table_an_asset_writes_is_in_the_list():
    listed = specs_by_name()
    found, unlisted = 0, []
    for path in sorted((ROOT / "assets").rglob("*.py")):
        module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = importlib.import_module(module_name.removesuffix(".__init__"))
        for line, name in _write_targets(path):
            if name.startswith("'"):
                table = name.strip("'")
                ok = table in listed
            else:
                value = getattr(module, name, None)
                if value is None:  # a local variable (e.g. `spec` in a loop): its values are declared specs,
                    continue       # which the test above holds to the list
                ok = isinstance(value, TableSpec) and listed.get(value.name) is value
            found += 1
            if not ok:
                unlisted.append(f"{module_name}:{line} {name}")
    assert found >= 25  # the write sites of every domain were seen (the streamed writes are not counted)
    assert unlisted == []


def test_the_list_has_one_spec_per_name_and_lookups_use_it():
    names = [spec.name for spec in all_tables()]
    assert len(names) == len(set(names))
    assert get_spec("sessions") is SESSIONS and get_spec("quarantine") is QUARANTINE
    assert get_spec("no_such_table") is None
    # The catalog publishes exactly the list, by name.
    assert [spec.name for spec in registered_specs()] == sorted(names)
    assert {"ocpi_cdrs", "interval_charges", "operators", "partners", "settlement_audit", "invoices",
            "charge_exports", "ocpp_messages", "platform_cdrs", "eevion_sessions"} <= set(names)


def test_the_warehouse_refuses_a_table_nobody_lists(tmp_warehouse):
    frame = pl.DataFrame({"x": [1]})
    with pytest.raises(KeyError, match="not in the table list"):
        tmp_warehouse.write_partition("unlisted_table", frame)
    with pytest.raises(KeyError, match="not in the table list"):
        tmp_warehouse.partition_writer("unlisted_table", pl.lit(0))
    assert not tmp_warehouse.table_path("unlisted_table").exists()
    # A listed table that was never written scans as zero rows with its full schema.
    empty = tmp_warehouse.read("session_links")
    assert empty.height == 0 and empty.schema == pl.Schema(get_spec("session_links").schema)
