"""`make warm`: compile the pipeline's numba kernels into the cache once, outside any run.

Every kernel is ``cache=True``: a process loads it from ``$NUMBA_CACHE_DIR`` when the cache holds it for the
current source, and compiles and stores it when not. Compiling them all costs about two CPU-minutes (a
2,000-session day settled in 199.6 CPU-s with a cold cache against 81.7 with a warm one, bench_settlement), so
whatever runs first after an install or a code change pays it: the first nightly settlement, or a benchmark,
which would then time the compiler. This settles a small generated day of every source with the demo's own jobs
(``pipelines.demo``: nightly settlement, re-settlement, invoicing, export) in a temporary folder, so each kernel
is compiled with exactly the types the pipeline gives it, and leaves the cache warm. The folder is removed; the
warehouse, landing zone and Dagster instance of the caller are not touched.

    .venv/bin/python -m pipelines.warm_kernels          # make warm

Run it after ``make setup`` on a new machine and after upgrading the code; ``bench.bench_settlement`` runs it
before it times anything.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Small enough to settle in about a minute with a warm cache, large enough that the generator emits every source
# and both OCPP versions.
WARM_SESSIONS = 1000
WARM_SEED = 7


def generate_day(landing: Path, sessions: int, seed: int, days: int = 1) -> None:
    """One generated day (or ``days`` consecutive days) of every source at ``sessions`` sessions a day with 60-s
    meter values: what ``bench_settlement`` times, so the warm-up compiles the kernels with the types the timed runs
    give them."""
    _run_module(["data.generate", "--out", str(landing), "--seed", str(seed), "--days", str(days),
                 "--sessions-per-day", str(sessions), "--meter-interval", "60"], dict(os.environ))


def _run_module(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"`python -m {command[0]}` failed (exit {done.returncode}):\n"
                         f"{(done.stdout + done.stderr)[-3000:]}")


def warm(sessions: int = WARM_SESSIONS, seed: int = WARM_SEED) -> float:
    """Settle a generated day of ``sessions`` sessions in a temporary folder; returns the wall seconds taken."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="chargeledger-warm-") as folder:
        work = Path(folder)
        home = work / "dagster_home"
        home.mkdir()
        shutil.copy(ROOT / "pipelines" / "dagster.yaml", home / "dagster.yaml")
        env = dict(os.environ, DAGSTER_HOME=str(home), CHARGELEDGER_LANDING=str(work / "landing"),
                   CHARGELEDGER_WAREHOUSE=str(work / "warehouse"))
        env.pop("CHARGELEDGER_WAREHOUSE_LOCAL", None)
        generate_day(work / "landing", sessions, seed)
        _run_module(["pipelines.demo"], env)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Compile the pipeline's numba kernels into $NUMBA_CACHE_DIR "
                                                 "by settling a small generated day in a temporary folder")
    parser.add_argument("--sessions", type=int, default=WARM_SESSIONS, help="sessions of the generated day")
    arguments = parser.parse_args(argv)
    cache = os.environ.get("NUMBA_CACHE_DIR") or "__pycache__ beside each module (NUMBA_CACHE_DIR is not set)"
    print(f"warming the numba cache in {cache} ...", flush=True)
    print(f"  done in {warm(arguments.sessions):.1f} s", flush=True)


if __name__ == "__main__":
    main()
