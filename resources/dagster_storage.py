"""Dagster's SQLite instance storage, with each database's SQLAlchemy engine and connection kept open.

Dagster's SQLite storages (runs, event log, schedules) build a new SQLAlchemy engine and open a new SQLite
connection for every operation: one per stored event, several per step. Building the engine throws away
SQLAlchemy's compiled-statement cache (so every event recompiled its INSERT), and closing the last connection
of a WAL database checkpoints it. On the settlement that was most of Dagster's own CPU: a step that does nothing
cost about 0.24 CPU-s, a nightly run's 25 empty steps 6 CPU-s (bench/bench_run_overhead.py).

These subclasses keep one engine per database file, with its connection pooled, for the life of the storage.
Everything else is Dagster's: the same files and layout as `storage: sqlite` with `base_dir` (an existing
DAGSTER_HOME keeps its runs; the UI and the daemon read it as before), the same schema and migrations, one
transaction per operation committed before the call returns. So what is on disk after each event, and after a
crash, is what Dagster's own classes leave: a committed event is in the WAL file (SQLite's default synchronous
mode for WAL, as before), an idle pooled connection holds no lock. A process forked while holding connections
never uses its parent's: it opens its own (SQLite connections must not cross a fork).

`pipelines/dagster.yaml` selects it as the default storage, through the instance class below (a `storage:` key
cannot name the instance's own folder, which `DagsterInstance.from_config(folder)` and $DAGSTER_HOME give):

    instance_class:
      module: resources.dagster_storage
      class: InstanceWithEngineCache

A `storage:` key in the yaml (Postgres in production, docs/scaling.md) still replaces it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import dagster._check as check
import yaml
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool


class EngineCache:
    """One engine per connection string, its connections pooled; the `size` most recently used kept (a run's
    event log is a database of its own, so the keys grow with the runs; an evicted engine closes its
    connections). After a fork the child starts an empty cache and leaves the parent's connections alone."""

    def __init__(self, size: int = 8, **engine_kwargs):
        self._size, self._kwargs = size, engine_kwargs
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def get(self, conn_string: str) -> Engine:
        with self._lock:
            if self._pid != os.getpid():  # forked: the pooled connections belong to the parent
                for engine in self._engines.values():
                    engine.dispose(close=False)
                self._engines.clear()
                self._pid = os.getpid()
            engine = self._engines.pop(conn_string, None)
            if engine is None:
                engine = create_engine(conn_string, poolclass=QueuePool, **self._kwargs)
            self._engines[conn_string] = engine
            while len(self._engines) > self._size:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    def dispose(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose(close=self._pid == os.getpid())
            self._engines.clear()


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """What Dagster's storages do per operation: one transaction, committed on exit (on a pooled connection)."""
    with engine.connect() as conn:
        with conn.begin():
            yield conn


class EventLogStorageWithEngineCache(SqliteEventLogStorage):
    """`SqliteEventLogStorage` (a database per run plus the index) with one kept engine per database."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines = EngineCache(connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        super().__init__(base_dir, inst_data=inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # the same lock, first-use initialisation and transaction as SqliteEventLogStorage._connect
        with self._db_lock:
            check.str_param(shard, "shard")
            engine = self._engines.get(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with _transaction(engine) as conn:
                yield conn

    def wipe(self) -> None:
        # wipe deletes the run databases' files: no connection may stay open on a deleted file
        with self._db_lock:
            self._engines.dispose()
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._engines.dispose()


class _KeptEngineConnect:
    """`connect()` of Dagster's one-database SQLite storages (runs, schedules) on a kept engine."""

    _conn_string: str

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        if "_engines" not in self.__dict__:
            self._engines = EngineCache(size=1)
        with _transaction(self._engines.get(self._conn_string)) as conn:
            yield conn

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        if "_engines" in self.__dict__:
            self._engines.dispose()


class RunStorageWithEngineCache(_KeptEngineConnect, SqliteRunStorage):
    """`SqliteRunStorage` with its engine and connection kept."""


class ScheduleStorageWithEngineCache(_KeptEngineConnect, SqliteScheduleStorage):
    """`SqliteScheduleStorage` with its engine and connection kept."""


class SqliteStorageWithEngineCache(DagsterSqliteStorage):
    """Dagster's `storage: sqlite` (same `base_dir` layout, so an existing DAGSTER_HOME keeps its runs) built
    from the engine-caching storages above."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        # DagsterSqliteStorage.__init__ with the three storages swapped (same directories, same files)
        self.base_dir = check.str_param(base_dir, "base_dir")
        self._run_storage = RunStorageWithEngineCache.from_local(_runs_directory(base_dir))
        self._event_log_storage = EventLogStorageWithEngineCache(_event_logs_directory(base_dir))
        self._schedule_storage = ScheduleStorageWithEngineCache.from_local(_schedule_directory(base_dir))
        self._inst_data = check.opt_inst_param(inst_data, "inst_data", ConfigurableClassData)
        DagsterStorage.__init__(self)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> SqliteStorageWithEngineCache:
        return cls.from_local(inst_data=inst_data, **config_value)


class InstanceWithEngineCache(DagsterInstance):
    """Dagster's instance whose default storage (no `storage:` key) is `SqliteStorageWithEngineCache` in the
    instance's folder, where Dagster's default `DagsterSqliteStorage` would put the same files."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> dict:
        defaults = dict(InstanceRef.config_defaults(base_dir))
        defaults["storage"] = ConfigurableClassData(
            __name__, SqliteStorageWithEngineCache.__name__, yaml.dump({"base_dir": base_dir}, default_flow_style=False))
        return defaults
