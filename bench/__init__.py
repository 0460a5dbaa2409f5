"""Benchmarks: each `bench_*.py` measures against its peer in one run and prints ratios."""
