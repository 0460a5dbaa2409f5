"""`make warm` (pipelines/warm_kernels.py): a failure says where it failed, and nothing is left behind.

The warm-up itself (a small day settled end to end) is what `bench_settlement` runs before timing; it takes minutes
on a cold cache, so the suite checks only that it fails loudly and cleans up.
"""

import tempfile
from pathlib import Path

import pytest

from pipelines import warm_kernels


def _warm_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("chargeledger-warm-*"))


def test_a_failed_warm_up_names_the_command_and_removes_its_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("CHARGELEDGER_WAREHOUSE", str(tmp_path / "callers_warehouse"))
    before = _warm_folders()
    with pytest.raises(SystemExit, match=r"failed in `python -m data.generate` \(exit 1\)") as failure:
        warm_kernels.warm(sessions=-5)
    assert "sessions_per_day must be positive" in str(failure.value)  # the generator's own words are shown
    assert _warm_folders() == before
    assert not (tmp_path / "callers_warehouse").exists()  # the caller's warehouse is never touched
