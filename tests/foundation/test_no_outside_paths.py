"""Code and tests name no absolute path outside the repository: a fresh clone runs anywhere.

Test data lives in tests/fixtures/ (with PROVENANCE.md); runtime paths come from the environment
(CHARGELEDGER_LANDING, CHARGELEDGER_WAREHOUSE, DAGSTER_HOME) or are relative to the repository.
"""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# a string literal that starts with a typical machine-specific root folder
ABSOLUTE = re.compile(r"""["'`](/(work|home|Users|mnt|srv|opt|root|var|data|shared)/)""")


def test_no_absolute_paths_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files", "*.py", "*.yaml", "*.yml", "*.toml", "Makefile", ".ci/*"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\n")
    found = []
    for name in filter(None, tracked):
        path = ROOT / name
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").split("\n"), 1):
            if ABSOLUTE.search(line) and path != Path(__file__).resolve():
                found.append(f"{name}:{number}: {line.strip()}")
    assert not found, "absolute paths outside the repository:\n" + "\n".join(found)
