"""Processes that run asset code collect garbage in larger steps (assets/collector.py), and still collect cycles."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref

from assets.collector import MIDDLE_EVERY, OLD_EVERY, YOUNG_ALLOCATIONS, pace_garbage_collector


def test_importing_assets_sets_the_pace_in_a_fresh_process():
    code = "import gc; before = gc.get_threshold()[0]; import assets; print(before, *gc.get_threshold())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    before, after = int(out[0]), tuple(map(int, out[1:]))
    assert before < YOUNG_ALLOCATIONS  # CPython's default pace (700 young allocations on 3.11) ...
    assert after[0] == YOUNG_ALLOCATIONS  # ... is slowed by importing assets
    assert after[1] >= MIDDLE_EVERY and after[2] >= OLD_EVERY


def test_a_slower_pace_chosen_by_the_process_is_kept_and_a_faster_one_raised():
    saved = gc.get_threshold()
    try:
        gc.set_threshold(500_000, 100, 5_000)
        pace_garbage_collector()
        assert gc.get_threshold() == (500_000, 100, 5_000)
        gc.set_threshold(700, 10, 10)
        pace_garbage_collector()
        assert gc.get_threshold() == (YOUNG_ALLOCATIONS, MIDDLE_EVERY, OLD_EVERY)
    finally:
        gc.set_threshold(*saved)


def test_reference_cycles_are_still_collected_at_this_pace():
    saved = gc.get_threshold()
    try:
        pace_garbage_collector()

        class Node:
            pass

        first = Node()
        first.other = Node()
        first.other.other = first  # a cycle: reference counting alone never frees it
        alive = weakref.ref(first)
        del first
        kept = [[] for _ in range(2 * YOUNG_ALLOCATIONS)]  # allocations alone trigger a young collection
        del kept
        assert alive() is None
    finally:
        gc.set_threshold(*saved)
