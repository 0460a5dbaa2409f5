"""Same seed and flags → byte-identical landing zone; re-runs replace instead of appending."""

from __future__ import annotations

import datetime as dt

from data.config import GeneratorConfig
from data.generate import run
from tests.generator.conftest import tree_digest

TINY = dict(start=dt.date(2026, 10, 24), days=2, sessions_per_day=40, fault_rate=0.3, chunk_size=16)


def test_same_seed_gives_identical_bytes(tmp_path):
    run(GeneratorConfig(out=tmp_path / "a", seed=11, **TINY))
    run(GeneratorConfig(out=tmp_path / "b", seed=11, **TINY))
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")


def test_other_seed_gives_other_data(tmp_path):
    run(GeneratorConfig(out=tmp_path / "a", seed=11, **TINY))
    run(GeneratorConfig(out=tmp_path / "b", seed=12, **TINY))
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "b")


def test_rerun_into_same_folder_replaces_files(tmp_path):
    out = tmp_path / "landing"
    first = run(GeneratorConfig(out=out, seed=11, **TINY))
    digest = tree_digest(out)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    second = run(GeneratorConfig(out=out, seed=11, **TINY))
    assert tree_digest(out) == digest
    assert sorted(p for p in out.rglob("*") if p.is_file()) == files
    assert first == second


def test_reset_keeps_unrelated_files(tmp_path):
    out = tmp_path / "landing"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "keep.txt").write_text("mine")
    run(GeneratorConfig(out=out, seed=11, sources=frozenset({"reference"}), **TINY))
    assert (out / "notes" / "keep.txt").read_text() == "mine"


def test_spilling_sorted_runs_gives_the_same_bytes(tmp_path, monkeypatch):
    """Tiny flush and merge limits (many sorted runs, multi-pass merge) must not change a single byte."""
    import data.landing

    run(GeneratorConfig(out=tmp_path / "a", seed=11, **TINY))
    monkeypatch.setattr(data.landing, "FLUSH_LINES", 997)
    monkeypatch.setattr(data.landing, "MAX_OPEN_RUNS", 3)
    run(GeneratorConfig(out=tmp_path / "b", seed=11, **TINY))
    assert not (tmp_path / "b" / data.landing.RUN_DIR).exists()
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")


def test_identical_across_processes_and_hash_seeds(tmp_path):
    """Nothing may depend on set/dict hash order: two interpreters with different hash seeds agree."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    for name, hash_seed in (("a", "1"), ("b", "2")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-m", "data.generate", "--out", str(tmp_path / name), "--seed", "11",
                        "--days", "1", "--sessions-per-day", "40", "--fault-rate", "0.3"],
                       check=True, cwd=repo, env=env, capture_output=True)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
