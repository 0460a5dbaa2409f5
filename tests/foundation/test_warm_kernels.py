"""`make warm` (pipelines/warm_kernels.py): an empty numba cache comes out holding the kernels of every stage of
the nightly settlement (OCPP scans, consumption, tariff engine), and nothing of the caller's is touched; a
failure names the command and shows its output."""

import tempfile
from pathlib import Path

import pytest

from pipelines import warm_kernels

# One kernel of each stage the nightly run compiles: the OCPP line and meter-value scans, the register walk of
# `meter_readings`, the consumption kernels and the tariff engine's pricing kernel.
STAGE_KERNELS = ("line_scan.scan-", "payload_scan.canonical_into-", "meter_scan._meter_values-",
                 "register_walk.register_walk-", "meter_curve.", "kernels.price_kernel-")


def _warm_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("chargeledger-warm-*"))


@pytest.fixture(autouse=True)
def private_temp(monkeypatch, tmp_path_factory):
    """A temporary folder of this test's own: another run on the machine (a second checkout's tests, `make warm`)
    makes and removes its own warm-up folders in the shared one meanwhile."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("temp")))


def test_a_cold_cache_is_filled_with_every_stage_and_nothing_else_is_touched(monkeypatch, tmp_path):
    cache = tmp_path / "numba_cache"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    for name in ("CHARGELEDGER_WAREHOUSE", "CHARGELEDGER_LANDING", "DAGSTER_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name))
    before = _warm_folders()
    warm_kernels.warm(sessions=200)
    indexes = [path.name for path in cache.rglob("*.nbi")]
    assert [kernel for kernel in STAGE_KERNELS if not any(name.startswith(kernel) for name in indexes)] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["numba_cache"]  # no warehouse, landing or instance
    assert _warm_folders() == before


def test_a_failed_warm_up_names_the_command_and_removes_its_folder():
    before = _warm_folders()
    with pytest.raises(SystemExit, match=r"`python -m data.generate` failed \(exit 1\)") as failure:
        warm_kernels.warm(sessions=-5)
    assert "sessions_per_day must be positive" in str(failure.value)  # the generator's own words are shown
    assert _warm_folders() == before
