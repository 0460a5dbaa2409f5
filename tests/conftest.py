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
