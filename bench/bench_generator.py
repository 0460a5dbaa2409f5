"""Generator benchmark: sessions/s and peak memory for a 1,000,000-session day (or a smaller size by flag).

Each measurement runs the generator in a fresh child process so its peak RSS (`resource.getrusage`) is its own.
Three measurements:
  1. the full day with the cheap sources (OCPI CDRs, platform pages, Eevion, interval charges, reference);
  2. the same at a tenth of the size: with streaming in chunks the peak memory should barely move although
     the data grows 10x (the printed ratio shows it);
  3. all sources including OCPP frame logs on a sample of the day (and a tenth of it, for the memory ratio),
     extrapolated honestly to the full day (a 1M-session day of 60-second OCPP frames is tens of GB; writing
     it is not part of the routine bench);
  4. the whole day with every source but a small OCPP share (`--ocpp-share`, default 0.02) and zstd-compressed
     JSONL files (`--compress zstd`), and a tenth of it: a big day that is actually written, in bounded memory.

Usage: python bench/bench_generator.py [--sessions 1000000] [--ocpp-sample 10000] [--ocpp-share 0.02]
       [--out bench/out/generator]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHEAP = "reference,tariffs,partners,ocpi_cdrs,platform,eevion,interval_charges"
ALL = CHEAP + ",ocpp"


def _child(out: str, sessions: int, sources: str, ocpp_share: str = "", compress: str = "") -> None:
    """Run one generation in this process and print its own figures as JSON."""
    sys.path.insert(0, str(REPO))
    from data.config import GeneratorConfig
    from data.generate import run

    began = time.perf_counter()
    manifest = run(GeneratorConfig(out=Path(out), days=1, sessions_per_day=sessions,
                                   sources=frozenset(sources.split(",")),
                                   ocpp_share=float(ocpp_share) if ocpp_share else None, compress=compress or None))
    elapsed = time.perf_counter() - began
    # Read the high-water mark now: listing 200k+ output files below costs memory of its own.
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    frames = sum(m.get("frames", 0) for m in manifest["counts"].get("ocpp", {}).values())
    print(json.dumps({"seconds": elapsed, "peak_rss_kb": peak_kb,
                      "bytes": size, "frames": frames}))


def _measure(out: Path, sessions: int, sources: str, ocpp_share: float | None = None, compress: str = "") -> dict:
    if out.exists():
        shutil.rmtree(out)
    extra = ["" if ocpp_share is None else str(ocpp_share), compress]
    result = subprocess.run([sys.executable, __file__, "--child", str(out), str(sessions), sources, *extra],
                            check=True, capture_output=True, text=True, cwd=REPO)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["sessions"] = sessions
    figures["sessions_per_s"] = sessions / figures["seconds"]
    return figures


def _line(label: str, f: dict) -> str:
    return (f"{label:<34} {f['sessions']:>9,} sessions  {f['seconds']:8.1f} s  {f['sessions_per_s']:9,.0f} sessions/s"
            f"  peak RSS {f['peak_rss_kb'] / 1024:7.1f} MB  output {f['bytes'] / 1e6:9.1f} MB")


def main() -> int:
    """Run the three measurements and print figures and ratios."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), *sys.argv[4:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000, help="sessions in the measured day")
    parser.add_argument("--ocpp-sample", type=int, default=10_000, help="sessions generated with OCPP frames")
    parser.add_argument("--ocpp-share", type=float, default=0.02, help="OCPP share of the whole-day, all-source run")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "generator"))
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--quick", action="store_true", help="a 100,000-session day and a 1,000-session OCPP sample")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.ocpp_sample = min(args.sessions, 100_000), min(args.ocpp_sample, 1_000)
    out = Path(args.out)
    sys.path.insert(0, str(REPO))
    from data.landing import FLUSH_LINES
    print(f"generator benchmark: day of {args.sessions:,} sessions, 60 s meter values, seed 42")
    full = _measure(out / "cheap", args.sessions, CHEAP)
    print(_line("cheap sources, full day", full))
    tenth = _measure(out / "cheap-tenth", max(1, args.sessions // 10), CHEAP)
    print(_line("cheap sources, 1/10 day", tenth))
    sample = _measure(out / "all-sample", args.ocpp_sample, ALL)
    print(_line("all sources incl. OCPP, sample", sample))
    sample_tenth = _measure(out / "all-sample-tenth", max(1, args.ocpp_sample // 10), ALL)
    print(_line("all sources incl. OCPP, 1/10 sample", sample_tenth))
    small = _measure(out / "all-small-ocpp", args.sessions, ALL, args.ocpp_share, "zstd")
    print(_line(f"all sources, OCPP share {args.ocpp_share:g}, zstd", small))
    small_tenth = _measure(out / "all-small-ocpp-tenth", max(1, args.sessions // 10), ALL, args.ocpp_share, "zstd")
    print(_line(f"all sources, OCPP share {args.ocpp_share:g}, 1/10", small_tenth))
    scale = args.sessions / args.ocpp_sample
    print(f"  OCPP sample: {sample['frames']:,} frames = {sample['frames'] / args.ocpp_sample:.0f} frames/session, "
          f"{sample['frames'] / sample['seconds']:,.0f} frames/s")
    print(f"  extrapolated full day with OCPP: {sample['seconds'] * scale / 60:,.0f} min, "
          f"{sample['bytes'] * scale / 1e9:,.1f} GB, {sample['frames'] * scale / 1e6:,.0f} M frames (not written)")
    print("ratios:")
    print(f"  data size full/tenth = {full['bytes'] / tenth['bytes']:.1f}x, "
          f"peak RSS full/tenth = {full['peak_rss_kb'] / tenth['peak_rss_kb']:.2f}x (streaming: memory ~flat)")
    print(f"  OCPP data sample/tenth = {sample['bytes'] / sample_tenth['bytes']:.1f}x, "
          f"peak RSS sample/tenth = {sample['peak_rss_kb'] / sample_tenth['peak_rss_kb']:.2f}x "
          f"(sorted runs spill every {FLUSH_LINES:,} lines)")
    print(f"  throughput full/tenth = {full['sessions_per_s'] / tenth['sessions_per_s']:.2f}x (linear scaling ~1.0)")
    print(f"  small-OCPP-share day: peak RSS full/tenth = {small['peak_rss_kb'] / small_tenth['peak_rss_kb']:.2f}x, "
          f"throughput full/tenth = {small['sessions_per_s'] / small_tenth['sessions_per_s']:.2f}x, "
          f"{small['frames']:,} OCPP frames in {small['bytes'] / 1e6:,.0f} MB on disk")
    print(f"  cheap-source sessions/s vs all-source sessions/s = "
          f"{full['sessions_per_s'] / sample['sessions_per_s']:.1f}x (cost of OCPP frame logs)")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
