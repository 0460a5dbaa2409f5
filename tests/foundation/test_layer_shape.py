"""The Dagster layer has one shape: domain packages export `defs` and `TABLES`, definitions.py only merges them,
assets never import sensors or pipelines, shared column types are declared once, and no package needs another
to have been imported first (each imports alone in a fresh interpreter: no import cycle)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from assets.domains import DOMAINS
from pipelines.definitions import defs
from resources.tables import TableSpec

ROOT = Path(__file__).resolve().parents[2]

# Every package a caller may import first; each must work alone.
ALONE = [domain.__name__ for domain in DOMAINS] + [
    "assets.columns", "assets.tables", "assets.catalog.assets", "assets.settleable", "assets.ingest.common",
    "assets.sessions.tables", "assets.ingest.ocpi_cdrs.tables", "assets.ingest.interval_charges.tables",
    "sensors", "sensors.nightly", "pipelines.jobs", "resources.warehouse",
]

# One fresh interpreter imports each package in turn after forgetting every project module, so each import
# starts from nothing of ours (libraries stay loaded: they cannot be part of our cycles, and reloading dagster
# per package would take minutes). After the import, the table list must answer by name.
PROBE = """
import importlib, sys, traceback
OURS = ("assets", "resources", "sensors", "pipelines", "tariff_engine")
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in OURS]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
        from resources.tables import get_spec
        assert get_spec("sessions") is not None and get_spec("ocpi_cdrs") is not None
    except BaseException:
        failed.append(name + ": " + traceback.format_exc(limit=3)[-600:])
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_each_package_imports_alone_in_a_fresh_interpreter():
    env = dict(os.environ, DAGSTER_HOME=str(ROOT / ".dagster_home"), NUMBA_CACHE_DIR=str(ROOT / ".numba_cache"))
    done = subprocess.run([sys.executable, "-c", PROBE, *ALONE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_every_domain_package_exports_one_defs_and_its_tables():
    for domain in DOMAINS:
        assert isinstance(domain.defs, dg.Definitions), domain.__name__
        assert domain.TABLES and all(isinstance(spec, TableSpec) for spec in domain.TABLES), domain.__name__
        # The domain's assets are its own: none is defined in another package.
        for asset in domain.defs.assets or []:
            node = getattr(asset, "node_def", None)
            # A graph-backed asset's ops (the OCPP assets' plan, shards and report) are its domain's too.
            ops = list(node.iterate_op_defs()) if isinstance(node, dg.GraphDefinition) else [node]
            for op in ops:
                module = getattr(getattr(getattr(op, "compute_fn", None), "decorated_fn", None), "__module__", None)
                assert module is None or module.startswith(domain.__name__), (domain.__name__, module)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_assets_never_import_sensors_or_pipelines():
    offenders = sorted(f"{path.relative_to(ROOT)}: {name}" for path in (ROOT / "assets").rglob("*.py")
                       for name in _imports(path) if name.split(".")[0] in {"sensors", "pipelines"})
    assert offenders == []


def test_table_modules_take_shared_types_from_the_columns_module():
    """No tables module declares UTC, MONEY or the session columns itself, nor reads them from another domain."""
    literal = ('pl.Datetime("us", "UTC")', "pl.Decimal(18, 4)", "SESSION_COLUMNS: dict", "SESSION_COLUMNS = ")
    own, borrowed = [], []
    for path in (ROOT / "assets").rglob("tables.py"):
        text = path.read_text()
        own += [f"{path.relative_to(ROOT)}: {lit}" for lit in literal if lit in text]
        borrowed += [f"{path.relative_to(ROOT)}: {name}" for name in _imports(path)
                     if name.endswith(".tables") and name != "resources.tables"]
    assert own == [] and borrowed == []
    columns = (ROOT / "assets" / "columns.py").read_text()
    assert all(lit in columns for lit in literal[:3])


def test_charging_periods_declares_every_table_it_reads():
    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey("charging_periods")).parent_keys}
    # meter curves and sessions, and the tariffs (with the EVSEs' tariff lists) it cuts periods at
    assert {"meter_curves", "sessions", "tariffs", "evses"} <= parents


def test_definitions_module_only_merges():
    """pipelines/definitions.py declares no asset, job, sensor or schedule of its own."""
    tree = ast.parse((ROOT / "pipelines" / "definitions.py").read_text())
    decorators = [ast.unparse(d) for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                  for d in node.decorator_list]
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert decorators == []
    assert not calls & {"dg.define_asset_job", "dg.ScheduleDefinition", "dg.SensorDefinition",
                        "dg.load_assets_from_modules", "build_landing_sensor", "build_nightly_schedule"}
