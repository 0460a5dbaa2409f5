"""Fixtures shared by every test folder: a throw-away warehouse and landing zone."""

import os
from pathlib import Path

import pytest

# numba compiles once per machine, not once per test process.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".numba_cache"))
# The partition range must not depend on whatever a developer has in data/landing (assets/partitions.py).
os.environ.setdefault("CHARGELEDGER_PARTITIONS_START", "2026-01-01")

from resources.landing import LandingZoneResource  # noqa: E402
from resources.warehouse import WarehouseResource  # noqa: E402


@pytest.fixture
def tmp_warehouse(tmp_path: Path) -> WarehouseResource:
    """An empty warehouse under the test's temporary folder."""
    return WarehouseResource(root=str(tmp_path / "warehouse"))


@pytest.fixture
def tmp_landing(tmp_path: Path) -> LandingZoneResource:
    """An empty landing zone under the test's temporary folder."""
    return LandingZoneResource(root=str(tmp_path / "landing"))


@pytest.fixture
def fresh_pool(monkeypatch):
    """``start(workers)``: ``assets.parallel``'s shared pool started anew, so its workers get the environment as the
    test has set it; shut down when the test ends."""
    from assets import parallel

    started = []

    def start(workers: int):
        monkeypatch.setattr(parallel, "_pool", None)
        started.append(parallel.shared_pool(workers))
        return started[-1]

    yield start
    for pool in started:
        pool.shutdown()
    monkeypatch.setattr(parallel, "_pool", None)
