"""What the multiprocess executor's fork server imports once, so each step process it forks starts warm.

A step process builds the Dagster instance (SQLite storage: sqlalchemy, alembic and Dagster's storage modules),
the code location, pandera's polars backend and numba's typing registries; imported here, before the fork, that costs nothing per step (measured: about 0.5 CPU-s
a step otherwise, most of it importing and compiling those modules again). These are partly the
libraries' internals: one missing after an upgrade only costs the speed, never the run, so each import is optional.
"""

import importlib

import pipelines.definitions  # noqa: F401  (the code location: assets, resources, jobs)

WARM_MODULES = (
    "resources.dagster_storage",  # the instance storage pipelines/dagster.yaml names
    "sqlalchemy",
    "alembic",
    "dagster._core.instance.factory",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.storage.event_log.sqlite",
    "dagster._core.storage.runs.sqlite",
    "dagster._core.storage.schedules.sqlite",
    "dagster._core.secrets.env_file",
    "upath.core",
    "upath.implementations.local",
    "pyarrow.compute",
    "pandera.backends.polars.builtin_checks",  # the pandera.polars checks every asset validates with
    "pandera.backends.polars.register",
    "numba.typed.typeddict",
    "numba.typed.typedlist",
    "numpy.ma",
)

for _module in WARM_MODULES:
    try:
        importlib.import_module(_module)
    except ImportError:
        pass

try:
    # numba loads its typing and lowering registries when the first kernel is loaded from the cache
    from numba.core.registry import cpu_target

    cpu_target.typing_context.refresh()
    cpu_target.target_context.refresh()
except Exception:  # noqa: BLE001 (an optimisation only: a step loads them itself)
    pass
