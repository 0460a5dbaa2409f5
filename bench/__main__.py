"""`make bench`: run every benchmark under bench/ in turn (each in its own process, so peak memory is its own).

Arguments after `python -m bench` are passed to every benchmark (e.g. `--quick`). `--only NAME` runs one.
"""

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    only = None
    if "--only" in argv:
        index = argv.index("--only")
        only = argv[index + 1]
        argv = argv[:index] + argv[index + 2:]
    scripts = sorted(Path(__file__).parent.glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if only in s.stem]
    failures = 0
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        code = subprocess.call([sys.executable, "-m", f"bench.{script.stem}", *argv])
        if code:
            print(f"{script.stem} exited with {code}")
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
